//! postfix-queue-cli: what the four tools share at the edge: `prog: fatal: ...` messages, the
//! one place exit codes are decided, output that treats EPIPE as a quiet end, POSIX getopt, and
//! C `asctime` time stamps.

pub mod describe;
pub mod getopt;
pub mod maillog;
pub mod output;
pub mod startup;
pub mod syslog;
pub mod time;

use std::io::Write;
use std::process::ExitCode;

/// How a run ended, before it becomes an exit status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// A `fatal:` message was (or is to be) printed; `status` is what the tool exits with.
    Fatal {
        message: String,
        status: u8,
    },
}

/// A library fatal is a `fatal:` line and exit status 1, as Postfix's `msg_fatal`.
impl From<postfix_queue::maintain::Fatal> for Outcome {
    fn from(error: postfix_queue::maintain::Fatal) -> Self {
        Outcome::Fatal {
            message: error.0,
            status: 1,
        }
    }
}

/// sysexits.h values the tools use.
pub mod status {
    pub const EX_TEMPFAIL: u8 = 75;
    pub const EX_UNAVAILABLE: u8 = 69;
}

/// The program's message prefix and exit policy.
#[derive(Debug, Clone, Copy)]
pub struct Program {
    pub name: &'static str,
}

impl Program {
    pub const fn new(name: &'static str) -> Self {
        Self { name }
    }

    /// `prog: warning: text` on stderr, written under the stdout lock so lines never tear.
    pub fn warning(&self, text: &str) {
        self.emit("warning: ", text);
    }

    /// `prog: error: text`.
    pub fn error(&self, text: &str) {
        self.emit("error: ", text);
    }

    /// A `prog: fatal: text` line without exiting, for the rare case where Postfix prints two
    /// (a child process's fatal error, then the parent's).
    pub fn fatal_line(&self, text: &str) {
        self.emit("fatal: ", text);
    }

    /// A message with no level, as Postfix's `msg_info` prints it.
    pub fn info(&self, text: &str) {
        self.emit("", text);
    }

    fn emit(&self, level: &str, text: &str) {
        // Postfix's msg_vprintf makes every message printable first: control characters
        // (a CR in an ID read from stdin, say) become `?`.
        let printable: String = text
            .chars()
            .map(|c| if c.is_control() { '?' } else { c })
            .collect();
        let text = printable.as_str();
        {
            let stdout = std::io::stdout();
            let _guard = stdout.lock();
            let mut stderr = std::io::stderr().lock();
            let _ = writeln!(stderr, "{}: {level}{text}", self.name);
        }
        // Like Postfix's msg_vprintf: stderr first, then the mail log; a log file that cannot
        // be written is fatal there, and so here.
        if let Err(fatal) = maillog::record(level.trim_end_matches(": "), text) {
            let _ = writeln!(std::io::stderr(), "{}: fatal: {fatal}", self.name);
            std::process::exit(1);
        }
    }

    /// Turns an outcome into the exit status: the single place where that is decided.
    pub fn finish(&self, outcome: Outcome) -> ExitCode {
        match outcome {
            Outcome::Success => ExitCode::SUCCESS,
            Outcome::Fatal { message, status } => {
                let _ = std::io::stdout().flush();
                self.emit("fatal: ", &message);
                if !maillog::installed() {
                    crate::syslog::log(self.name, &format!("fatal: {message}"));
                }
                ExitCode::from(status)
            }
        }
    }
}
