//! mailq: sendmail's `-bp` mode. Like Postfix's sendmail it checks its own arguments, then
//! hands over to `postqueue -p`, so the listing, its messages and its exit codes are
//! postqueue's.
//!
//! Spec: format-and-postqueue.md §9 (Postfix `sendmail.c`).

use std::path::PathBuf;
use std::process::ExitCode;

use postfix_queue::config::{config_directory, Config};
use postfix_queue_cli::getopt::{getopt, Opt};
use postfix_queue_cli::status::EX_TEMPFAIL;
use postfix_queue_cli::{Outcome, Program};

const PROGRAM: Program = Program::new("mailq");
/// sendmail's option letters (Postfix `sendmail.c`); mailq accepts the same ones.
const SENDMAIL_OPTIONS: &str = "A:B:C:F:GIL:N:O:R:UV:X:b:ce:f:h:imno:p:r:q:tvx";

/// Runs mailq with `args` (without argv\[0]).
pub fn run(args: &[String]) -> ExitCode {
    match prepare(args) {
        Ok(postqueue_args) => pq_postqueue::run(&postqueue_args),
        // sendmail's cleanup hook makes its own fatal errors exit EX_TEMPFAIL (spec §9).
        Err(message) => PROGRAM.finish(Outcome::Fatal {
            message,
            status: EX_TEMPFAIL,
        }),
    }
}

/// Checks mailq's arguments as sendmail does and returns postqueue's.
fn prepare(args: &[String]) -> Result<Vec<String>, String> {
    let (options, operands) = getopt(PROGRAM.name, args, SENDMAIL_OPTIONS);
    let mut config_dir: Option<PathBuf> = None;
    let mut verbose = 0;
    for option in &options {
        match option {
            Opt::Bad { diagnostic } => {
                // sendmail scans its arguments twice, so getopt complains twice.
                eprintln!("{diagnostic}");
                eprintln!("{diagnostic}");
                return Err("usage: mailq [options]".into());
            }
            Opt::Flag('C', Some(directory)) => config_dir = Some(PathBuf::from(directory)),
            Opt::Flag('v', _) => verbose += 1,
            _ => {}
        }
    }
    // sendmail reads main.cf before it looks at the mode, so a bad -C fails as mailq.
    let directory = config_directory(config_dir.as_deref());
    Config::load(&directory).map_err(|error| error.to_string())?;
    if operands < args.len() {
        return Err("display queue mode requires no recipient".into());
    }
    let mut postqueue_args = vec![
        "-c".to_string(),
        directory.to_string_lossy().into_owned(),
        "-p".to_string(),
    ];
    postqueue_args.extend(std::iter::repeat_n("-v".to_string(), verbose));
    Ok(postqueue_args)
}
