//! postsuper: the superuser check, option rules, the order of the repair passes and the
//! actions, the summary lines, and our extensions (selection, dry run, JSON, progress).
//!
//! Spec: postsuper-and-qshape.md §1 (Postfix `postsuper.c` main), §2.4, §4.

mod command;
mod progress;
mod selected;

pub use command::command;

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use postfix_queue::config::config_directory;
use postfix_queue::error::strerror;
use postfix_queue::maintain::{
    master_is_running, Counters, LiveQueue, Maintenance, Notice, Operation, Repair, DEFAULT_QUEUES,
};
use postfix_queue::select::{compile, normalise_domain, parse_duration, parse_size, Selection};
use postfix_queue::{Config, Layout};
use postfix_queue_cli::getopt::{getopt_long, LongOption, Opt};
use postfix_queue_cli::startup::{read_config, untrusted};
use postfix_queue_cli::{Outcome, Program};

const PROGRAM: Program = Program::new("postsuper");
const SPEC: &str = "c:d:e:f:h:H:pr:sSv";
const USAGE: &str = "usage: postsuper [-c config_dir] [-d queue_id (delete)] \
[-e queue_id (expire)] [-f queue_id (expire and/or un-hold)] [-h queue_id (hold)] \
[-H queue_id (un-hold)] [-p (purge temporary files)] [-r queue_id (requeue)] \
[-s (structure fix)] [-S (redundant structure fix)][-v (verbose)] [queue...]";

/// Our extensions: long options only, so no Postfix command line changes meaning.
const LONG_OPTIONS: [LongOption; 12] = [
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
    ("dry-run", false),
    ("format", true),
];

/// Set once a repair has renamed something: an interrupted or failed run must say so.
static REPAIR_STARTED: AtomicBool = AtomicBool::new(false);
const INCOMPLETE: &str = "OPERATION INCOMPLETE -- RERUN COMMAND TO FIX THE QUEUE FIRST";

/// What an action applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    All,
    /// IDs from standard input, one per line.
    Stdin,
    Id(String),
}

/// How results of selected runs are shown on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

/// The command line, validated.
#[derive(Debug, Clone)]
struct Request {
    config_dir: Option<PathBuf>,
    actions: Vec<(Operation, Target)>,
    repair: Repair,
    queues: Vec<String>,
    selection: Selection,
    dry_run: bool,
    format: Format,
    /// `--all-instances` (with `--dry-run`): every instance is listed.
    all_instances: bool,
    /// The instance being listed, with `--all-instances`.
    instance: Option<String>,
}

/// Runs postsuper with `args` (without argv\[0]) and returns its exit status.
pub fn run(args: &[String]) -> ExitCode {
    postfix_queue_cli::time::init_timezone();
    // SAFETY: umask has no preconditions.
    unsafe { libc::umask(0o022) };
    let outcome = main(args);
    let failed = matches!(outcome, Outcome::Fatal { .. });
    let code = PROGRAM.finish(outcome);
    // Postfix's cleanup hook: after any fatal, say when a repair was left half done.
    if failed && REPAIR_STARTED.load(Ordering::SeqCst) {
        PROGRAM.warning(INCOMPLETE);
    }
    code
}

fn fatal(message: impl Into<String>) -> Outcome {
    Outcome::Fatal {
        message: message.into(),
        status: 1,
    }
}

fn main(args: &[String]) -> Outcome {
    // Privilege checks come before option parsing, as in Postfix: even `postsuper -x` by an
    // ordinary user gets the superuser message.
    if untrusted() {
        return fatal("this postfix command must not run as a set-uid process");
    }
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 {
        return fatal("use of this command is reserved for the superuser");
    }
    let request = match parse(args) {
        Ok(request) => request,
        Err(outcome) => return outcome,
    };
    let directory = config_directory(request.config_dir.as_deref());
    let config = match read_config(&PROGRAM, &directory, 1, false) {
        Ok(config) => config,
        Err(outcome) => return outcome,
    };
    if let Err(message) = postfix_queue_cli::maillog::install(&config, PROGRAM.name) {
        return fatal(message);
    }
    if request.all_instances {
        return list_all_instances(&config, &directory, &request);
    }
    let queue_directory = config.get("queue_directory");
    if let Err(error) = std::env::set_current_dir(&queue_directory) {
        return fatal(format!("chdir {queue_directory}: {}", strerror(&error)));
    }
    // Whether Postfix runs here decides the live-queue guard; look before giving up root.
    let live = master_is_running().then(LiveQueue::new);
    if let Err(outcome) = become_mail_owner(&config) {
        return outcome;
    }
    install_signal_handlers();
    match execute(&config, &request, live) {
        Ok(()) => Outcome::Success,
        Err(outcome) => outcome,
    }
}

