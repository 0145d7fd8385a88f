//! postqueue: argument rules, the choice between reading the queue directly and the
//! mail-system-down path, and the `-p` / `-j` renderings.
//!
//! Spec: format-and-postqueue.md §6, §7, §8, §10.5, §11.

mod command;
mod flush;
mod render;
mod summary;

use std::ops::ControlFlow;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::ExitCode;

use postfix_queue::config::{config_directory, Config};
use postfix_queue::error::strerror;
use postfix_queue::identity::{user_acl_permits, ReaderIdentity};
use postfix_queue::queue_id::is_valid_queue_id;
use postfix_queue::scan::{scan_prepared, ScanEvent};
use postfix_queue::select::{
    compile, normalise_domain, open_queue_file, parse_duration, parse_size, read_headers, Selection,
};
use postfix_queue::showq::ShowqClient;
use postfix_queue::trigger::{valid_hostname, valid_mailhost_literal};
use postfix_queue::walk::ShowqWalk;
use postfix_queue::{Layout, ShowqSettings};
use postfix_queue_cli::getopt::{getopt_long, LongOption, Opt};
use postfix_queue_cli::output::{Output, WriteStop};
use postfix_queue_cli::startup::{enter_queue_directory, read_config, untrusted};
use postfix_queue_cli::status::EX_UNAVAILABLE;
use postfix_queue_cli::{Outcome, Program};

pub use command::command;
pub use render::{Listing, ListingFormat};

const PROGRAM: Program = Program::new("postqueue");
const USAGE: &str =
    "usage: postqueue -f | postqueue -i queueid | postqueue -j | postqueue -p | postqueue -s site";
/// Our extensions: selection for the listing (long options only, so that no Postfix command
/// line changes meaning).
const LONG_OPTIONS: [LongOption; 12] = [
    ("summary", false),
    ("format", true),
    ("all-instances", false),
    ("sender", true),
    ("recipient", true),
    ("domain", true),
    ("older-than", true),
    ("newer-than", true),
    ("min-size", true),
    ("max-size", true),
    ("reason", true),
    ("header", true),
];
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
    let (options, operands) = getopt_long(PROGRAM.name, args, "c:fi:jps:v", &LONG_OPTIONS);
    let mut selection = Selection::default();
    let mut selection_problem: Option<String> = None;
    let mut mode: Option<Mode> = None;
    let mut config_dir: Option<PathBuf> = None;
    let mut site_to_flush: Option<String> = None;
    let mut id_to_flush: Option<String> = None;
    let mut summary = false;
    let mut summary_json = false;
    let mut all_instances = false;
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
            Opt::Flag('i', id) => {
                id_to_flush = id;
                Mode::FlushFile
            }
            Opt::Flag('j', _) => Mode::List(ListingFormat::Json),
            Opt::Flag('p', _) => Mode::List(ListingFormat::Classic),
            Opt::Flag('s', site) => {
                site_to_flush = site;
                Mode::FlushSite
            }
            Opt::Long("summary", _) => {
                summary = true;
                continue;
            }
            Opt::Long("all-instances", _) => {
                all_instances = true;
                continue;
            }
            Opt::Long("format", value) => {
                match value.as_deref() {
                    Some("json") => summary_json = true,
                    Some("text") => summary_json = false,
                    other => {
                        selection_problem.get_or_insert(format!(
                            "bad --format: \"{}\" (use text or json)",
                            other.unwrap_or_default()
                        ));
                    }
                }
                continue;
            }
            Opt::Long(name, value) => {
                if let Err(problem) = select_by(&mut selection, name, &value.unwrap_or_default()) {
                    selection_problem.get_or_insert(problem);
                }
                continue;
            }
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
    if let Some(problem) = selection_problem {
        return fatal(problem);
    }
    if summary {
        if mode.is_some() {
            return fatal("--summary is a listing of its own: use it without -p, -j, -f, -i or -s");
        }
        mode = Some(Mode::List(if summary_json {
            ListingFormat::SummaryJson
        } else {
            ListingFormat::SummaryText
        }));
    } else if summary_json {
        return fatal("--format works with --summary");
    }
    if all_instances && !matches!(mode, Some(Mode::List(_))) {
        return fatal("--all-instances works with -p, -j and --summary");
    }
    if !selection.is_empty() && !matches!(mode, Some(Mode::List(_))) {
        return fatal("selection options work with -p, -j and --summary only");
    }
    let directory = config_directory(config_dir.as_deref());
    let config = match read_config(&PROGRAM, &directory, EX_UNAVAILABLE, untrusted()) {
        Ok(config) => config,
        Err(outcome) => return outcome,
    };
    if let Err(outcome) = enter_queue_directory(&config, EX_UNAVAILABLE) {
        return outcome;
    }
    // Postfix checks the flush arguments after reading main.cf and before anything else.
    if let Some(site) = &site_to_flush {
        let valid = if site.starts_with('[') {
            valid_mailhost_literal(site)
        } else {
            valid_hostname(site)
        };
        if !valid {
            return fatal(format!(
                "Cannot flush mail queue - invalid destination: \"{}\"",
                truncated(site)
            ));
        }
    }
    if let Some(id) = &id_to_flush {
        if !is_valid_queue_id(id.as_bytes()) {
            return fatal(format!(
                "Cannot flush queue ID - invalid name: \"{}\"",
                truncated(id)
            ));
        }
    }
    match mode {
        None => fatal(USAGE),
        Some(Mode::List(format)) => list(&config, format, &selection, all_instances),
        Some(Mode::FlushQueue) => flush::flush_queue(&config),
        Some(Mode::FlushSite) => {
            flush::flush_site(&config, site_to_flush.as_deref().unwrap_or_default())
        }
        Some(Mode::FlushFile) => {
            flush::flush_file(&config, id_to_flush.as_deref().unwrap_or_default())
        }
    }
}

