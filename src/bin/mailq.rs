//! The `mailq` binary: everything is in the pq-mailq crate.

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    pq_mailq::run(&args)
}
