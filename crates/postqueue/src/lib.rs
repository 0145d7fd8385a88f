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
    let config = match Config::load(&config_directory(config_dir.as_deref())) {
        Ok(config) => config,
        Err(error) => return fatal(error.to_string()),
    };
    apply_imported_time_zone(&config);
    let queue_directory = config.get("queue_directory");
    if let Err(error) = std::env::set_current_dir(&queue_directory) {
        return fatal(format!("chdir {queue_directory}: {}", strerror(&error)));
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
            return fatal(format!("Connect to the {mail_name} {service} service: {}", strerror(&error)));
        }
        Err(error) => PROGRAM.warning(&format!(
            "Mail system is down -- accessing queue directly (Connect to the {mail_name} {service} service: {})",
            strerror(&error)
        )),
    }
    let layout = match Layout::from_config(config) {
        Ok(layout) => layout.relocated(".").reading_as(showq_identity(config)),
        Err(error) => return fatal(error.to_string()),
    };
    let settings = match ShowqSettings::from_config(config) {
        Ok(settings) => settings,
        Err(error) => return fatal(error.to_string()),
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

/// Postfix cleans its environment down to `import_environment` before printing times, so `TZ`
/// counts only when that list keeps it (`TZ`) or sets it (`TZ=zone`).
fn apply_imported_time_zone(config: &Config) {
    let imported = config.get_list("import_environment");
    let setting = imported
        .iter()
        .rev()
        .find_map(|item| match item.split_once('=') {
            Some(("TZ", value)) => Some(Some(value.to_string())),
            None if item == "TZ" => Some(None),
            _ => None,
        });
    match setting {
        Some(Some(value)) => std::env::set_var("TZ", value),
        Some(None) => {}
        None => std::env::remove_var("TZ"),
    }
    postfix_queue_cli::time::init_timezone();
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
