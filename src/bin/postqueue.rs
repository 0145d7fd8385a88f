//! The `postqueue` binary: everything is in the pq-postqueue crate.

fn main() -> std::process::ExitCode {
    // std::env::args() would panic on an argument that is not UTF-8; take it lossily instead.
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect();
    pq_postqueue::run(&args)
}