/// One selection option (`--sender REGEX`, ...) into `selection`.
fn select_by(selection: &mut Selection, name: &str, value: &str) -> Result<(), String> {
    let option = format!("--{name}");
    match name {
        "sender" => selection.sender = Some(compile(&option, value)?),
        "recipient" => selection.recipient = Some(compile(&option, value)?),
        "reason" => selection.reason = Some(compile(&option, value)?),
        "header" => selection.header = Some(compile(&option, value)?),
        "domain" => selection.domain = Some(normalise_domain(value)?),
        "older-than" => selection.older_than = Some(parse_duration(value)?),
        "newer-than" => selection.newer_than = Some(parse_duration(value)?),
        "min-size" => selection.min_size = Some(parse_size(value)?),
        "max-size" => selection.max_size = Some(parse_size(value)?),
        _ => return Err(format!("unknown option {option}")),
    }
    Ok(())
}

/// Whether a listed entry passes the selection; `--header` reads the file itself.
fn selected(
    selection: &Selection,
    layout: Option<&Layout>,
    entry: &postfix_queue::Entry,
    now: i64,
    empty_address: &[u8],
) -> bool {
    if !selection.matches_envelope(entry, now, empty_address) {
        return false;
    }
    if !selection.needs_headers() {
        return true;
    }
    let Some(layout) = layout else {
        return false;
    };
    let path = layout.relative_path(entry.queue.name(), &entry.id);
    use std::os::unix::ffi::OsStrExt;
    open_queue_file(layout, path.as_os_str().as_bytes())
        .and_then(|file| read_headers(&file))
        .is_some_and(|headers| selection.matches_headers(&headers))
}

fn now_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// `%.100s%s`: the first 100 bytes, and `...` when there was more.
fn truncated(text: &str) -> String {
    if text.len() <= 100 {
        return text.to_string();
    }
    let mut cut = 100;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}...", &text[..cut])
}

/// The uid of `mail_owner`, who like root may always list and flush.
fn mail_owner_uid(config: &Config) -> Option<u32> {
    postfix_queue::identity::lookup_user(&config.get("mail_owner")).map(|(uid, _)| uid)
}

