//! The `postsuper` binary: everything is in the pq-postsuper crate.

fn main() -> std::process::ExitCode {
    // Queue IDs on the command line may be any bytes; Postfix shows them as given.
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect();
    pq_postsuper::run(&args)
}
