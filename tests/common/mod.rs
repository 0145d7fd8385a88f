//! Shared harness for the live compatibility tests against real Postfix 3.7: private Postfix
//! instances, mail injection (sendmail and SMTP over a UNIX socket), bounded command runs, the
//! real-versus-ours comparison and the JSON-lines result log.
//!
//! Pitfalls this file works around are the ones listed in the project's testing notes: fresh
//! config files make every Postfix program wait (we backdate them), `maillog_file` must sit
//! under `maillog_file_prefixes`, user postfix must reach the spool (chmod 755 on parents),
//! there is no syslog (so every instance logs to its own file), no network (no `inet`
//! services, `retry:`/`error:` transports), set-gid postdrop ignores libfaketime (old arrival
//! times come from SMTP into a faked instance), and every master must be stopped, also when a
//! test panics.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::ffi::{CString, OsStr, OsString};
use std::fmt::Write as _;
use std::fs::{self, File, FileTimes, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

pub const REAL_POSTFIX: &str = "/usr/sbin/postfix";
pub const REAL_POSTQUEUE: &str = "/usr/sbin/postqueue";
/// A symlink to sendmail; sendmail acts as mailq because of its argv\[0].
pub const REAL_MAILQ: &str = "/usr/bin/mailq";
pub const REAL_SENDMAIL: &str = "/usr/sbin/sendmail";
pub const REAL_POSTSUPER: &str = "/usr/sbin/postsuper";
pub const OUR_POSTQUEUE: &str = env!("CARGO_BIN_EXE_postqueue");
pub const OUR_MAILQ: &str = env!("CARGO_BIN_EXE_mailq");

/// Both tools are run under each of these; New York also exercises daylight saving time for
/// the messages that an instance under libfaketime stamps months in the past.
pub const TIME_ZONES: [&str; 2] = ["UTC", "America/New_York"];

/// Upper bound for any single command; a hung program fails the test instead of CI.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// Upper bound for the queue to settle after an injection.
pub const SETTLE_TIMEOUT: Duration = Duration::from_secs(60);

// ------------------------------------------------------------------------------------------
// Results log
// ------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pass,
    Fail,
    Skip,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Skip => "SKIP",
        }
    }
}

fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Appends one result line to `$PQT_COMPAT_RESULTS` (if set). One `write` on an O_APPEND
/// descriptor per line, so tests running in parallel never interleave.
pub fn record_result(suite: &str, case: &str, status: Status, detail: &str) {
    let Some(path) = std::env::var_os("PQT_COMPAT_RESULTS") else {
        return;
    };
    let path = PathBuf::from(path);
    if let Some(parent) = path.parent() {
        if !parent.as_os_str().is_empty() {
            let _ = fs::create_dir_all(parent);
        }
    }
    let line = format!(
        "{{\"suite\": {}, \"case\": {}, \"status\": {}, \"detail\": {}}}\n",
        json_string(suite),
        json_string(case),
        json_string(status.as_str()),
        json_string(detail)
    );
    match OpenOptions::new().create(true).append(true).open(&path) {
        Ok(mut file) => {
            if let Err(error) = file.write_all(line.as_bytes()) {
                eprintln!("cannot append to {}: {error}", path.display());
            }
        }
        Err(error) => eprintln!("cannot open {}: {error}", path.display()),
    }
}

/// Whether the live tests can run here: real Postfix installed and we are root (the private
/// instances need root to start a master and to chown spool files to postfix). Otherwise says
/// so loudly, records SKIP, and under `CI=true` fails instead.
pub fn live_postfix_available(suite: &str, case: &str) -> bool {
    let why = if !Path::new(REAL_POSTFIX).exists() {
        "real Postfix not installed"
    } else if !is_root() {
        "not running as root (private Postfix instances need root)"
    } else {
        return true;
    };
    eprintln!("\n**********************************************************************");
    eprintln!("SKIPPED: {why} ({suite}: {case})");
    eprintln!("**********************************************************************\n");
    record_result(suite, case, Status::Skip, why);
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("SKIPPED: {why}, and CI=true forbids skipping the live compatibility tests");
    }
    false
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

// ------------------------------------------------------------------------------------------
// Running commands
// ------------------------------------------------------------------------------------------

/// What a program did: its output and exit status (128 + signal when killed by a signal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub status: i32,
    pub timed_out: bool,
}

impl Outcome {
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    pub fn summary(&self) -> String {
        format!(
            "exit {}{}\n--- stdout ---\n{}--- stderr ---\n{}",
            self.status,
            if self.timed_out { " (timed out)" } else { "" },
            printable(&self.stdout),
            printable(&self.stderr)
        )
    }
}

/// Where a program's stdout goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdoutTo {
    /// A pipe we read (the normal case).
    Pipe,
    /// `>&-`: descriptor 1 closed before exec.
    Closed,
    /// `>/dev/full`: every write fails with ENOSPC.
    DevFull,
}

/// How to run one program: kept as data so the same invocation can be run several times.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub program: OsString,
    pub args: Vec<OsString>,
    pub env: Vec<(OsString, OsString)>,
    pub stdin: Option<Vec<u8>>,
    pub stdout_to: StdoutTo,
    /// Run as this (uid, gid) instead of root.
    pub user: Option<(u32, u32)>,
}

impl Invocation {
    /// A program with a clean, fixed environment: nothing from the test's own environment
    /// (MAIL_CONFIG, TZ, POSTQUEUE_THREADS ...) can leak into either side of a comparison.
    pub fn new(program: impl AsRef<OsStr>) -> Self {
        Self {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            env: vec![
                ("PATH".into(), "/usr/sbin:/usr/bin:/sbin:/bin".into()),
                ("LANG".into(), "C".into()),
            ],
            stdin: None,
            stdout_to: StdoutTo::Pipe,
            user: None,
        }
    }

    pub fn stdout_to(mut self, to: StdoutTo) -> Self {
        self.stdout_to = to;
        self
    }