/// `--all-instances --dry-run`: the listing for the instance of `config` and each one in its
/// `multi_instance_directories`, as the mail owner of the first, each labelled with its
/// configuration directory. Nothing is changed (a dry run), so no repair pass runs either.
fn list_all_instances(config: &Config, directory: &std::path::Path, request: &Request) -> Outcome {
    let mut instances = vec![(directory.to_path_buf(), config.clone())];
    for other in config.get_list("multi_instance_directories") {
        let other = PathBuf::from(other);
        match read_config(&PROGRAM, &other, 1, false) {
            Ok(other_config) => instances.push((other, other_config)),
            Err(outcome) => return outcome,
        }
    }
    if let Err(outcome) = become_mail_owner(config) {
        return outcome;
    }
    for (directory, instance_config) in instances {
        let queue_directory = instance_config.get("queue_directory");
        if let Err(error) = std::env::set_current_dir(&queue_directory) {
            return fatal(format!("chdir {queue_directory}: {}", strerror(&error)));
        }
        let label = directory.display().to_string();
        if request.format == Format::Text {
            println!("instance {label}:");
        }
        let instance_request = Request {
            instance: Some(label),
            repair: Repair::default(),
            ..request.clone()
        };
        let live = master_is_running().then(LiveQueue::new);
        if let Err(outcome) = execute(&instance_config, &instance_request, live) {
            return outcome;
        }
    }
    Outcome::Success
}

/// Two passes over the options, as Postfix makes: first everything is checked, and the actions
/// are run afterwards, in command-line order.
fn parse(args: &[String]) -> Result<Request, Outcome> {
    let (options, operands) = getopt_long(PROGRAM.name, args, SPEC, &LONG_OPTIONS);
    let mut request = Request {
        config_dir: None,
        actions: Vec::new(),
        repair: Repair::default(),
        queues: Vec::new(),
        selection: Selection::default(),
        dry_run: false,
        format: Format::Text,
        all_instances: false,
        instance: None,
    };
    let mut selection_problem: Option<String> = None;
    for option in options {
        let (letter, value) = match option {
            Opt::Bad { diagnostic } => {
                eprintln!("{diagnostic}");
                return Err(fatal(USAGE));
            }
            Opt::Long(name, value) => {
                if let Err(problem) = take_long_option(&mut request, name, value) {
                    selection_problem.get_or_insert(problem);
                }
                continue;
            }
            Opt::Flag(letter, value) => (letter, value.unwrap_or_default()),
        };
        let target = || match value.as_str() {
            "ALL" => Target::All,
            "-" => Target::Stdin,
            id => Target::Id(id.to_string()),
        };
        match letter {
            'c' => {
                if !value.starts_with('/') {
                    return Err(fatal("-c requires absolute pathname"));
                }
                request.config_dir = Some(PathBuf::from(&value));
            }
            'd' => request.actions.push((Operation::Delete, target())),
            'e' => request.actions.push((Operation::Expire, target())),
            'f' => request.actions.push((Operation::ExpireRelease, target())),
            'h' => request.actions.push((Operation::Hold, target())),
            'H' => request.actions.push((Operation::Release, target())),
            'r' => request.actions.push((Operation::Requeue, target())),
            'p' => request.repair.purge = true,
            's' => request.repair.structure = true,
            'S' => {
                request.repair.structure = true;
                request.repair.redundant = true;
            }
            // -v adds Postfix's internal traces; we have none to add (deviation S5).
            'v' => {}
            _ => return Err(fatal(USAGE)),
        }
    }
    // A bad criterion is a usage error before anything changes.
    if let Some(problem) = selection_problem {
        return Err(fatal(problem));
    }
    if (!request.selection.is_empty() || request.dry_run || request.format == Format::Json)
        && request.actions.is_empty()
    {
        return Err(fatal(
            "selection options, --dry-run and --format need an action: -d, -e, -f, -h, -H or -r",
        ));
    }
    if request.all_instances && !request.dry_run {
        return Err(fatal(
            "--all-instances works only with --dry-run (a listing of what would be done)",
        ));
    }
    if request.actions.is_empty() && !request.repair.any() {
        request.repair = Repair {
            purge: true,
            structure: true,
            redundant: false,
        };
    }
    request.queues = if operands < args.len() {
        args[operands..].to_vec()
    } else {
        DEFAULT_QUEUES.iter().map(|q| q.to_string()).collect()
    };
    Ok(request)
}

