//! postqueue: argument rules, the choice between reading the queue directly and the
//! mail-system-down path, and the `-p` / `-j` renderings.
//!
//! Spec: format-and-postqueue.md §6, §7, §8, §10.5, §11.

mod render;

use std::ops::ControlFlow;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::ExitCode;

use postfix_queue::config::{config_directory, Config};
use postfix_queue::error::strerror;
use postfix_queue::identity::ReaderIdentity;
use postfix_queue::scan::{scan, ScanEvent};
use postfix_queue::walk::ShowqWalk;
use postfix_queue::{Layout, ShowqSettings};
use postfix_queue_cli::getopt::{getopt, Opt};
use postfix_queue_cli::output::{Output, WriteStop};
use postfix_queue_cli::startup::{enter_queue_directory, read_config};
use postfix_queue_cli::status::EX_UNAVAILABLE;
use postfix_queue_cli::{Outcome, Program};

pub use render::{Listing, ListingFormat};

const PROGRAM: Program = Program::new("postqueue");
const USAGE: &str =
    "usage: postqueue -f | postqueue -i queueid | postqueue -j | postqueue -p | postqueue -s site";
/// Our own option, for tests and benchmarks: the number of parse threads (1 = sequential).
const THREADS_VARIABLE: &str = "POSTQUEUE_THREADS";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    List(ListingFormat),
    FlushQueue,
    FlushSite,
    FlushFile,
}

/// Runs postqueue with `args` (without argv\[0]) and returns its exit status.
pub fn run(args: &[String]) -> ExitCode {
    postfix_queue_cli::time::init_timezone();
    PROGRAM.finish(main(args))
}

fn fatal(message: impl Into<String>) -> Outcome {
    // Postfix's cleanup hook turns every postqueue fatal into EX_UNAVAILABLE (spec §11).
    Outcome::Fatal {
        message: message.into(),
        status: EX_UNAVAILABLE,
    }
}

fn main(args: &[String]) -> Outcome {
    let (options, operands) = getopt(PROGRAM.name, args, "c:fi:jps:v");
    let mut mode: Option<Mode> = None;
    let mut config_dir: Option<PathBuf> = None;
    for option in options {
        let wanted = match option {
            Opt::Bad { diagnostic } => {
                eprintln!("{diagnostic}");
                return fatal(USAGE);
            }
            Opt::Flag('c', Some(directory)) => {
                config_dir = Some(PathBuf::from(directory));
                continue;
            }
            // -v only makes Postfix's own tracing louder; we have none to add.
            Opt::Flag('v', _) => continue,
            Opt::Flag('f', _) => Mode::FlushQueue,
            Opt::Flag('i', _) => Mode::FlushFile,
            Opt::Flag('j', _) => Mode::List(ListingFormat::Json),
            Opt::Flag('p', _) => Mode::List(ListingFormat::Classic),
            Opt::Flag('s', _) => Mode::FlushSite,
            Opt::Flag(..) => return fatal(USAGE),
        };
        if mode.is_some() {
            return fatal(USAGE);
        }
        mode = Some(wanted);
    }
    if operands < args.len() {
        return fatal(USAGE);
    }
    let directory = config_directory(config_dir.as_deref());
    let config = match read_config(&PROGRAM, &directory, EX_UNAVAILABLE) {
        Ok(config) => config,
        Err(outcome) => return outcome,
    };
    if let Err(outcome) = enter_queue_directory(&config, EX_UNAVAILABLE) {
        return outcome;
    }
    match mode {
        None => fatal(USAGE),
        Some(Mode::List(format)) => show_queue(&config, format),
        Some(Mode::FlushQueue | Mode::FlushSite | Mode::FlushFile) => {
            fatal("flushing (-f, -s, -i) is not supported by this build yet")
        }
    }
}

