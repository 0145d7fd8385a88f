//! The `qshape` binary: everything is in the pq-qshape crate.

fn main() -> std::process::ExitCode {
    let mut args = std::env::args_os().map(|arg| arg.to_string_lossy().into_owned());
    // qshape names itself by its path as invoked (Perl's $0).
    let program = args.next().unwrap_or_else(|| "qshape".into());
    let args: Vec<String> = args.collect();
    pq_qshape::run(&program, &args)
}