    /// Runs as the given local user (and its primary group, no supplementary groups).
    pub fn run_as(mut self, name: &str) -> Self {
        self.user = Some(user_ids(name));
        self
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    pub fn env(mut self, name: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env
            .retain(|(existing, _)| existing.as_os_str() != name.as_ref());
        self.env
            .push((name.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    pub fn stdin(mut self, input: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(input.into());
        self
    }

    fn command(&self) -> Command {
        let mut command = Command::new(&self.program);
        command.args(&self.args).env_clear();
        for (name, value) in &self.env {
            command.env(name, value);
        }
        // Own process group, so a timeout can end the program and whatever it started (the
        // real postqueue runs showq as a child when the mail system is down).
        command.process_group(0);
        if let Some((uid, gid)) = self.user {
            // std drops the supplementary groups when it changes the gid as root.
            command.uid(uid).gid(gid);
        }
        command
    }

    /// The command line for reports, with the random instance directory shown as `$INSTANCE`
    /// so result lines stay the same from run to run.
    pub fn describe(&self) -> String {
        anonymize_paths(&self.describe_raw())
    }

    fn describe_raw(&self) -> String {
        let mut text = String::new();
        for (name, value) in &self.env {
            if name != "PATH" && name != "LANG" {
                let _ = write!(
                    text,
                    "{}={} ",
                    name.to_string_lossy(),
                    value.to_string_lossy()
                );
            }
        }
        text.push_str(&self.program.to_string_lossy());
        for arg in &self.args {
            text.push(' ');
            text.push_str(&arg.to_string_lossy());
        }
        match self.stdout_to {
            StdoutTo::Pipe => {}
            StdoutTo::Closed => text.push_str(" >&-"),
            StdoutTo::DevFull => text.push_str(" >/dev/full"),
        }
        if let Some((uid, _)) = self.user {
            let _ = write!(text, " (as uid {uid})");
        }
        text
    }

    pub fn run(&self) -> Outcome {
        self.run_with_timeout(COMMAND_TIMEOUT)
    }

    pub fn run_with_timeout(&self, timeout: Duration) -> Outcome {
        let mut command = self.command();
        match self.stdout_to {
            StdoutTo::Pipe => {}
            StdoutTo::Closed => {
                // SAFETY: close(2) is async-signal-safe; nothing else runs in the child yet.
                unsafe {
                    command.pre_exec(|| {
                        libc::close(1);
                        Ok(())
                    });
                }
            }
            StdoutTo::DevFull => {
                let full = OpenOptions::new()
                    .write(true)
                    .open("/dev/full")
                    .expect("open /dev/full");
                command.stdout(full);
            }
        }
        let pipe_stdout = self.stdout_to != StdoutTo::DevFull;
        run_command(command, self.stdin.clone(), timeout, None, pipe_stdout)
    }

    /// Runs with stdout read for `limit` bytes and then closed, like `| head -c limit`.
    pub fn run_reading_only(&self, limit: usize) -> Outcome {
        run_command(
            self.command(),
            self.stdin.clone(),
            COMMAND_TIMEOUT,
            Some(limit),
            true,
        )
    }
}

/// Replaces `/tmp/pqt-XXXXXX` (an instance directory) with `$INSTANCE`.
pub fn anonymize_paths(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("/tmp/pqt-") {
        out.push_str(&rest[..start]);
        out.push_str("$INSTANCE");
        let after = &rest[start + "/tmp/pqt-".len()..];
        let end = after
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(after.len());
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

fn read_all(mut reader: impl Read) -> Vec<u8> {
    let mut bytes = Vec::new();
    let _ = reader.read_to_end(&mut bytes);
    bytes
}

fn run_command(
    mut command: Command,
    input: Option<Vec<u8>>,
    timeout: Duration,
    stdout_limit: Option<usize>,
    pipe_stdout: bool,
) -> Outcome {
    command
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stderr(Stdio::piped());
    // Unless the caller sent stdout elsewhere (/dev/full), we read it.
    if pipe_stdout {
        command.stdout(Stdio::piped());
    }
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(error) => panic!("cannot run {command:?}: {error}"),
    };
    let pid = child.id() as libc::pid_t;
    let writer = input.and_then(|bytes| {
        child.stdin.take().map(|mut stdin| {
            std::thread::spawn(move || {
                let _ = stdin.write_all(&bytes);
            })
        })
    });
    let stdout = child.stdout.take();
    let stderr = child.stderr.take().expect("stderr is piped");
    let out_reader = std::thread::spawn(move || match (stdout, stdout_limit) {
        (None, _) => Vec::new(),
        (Some(stdout), None) => read_all(stdout),
        (Some(stdout), Some(limit)) => {
            let mut head = Vec::new();
            let _ = stdout.take(limit as u64).read_to_end(&mut head);
            // Dropping the pipe here is the point: the program's next write gets EPIPE.
            head
        }
    });
    let err_reader = std::thread::spawn(move || read_all(stderr));
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(child.wait());
    });
    let (status, timed_out) = match receiver.recv_timeout(timeout) {
        Ok(status) => (status, false),
        Err(_) => {
            // SAFETY: kill has no memory preconditions; -pid is the group we created.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
            (
                receiver
                    .recv_timeout(Duration::from_secs(10))
                    .unwrap_or_else(|_| Err(std::io::Error::other("no exit status"))),
                true,
            )
        }
    };
    if timed_out {
        // The group may still hold the pipes open (a grandchild); make sure it is gone.
        // SAFETY: as above.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    if let Some(writer) = writer {
        let _ = writer.join();
    }
    let status = match status {
        Ok(status) => status
            .code()
            .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)),
        Err(_) => -1,
    };
    Outcome {
        stdout,
        stderr,
        status,
        timed_out,
    }
}

// ------------------------------------------------------------------------------------------
// Users and files
// ------------------------------------------------------------------------------------------

/// uid and gid of a local user.
pub fn user_ids(name: &str) -> (u32, u32) {
    let c_name = CString::new(name).expect("user name has no NUL");
    // SAFETY: getpwnam returns null or a pointer to static storage that we copy at once;
    // tests do not call it concurrently with anything that would overwrite it meaningfully.
    let entry = unsafe { libc::getpwnam(c_name.as_ptr()) };
    assert!(!entry.is_null(), "user {name} does not exist");
    // SAFETY: non-null, points at a valid passwd struct.
    unsafe { ((*entry).pw_uid, (*entry).pw_gid) }
}

pub fn postfix_ids() -> (u32, u32) {
    user_ids("postfix")
}

/// Sets a path's atime and mtime to `age` in the past.
pub fn backdate(path: &Path, age: Duration) {
    let when = SystemTime::now() - age;
    let times = FileTimes::new().set_accessed(when).set_modified(when);
    let file = File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    file.set_times(times)
        .unwrap_or_else(|e| panic!("set times of {}: {e}", path.display()));
}

/// Backdates a config directory and everything in it by two minutes: Postfix programs wait for
/// a freshly written main.cf to settle, 1 to 1.5 s per call otherwise.
pub fn backdate_config(etc: &Path) {
    for entry in fs::read_dir(etc).expect("read config dir").flatten() {
        backdate(&entry.path(), Duration::from_secs(120));
    }
    backdate(etc, Duration::from_secs(120));
}

/// chown -R (without following symlinks).
pub fn chown_tree(path: &Path, uid: u32, gid: Option<u32>) {
    std::os::unix::fs::lchown(path, Some(uid), gid)
        .unwrap_or_else(|e| panic!("chown {}: {e}", path.display()));
    if path.is_dir() && !path.is_symlink() {
        for entry in fs::read_dir(path).expect("read dir").flatten() {
            chown_tree(&entry.path(), uid, gid);
        }
    }
}

pub fn set_mode(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {:o} {}: {e}", mode, path.display()));
}

/// Every regular file (and other non-directory entry) under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(kind) if kind.is_dir() => found.extend(files_under(&path)),
            Ok(_) => found.push(path),
            Err(_) => {}
        }
    }
    found
}

/// The file names (queue IDs) in a queue, recursively.
pub fn queue_ids(spool: &Path, queue: &str) -> Vec<String> {
    files_under(&spool.join(queue))
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect()
}

/// The libfaketime preload library, if installed.
pub fn faketime_library() -> Option<PathBuf> {
    let lib = Path::new("/usr/lib");
    for entry in fs::read_dir(lib).ok()?.flatten() {
        let candidate = entry.path().join("faketime/libfaketime.so.1");
        if candidate.exists() {
            return Some(candidate);
        }
    }
    let direct = lib.join("faketime/libfaketime.so.1");
    direct.exists().then_some(direct)
}

fn process_alive(pid: i32) -> bool {
    // A zombie still answers kill(0); look at its state too. The master's parent is init,
    // which may take a while to reap it.
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.trim_start().chars().next());
            state != Some('Z') && state != Some('X')
        }
        Err(_) => false,
    }
}