fn take_long_option(
    request: &mut Request,
    name: &str,
    value: Option<String>,
) -> Result<(), String> {
    let value = value.unwrap_or_default();
    let option = format!("--{name}");
    let selection = &mut request.selection;
    match name {
        "sender" => selection.sender = Some(compile(&option, &value)?),
        "recipient" => selection.recipient = Some(compile(&option, &value)?),
        "reason" => selection.reason = Some(compile(&option, &value)?),
        "header" => selection.header = Some(compile(&option, &value)?),
        "domain" => selection.domain = Some(normalise_domain(&value)?),
        "older-than" => selection.older_than = Some(parse_duration(&value)?),
        "newer-than" => selection.newer_than = Some(parse_duration(&value)?),
        "min-size" => selection.min_size = Some(parse_size(&value)?),
        "max-size" => selection.max_size = Some(parse_size(&value)?),
        "dry-run" => request.dry_run = true,
        "all-instances" => request.all_instances = true,
        "format" => {
            request.format = match value.as_str() {
                "json" => Format::Json,
                "text" => Format::Text,
                _ => return Err(format!("bad --format: \"{value}\" (use json or text)")),
            }
        }
        _ => return Err(format!("unknown option --{name}")),
    }
    Ok(())
}

/// `set_ugid(mail_owner)`: every change to the queue is made as the mail owner, so new
/// directories get the owner Postfix expects, and a compromised queue cannot lure root.
fn become_mail_owner(config: &Config) -> Result<(), Outcome> {
    let owner = config.get("mail_owner");
    let Some((uid, gid)) = postfix_queue::identity::lookup_user(&owner) else {
        return Err(fatal(format!(
            "file {}/main.cf: parameter mail_owner: unknown user name value: {owner}",
            config_directory(None).display()
        )));
    };
    // SAFETY: plain id-changing calls with values from the password database.
    unsafe {
        if libc::setgroups(1, &gid) != 0 {
            return Err(fatal(format!(
                "setgroups(1, &{gid}): {}",
                strerror(&std::io::Error::last_os_error())
            )));
        }
        if libc::setgid(gid) != 0 {
            return Err(fatal(format!(
                "setgid({gid}): {}",
                strerror(&std::io::Error::last_os_error())
            )));
        }
        if libc::setuid(uid) != 0 {
            return Err(fatal(format!(
                "setuid({uid}): {}",
                strerror(&std::io::Error::last_os_error())
            )));
        }
    }
    Ok(())
}

/// ^C and friends end the run with the signal number as exit status, after the
/// `OPERATION INCOMPLETE` warning when a repair had started (Postfix's `interrupted`).
fn install_signal_handlers() {
    extern "C" fn interrupted(signal: libc::c_int) {
        // SAFETY: only async-signal-safe calls: signal, write, _exit.
        unsafe {
            if libc::signal(libc::SIGINT, libc::SIG_IGN) != libc::SIG_IGN {
                libc::signal(libc::SIGQUIT, libc::SIG_IGN);
                libc::signal(libc::SIGTERM, libc::SIG_IGN);
                libc::signal(libc::SIGHUP, libc::SIG_IGN);
                if REPAIR_STARTED.load(Ordering::SeqCst) {
                    let line = b"postsuper: warning: OPERATION INCOMPLETE -- RERUN COMMAND TO FIX THE QUEUE FIRST\n";
                    libc::write(2, line.as_ptr().cast(), line.len());
                }
                libc::_exit(signal);
            }
        }
    }
    let handler = interrupted as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: installing a handler that only makes async-signal-safe calls.
    unsafe {
        libc::signal(libc::SIGINT, handler);
        libc::signal(libc::SIGQUIT, handler);
        if libc::signal(libc::SIGTERM, libc::SIG_IGN) == libc::SIG_DFL {
            libc::signal(libc::SIGTERM, handler);
        }
        if libc::signal(libc::SIGHUP, libc::SIG_IGN) == libc::SIG_DFL {
            libc::signal(libc::SIGHUP, handler);
        }
    }
}

/// Prints a library notice as Postfix would (stderr and the mail log), above any progress bar.
fn print_notice(notice: Notice) {
    progress::suspend(|| match notice {
        Notice::Info(text) => PROGRAM.info(&text),
        Notice::Warning(text) => PROGRAM.warning(&text),
        Notice::Progress(_) => {}
    });
}

fn execute(config: &Config, request: &Request, live: Option<LiveQueue>) -> Result<(), Outcome> {
    let layout = Layout::from_config(config)
        .map_err(|error| fatal(error.to_string()))?
        .relocated(".");
    let hashed_exact: Vec<String> = config
        .get("hash_queue_names")
        .split([',', ' ', '\t', '\r', '\n'])
        .filter(|name| !name.is_empty())
        .map(str::to_string)
        .collect();
    let long_ids = config
        .get_bool("enable_long_queue_ids")
        .map_err(|error| fatal(error.to_string()))?;
    let mut notify = |notice: Notice| match notice {
        Notice::Progress(count) => progress::walked(count),
        notice => print_notice(notice),
    };
    let mut maintenance = Maintenance::new(layout, hashed_exact, long_ids, live, &mut notify);
    let result = run_passes(config, request, &mut maintenance);
    progress::finish();
    result?;
    summarise(request, &maintenance.counters);
    Ok(())
}