/// `check_user_acl_byuid` for root, the mail owner, or anyone the ACL permits.
fn check_acl(config: &Config, parameter: &str, refusal: &str) -> Result<(), Outcome> {
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() };
    if uid == 0 || Some(uid) == mail_owner_uid(config) {
        return Ok(());
    }
    user_acl_permits(&config.get(parameter), uid)
        .map_err(|name| fatal(format!("User {name}({uid}) is not allowed to {refusal}")))
}

/// The listing: as root or the mail owner, read the queue files directly. First see whether
/// showq answers, because real postqueue warns when it does not.
/// The listing (or summary) of the instance, or with `--all-instances` of the default
/// instance and each one in its `multi_instance_directories`, each labelled with its
/// configuration directory.
fn list(
    config: &Config,
    format: ListingFormat,
    selection: &Selection,
    all_instances: bool,
) -> Outcome {
    let long_ids = config.get_bool("enable_long_queue_ids").unwrap_or(false);
    let mut listing = Listing::new(format, long_ids);
    let mut output = Output::new();
    if !all_instances {
        let outcome = show_queue(config, &mut listing, &mut output, selection);
        if outcome != Outcome::Success {
            return outcome;
        }
    } else {
        let mut directories = vec![config.directory().to_path_buf()];
        directories.extend(
            config
                .get_list("multi_instance_directories")
                .into_iter()
                .map(PathBuf::from),
        );
        for directory in directories {
            let instance_config =
                match read_config(&PROGRAM, &directory, EX_UNAVAILABLE, untrusted()) {
                    Ok(config) => config,
                    Err(outcome) => return outcome,
                };
            if let Err(outcome) = enter_queue_directory(&instance_config, EX_UNAVAILABLE) {
                return outcome;
            }
            let long_ids = instance_config
                .get_bool("enable_long_queue_ids")
                .unwrap_or(false);
            listing.begin_instance(output.buffer(), &directory.display().to_string(), long_ids);
            let outcome = show_queue(&instance_config, &mut listing, &mut output, selection);
            if outcome != Outcome::Success {
                return outcome;
            }
        }
    }
    listing.finish(output.buffer());
    match output.flush() {
        Ok(()) => Outcome::Success,
        Err(stop) => write_outcome(stop),
    }
}