/// Polls `condition` until it holds or `timeout` passes; whether it held.
pub fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ------------------------------------------------------------------------------------------
// Private Postfix instances
// ------------------------------------------------------------------------------------------

/// Reasons the private instances defer or bounce with, by destination domain. Chosen to hit
/// the `-p` reason column at its edges: 75, 76 and 77 bytes, and far longer.
pub fn reason_of_length(length: usize) -> String {
    let mut reason = format!("deferral reason of exactly {length} bytes for the mailq column ");
    while reason.len() < length {
        reason.push('=');
    }
    reason.truncate(length);
    reason
}

pub const SLOW_REASON: &str = "Connection timed out while talking to mx.slow.example[192.0.2.25]";
pub const DEFAULT_REASON: &str =
    "Host or domain name not found. Name service error for name=default.invalid type=MX";
pub const QUOTE_REASON: &str = "reason with \"double quotes\" and a back\\slash in it";
pub const UTF8_REASON: &str = "Mailbox für Jürgen is übervoll (naïve café)";

pub fn long_reason() -> String {
    let mut reason = String::from(
        "<rcpt@long.example>: Recipient address rejected: Greylisted for 300 seconds, \
         see the help page for this long deferral reason which is far longer than the \
         seventy-six byte display limit of mailq: ",
    );
    reason.push_str("https://greylist.example/help/");
    while reason.len() < 266 {
        reason.push_str("abcdefghij");
    }
    reason.truncate(266);
    reason
}

fn transport_table() -> String {
    let mut table = String::new();
    let mut add = |domain: &str, transport: &str| {
        let _ = writeln!(table, "{domain}\t{transport}");
    };
    add("slow.example", &format!("retry:4.4.2 {SLOW_REASON}"));
    add(
        "r75.example",
        &format!("retry:4.4.2 {}", reason_of_length(75)),
    );
    add(
        "r76.example",
        &format!("retry:4.4.2 {}", reason_of_length(76)),
    );
    add(
        "r77.example",
        &format!("retry:4.4.2 {}", reason_of_length(77)),
    );
    add("long.example", &format!("retry:4.7.1 {}", long_reason()));
    add("quote.example", &format!("retry:4.7.1 {QUOTE_REASON}"));
    add("utf8.example", &format!("retry:4.2.2 {UTF8_REASON}"));
    add(
        "bad.example",
        "error:5.1.1 <user@bad.example>: Recipient address rejected: User unknown",
    );
    add("discard.example", "discard:delivered by discard(8)");
    add("sleep.example", "sleeper:");
    table
}

/// How to set up a private instance.
#[derive(Debug, Clone)]
pub struct InstanceOptions {
    pub long_queue_ids: bool,
    pub hash_queue_depth: u32,
    pub smtputf8: bool,
    /// Without pickup, files submitted with sendmail stay in maildrop while the master runs.
    pub pickup: bool,
    /// Without qmgr, mail stays in incoming.
    pub qmgr: bool,
    pub extra_main_cf: Vec<(String, String)>,
}

impl Default for InstanceOptions {
    fn default() -> Self {
        Self {
            long_queue_ids: false,
            hash_queue_depth: 1,
            smtputf8: true,
            pickup: true,
            qmgr: true,
            extra_main_cf: Vec::new(),
        }
    }
}

/// What the queue should look like once qmgr is done.
#[derive(Debug, Clone, Copy, Default)]
pub struct Settle {
    pub maildrop: usize,
    pub incoming: usize,
    pub active: usize,
    pub deferred: Option<usize>,
    pub hold: Option<usize>,
}

/// A private Postfix instance under /tmp/pqt-XXXX: its own config directory (etc/), spool,
/// data directory and mail log. The system's own instance (/etc/postfix) is never used: every
/// command gets `-c`/`-C` or MAIL_CONFIG. Dropping it stops the master (also while a test
/// panics); a panicking test keeps the directory for a post-mortem.
#[derive(Debug)]
pub struct PostfixInstance {
    pub name: String,
    dir: Option<tempfile::TempDir>,
    pub root: PathBuf,
    pub etc: PathBuf,
    pub spool: PathBuf,
    pub options: InstanceOptions,
    main_cf: Vec<(String, String)>,
    started: bool,
    /// The master was started directly (not by `postfix start`): stop it by its PID.
    bare_master: bool,
    /// The master's PID as seen when it came up, in case the pid file is gone by the time we
    /// stop it.
    master_seen: Option<i32>,
}

impl PostfixInstance {
    pub fn new(name: &str, options: InstanceOptions) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("pqt-")
            .tempdir_in("/tmp")
            .expect("create instance directory");
        let root = dir.path().to_path_buf();
        // mkdtemp makes 0700; the postfix user must reach the spool and the mail log.
        set_mode(&root, 0o755);
        let etc = root.join("etc");
        let spool = root.join("spool");
        let data = root.join("data");
        for path in [&etc, &spool, &data] {
            fs::create_dir(path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
            set_mode(path, 0o755);
        }
        let (postfix_uid, postfix_gid) = postfix_ids();
        chown_tree(&data, postfix_uid, Some(postfix_gid));
        set_mode(&data, 0o700);
        let mut instance = Self {
            name: name.to_string(),
            dir: Some(dir),
            root,
            etc,
            spool,
            options,
            main_cf: Vec::new(),
            started: false,
            bare_master: false,
            master_seen: None,
        };
        instance.write_sleeper();
        fs::write(instance.etc.join("transport"), transport_table()).expect("write transport");
        instance.main_cf = instance.default_main_cf();
        instance.write_master_cf();
        instance.write_main_cf();
        instance
    }