fn run_passes(
    config: &Config,
    request: &Request,
    maintenance: &mut Maintenance<'_>,
) -> Result<(), Outcome> {
    let queues = &request.queues;
    let track = |maintenance: &Maintenance<'_>| {
        if maintenance.counters.repair_started() {
            REPAIR_STARTED.store(true, Ordering::SeqCst);
        }
    };
    if request.repair.any() {
        let first = maintenance.walk(queues, request.repair, None);
        track(maintenance);
        first?;
        // Files renamed to NEWID#FIX need a second pass to lose the suffix.
        if maintenance.counters.inode_mismatch > 0 {
            let second = maintenance.walk(queues, request.repair, None);
            track(maintenance);
            second?;
        }
    }
    let by_id = request
        .actions
        .iter()
        .any(|(_, target)| *target != Target::All);
    let counters = maintenance.counters;
    if by_id && (counters.inode_mismatch > 0 || counters.inode_fixed > 0) {
        PROGRAM.error("QUEUE FILE NAMES WERE CHANGED TO MATCH INODE NUMBERS");
        return Err(fatal("CHECK YOUR QUEUE IDS AND RE-ISSUE THE COMMAND"));
    }
    let selecting =
        !request.selection.is_empty() || request.dry_run || request.format == Format::Json;
    let mut stdin_used = false;
    for (operation, target) in &request.actions {
        let mut ids_from_stdin = || -> Vec<String> {
            if std::mem::replace(&mut stdin_used, true) {
                return Vec::new();
            }
            read_stdin_ids()
        };
        if selecting {
            let ids = match target {
                Target::All => None,
                Target::Stdin => Some(ids_from_stdin()),
                Target::Id(id) => Some(vec![id.clone()]),
            };
            selected::run(config, request, maintenance, *operation, ids)?;
            continue;
        }
        match target {
            Target::All => {
                progress::start_walk(*operation);
                let walked = maintenance.walk(queues, Repair::default(), Some(*operation));
                track(maintenance);
                walked?;
            }
            Target::Stdin => {
                for id in ids_from_stdin() {
                    maintenance.by_id(*operation, queues, &id)?;
                }
            }
            Target::Id(id) => maintenance.by_id(*operation, queues, id)?,
        }
    }
    Ok(())
}

/// IDs on stdin, one per line: the newline goes, nothing else (no trimming), and a last line
/// without a newline still counts (`vstring_get_nonl`).
fn read_stdin_ids() -> Vec<String> {
    let mut input = Vec::new();
    let _ = std::io::stdin().lock().read_to_end(&mut input);
    let mut lines: Vec<String> = input
        .split(|&b| b == b'\n')
        .map(|line| String::from_utf8_lossy(line).into_owned())
        .collect();
    if input.is_empty() || input.ends_with(b"\n") {
        lines.pop();
    }
    lines
}

fn plural(count: usize) -> &'static str {
    if count == 1 {
        ""
    } else {
        "s"
    }
}

/// The summary lines, in Postfix's fixed order, for each kind of action requested.
fn summarise(request: &Request, counters: &Counters) {
    if request.dry_run {
        return;
    }
    let asked = |wanted: &[Operation]| {
        request
            .actions
            .iter()
            .any(|(operation, _)| wanted.contains(operation))
    };
    let line = |label: &str, count: usize| {
        PROGRAM.info(&format!("{label}: {count} message{}", plural(count)));
    };
    if asked(&[Operation::Requeue]) {
        line("Requeued", counters.requeued);
    }
    if asked(&[Operation::Delete]) {
        line("Deleted", counters.deleted);
    }
    if asked(&[Operation::Expire, Operation::ExpireRelease]) {
        line("Force-expired", counters.expired);
    }
    if asked(&[Operation::Hold]) {
        line("Placed on hold", counters.held);
    }
    if asked(&[Operation::Release, Operation::ExpireRelease]) {
        line("Released from hold", counters.released);
    }
    if counters.inode_fixed > 0 {
        line("Renamed to match inode number", counters.inode_fixed);
    }
    if counters.inode_mismatch > 0 || counters.inode_fixed > 0 {
        PROGRAM.warning("QUEUE FILE NAMES WERE CHANGED TO MATCH INODE NUMBERS");
    }
    if counters.left_alone > 0 {
        PROGRAM.warning(&format!(
            "left {} message{} alone that Postfix was still writing or delivering; rerun later",
            counters.left_alone,
            plural(counters.left_alone)
        ));
    }
}
