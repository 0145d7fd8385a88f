//! postsuper: option rules, the order of the repair passes and actions, and the summary.

use std::process::ExitCode;

use postfix_queue_cli::{Outcome, Program};

const PROGRAM: Program = Program::new("postsuper");

/// Runs postsuper with `args` (without argv\[0]) and returns its exit status.
pub fn run(args: &[String]) -> ExitCode {
    let _ = args;
    PROGRAM.finish(Outcome::Fatal {
        message: "not yet".into(),
        status: 1,
    })
}
