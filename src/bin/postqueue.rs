//! The `postqueue` binary: everything is in the pq-postqueue crate.

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    pq_postqueue::run(&args)
}