    fn default_main_cf(&self) -> Vec<(String, String)> {
        let root = self.root.display();
        let o = &self.options;
        let default_import = "MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ XAUTHORITY DISPLAY LANG=C \
                              POSTLOG_SERVICE POSTLOG_HOSTNAME";
        let mut cf: Vec<(String, String)> = [
            ("compatibility_level", "3.6".to_string()),
            ("queue_directory", format!("{root}/spool")),
            ("data_directory", format!("{root}/data")),
            // No syslog daemon here: log to a file the postfix user may create.
            ("maillog_file", format!("{root}/maillog")),
            ("maillog_file_prefixes", format!("{root}")),
            ("syslog_name", format!("pqt-{}", self.name)),
            ("myhostname", "mx.example.test".to_string()),
            ("mydomain", "example.test".to_string()),
            ("myorigin", "$myhostname".to_string()),
            ("mydestination", String::new()),
            ("inet_interfaces", "loopback-only".to_string()),
            ("inet_protocols", "ipv4".to_string()),
            ("mynetworks", "127.0.0.0/8".to_string()),
            ("relayhost", String::new()),
            ("relay_domains", String::new()),
            ("alias_maps", String::new()),
            ("alias_database", String::new()),
            ("default_transport", format!("retry:4.4.1 {DEFAULT_REASON}")),
            ("relay_transport", "$default_transport".to_string()),
            (
                "transport_maps",
                format!("texthash:{}", self.etc.join("transport").display()),
            ),
            (
                "smtputf8_enable",
                if o.smtputf8 { "yes" } else { "no" }.to_string(),
            ),
            (
                "enable_long_queue_ids",
                if o.long_queue_ids { "yes" } else { "no" }.to_string(),
            ),
            ("hash_queue_depth", o.hash_queue_depth.to_string()),
            // libfaketime has to reach the daemons through postfix(1)'s clean environment.
            (
                "import_environment",
                format!("{default_import} LD_PRELOAD FAKETIME"),
            ),
            ("delay_warning_time", "0".to_string()),
            ("smtpd_recipient_limit", "2000".to_string()),
            ("smtpd_reject_unlisted_recipient", "no".to_string()),
            ("smtpd_reject_unlisted_sender", "no".to_string()),
            ("smtpd_tls_security_level", "none".to_string()),
            ("smtp_tls_security_level", "none".to_string()),
            ("smtpd_banner", "$myhostname ESMTP".to_string()),
            ("biff", "no".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        for (name, value) in &o.extra_main_cf {
            cf.retain(|(k, _)| k != name);
            cf.push((name.clone(), value.clone()));
        }
        cf
    }

    /// Changes main.cf parameters (for the next start; a running master needs a restart).
    pub fn set_main_cf(&mut self, settings: &[(&str, &str)]) {
        for (name, value) in settings {
            self.main_cf.retain(|(k, _)| k != name);
            self.main_cf.push((name.to_string(), value.to_string()));
        }
        self.write_main_cf();
    }

    fn write_main_cf(&self) {
        self.write_main_cf_variant(&[], "");
    }

    /// Writes main.cf without the parameters in `remove` and with `extra` (raw text, for
    /// syntax the name = value list cannot express) appended. `restore_main_cf` undoes it.
    pub fn write_main_cf_variant(&self, remove: &[&str], extra: &str) {
        let mut text = String::from("# private test instance of the postfix-queue-tools tests\n");
        for (name, value) in &self.main_cf {
            if !remove.contains(&name.as_str()) {
                let _ = writeln!(text, "{name} = {value}");
            }
        }
        text.push_str(extra);
        fs::write(self.etc.join("main.cf"), text).expect("write main.cf");
        backdate_config(&self.etc);
    }

    pub fn restore_main_cf(&self) {
        self.write_main_cf();
    }

    /// master.cf: the system's services minus every `inet` one (no network), chroot off (the
    /// chroot would need copies of system files), plus our test services.
    fn write_master_cf(&self) {
        let system = fs::read_to_string("/etc/postfix/master.cf").unwrap_or_default();
        let mut entries: Vec<Vec<String>> = Vec::new();
        for line in system.lines() {
            let trimmed = line.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let fields: Vec<String> = trimmed.split_whitespace().map(String::from).collect();
            if line.starts_with(char::is_whitespace) {
                if let Some(last) = entries.last_mut() {
                    last.extend(fields);
                }
            } else {
                entries.push(fields);
            }
        }
        let mut text = String::new();
        for mut fields in entries {
            if fields.len() < 8 || fields[1] == "inet" {
                continue;
            }
            if (fields[0] == "pickup" && !self.options.pickup)
                || (fields[0] == "qmgr" && !self.options.qmgr)
            {
                continue;
            }
            fields[4] = "n".to_string();
            text.push_str(&fields.join(" "));
            text.push('\n');
        }
        // SMTP over a UNIX socket in public/: chosen envelopes, and old arrival times when the
        // instance runs under libfaketime (postdrop, being set-gid, ignores LD_PRELOAD).
        text.push_str("smtpin unix n - n - - smtpd\n");
        // A pipe that never returns, to keep a message in active/.
        let _ = writeln!(
            text,
            "sleeper unix - n n - 1 pipe flags=q user=nobody argv={} ${{recipient}}",
            self.root.join("sleeper.sh").display()
        );
        fs::write(self.etc.join("master.cf"), text).expect("write master.cf");
    }

    fn write_sleeper(&self) {
        let pids = self.root.join("sleeper.pids");
        fs::write(&pids, "").expect("write pids file");
        set_mode(&pids, 0o666);
        let script = self.root.join("sleeper.sh");
        fs::write(
            &script,
            format!("#!/bin/sh\necho $$ >> {}\nexec sleep 600\n", pids.display()),
        )
        .expect("write sleeper");
        set_mode(&script, 0o755);
    }

    /// Creates the queue directories with their proper owners and modes, without a master
    /// (`postfix check` runs post-install's set-permissions).
    pub fn create_spool(&self) {
        let outcome = Invocation::new(REAL_POSTFIX)
            .arg("-c")
            .arg(&self.etc)
            .arg("check")
            .run();
        assert_eq!(
            outcome.status,
            0,
            "postfix check failed:\n{}\n{}",
            outcome.summary(),
            self.maillog_tail()
        );
    }

    pub fn start(&mut self) {
        self.start_with_clock(None);
    }

    /// Starts the master (and so every daemon) with libfaketime shifting the clock by
    /// `offset` (e.g. `-150d`), when given.
    pub fn start_with_clock(&mut self, offset: Option<&str>) {
        backdate_config(&self.etc);
        let mut invocation = Invocation::new(REAL_POSTFIX)
            .arg("-c")
            .arg(&self.etc)
            .arg("start");
        if let Some(offset) = offset {
            let library = faketime_library().expect("libfaketime is installed");
            invocation = invocation
                .env("LD_PRELOAD", library)
                .env("FAKETIME", offset);
        }
        let outcome = invocation.run();
        assert_eq!(
            outcome.status,
            0,
            "postfix start failed:\n{}\n{}",
            outcome.summary(),
            self.maillog_tail()
        );
        self.started = true;
        let qmgr_needed = self.options.qmgr;
        let spool = self.spool.clone();
        let up = wait_until(Duration::from_secs(20), || {
            spool.join("public/showq").exists()
                && (!qmgr_needed || spool.join("public/qmgr").exists())
                && self.master_pid().is_some_and(process_alive)
        });
        assert!(up, "master did not come up\n{}", self.maillog_tail());
        self.master_seen = self.master_pid();
    }

    pub fn master_pid(&self) -> Option<i32> {
        fs::read_to_string(self.spool.join("pid/master.pid"))
            .ok()
            .and_then(|text| text.trim().parse().ok())
    }

    pub fn is_running(&self) -> bool {
        self.master_pid().is_some_and(process_alive)
    }

    /// Lists a spool with the real tools through a live showq daemon without letting Postfix
    /// touch the files: a master with only the showq service (no qmgr or pickup, and no
    /// `postfix start`, whose postsuper would rename files whose names do not match their
    /// inodes), from a second config directory `etc-showq` with main.cf's settings. Returns
    /// that directory; `stop` (or Drop) ends the master. (With no master at all, root's real
    /// postqueue runs showq stand-alone, which needs nothing from us.)
    pub fn start_showq_only(&mut self) -> PathBuf {
        let etc = self.root.join("etc-showq");
        fs::create_dir_all(&etc).expect("mkdir etc-showq");
        let mut main_cf = fs::read_to_string(self.etc.join("main.cf")).expect("read main.cf");
        // A showq that dies would otherwise be throttled for 60 s, and every later request
        // would wait for it.
        main_cf.push_str("service_throttle_time = 1s\n");
        fs::write(etc.join("main.cf"), main_cf).expect("write main.cf");
        fs::write(
            etc.join("master.cf"),
            "showq unix n - n - - showq\npostlog unix-dgram n - n - 1 postlogd\n",
        )
        .expect("write master.cf");
        backdate_config(&etc);
        let daemon_directory = "/usr/lib/postfix/sbin";
        let outcome = Invocation::new(format!("{daemon_directory}/master"))
            .arg("-c")
            .arg(&etc)
            .arg("-w")
            .run();
        assert_eq!(
            outcome.status,
            0,
            "showq-only master: {}\n{}",
            outcome.summary(),
            self.maillog_tail()
        );
        self.adopt_master();
        etc
    }

    /// Takes charge of a master started directly (`master -c DIR -w`) on this spool, so that
    /// `stop` and Drop end it.
    pub fn adopt_master(&mut self) {
        let spool = self.spool.clone();
        let up = wait_until(Duration::from_secs(20), || {
            spool.join("public/showq").exists()
                && fs::read_to_string(spool.join("pid/master.pid"))
                    .ok()
                    .and_then(|t| t.trim().parse().ok())
                    .is_some_and(process_alive)
        });
        assert!(up, "master did not come up\n{}", self.maillog_tail());
        self.started = true;
        self.bare_master = true;
        self.master_seen = self.master_pid();
    }

    /// The PID of this instance's master: from its pid file, else as recorded at start, and
    /// only while that process still is a Postfix master (PIDs get reused).
    fn our_master(&self) -> Option<i32> {
        self.master_pid().or(self.master_seen).filter(|pid| {
            fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|cmdline| contains(&cmdline, b"master"))
        })
    }

    /// Stops the master and waits until it is gone; kills it by PID if it will not go.
    pub fn stop(&mut self) {
        if self.started {
            if self.bare_master {
                if let Some(pid) = self.our_master() {
                    // SAFETY: kill has no memory preconditions; this is our instance's master.
                    unsafe {
                        libc::kill(pid, libc::SIGTERM);
                    }
                }
                self.bare_master = false;
            } else {
                let _ = Invocation::new(REAL_POSTFIX)
                    .arg("-c")
                    .arg(&self.etc)
                    .arg("stop")
                    .run_with_timeout(Duration::from_secs(30));
            }
            if let Some(pid) = self.our_master() {
                if !wait_until(Duration::from_secs(15), || !process_alive(pid)) {
                    // SAFETY: kill has no memory preconditions; this is our instance's master.
                    unsafe {
                        libc::kill(pid, libc::SIGKILL);
                    }
                    wait_until(Duration::from_secs(5), || !process_alive(pid));
                }
            }
            // The master's children end when it does; give them a moment, so no daemon still
            // moves files while the "stopped" comparisons run.
            std::thread::sleep(Duration::from_millis(200));
            self.started = false;
            self.master_seen = None;
        }
        self.kill_sleepers();
    }

    /// Kills the blocking pipe children (pipe's `sleep` outlives `postfix stop`), by the PIDs
    /// our own sleeper script recorded, after checking they still run that script's sleep.
    fn kill_sleepers(&self) {
        let pids = fs::read_to_string(self.root.join("sleeper.pids")).unwrap_or_default();
        for pid in pids.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
            let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if cmdline.starts_with(b"sleep\x00600\x00") {
                // SAFETY: kill has no memory preconditions.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
            }
        }
    }