fn show_queue(
    config: &Config,
    listing: &mut Listing,
    output: &mut Output,
    selection: &Selection,
) -> Outcome {
    let format = listing.format();
    if let Err(outcome) = check_acl(config, "authorized_mailq_users", "view the mail queue") {
        return outcome;
    }
    let mail_name = config.get("mail_name");
    let service = config.get("showq_service_name");
    let socket = format!("public/{service}");
    // Whoever can read the queue files reads them directly: same listing, much faster. We
    // only need to know whether showq would answer (for the warning), and a real connection
    // would make the master start a showq that scans the whole queue beside us; so we look
    // at the socket and the master's lock instead of connecting.
    let direct = can_read_queue_directly(config);
    let answer = if direct {
        showq_would_answer(&socket).map(|()| None)
    } else {
        UnixStream::connect(&socket).map(Some)
    };
    match answer {
        Ok(Some(stream)) => {
            if selection.needs_headers() {
                return fatal(
                    "--header needs to read the queue files: run it as root or as the mail owner",
                );
            }
            return list_from_showq(config, listing, output, stream, selection);
        }
        Ok(None) => {}
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
            // Root runs showq itself when the daemon does not answer. So do we, and so does
            // the mail owner, who can read the queue as well (Postfix refuses it; deviation P10).
            if !direct {
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
    let mut stop: Option<WriteStop> = None;
    let walk = ShowqWalk::new(&layout);
    // Each entry is rendered on the worker that read it; this thread only adds separators,
    // counts and writes.
    let now = now_seconds();
    let prepare = |entry: postfix_queue::Entry| {
        if !selection.is_empty()
            && !selected(
                selection,
                Some(&layout),
                &entry,
                now,
                &settings.empty_address,
            )
        {
            return None;
        }
        Some(render::render(format, long_ids, &entry))
    };
    let scanned = scan_prepared(
        &layout,
        &settings,
        walk,
        threads,
        prepare,
        |event| match event {
            ScanEvent::Entry(rendered) => {
                listing.push(output.buffer(), &rendered);
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
        },
    );
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
    match output.maybe_flush() {
        Ok(()) => Outcome::Success,
        Err(stop) => write_outcome(stop),
    }
}

/// Root and the mail owner can read the queue directory; anyone else must ask showq.
fn can_read_queue_directly(config: &Config) -> bool {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    euid == 0 || Some(euid) == mail_owner_uid(config)
}

/// The listing as the showq daemon sends it, for users who cannot read the queue.
fn list_from_showq(
    config: &Config,
    listing: &mut Listing,
    output: &mut Output,
    stream: UnixStream,
    selection: &Selection,
) -> Outcome {
    // The group was needed to reach public/showq; the open connection is all we need now.
    if let Err(error) = postfix_queue_cli::startup::drop_group_privilege() {
        return fatal(format!("setresgid: {}", strerror(&error)));
    }
    let utf8_enabled = config.get_bool("smtputf8_enable").unwrap_or(true);
    let stream_name = format!("public/{} socket", config.get("showq_service_name"));
    let now = now_seconds();
    let empty_address = config.get("empty_address_recipient").into_bytes();
    let mut client =
        match ShowqClient::new(std::io::BufReader::new(stream), utf8_enabled, &stream_name) {
            Ok(client) => client,
            Err(malformed) => return malformed_response(malformed),
        };
    loop {
        match client.next_entry() {
            Ok(Some(entry)) => {
                if !selection.is_empty() && !selected(selection, None, &entry, now, &empty_address)
                {
                    continue;
                }
                listing.entry(output.buffer(), &entry);
                if let Err(stop) = output.maybe_flush() {
                    return write_outcome(stop);
                }
            }
            Ok(None) => break,
            Err(malformed) => {
                // What was already listed stays; the broken entry and the summary do not.
                if let Err(stop) = output.flush() {
                    return write_outcome(stop);
                }
                return malformed_response(malformed);
            }
        }
    }
    match output.maybe_flush() {
        Ok(()) => Outcome::Success,
        Err(stop) => write_outcome(stop),
    }
}

/// The scanner's warning, if it had one, then the fatal line.
fn malformed_response(malformed: postfix_queue::showq::Malformed) -> Outcome {
    if let Some(warning) = &malformed.warning {
        PROGRAM.warning(warning);
    }
    fatal("malformed showq server response")
}

/// What `connect(public/showq)` would report, without connecting: the socket's `stat` error
/// (ENOENT, EACCES) if it cannot be reached; "connection refused" when it is not a socket or
/// no master holds the lock on `pid/master.pid` (Postfix's master keeps an exclusive flock on
/// it while it runs, and the kernel drops it when the master dies).
fn showq_would_answer(socket: &str) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::FileTypeExt;
    let metadata = std::fs::metadata(socket)?;
    let refused = || std::io::Error::from_raw_os_error(libc::ECONNREFUSED);
    if !metadata.file_type().is_socket() {
        return Err(refused());
    }
    let pid_file = match std::fs::File::open("pid/master.pid") {
        Ok(file) => file,
        // Only root may read the pid file (the mail owner may not): ask the socket itself.
        Err(error) if error.kind() == std::io::ErrorKind::PermissionDenied => {
            return UnixStream::connect(socket).map(drop);
        }
        Err(_) => return Err(refused()),
    };
    // SAFETY: flock on a descriptor we own; a shared lock we get is released right away.
    let locked_by_master = unsafe {
        if libc::flock(pid_file.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) == 0 {
            libc::flock(pid_file.as_raw_fd(), libc::LOCK_UN);
            false
        } else {
            std::io::Error::last_os_error().raw_os_error() == Some(libc::EWOULDBLOCK)
        }
    };
    if locked_by_master {
        Ok(())
    } else {
        Err(refused())
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