/// The listing: as root or the mail owner, read the queue files directly. First see whether
/// showq answers, because real postqueue warns when it does not.
fn show_queue(config: &Config, format: ListingFormat) -> Outcome {
    let mail_name = config.get("mail_name");
    let service = config.get("showq_service_name");
    let socket = format!("public/{service}");
    match UnixStream::connect(&socket) {
        Ok(stream) => drop(stream),
        Err(error) if matches!(error.raw_os_error(), Some(libc::EACCES | libc::EPERM)) => {
            return fatal(format!(
                "Connect to the {mail_name} {service} service: {}",
                strerror(&error)
            ));
        }
        Err(error) => {
            let reason = format!(
                "Connect to the {mail_name} {service} service: {}",
                strerror(&error)
            );
            // SAFETY: geteuid has no preconditions.
            if unsafe { libc::geteuid() } != 0 {
                return fatal(format!(
                    "Queue report unavailable - mail system is down ({reason})"
                ));
            }
            PROGRAM.warning(&format!(
                "Mail system is down -- accessing queue directly ({reason})"
            ));
            // Real postqueue now runs $daemon_directory/showq itself; when that cannot be
            // run, its child dies in execvp and the parent reads an empty answer.
            let showq = format!("{}/{service}", config.get("daemon_directory"));
            if let Err(error) = check_executable(&showq) {
                PROGRAM.fatal_line(&format!(
                    "vstream_popen: execvp {showq}: {}",
                    strerror(&error)
                ));
                return fatal("malformed showq server response");
            }
        }
    }
    let layout = match Layout::from_config(config) {
        Ok(layout) => layout.relocated(".").reading_as(showq_identity(config)),
        Err(error) => return fatal(error.to_string()),
    };
    // These are showq's own parameters: when one is bad, showq dies at start-up and all
    // postqueue sees is an empty answer.
    let settings = match ShowqSettings::from_config(config) {
        Ok(settings) => settings,
        Err(error) => {
            postfix_queue_cli::syslog::log("showq", &format!("fatal: {error}"));
            return fatal("malformed showq server response");
        }
    };
    let long_ids = match config.get_bool("enable_long_queue_ids") {
        Ok(long_ids) => long_ids,
        Err(error) => return fatal(error.to_string()),
    };
    let threads = std::env::var(THREADS_VARIABLE)
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let mut listing = Listing::new(format, long_ids);
    let mut output = Output::new();
    let mut stop: Option<WriteStop> = None;
    let walk = ShowqWalk::new(&layout);
    let scanned = scan(&layout, &settings, walk, threads, |event| match event {
        ScanEvent::Entry(entry) => {
            listing.entry(output.buffer(), &entry);
            match output.maybe_flush() {
                Ok(()) => ControlFlow::Continue(()),
                Err(error) => {
                    stop = Some(error);
                    ControlFlow::Break(())
                }
            }
        }
        ScanEvent::Warning(text) => {
            // showq sends these to the mail log, never to postqueue's stderr.
            postfix_queue_cli::syslog::log("showq", &format!("warning: {text}"));
            ControlFlow::Continue(())
        }
    });
    if let Some(stop) = stop {
        return write_outcome(stop);
    }
    if let Err(error) = scanned {
        postfix_queue_cli::syslog::log("showq", &format!("fatal: {error}"));
        if let Err(stop) = output.flush() {
            return write_outcome(stop);
        }
        return fatal("malformed showq server response");
    }
    listing.finish(output.buffer());
    match output.flush() {
        Ok(()) => Outcome::Success,
        Err(stop) => write_outcome(stop),
    }
}

/// Whether `path` could be executed, as execvp would find out.
fn check_executable(path: &str) -> std::io::Result<()> {
    let path = std::ffi::CString::new(path).map_err(std::io::Error::other)?;
    // SAFETY: `path` is a valid NUL-terminated string.
    if unsafe { libc::access(path.as_ptr(), libc::X_OK) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// As root we read with the mail owner's permissions, as showq would; anyone else reads with
/// their own, so no emulation is needed.
fn showq_identity(config: &Config) -> Option<ReaderIdentity> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    ReaderIdentity::lookup(&config.get("mail_owner"))
}

fn write_outcome(stop: WriteStop) -> Outcome {
    match stop {
        WriteStop::BrokenPipe => Outcome::Success,
        WriteStop::Failed(error) => fatal(format!("output write error: {}", strerror(&error))),
    }
}