    /// Whether the blocking pipe has been reached (a message is parked in active/).
    pub fn wait_for_sleeper(&self) {
        let pids = self.root.join("sleeper.pids");
        let reached = wait_until(SETTLE_TIMEOUT, || {
            fs::read_to_string(&pids).is_ok_and(|t| !t.trim().is_empty())
        });
        assert!(
            reached,
            "the sleeper pipe was never started\n{}",
            self.maillog_tail()
        );
    }

    pub fn maillog_tail(&self) -> String {
        let text = fs::read_to_string(self.root.join("maillog")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let start = lines.len().saturating_sub(30);
        format!("--- maillog tail ---\n{}", lines[start..].join("\n"))
    }

    pub fn count(&self, queue: &str) -> usize {
        files_under(&self.spool.join(queue)).len()
    }

    fn counts(&self) -> [usize; 5] {
        ["maildrop", "incoming", "active", "deferred", "hold"].map(|q| self.count(q))
    }

    /// Waits until the queue looks like `want` and has stayed so for a while (qmgr, cleanup
    /// and bounce are done).
    pub fn settle(&self, want: Settle) {
        let deadline = Instant::now() + SETTLE_TIMEOUT;
        let mut stable = 0;
        let mut previous = [usize::MAX; 5];
        loop {
            let counts = self.counts();
            let ok = counts[0] == want.maildrop
                && counts[1] == want.incoming
                && counts[2] == want.active
                && want.deferred.is_none_or(|n| counts[3] == n)
                && want.hold.is_none_or(|n| counts[4] == n);
            if ok && counts == previous {
                stable += 1;
                if stable >= 4 {
                    return;
                }
            } else {
                stable = 0;
            }
            previous = counts;
            assert!(
                Instant::now() < deadline,
                "queue of {} did not settle: maildrop/incoming/active/deferred/hold = {counts:?}, \
                 wanted {want:?}\n{}",
                self.name,
                self.maillog_tail()
            );
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    /// Waits until qmgr has retried every deferred file (each has a retry time in the future
    /// again) and the queue holds `deferred` messages, nothing in flight.
    pub fn settle_retried(&self, deferred: usize) {
        let spool = self.spool.join("deferred");
        let retried = wait_until(SETTLE_TIMEOUT, || {
            let now = SystemTime::now();
            let files = files_under(&spool);
            files.len() == deferred
                && files.iter().all(|f| {
                    fs::metadata(f)
                        .and_then(|m| m.modified())
                        .is_ok_and(|t| t > now)
                })
        });
        assert!(
            retried,
            "deferred mail was not retried\n{}",
            self.maillog_tail()
        );
        self.settle(Settle {
            deferred: Some(deferred),
            ..Settle::default()
        });
    }

    /// sendmail with arguments that need not be UTF-8.
    pub fn sendmail_bytes(&self, args: &[&[u8]], message: &[u8]) -> Outcome {
        use std::os::unix::ffi::OsStrExt;
        let args: Vec<&OsStr> = args.iter().map(|a| OsStr::from_bytes(a)).collect();
        self.sendmail(&args, message)
    }

    /// Submits a message with the real sendmail (through postdrop, on the real clock).
    pub fn sendmail<S: AsRef<OsStr> + std::fmt::Debug>(
        &self,
        args: &[S],
        message: &[u8],
    ) -> Outcome {
        let outcome = Invocation::new(REAL_SENDMAIL)
            .arg("-C")
            .arg(&self.etc)
            .args(args)
            .stdin(message.to_vec())
            .run();
        assert_eq!(
            outcome.status,
            0,
            "sendmail {args:?} failed:\n{}",
            outcome.summary()
        );
        outcome
    }

    /// Runs the real postsuper on this instance.
    pub fn postsuper(&self, args: &[&str]) -> Outcome {
        let outcome = Invocation::new(REAL_POSTSUPER)
            .arg("-c")
            .arg(&self.etc)
            .args(args)
            .run();
        assert_eq!(
            outcome.status,
            0,
            "postsuper {args:?} failed:\n{}",
            outcome.summary()
        );
        outcome
    }

    pub fn smtp(&self) -> Smtp {
        Smtp::connect(&self.spool.join("public/smtpin"))
    }

    /// The queue ID of the message whose content has the header line `Subject: <subject>`, in
    /// any of the listed queues (matched as a whole `N` record).
    pub fn find_by_subject(&self, subject: &str, queues: &[&str]) -> Option<String> {
        let mut needle = Vec::new();
        postfix_queue::record::write_record(
            &mut needle,
            postfix_queue::record::kind::NORMAL,
            format!("Subject: {subject}").as_bytes(),
        );
        self.find_queue_id(&needle, queues)
    }

    /// The queue ID of the message whose file contains `needle`, in any of the listed queues.
    pub fn find_queue_id(&self, needle: &[u8], queues: &[&str]) -> Option<String> {
        for queue in queues {
            for path in files_under(&self.spool.join(queue)) {
                if fs::read(&path).is_ok_and(|bytes| contains(&bytes, needle)) {
                    return path.file_name().map(|n| n.to_string_lossy().into_owned());
                }
            }
        }
        None
    }

    /// Keeps the directory after the instance is dropped.
    pub fn keep(&mut self) {
        if let Some(dir) = self.dir.take() {
            let _ = dir.keep();
        }
    }
}

impl Drop for PostfixInstance {
    fn drop(&mut self) {
        if self.started || self.is_running() {
            self.started = true;
            self.stop();
        } else {
            self.kill_sleepers();
        }
        if std::thread::panicking() || std::env::var_os("PQT_KEEP_INSTANCES").is_some() {
            eprintln!(
                "keeping instance {} for inspection: {}",
                self.name,
                self.root.display()
            );
            self.keep();
        }
    }
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

// ------------------------------------------------------------------------------------------
// A tiny SMTP client over a UNIX socket
// ------------------------------------------------------------------------------------------

/// Enough SMTP to hand smtpd arbitrary envelopes (raw bytes, so 8-bit and quoted addresses go
/// through untouched).
#[derive(Debug)]
pub struct Smtp {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Smtp {
    pub fn connect(socket: &Path) -> Self {
        let stream = UnixStream::connect(socket)
            .unwrap_or_else(|e| panic!("connect {}: {e}", socket.display()));
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .expect("set timeout");
        let writer = stream.try_clone().expect("clone socket");
        let mut smtp = Self {
            reader: BufReader::new(stream),
            writer,
        };
        let (code, text) = smtp.reply();
        assert_eq!(code, 220, "SMTP greeting: {text}");
        smtp.expect(b"EHLO client.example.test", 250);
        smtp
    }

    fn reply(&mut self) -> (u16, String) {
        let mut text = String::new();
        loop {
            let mut line = Vec::new();
            let n = self
                .reader
                .read_until(b'\n', &mut line)
                .expect("read SMTP reply");
            assert!(n > 0, "SMTP server closed the connection; so far: {text}");
            let line = String::from_utf8_lossy(&line).into_owned();
            text.push_str(&line);
            if line.len() < 4 || line.as_bytes()[3] != b'-' {
                let code = line.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
                return (code, text);
            }
        }
    }

    pub fn command(&mut self, line: &[u8]) -> (u16, String) {
        let mut bytes = line.to_vec();
        bytes.extend_from_slice(b"\r\n");
        self.writer.write_all(&bytes).expect("write SMTP command");
        self.reply()
    }

    /// Sends bytes as they are (e.g. a DATA body with its final dot) and reads the reply.
    pub fn raw(&mut self, bytes: &[u8]) -> (u16, String) {
        self.writer.write_all(bytes).expect("write SMTP bytes");
        self.reply()
    }

    pub fn expect(&mut self, line: &[u8], code: u16) -> String {
        let (got, text) = self.command(line);
        assert_eq!(
            got,
            code,
            "SMTP `{}` answered {text}",
            String::from_utf8_lossy(line)
        );
        text
    }

    /// One transaction; returns the queue ID smtpd reports.
    pub fn send(
        &mut self,
        from: &[u8],
        mail_parameters: &str,
        recipients: &[&[u8]],
        message: &[u8],
    ) -> String {
        let mut mail = b"MAIL FROM:<".to_vec();
        mail.extend_from_slice(from);
        mail.push(b'>');
        if !mail_parameters.is_empty() {
            mail.push(b' ');
            mail.extend_from_slice(mail_parameters.as_bytes());
        }
        self.expect(&mail, 250);
        for recipient in recipients {
            let mut rcpt = b"RCPT TO:<".to_vec();
            rcpt.extend_from_slice(recipient);
            rcpt.push(b'>');
            self.expect(&rcpt, 250);
        }
        self.expect(b"DATA", 354);
        let mut data = Vec::new();
        for line in message.split(|&b| b == b'\n') {
            if line.first() == Some(&b'.') {
                data.push(b'.');
            }
            data.extend_from_slice(line);
            data.extend_from_slice(b"\r\n");
        }
        data.extend_from_slice(b".\r\n");
        self.writer.write_all(&data).expect("write SMTP data");
        let (code, text) = self.reply();
        assert_eq!(code, 250, "end of DATA: {text}");
        text.rsplit("queued as ")
            .next()
            .map(|id| id.trim().to_string())
            .unwrap_or_default()
    }

    pub fn quit(mut self) {
        let _ = self.command(b"QUIT");
    }
}

/// A small message with a Subject the tests can find the queue file by.
pub fn message(from: &str, subject: &str) -> Vec<u8> {
    format!(
        "From: <{from}>\nSubject: {subject}\nMessage-ID: <{}@client.example.test>\n\n\
         Test message: {subject}\n",
        subject.replace(|c: char| !c.is_ascii_alphanumeric(), "-")
    )
    .into_bytes()
}

// ------------------------------------------------------------------------------------------
// Comparing real Postfix with ours
// ------------------------------------------------------------------------------------------

/// Makes bytes readable in a diff: UTF-8 stays, other bytes become \xNN, TAB stays visible.
pub fn printable(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c == '\n' || (c >= ' ' && c != '\u{7f}') {
                out.push(c);
            } else {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
        }
        for byte in chunk.invalid() {
            let _ = write!(out, "\\x{byte:02x}");
        }
    }
    out
}

fn split_lines(bytes: &[u8]) -> Vec<&[u8]> {
    if bytes.is_empty() {
        return Vec::new();
    }
    let mut lines: Vec<&[u8]> = bytes.split_inclusive(|&b| b == b'\n').collect();
    if lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines
}

/// The differing middle of two texts (common head and tail lines cut away), `-` real, `+`
/// ours. A missing final newline shows as `\ no newline`.
pub fn line_diff(real: &[u8], ours: &[u8]) -> String {
    let a = split_lines(real);
    let b = split_lines(ours);
    let head = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let tail = a[head..]
        .iter()
        .rev()
        .zip(b[head..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let mut out = format!(
        "@@ line {} (real has {} lines, ours {}) @@\n",
        head + 1,
        a.len(),
        b.len()
    );
    let show = |out: &mut String, sign: char, lines: &[&[u8]]| {
        const MAX: usize = 40;
        for line in lines.iter().take(MAX) {
            let text = printable(line);
            match text.strip_suffix('\n') {
                Some(text) => {
                    let _ = writeln!(out, "{sign}{text}");
                }
                None => {
                    let _ = writeln!(out, "{sign}{text}\n\\ no newline at end");
                }
            }
        }
        if lines.len() > MAX {
            let _ = writeln!(out, "{sign}... ({} more lines)", lines.len() - MAX);
        }
    };
    if head > 0 {
        let _ = writeln!(out, " {}", printable(a[head - 1]).trim_end_matches('\n'));
    }
    show(&mut out, '-', &a[head..a.len() - tail]);
    show(&mut out, '+', &b[head..b.len() - tail]);
    if tail > 0 {
        let _ = writeln!(
            out,
            " {}",
            printable(a[a.len() - tail]).trim_end_matches('\n')
        );
    }
    out
}

/// Which parts of two outcomes to compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compare {
    /// stdout, stderr and exit status, byte for byte.
    Everything,
    /// stdout and exit status only (stderr carries messages real Postfix sends to syslog).
    StdoutAndStatus,
    /// Everything, but stderr lines containing this text are left out on both sides: messages
    /// real Postfix sends only to syslog, which a build of ours may print.
    StderrExcept(&'static str),
}

fn without_lines_containing(bytes: &[u8], marker: &str) -> Vec<u8> {
    split_lines(bytes)
        .into_iter()
        .filter(|line| !contains(line, marker.as_bytes()))
        .flatten()
        .copied()
        .collect()
}

/// The differences between real and ours, or None when they agree.
pub fn difference(real: &Outcome, ours: &Outcome, what: Compare) -> Option<(String, String)> {
    let mut full = String::new();
    let mut short = Vec::new();
    if real.timed_out || ours.timed_out {
        let _ = writeln!(
            full,
            "timed out: real {}, ours {}",
            real.timed_out, ours.timed_out
        );
        short.push(format!(
            "timeout real={} ours={}",
            real.timed_out, ours.timed_out
        ));
    }
    if real.status != ours.status {
        let _ = writeln!(
            full,
            "exit status: real {}, ours {}",
            real.status, ours.status
        );
        short.push(format!("exit real {} ours {}", real.status, ours.status));
    }
    if real.stdout != ours.stdout {
        let _ = writeln!(
            full,
            "stdout differs:\n{}",
            line_diff(&real.stdout, &ours.stdout)
        );
        short.push(format!(
            "stdout: {}",
            first_difference(&real.stdout, &ours.stdout)
        ));
    }
    let (real_stderr, ours_stderr) = match what {
        Compare::StderrExcept(marker) => (
            without_lines_containing(&real.stderr, marker),
            without_lines_containing(&ours.stderr, marker),
        ),
        _ => (real.stderr.clone(), ours.stderr.clone()),
    };
    if what != Compare::StdoutAndStatus && real_stderr != ours_stderr {
        let _ = writeln!(
            full,
            "stderr differs:\n{}",
            line_diff(&real_stderr, &ours_stderr)
        );
        short.push(format!(
            "stderr: {}",
            first_difference(&real_stderr, &ours_stderr)
        ));
    }
    if full.is_empty() {
        None
    } else {
        let mut short = short.join("; ");
        if short.len() > 400 {
            let mut cut = 400;
            while !short.is_char_boundary(cut) {
                cut -= 1;
            }
            short.truncate(cut);
            short.push_str("...");
        }
        Some((short, full))
    }
}

fn first_difference(real: &[u8], ours: &[u8]) -> String {
    let a = split_lines(real);
    let b = split_lines(ours);
    let index = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let clip = |line: Option<&&[u8]>| match line {
        Some(line) => {
            let text = printable(line);
            let text = text.trim_end_matches('\n');
            let clipped: String = text.chars().take(90).collect();
            format!("`{clipped}`")
        }
        None => "(end)".to_string(),
    };
    format!(
        "line {}: real {} ours {}",
        index + 1,
        clip(a.get(index)),
        clip(b.get(index))
    )
}

/// Collects the comparisons of one test, records each as a result line, and fails the test at
/// the end if any comparison failed (so every case of the test still gets recorded).
#[derive(Debug)]
pub struct Report {
    pub scenario: String,
    /// Hand-made spools record every case under the "handmade" suite.
    pub handmade: bool,
    failures: Vec<String>,
    passes: usize,
}

impl Report {
    pub fn new(suite: &str, scenario: &str) -> Self {
        Self {
            scenario: scenario.to_string(),
            handmade: suite == "handmade",
            failures: Vec::new(),
            passes: 0,
        }
    }

    /// The suite a listing comparison belongs to.
    pub fn suite_for(&self, tool: &'static str) -> &'static str {
        if self.handmade {
            "handmade"
        } else {
            tool
        }
    }

    pub fn case_name(&self, label: &str) -> String {
        if label.is_empty() {
            self.scenario.clone()
        } else {
            format!("{}: {label}", self.scenario)
        }
    }

    /// Compares and records one case.
    pub fn check(
        &mut self,
        suite: &str,
        label: &str,
        real: &Outcome,
        ours: &Outcome,
        what: Compare,
        command: &str,
    ) -> bool {
        let case = self.case_name(label);
        match difference(real, ours, what) {
            None => {
                record_result(suite, &case, Status::Pass, command);
                self.passes += 1;
                true
            }
            Some((short, full)) => {
                record_result(suite, &case, Status::Fail, &short);
                let text = format!("FAIL [{suite}] {case}\n  command: {command}\n{full}");
                eprintln!("{text}");
                self.failures.push(text);
                false
            }
        }
    }

    /// Records a case that failed before any comparison (the scenario could not be built).
    pub fn harness_failure(&mut self, suite: &str, label: &str, why: &str) {
        let case = self.case_name(label);
        record_result(suite, &case, Status::Fail, &format!("harness: {why}"));
        self.failures
            .push(format!("FAIL [{suite}] {case}\n  harness: {why}"));
    }

    pub fn note(&self, suite: &str, label: &str, why: &str) {
        record_result(suite, &self.case_name(label), Status::Skip, why);
    }

    pub fn finish(self) {
        eprintln!(
            "{}: {} comparisons passed, {} failed",
            self.scenario,
            self.passes,
            self.failures.len()
        );
        if !self.failures.is_empty() {
            panic!(
                "{} comparison(s) failed in {}:\n\n{}",
                self.failures.len(),
                self.scenario,
                self.failures.join("\n")
            );
        }
    }
}

/// At most this many scenarios (each with its own instance and daemons) run at once, however
/// many test threads cargo uses.
const MAX_CONCURRENT_SCENARIOS: usize = 4;

static SLOTS: std::sync::Mutex<usize> = std::sync::Mutex::new(0);
static SLOT_FREED: std::sync::Condvar = std::sync::Condvar::new();

/// A place among the scenarios allowed to run at once; released on drop (also on panic).
#[derive(Debug)]
pub struct InstanceSlot;

impl InstanceSlot {
    pub fn acquire() -> Self {
        let mut taken = SLOTS.lock().unwrap_or_else(|e| e.into_inner());
        while *taken >= MAX_CONCURRENT_SCENARIOS {
            taken = SLOT_FREED.wait(taken).unwrap_or_else(|e| e.into_inner());
        }
        *taken += 1;
        InstanceSlot
    }
}

impl Drop for InstanceSlot {
    fn drop(&mut self) {
        let mut taken = SLOTS.lock().unwrap_or_else(|e| e.into_inner());
        *taken -= 1;
        SLOT_FREED.notify_one();
    }
}

/// Runs a scenario body; a panic inside it (a scenario that could not be built, or a
/// comparison failure) is recorded as a FAIL line before the test fails.
pub fn scenario(suite: &str, name: &str, body: impl FnOnce(&mut Report)) {
    if !live_postfix_available(suite, name) {
        return;
    }
    let _slot = InstanceSlot::acquire();
    let mut report = Report::new(suite, name);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(&mut report)));
    if let Err(panic) = result {
        let why = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "panic".to_string());
        let first_line = why.lines().next().unwrap_or("").to_string();
        report.harness_failure(suite, "setup", &first_line);
        eprintln!("{why}");
    }
    report.finish();
}

pub fn real_postqueue(etc: &Path, mode: &str, tz: &str) -> Invocation {
    Invocation::new(REAL_POSTQUEUE)
        .arg("-c")
        .arg(etc)
        .arg(mode)
        .env("TZ", tz)
}

pub fn our_postqueue(etc: &Path, mode: &str, tz: &str) -> Invocation {
    Invocation::new(OUR_POSTQUEUE)
        .arg("-c")
        .arg(etc)
        .arg(mode)
        .env("TZ", tz)
}

pub fn real_mailq(etc: &Path, tz: &str) -> Invocation {
    Invocation::new(REAL_MAILQ).arg("-C").arg(etc).env("TZ", tz)
}

pub fn our_mailq(etc: &Path, tz: &str) -> Invocation {
    Invocation::new(OUR_MAILQ).arg("-C").arg(etc).env("TZ", tz)
}

/// Runs real and ours (parallel scan, and the sequential path) and compares. The real one runs
/// before and after ours; when its two runs disagree, the queue moved underneath (qmgr at
/// work) and the round is repeated.
pub fn compare_invocations(
    report: &mut Report,
    suite: &str,
    label: &str,
    real: &Invocation,
    ours: &Invocation,
    what: Compare,
) -> Outcome {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let real_first = real.run();
        let ours_parallel = ours.run();
        let ours_sequential = ours.clone().env("POSTQUEUE_THREADS", "1").run();
        let real_again = real.run();
        let stable = real_first == real_again;
        if !stable && attempt < 5 {
            std::thread::sleep(Duration::from_millis(500));
            continue;
        }
        let command = format!("real: {} | ours: {}", real.describe(), ours.describe());
        if !stable {
            report.harness_failure(
                suite,
                label,
                "the real tool gave different output on consecutive runs (queue not settled)",
            );
        }
        let passed = report.check(suite, label, &real_first, &ours_parallel, what, &command);
        // The sequential path gets its own line only when it disagrees with the parallel one.
        if passed && ours_sequential != ours_parallel {
            report.check(
                suite,
                &format!("{label} POSTQUEUE_THREADS=1"),
                &real_first,
                &ours_sequential,
                what,
                &command,
            );
        }
        return real_first;
    }
}

/// The whole listing matrix for one spool state: `postqueue -p`, `-j` and `mailq`, under each
/// time zone. `state` names the master's state ("running" / "stopped").
pub fn compare_listings(report: &mut Report, etc: &Path, state: &str) {
    compare_listings_with(report, etc, state, Compare::Everything);
}

pub fn compare_listings_with(report: &mut Report, etc: &Path, state: &str, what: Compare) {
    for tz in TIME_ZONES {
        for mode in ["-p", "-j"] {
            compare_invocations(
                report,
                report.suite_for("postqueue"),
                &format!("postqueue {mode}, master {state}, TZ={tz}"),
                &real_postqueue(etc, mode, tz),
                &our_postqueue(etc, mode, tz),
                what,
            );
        }
        compare_invocations(
            report,
            report.suite_for("mailq"),
            &format!("mailq, master {state}, TZ={tz}"),
            &real_mailq(etc, tz),
            &our_mailq(etc, tz),
            what,
        );
    }
}

/// The real `postqueue -p` output (UTC), to check that a scenario built what it meant to.
pub fn real_listing(etc: &Path) -> String {
    real_postqueue(etc, "-p", "UTC").run().stdout_text()
}

/// Fails the scenario (not a comparison) when the real listing lacks what the setup should
/// have produced: otherwise a broken setup would compare two empty queues and pass.
pub fn assert_listing_contains(etc: &Path, needles: &[&str]) {
    let listing = real_listing(etc);
    for needle in needles {
        assert!(
            listing.contains(needle),
            "setup check: real listing lacks {needle:?}:\n{listing}"
        );
    }
}

/// A file opened for appending with a given mode (for defer logs written by hand).
pub fn append_file(path: &Path, bytes: &[u8]) {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    file.write_all(bytes).expect("append");
}

// ------------------------------------------------------------------------------------------
// postsuper matrix helpers
// ------------------------------------------------------------------------------------------

/// One named part of a comparison that covers more than a program's output: the postsuper
/// matrix compares the exit status, stdout, stderr and the queue tree left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub name: &'static str,
    pub real: Vec<u8>,
    pub ours: Vec<u8>,
}

impl Report {
    /// Like `check`, for a comparison made of named parts: records PASS (detail `command`) or
    /// FAIL (the first differing line of each differing part) and remembers the failure.
    pub fn check_parts(&mut self, suite: &str, label: &str, parts: &[Part], command: &str) -> bool {
        let case = self.case_name(label);
        let mut full = String::new();
        let mut short = Vec::new();
        for part in parts.iter().filter(|p| p.real != p.ours) {
            let _ = writeln!(
                full,
                "{} differs:\n{}",
                part.name,
                line_diff(&part.real, &part.ours)
            );
            short.push(format!(
                "{}: {}",
                part.name,
                first_difference(&part.real, &part.ours)
            ));
        }
        if full.is_empty() {
            record_result(suite, &case, Status::Pass, command);
            self.passes += 1;
            return true;
        }
        let mut short = short.join("; ");
        if short.len() > 400 {
            let mut cut = 400;
            while !short.is_char_boundary(cut) {
                cut -= 1;
            }
            short.truncate(cut);
            short.push_str("...");
        }
        record_result(suite, &case, Status::Fail, &short);
        let text = format!("FAIL [{suite}] {case}\n  command: {command}\n{full}");
        eprintln!("{text}");
        self.failures.push(text);
        false
    }
}

/// Sets a path's atime and mtime to `epoch` (seconds).
pub fn set_mtime(path: &Path, epoch: i64) {
    let when = std::time::UNIX_EPOCH + Duration::from_secs(epoch as u64);
    let file = fs::File::open(path).expect("open for set_times");
    file.set_times(fs::FileTimes::new().set_modified(when).set_accessed(when))
        .expect("set mtime");
}

/// Record-level builder for files with pointers: offsets of records are returned so that
/// pointer records can be patched once their targets are known.
#[derive(Default)]
pub struct RawFile {
    pub bytes: Vec<u8>,
}

impl RawFile {
    pub fn rec(&mut self, kind: u8, data: &[u8]) -> usize {
        let at = self.bytes.len();
        postfix_queue::record::write_record(&mut self.bytes, kind, data);
        at
    }

    /// A `p` record with cleanup's fixed-width payload (`%15ld`); returns its offset.
    pub fn pointer(&mut self, target: usize) -> usize {
        self.rec(
            postfix_queue::record::kind::POINTER,
            format!("{target:15}").as_bytes(),
        )
    }

    pub fn patch_pointer(&mut self, at: usize, target: usize) {
        let text = format!("{target:15}");
        self.bytes[at + 2..at + 17].copy_from_slice(text.as_bytes());
    }

    /// A `C` record placeholder of cleanup's width; patched by `patch_size`.
    pub fn size_placeholder(&mut self) -> usize {
        self.rec(
            postfix_queue::record::kind::SIZE,
            format!("{:15} {:15} {:15} {:15} {:15} {:15}", 0, 0, 0, 0, 0, 0).as_bytes(),
        )
    }

    pub fn patch_size(&mut self, at: usize, data_size: usize, data_offset: usize, rcpts: usize) {
        let text = format!(
            "{data_size:15} {data_offset:15} {rcpts:15} {:15} {data_size:15} {:15}",
            0, 0
        );
        assert_eq!(text.len(), 95);
        self.bytes[at + 2..at + 97].copy_from_slice(text.as_bytes());
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }
}
