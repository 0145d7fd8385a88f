//! Live compatibility of our qshape with Postfix 3.7's qshape.pl (`/usr/sbin/qshape`): queues
//! built by real Postfix in private instances and hand-made queues (our record writer, raw
//! bytes) for the odd cases of spec postsuper-and-qshape.md §3.3/§3.4, read by both with the
//! clock pinned by libfaketime, under every option and combination of §3.1/§3.2, at a
//! pseudo-terminal (interim reports, `-N`/`-n`, the clear-screen sequence), plus the documented
//! deviations Q1-Q7 (docs/deviations.md) as explicit expectations, and our extensions
//! (`--format json` against docs/qshape.schema.json, `--format prometheus` through promtool,
//! `--output`, `--per-message`, `--top`).
//!
//! Comparison: stdout byte for byte, except that runs of rows that tie on (count, name length)
//! are compared as sets (the real qshape orders them by Perl's per-process hash seed; ours by
//! name, deviation Q3); stderr and exit status exactly, after replacing the program path as
//! invoked (qshape's `$0`) by `$0` on both sides.
//!
//! Needs root, an installed Postfix and libfaketime; otherwise every test records SKIP (and
//! fails under `CI=true`). Results go to `$PQT_COMPAT_RESULTS` as JSON lines, suite "qshape".

mod common;

use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::fs::{symlink, MetadataExt};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::*;
use postfix_queue::envelope::Queue;
use postfix_queue::record::kind;
use postfix_queue::writer::{
    build_queue_file, FileStyle, MessageSpec, QueueWriter, RecipientSpec, RecipientState,
};
use postfix_queue::Layout;

const SUITE: &str = "qshape";
const REAL_QSHAPE: &str = "/usr/sbin/qshape";
const OUR_QSHAPE: &str = env!("CARGO_BIN_EXE_qshape");
const PROMTOOL: &str = "/usr/bin/promtool";
/// What `clear` prints with TERM=xterm.
const CLEAR_XTERM: &[u8] = b"\x1b[H\x1b[2J\x1b[3J";
/// The real qshape follows `p` pointers without a limit (testing note 11): every run of it is
/// bounded, far below the harness's 60 s.
const QSHAPE_TIMEOUT: Duration = Duration::from_secs(20);

// ------------------------------------------------------------------------------------------
// Clock, commands, running
// ------------------------------------------------------------------------------------------

fn epoch_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// `YYYY-MM-DD HH:MM:SS` (UTC) of an epoch time.
fn utc_text(epoch: i64) -> String {
    let days = epoch.div_euclid(86_400);
    let seconds = epoch.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        seconds / 3600,
        seconds % 3600 / 60,
        seconds % 60
    )
}

/// The time both qshapes see: libfaketime starts their clocks at `now` (testing note 12).
/// Always at or after the real time, so that no Postfix program (postconf) sees its config
/// files from the future.
#[derive(Debug, Clone, Copy)]
struct Clock {
    now: i64,
}

impl Clock {
    fn faketime(self) -> String {
        format!("@{}", utc_text(self.now))
    }

    fn plus(self, seconds: i64) -> Self {
        Self {
            now: self.now + seconds,
        }
    }
}

/// One qshape run, kept as data so the same arguments go to the real one and ours.
#[derive(Debug, Clone)]
struct Run {
    program: String,
    args: Vec<OsString>,
    env: Vec<(String, OsString)>,
    cwd: Option<PathBuf>,
    timeout: Duration,
}

impl Run {
    fn new(program: &str, clock: Clock, args: &[String]) -> Self {
        let library = faketime_library().expect("libfaketime is installed");
        Self {
            program: program.to_string(),
            args: args.iter().map(OsString::from).collect(),
            env: vec![
                ("PATH".into(), "/usr/sbin:/usr/bin:/sbin:/bin".into()),
                ("LANG".into(), "C".into()),
                ("TZ".into(), "UTC".into()),
                ("TERM".into(), "xterm".into()),
                ("LD_PRELOAD".into(), library.into_os_string()),
                ("FAKETIME".into(), clock.faketime().into()),
                ("NO_FAKE_STAT".into(), "1".into()),
            ],
            cwd: None,
            timeout: QSHAPE_TIMEOUT,
        }
    }

    fn env(mut self, name: &str, value: &str) -> Self {
        self.env.retain(|(existing, _)| existing != name);
        self.env.push((name.to_string(), value.into()));
        self
    }

    fn cwd(mut self, directory: &Path) -> Self {
        self.cwd = Some(directory.to_path_buf());
        self
    }

    fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn run(&self) -> Outcome {
        execute(self, false)
    }

    fn run_at_terminal(&self) -> Outcome {
        execute(self, true)
    }
}

fn pair(clock: Clock, args: &[String]) -> (Run, Run) {
    (
        Run::new(REAL_QSHAPE, clock, args),
        Run::new(OUR_QSHAPE, clock, args),
    )
}

/// `{spool}`, `{etc}`, `{root}` ... in an argument list, replaced by paths.
fn expand(args: &[&str], vars: &[(&str, &Path)]) -> Vec<String> {
    args.iter()
        .map(|arg| {
            let mut arg = arg.to_string();
            for (name, path) in vars {
                arg = arg.replace(&format!("{{{name}}}"), &path.display().to_string());
            }
            arg
        })
        .collect()
}

fn describe(args: &[String]) -> String {
    let mut text = String::from("qshape");
    for arg in args {
        text.push(' ');
        if arg.is_empty() || arg.contains(' ') {
            let _ = write!(text, "'{arg}'");
        } else {
            text.push_str(arg);
        }
    }
    anonymize_paths(&text)
}

fn open_pty() -> (File, File) {
    let mut master: libc::c_int = -1;
    let mut slave: libc::c_int = -1;
    // SAFETY: valid out-pointers; null name, termios and window size are allowed.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    for fd in [master, slave] {
        // SAFETY: fcntl on descriptors we own. Close-on-exec keeps them out of other tests'
        // children (a stray slave would keep the master from ever seeing EOF).
        unsafe {
            libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
        }
    }
    // SAFETY: openpty returned two new descriptors that nothing else owns.
    unsafe { (File::from_raw_fd(master), File::from_raw_fd(slave)) }
}

/// Reads the pty master until the slave side is closed (EIO), or, once the child has exited,
/// until it has been quiet for a moment (in case some other process holds the slave).
fn read_pty(master: File, exited: Arc<AtomicBool>) -> Vec<u8> {
    let mut bytes = Vec::new();
    let fd = master.as_raw_fd();
    let mut buffer = [0u8; 4096];
    loop {
        let mut poll = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let ready = unsafe { libc::poll(&mut poll, 1, 200) };
        if ready == 0 {
            if exited.load(Ordering::SeqCst) {
                break;
            }
            continue;
        }
        if ready < 0 {
            break;
        }
        // SAFETY: reading into our buffer from our descriptor.
        let n = unsafe { libc::read(fd, buffer.as_mut_ptr().cast(), buffer.len()) };
        if n <= 0 {
            break;
        }
        bytes.extend_from_slice(&buffer[..n as usize]);
    }
    drop(master);
    bytes
}

fn execute(run: &Run, tty: bool) -> Outcome {
    let mut command = Command::new(&run.program);
    command
        .args(&run.args)
        .env_clear()
        .envs(run.env.iter().map(|(k, v)| (k.as_str(), v.as_os_str())))
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0);
    if let Some(cwd) = &run.cwd {
        command.current_dir(cwd);
    }
    let mut master = None;
    if tty {
        let (m, s) = open_pty();
        command.stdout(Stdio::from(s));
        master = Some(m);
    } else {
        command.stdout(Stdio::piped());
    }
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", run.program));
    // Closes our copy of the pty slave.
    drop(command);
    let pid = child.id() as libc::pid_t;
    let exited = Arc::new(AtomicBool::new(false));
    let out_reader = match master {
        Some(master) => {
            let exited = Arc::clone(&exited);
            std::thread::spawn(move || read_pty(master, exited))
        }
        None => {
            let mut stdout = child.stdout.take().expect("stdout is piped");
            std::thread::spawn(move || {
                let mut bytes = Vec::new();
                let _ = stdout.read_to_end(&mut bytes);
                bytes
            })
        }
    };
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let err_reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stderr.read_to_end(&mut bytes);
        bytes
    });
    let deadline = Instant::now() + run.timeout;
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            Ok(None) => {
                timed_out = true;
                // SAFETY: kill has no memory preconditions; -pid is the group we created.
                unsafe {
                    libc::kill(-pid, libc::SIGKILL);
                }
                break child.wait().ok();
            }
            Err(_) => break None,
        }
    };
    exited.store(true, Ordering::SeqCst);
    if timed_out {
        // SAFETY: as above; whatever the program started goes too.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    let status = match status {
        Some(status) => status
            .code()
            .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)),
        None => -1,
    };
    Outcome {
        stdout,
        stderr,
        status,
        timed_out,
    }
}

// ------------------------------------------------------------------------------------------
// Normalising and comparing
// ------------------------------------------------------------------------------------------

fn replace_bytes(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut at = 0;
    while at < haystack.len() {
        if haystack[at..].starts_with(needle) {
            out.extend_from_slice(with);
            at += needle.len();
        } else {
            out.push(haystack[at]);
            at += 1;
        }
    }
    out
}

/// A line without its clear-screen prefix (any CSI sequences) and line end.
fn line_text(line: &[u8]) -> &[u8] {
    let mut rest = line;
    while rest.first() == Some(&0x1b) {
        // ESC [ parameters final-byte
        let end = rest
            .iter()
            .skip(2)
            .position(|b| (0x40..=0x7e).contains(b))
            .map_or(rest.len(), |p| p + 3);
        rest = &rest[end.min(rest.len())..];
    }
    while matches!(rest.last(), Some(b'\n' | b'\r')) {
        rest = &rest[..rest.len() - 1];
    }
    rest
}

fn tokens(line: &[u8]) -> Vec<&[u8]> {
    line_text(line)
        .split(|b| *b == b' ')
        .filter(|t| !t.is_empty())
        .collect()
}

/// Whether a line is a table header (`T` then the bucket labels): no row is named `T`, since
/// names are lower-cased (except TOTAL and MAILER-DAEMON).
fn is_header(line: &[u8]) -> bool {
    tokens(line).first() == Some(&&b"T"[..])
}

/// The (count, name length) of a table row, given the number of columns.
fn row_key(line: &[u8], columns: usize) -> Option<(Vec<u8>, usize)> {
    let tokens = tokens(line);
    if tokens.len() < columns {
        return None;
    }
    let counts = &tokens[tokens.len() - columns..];
    if !counts.iter().all(|t| t.iter().all(u8::is_ascii_digit)) {
        return None;
    }
    let name_length: usize = tokens[..tokens.len() - columns]
        .iter()
        .map(|t| t.len())
        .sum::<usize>()
        + (tokens.len() - columns).saturating_sub(1);
    Some((counts[0].to_vec(), name_length))
}

/// Table output with every run of rows that tie on (count, name length) sorted, so that the
/// real qshape's hash order and our name order compare equal when the rows are the same set.
fn canonical(stdout: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(stdout.len());
    let mut columns = None;
    let mut run: Vec<&[u8]> = Vec::new();
    let mut run_key = None;
    let flush = |out: &mut Vec<u8>, run: &mut Vec<&[u8]>| {
        run.sort();
        for line in run.drain(..) {
            out.extend_from_slice(line);
        }
    };
    for line in stdout.split_inclusive(|b| *b == b'\n') {
        if is_header(line) {
            flush(&mut out, &mut run);
            run_key = None;
            columns = Some(tokens(line).len());
            out.extend_from_slice(line);
            continue;
        }
        let key = columns.and_then(|n| row_key(line, n));
        match key {
            Some(key) => {
                if run_key.as_ref() != Some(&key) {
                    flush(&mut out, &mut run);
                    run_key = Some(key);
                }
                run.push(line);
            }
            None => {
                flush(&mut out, &mut run);
                run_key = None;
                out.extend_from_slice(line);
            }
        }
    }
    flush(&mut out, &mut run);
    out
}

/// An outcome as compared: ties as sets, `$0` for the program path.
fn normalise(outcome: &Outcome, program: &str) -> Outcome {
    Outcome {
        stdout: canonical(&outcome.stdout),
        stderr: replace_bytes(&outcome.stderr, program.as_bytes(), b"$0"),
        status: outcome.status,
        timed_out: outcome.timed_out,
    }
}

/// Runs both and compares; returns the raw outcomes (real, ours).
fn compare_runs(
    report: &mut Report,
    label: &str,
    real: &Run,
    ours: &Run,
    tty: bool,
) -> (Outcome, Outcome) {
    let (real_out, ours_out) = if tty {
        (real.run_at_terminal(), ours.run_at_terminal())
    } else {
        (real.run(), ours.run())
    };
    let args: Vec<String> = real
        .args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let mut command = describe(&args);
    if let Some(cwd) = &real.cwd {
        command = format!(
            "cd {} && {command}",
            anonymize_paths(&cwd.display().to_string())
        );
    }
    if tty {
        command.push_str(" (stdout a pty)");
    }
    report.check(
        SUITE,
        label,
        &normalise(&real_out, REAL_QSHAPE),
        &normalise(&ours_out, OUR_QSHAPE),
        Compare::Everything,
        &command,
    );
    (real_out, ours_out)
}

/// One comparison with the same arguments and clock on both sides.
fn compare(report: &mut Report, label: &str, clock: Clock, args: &[String]) -> (Outcome, Outcome) {
    let (real, ours) = pair(clock, args);
    compare_runs(report, label, &real, &ours, false)
}

/// Records an explicit expectation about our behaviour (deviations, extensions): PASS when
/// `problems` is empty, else FAIL listing them.
fn expect(report: &mut Report, label: &str, detail: &str, problems: &[String]) {
    let holds = Outcome {
        stdout: b"expectation holds\n".to_vec(),
        stderr: Vec::new(),
        status: 0,
        timed_out: false,
    };
    let actual = if problems.is_empty() {
        holds.clone()
    } else {
        Outcome {
            stdout: format!("{}\n", problems.join("\n")).into_bytes(),
            ..holds.clone()
        }
    };
    report.check(SUITE, label, &holds, &actual, Compare::Everything, detail);
}

/// A parsed table: the labels (T first) and the rows (name, counts).
#[derive(Debug, Clone, PartialEq)]
struct Table {
    labels: Vec<String>,
    rows: Vec<(String, Vec<u64>)>,
}

impl Table {
    fn row(&self, name: &str) -> Option<&[u64]> {
        self.rows
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, c)| c.as_slice())
    }

    fn total(&self) -> u64 {
        self.row("TOTAL").map_or(0, |c| c[0])
    }
}

/// The last report in qshape's output.
fn parse_table(stdout: &[u8]) -> Table {
    let mut table = Table {
        labels: Vec::new(),
        rows: Vec::new(),
    };
    for line in stdout.split_inclusive(|b| *b == b'\n') {
        if is_header(line) {
            table.labels = tokens(line)
                .iter()
                .map(|t| String::from_utf8_lossy(t).into_owned())
                .collect();
            table.rows.clear();
            continue;
        }
        let n = table.labels.len();
        if n == 0 || row_key(line, n).is_none() {
            continue;
        }
        let tokens = tokens(line);
        let name: Vec<String> = tokens[..tokens.len() - n]
            .iter()
            .map(|t| String::from_utf8_lossy(t).into_owned())
            .collect();
        let counts = tokens[tokens.len() - n..]
            .iter()
            .map(|t| String::from_utf8_lossy(t).parse().unwrap_or(0))
            .collect();
        table.rows.push((name.join(" "), counts));
    }
    table
}

// ------------------------------------------------------------------------------------------
// Hand-made queues
// ------------------------------------------------------------------------------------------

/// Builds queue files relative to a pinned `now`.
struct Maker {
    writer: QueueWriter,
    now: i64,
    micro: std::cell::Cell<u32>,
}

fn live(address: &str) -> RecipientSpec {
    RecipientSpec::live(address.as_bytes().to_vec())
}

fn with_state(address: &str, state: RecipientState) -> RecipientSpec {
    RecipientSpec {
        address: address.as_bytes().to_vec(),
        state,
    }
}

impl Maker {
    fn new(spool: &Path, now: i64) -> Self {
        Self {
            writer: QueueWriter::new(Layout::new(spool, &["deferred", "defer"], 1), false),
            now,
            micro: std::cell::Cell::new(100_000),
        }
    }

    fn spec(&self, age: i64, sender: &str, recipients: Vec<RecipientSpec>) -> MessageSpec {
        let micro = self.micro.get() + 7919;
        self.micro.set(micro % 1_000_000);
        MessageSpec {
            arrival_seconds: self.now - age,
            arrival_microseconds: micro % 1_000_000,
            sender: sender.as_bytes().to_vec(),
            recipients,
            extracted_recipients: Vec::new(),
            content: b"Subject: qshape test\nFrom: someone\n\nhello\n".to_vec(),
            style: FileStyle::Cleanup,
        }
    }

    fn add(&self, queue: Queue, spec: &MessageSpec, mode: u32) -> String {
        self.writer
            .add(queue, spec, mode)
            .expect("write queue file")
    }

    fn simple(&self, queue: Queue, age: i64, sender: &str, recipients: &[&str]) -> String {
        let spec = self.spec(age, sender, recipients.iter().map(|r| live(r)).collect());
        self.add(queue, &spec, 0o700)
    }
}

/// Writes a file with a mode (and creates its directory).
fn write_file(path: &Path, bytes: &[u8], mode: u32) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).expect("mkdir");
    }
    fs::write(path, bytes).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    set_mode(path, mode);
}

/// A cleanup-style file whose recipients are reached through `p` records: a forward jump past
/// a recipient qshape must not see, a recipient at the end of the file, a jump back to the
/// content, and a `p` record of 0 (ignored).
fn pointer_file(now: i64, age: i64) -> Vec<u8> {
    let mut f = RawFile::default();
    let size = f.size_placeholder();
    f.rec(kind::TIME, format!("{} 0", now - age).as_bytes());
    f.rec(kind::POINTER, format!("{:15}", 0).as_bytes());
    f.rec(kind::ATTR, b"rewrite_context=local");
    f.rec(kind::FROM, b"ptr@sender.example");
    f.rec(kind::RCPT, b"first@ptr.example");
    let forward = f.pointer(0);
    f.rec(kind::RCPT, b"jumped-over@never.example");
    let message = f.rec(kind::MESSAGE, b"");
    let data = f.len();
    f.rec(kind::NORMAL, b"Subject: pointers");
    f.rec(kind::NORMAL, b"");
    f.rec(kind::NORMAL, b"body");
    let extracted = f.rec(kind::EXTRACTED, b"");
    f.rec(kind::RCPT, b"extracted@ptr.example");
    f.rec(kind::END, b"");
    let tail = f.len();
    f.rec(kind::RCPT, b"at-the-end@ptr.example");
    f.pointer(message);
    f.patch_pointer(forward, tail);
    f.patch_size(size, extracted - data, data, 3);
    f.bytes
}

/// A size record with sendmail-style `-1` fields: qshape then skips the content record by
/// record (N, L, p) instead of seeking.
fn minus_one_size_file(now: i64, age: i64) -> Vec<u8> {
    let mut f = RawFile::default();
    f.rec(kind::SIZE, b"             -1              0              1");
    f.rec(kind::TIME, format!("{} 0", now - age).as_bytes());
    f.rec(kind::FROM, b"minus-one@sender.example");
    f.rec(kind::RCPT, b"rcpt@minus-one.example");
    f.rec(kind::MESSAGE, b"");
    f.rec(kind::NORMAL, b"Subject: minus one");
    f.rec(kind::CONTINUED, b"a long line, ");
    f.rec(kind::NORMAL, b"continued");
    f.rec(kind::EXTRACTED, b"");
    f.rec(kind::RCPT, b"extracted@minus-one.example");
    f.rec(kind::END, b"");
    f.bytes
}

/// The oldest maildrop format: `F` then `S` first, no `T` (age from the mtime).
fn old_maildrop_file(sender: &[u8], recipient: &[u8], full_name_first: bool) -> Vec<u8> {
    let mut f = RawFile::default();
    if full_name_first {
        f.rec(kind::FULL_NAME, b"");
    }
    f.rec(kind::FROM, sender);
    f.rec(kind::RCPT, recipient);
    f.rec(kind::END, b"");
    f.bytes
}

/// Domains of 57 and 55 bytes for the truncation cases (spec §3.8).
const DOMAIN_57: &str = "abcdefghijklmnopqr.subdomainname.another.long.example.com";
const DOMAIN_55: &str = "abcdefghijklmnop.subdomainname.another.long.example.com";

/// The hand-made spool of the option matrix: odd cases in deferred (hashed, with a deeper
/// subdirectory), the long domains in hold, one message each in incoming and active.
fn fill_handmade_spool(maker: &Maker, spool: &Path) {
    use Queue::*;
    let now = maker.now;
    // §3.4: an address without @, upper case, the null sender.
    maker.simple(Deferred, 60, "Root@Local.Example", &["root", "Postmaster"]);
    maker.simple(Deferred, 120, "", &["z@"]);
    // Exactly 5 minutes: the `10` column; `u@.` (row `.`, skipped, line 367 warning).
    maker.simple(
        Deferred,
        300,
        "five@MIN.example",
        &["u@.", "five@five-minutes.example"],
    );
    maker.simple(
        Deferred,
        700,
        "multi@at.example",
        &["a@b@c.example.org", "q@a.b.example.com"],
    );
    // IP literals (with -p -m 1 they differ on purpose: deviation Q4).
    maker.simple(
        Deferred,
        1500,
        "ip@sender.example",
        &["x@[192.168.1.2]", "y@[192.168.1.2]"],
    );
    // Extracted-segment recipients.
    let mut spec = maker.spec(
        5000,
        "hdr@sender.example",
        vec![live("env@dept.example.net")],
    );
    spec.extracted_recipients = vec![
        live("hdr1@extracted.example"),
        live("HDR2@Extracted.Example."),
    ];
    maker.add(Deferred, &spec, 0o700);
    // Done and cancelled recipients are not counted.
    let spec = maker.spec(
        9000,
        "done@sender.example",
        vec![
            live("live@dept.example.net"),
            with_state("gone@done.example", RecipientState::Done),
            with_state("cancel@cancel.example", RecipientState::Cancelled),
        ],
    );
    maker.add(Deferred, &spec, 0o700);
    // Every recipient done: skipped, also under -s.
    let spec = maker.spec(
        9000,
        "alldone@alldone-sender.example",
        vec![
            with_state("d1@alldone.example", RecipientState::Done),
            with_state("d2@alldone.example", RecipientState::Cancelled),
        ],
    );
    maker.add(Deferred, &spec, 0o700);
    // 27.8 hours: 1280+.
    maker.simple(
        Deferred,
        100_080,
        "old@sender.example",
        &["old@old.example", "Mixed@Upper.Example.COM."],
    );
    // From the future: the first column.
    maker.simple(
        Deferred,
        -3600,
        "future@sender.example",
        &["f@future.example", "dd@x...y", "e@.leading.example"],
    );
    // Duplicates count twice; deep subdomains for -p (7 children of .deep.example).
    maker.simple(
        Deferred,
        3000,
        "deep@sender.example",
        &[
            "dup@dup.example",
            "dup@dup.example",
            "a@h1.deep.example",
            "a@h2.deep.example",
            "a@h3.deep.example",
            "a@h4.deep.example",
            "a@h5.deep.example",
            "a@x.b.deep.example",
            "a@y.b.deep.example",
        ],
    );
    maker.simple(
        Deferred,
        40_000,
        "more@sender.example",
        &["b@h1.deep.example"],
    );
    // Pointer records; a -1 size record.
    maker
        .writer
        .add_raw("deferred", b"PTR0000001", &pointer_file(now, 200), 0o700)
        .expect("pointer file");
    maker
        .writer
        .add_raw(
            "deferred",
            b"MINUS00001",
            &minus_one_size_file(now, 400),
            0o700,
        )
        .expect("minus one file");
    // The oldest maildrop formats (F then S, and S first with the null sender): mtime age.
    let path = maker
        .writer
        .add_raw(
            "deferred",
            b"OLDFS00001",
            &old_maildrop_file(b"fs@oldformat.example", b"fs@oldformat.example", true),
            0o700,
        )
        .expect("old format file");
    set_mtime(&path, now - 2000);
    let path = maker
        .writer
        .add_raw(
            "deferred",
            b"OLDS000001",
            &old_maildrop_file(b"", b"s@oldformat.example", false),
            0o700,
        )
        .expect("old format file");
    set_mtime(&path, now - 50);
    // Modes: 0740 and 0744 count, 0600 does not.
    let spec = maker.spec(800, "m740@sender.example", vec![live("m@mode740.example")]);
    maker.add(Deferred, &spec, 0o740);
    let spec = maker.spec(800, "m744@sender.example", vec![live("m@mode744.example")]);
    maker.add(Deferred, &spec, 0o744);
    let spec = maker.spec(800, "m600@sender.example", vec![live("m@mode600.example")]);
    maker.add(Deferred, &spec, 0o600);
    // Names qshape does not look at, with valid contents.
    let valid = |domain: &str| {
        build_queue_file(&maker.spec(
            800,
            "name@sender.example",
            vec![live(&format!("n@{domain}"))],
        ))
        .bytes
    };
    let deferred = spool.join("deferred");
    write_file(
        &deferred.join("A/AAAA8"),
        &valid("five-char-name.example"),
        0o700,
    );
    write_file(
        &deferred.join("A/AAAA-AB1"),
        &valid("dash-name.example"),
        0o700,
    );
    write_file(
        &deferred.join("A/.hidden123"),
        &valid("hidden-name.example"),
        0o700,
    );
    // A deeper directory (File::Find walks every depth).
    write_file(
        &deferred.join("B/deeper/NESTED0001"),
        &valid("nested.example"),
        0o700,
    );
    // Symbolic links are not followed, neither to a file nor to a directory; a FIFO is no
    // regular file.
    let outside = spool.join("outside");
    write_file(
        &outside.join("OUTSIDE001"),
        &valid("outside.example"),
        0o700,
    );
    fs::create_dir_all(deferred.join("C")).expect("mkdir");
    symlink(outside.join("OUTSIDE001"), deferred.join("C/LINKED0001")).expect("symlink");
    symlink(&outside, deferred.join("C/LINKDIR001")).expect("symlink to directory");
    symlink(&deferred, spool.join("LINKQUEUE1")).expect("symlink to a queue");
    symlink(outside.join("OUTSIDE001"), spool.join("LINKFILE01")).expect("symlink to a file");
    let fifo = std::ffi::CString::new(
        deferred
            .join("C/FIFO000001")
            .into_os_string()
            .into_encoded_bytes(),
    )
    .expect("path without NUL");
    // SAFETY: a valid C string.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o700) }, 0, "mkfifo");

    // hold: the long domains and their parents.
    maker.simple(
        Hold,
        40_000,
        "long@sender.example",
        &[
            &format!("a@{DOMAIN_57}"),
            &format!("b@{DOMAIN_55}"),
            "h@hold.example",
        ],
    );
    maker.simple(
        Hold,
        90,
        "long2@sender.example",
        &["c@another.long.example.com", "h@hold.example"],
    );
    // incoming and active.
    maker.simple(Incoming, 30, "in@sender.example", &["in@incoming.example"]);
    maker.simple(
        Active,
        650,
        "act@sender.example",
        &["act@active.example", "x@incoming.example"],
    );
}

/// A private instance's config and spool, without a master.
fn handmade_instance(name: &str) -> PostfixInstance {
    let pf = PostfixInstance::new(name, InstanceOptions::default());
    pf.create_spool();
    pf
}

/// A scratch directory whose path the results show as `$INSTANCE`.
fn scratch_dir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("pqt-")
        .tempdir_in("/tmp")
        .expect("scratch directory");
    set_mode(dir.path(), 0o755);
    dir
}

fn assert_contains(outcome: &Outcome, needles: &[&str], absent: &[&str]) {
    let text = outcome.stdout_text();
    for needle in needles {
        assert!(
            text.contains(needle),
            "setup check: real qshape output lacks {needle:?}:\n{}",
            outcome.summary()
        );
    }
    for needle in absent {
        assert!(
            !text.contains(needle),
            "setup check: real qshape output has {needle:?}:\n{}",
            outcome.summary()
        );
    }
}

fn qshape_available(report: &mut Report) -> bool {
    let missing = if !Path::new(REAL_QSHAPE).exists() {
        Some("the real qshape (/usr/sbin/qshape) is not installed")
    } else if faketime_library().is_none() {
        Some("libfaketime not installed (apt-get install faketime)")
    } else {
        None
    };
    match missing {
        None => true,
        Some(why) => {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("{why}, and CI=true forbids skipping");
            }
            report.note(SUITE, "", why);
            false
        }
    }
}

// ------------------------------------------------------------------------------------------
// The option matrix on a hand-made spool
// ------------------------------------------------------------------------------------------

/// Every option and combination of spec §3.1/§3.2 on the hand-made spool: absolute and
/// relative queue names (through the real postconf with `-c`), numeric rules, messages.
#[test]
fn handmade_option_matrix() {
    scenario(SUITE, "handmade", |report| {
        if !qshape_available(report) {
            return;
        }
        let pf = handmade_instance("qshape-handmade");
        let clock = Clock {
            now: epoch_now() + 3 * 86_400,
        };
        let maker = Maker::new(&pf.spool, clock.now);
        fill_handmade_spool(&maker, &pf.spool);
        let pointer_file = maker.writer.layout().path("deferred", b"PTR0000001");
        let vars: [(&str, &Path); 3] = [
            ("spool", &pf.spool),
            ("etc", &pf.etc),
            ("pointer_file", &pointer_file),
        ];

        // Setup check: the real qshape sees what the spool was built for.
        let (real, _) = pair(clock, &expand(&["{spool}/deferred"], &vars));
        let outcome = real.run();
        assert_contains(
            &outcome,
            &[
                " root ",
                " c.example.org ",
                " extracted.example ",
                " [192.168.1.2] ",
                " five-minutes.example ",
                " ptr.example ",
                " minus-one.example ",
                " oldformat.example ",
                " nested.example ",
                " mode740.example ",
                " mode744.example ",
                " upper.example.com ",
            ],
            &[
                "done.example",
                "cancel.example",
                "alldone",
                "never.example",
                "mode600",
                "five-char-name",
                "dash-name",
                "hidden-name",
                "outside.example",
            ],
        );
        assert!(
            outcome.stderr_text().contains("line 367."),
            "setup check: no line 367 warning for u@.:\n{}",
            outcome.summary()
        );

        let cases: &[(&str, &[&str])] = &[
            ("deferred, absolute", &["{spool}/deferred"]),
            ("deferred, relative with -c", &["-c", "{etc}", "deferred"]),
            ("default queues (incoming active)", &["-c", "{etc}"]),
            (
                "all four queues",
                &["-c", "{etc}", "incoming", "active", "deferred", "hold"],
            ),
            ("hold", &["-c", "{etc}", "hold"]),
            ("the whole spool (.)", &["-c", "{etc}", "."]),
            (
                "absolute and relative mixed",
                &["-c", "{etc}", "{spool}/hold", "deferred"],
            ),
            ("same queue twice", &["{spool}/hold", "{spool}/hold"]),
            ("queue with a trailing slash", &["{spool}/hold/"]),
            (
                "a hash subdirectory as the queue",
                &["-c", "{etc}", "deferred/A"],
            ),
            (
                "symbolic links as queues (to a directory, to a file)",
                &["{spool}/LINKQUEUE1", "{spool}/LINKFILE01", "{spool}/hold"],
            ),
            ("a queue file as the queue", &["{pointer_file}"]),
            ("-s", &["-s", "{spool}/deferred"]),
            ("-p", &["-p", "{spool}/deferred"]),
            ("-p -m 2", &["-p", "-m", "2", "{spool}/deferred"]),
            ("-p -m 0 (ignored)", &["-p", "-m", "0", "{spool}/deferred"]),
            (
                "-p -m -1 (ignored)",
                &["-p", "-m", "-1", "{spool}/deferred"],
            ),
            ("-p -m 7.5", &["-p", "-m", "7.5", "{spool}/deferred"]),
            ("-s -p -m 1", &["-s", "-p", "-m", "1", "{spool}/deferred"]),
            ("-sp bundled", &["-sp", "{spool}/deferred"]),
            (
                "bundled -spb5 -t2 -m1",
                &["-spb5", "-t2", "-m1", "{spool}/deferred"],
            ),
            ("-b 1", &["-b", "1", "{spool}/deferred"]),
            ("-b 5", &["-b", "5", "{spool}/deferred"]),
            ("-b 14", &["-b", "14", "{spool}/deferred"]),
            ("-b 20", &["-b", "20", "{spool}/deferred"]),
            ("-b 2.5", &["-b", "2.5", "{spool}/deferred"]),
            ("-b 0.5", &["-b", "0.5", "{spool}/deferred"]),
            ("-b 0 (ignored)", &["-b", "0", "{spool}/deferred"]),
            ("-b 1e1", &["-b", "1e1", "{spool}/deferred"]),
            ("-t 1", &["-t", "1", "{spool}/deferred"]),
            ("-t 0.5", &["-t", "0.5", "{spool}/deferred"]),
            ("-t 0.5 -b 4", &["-t", "0.5", "-b", "4", "{spool}/deferred"]),
            (
                "-t 0.25 -b 12",
                &["-t", "0.25", "-b", "12", "{spool}/deferred"],
            ),
            ("-t 7.5", &["-t", "7.5", "{spool}/deferred"]),
            ("-t 60", &["-t", "60", "{spool}/deferred"]),
            (
                "-t 1e-3 -b 12",
                &["-t", "1e-3", "-b", "12", "{spool}/deferred"],
            ),
            (
                "-t 0.1 -b 12",
                &["-t", "0.1", "-b", "12", "{spool}/deferred"],
            ),
            (
                "-l -t 0.1 -b 12",
                &["-l", "-t", "0.1", "-b", "12", "{spool}/deferred"],
            ),
            ("-b 12.9", &["-b", "12.9", "{spool}/deferred"]),
            ("-p -m 1.5", &["-p", "-m", "1.5", "{spool}/hold"]),
            ("-w -100 (ignored)", &["-w", "-100", "{spool}/deferred"]),
            ("-w 1e3", &["-w", "1e3", "{spool}/hold"]),
            ("-t 0 (ignored)", &["-t", "0", "{spool}/deferred"]),
            ("-l", &["-l", "{spool}/deferred"]),
            (
                "-l -b 5 -t 1",
                &["-l", "-b", "5", "-t", "1", "{spool}/deferred"],
            ),
            (
                "-l -t 0.5 -b 30",
                &["-l", "-t", "0.5", "-b", "30", "{spool}/deferred"],
            ),
            ("-l -t 100", &["-l", "-t", "100", "{spool}/deferred"]),
            ("-w 50 (ignored)", &["-w", "50", "{spool}/deferred"]),
            ("-w 80", &["-w", "80", "{spool}/deferred"]),
            ("-w 81", &["-w", "81", "{spool}/deferred"]),
            ("-w 100", &["-w", "100", "{spool}/deferred"]),
            ("-w 120", &["-w", "120", "{spool}/deferred"]),
            ("-w 100.5", &["-w", "100.5", "{spool}/deferred"]),
            (
                "-w 120 -b 14",
                &["-w", "120", "-b", "14", "{spool}/deferred"],
            ),
            (
                "-N 1 -n 2 (ignored, not a terminal)",
                &["-N", "1", "-n", "2", "{spool}/deferred"],
            ),
            ("-n 0 -N 0", &["-n", "0", "-N", "0", "{spool}/deferred"]),
            (
                "-c unused with absolute queues",
                &["-c", "/nonexistent", "{spool}/deferred"],
            ),
            (
                "every option at once",
                &[
                    "-s", "-p", "-l", "-m", "1", "-b", "7", "-t", "3", "-w", "130", "-N", "5",
                    "-n", "3", "-c", "{etc}", "deferred", "hold",
                ],
            ),
            // Long domains (spec §3.8): + and .+ truncation.
            ("long domains, default width", &["{spool}/hold"]),
            ("long domains, -b 14", &["-b", "14", "{spool}/hold"]),
            (
                "long domains, -b 14 -w 120",
                &["-b", "14", "-w", "120", "{spool}/hold"],
            ),
            (
                "long domains, -p -m 1 -b 20",
                &["-p", "-m", "1", "-b", "20", "{spool}/hold"],
            ),
            ("long domains, -p -m 1", &["-p", "-m", "1", "{spool}/hold"]),
            (
                "long domains, -p -m 1 -w 100.5 -b 16",
                &["-p", "-m", "1", "-w", "100.5", "-b", "16", "{spool}/hold"],
            ),
            ("long domains, -w 200", &["-w", "200", "{spool}/hold"]),
            // Perl's numeric rules and warnings.
            ("-b abc", &["-b", "abc", "{spool}/deferred"]),
            ("-w abc", &["-w", "abc", "{spool}/deferred"]),
            ("-t abc", &["-t", "abc", "{spool}/deferred"]),
            ("-m abc -p", &["-m", "abc", "-p", "{spool}/deferred"]),
            ("-b 3abc", &["-b", "3abc", "{spool}/deferred"]),
            ("-t 2abc", &["-t", "2abc", "{spool}/deferred"]),
            ("-w 100abc", &["-w", "100abc", "{spool}/deferred"]),
            ("-b ''", &["-b", "", "{spool}/deferred"]),
            ("-w ' 100 '", &["-w", " 100 ", "{spool}/deferred"]),
            ("-b 0x10", &["-b", "0x10", "{spool}/deferred"]),
            (
                "-N abc -n abc",
                &["-N", "abc", "-n", "abc", "{spool}/deferred"],
            ),
            ("-b at the end (no value)", &["-c", "{etc}", "-b"]),
            // Queue names and errors.
            ("missing queue, relative", &["-c", "{etc}", "nosuch"]),
            ("missing queue, absolute", &["{spool}/nosuch"]),
            (
                "missing queue between others",
                &["-c", "{etc}", "hold", "nosuch", "incoming"],
            ),
            ("-- then -s as a queue name", &["-c", "{etc}", "--", "-s"]),
            (
                "options after a queue name are queue names",
                &["-c", "{etc}", "{spool}/hold", "-s"],
            ),
            ("- as a queue name", &["-c", "{etc}", "-"]),
            ("-h", &["-h"]),
            ("-h with other options", &["-s", "-h", "{spool}/deferred"]),
            ("-x", &["-x", "{spool}/deferred"]),
            ("-sx bundled", &["-sx", "{spool}/deferred"]),
            ("-h then -x", &["-h", "-x"]),
            ("-x then -h", &["-x", "-h"]),
            ("unknown long option", &["--foo", "{spool}/deferred"]),
            (
                "failing postconf (-c /nonexistent)",
                &["-c", "/nonexistent", "deferred"],
            ),
        ];
        for (label, args) in cases {
            compare(report, label, clock, &expand(args, &vars));
        }

        // The ages move with the clock: a day later everything is older.
        compare(
            report,
            "deferred, clock a day later",
            clock.plus(86_400),
            &expand(&["{spool}/deferred"], &vars),
        );
        compare(
            report,
            "-l -t 60, clock a day later",
            clock.plus(86_400),
            &expand(&["-l", "-t", "60", "{spool}/deferred"], &vars),
        );

        // A relative -c, from the instance directory.
        let args = expand(&["-c", "etc", "deferred"], &vars);
        let (real, ours) = pair(clock, &args);
        compare_runs(
            report,
            "relative -c DIR",
            &real.cwd(&pf.root),
            &ours.cwd(&pf.root),
            false,
        );
        // MAIL_CONFIG from the environment instead of -c.
        let args = expand(&["hold"], &vars);
        let (real, ours) = pair(clock, &args);
        let etc = pf.etc.display().to_string();
        compare_runs(
            report,
            "MAIL_CONFIG instead of -c",
            &real.env("MAIL_CONFIG", &etc),
            &ours.env("MAIL_CONFIG", &etc),
            false,
        );

        // queue_directory with `$` (usage, exit 255) and one that does not exist (chdir).
        let odd = scratch_dir();
        for (label, dir, value) in [
            (
                "queue_directory with $ (usage, exit 255)",
                "dollar",
                "$config_directory/spool",
            ),
            (
                "queue_directory that does not exist (chdir)",
                "nochdir",
                "/nonexistent/spool",
            ),
        ] {
            let etc = odd.path().join(dir);
            write_file(
                &etc.join("main.cf"),
                format!("queue_directory = {value}\n").as_bytes(),
                0o644,
            );
            write_file(&etc.join("master.cf"), b"", 0o644);
            backdate_config(&etc);
            let args = vec![
                "-c".to_string(),
                etc.display().to_string(),
                "deferred".into(),
            ];
            compare(report, label, clock, &args);
        }

        // Deviation Q3: our order of tied rows is by name.
        let ours = Run::new(
            OUR_QSHAPE,
            clock,
            &expand(&["-w", "200", "{spool}/deferred"], &vars),
        )
        .run();
        let problems = tie_order_problems(&ours.stdout);
        expect(
            report,
            "deviation Q3: tied rows in name order",
            "ours: qshape -w 200 $INSTANCE/spool/deferred; every run of rows tying on (count, \
             name length) is in ascending byte order",
            &problems,
        );

        // Deviation Q4: no parent rows for IP literals (-p -m 1).
        let args = expand(&["-p", "-m", "1", "{spool}/deferred"], &vars);
        let (real, ours) = pair(clock, &args);
        let real_out = real.run();
        let ours_out = ours.run();
        let expected = Outcome {
            stdout: real_out
                .stdout
                .split_inclusive(|b| *b == b'\n')
                .filter(|line| {
                    let tokens = tokens(line);
                    !(tokens.len() > 1 && tokens[0].starts_with(b".") && tokens[0].ends_with(b"]"))
                })
                .flatten()
                .copied()
                .collect(),
            ..real_out.clone()
        };
        let had_nonsense = real_out.stdout_text().contains(" .1.2] ");
        report.check(
            SUITE,
            "deviation Q4: -p -m 1 without IP-literal parents",
            &normalise(&expected, REAL_QSHAPE),
            &normalise(&ours_out, OUR_QSHAPE),
            Compare::Everything,
            &format!(
                "{}; expected: the real output without its `.168.1.2]`/`.1.2]` rows (real had \
                 them: {had_nonsense})",
                describe(&args)
            ),
        );

        // Deviation Q6: no postconf on PATH; we read main.cf ourselves.
        let args = expand(&["-c", "{etc}", "deferred"], &vars);
        let (real, ours) = pair(clock, &args);
        let ours = ours.env("PATH", "/usr/bin:/bin");
        assert!(
            !Path::new("/usr/bin/postconf").exists() && !Path::new("/bin/postconf").exists(),
            "setup check: postconf is outside /usr/bin:/bin"
        );
        let real_out = real.run();
        let ours_out = ours.run();
        report.check(
            SUITE,
            "deviation Q6: without postconf on PATH, main.cf read directly",
            &normalise(&real_out, REAL_QSHAPE),
            &normalise(&ours_out, OUR_QSHAPE),
            Compare::Everything,
            &format!(
                "ours with PATH=/usr/bin:/bin equals real with postconf: {}",
                describe(&args)
            ),
        );

        // Deviation Q7: --version and --help are not Getopt::Std's.
        let (real_foo, _) = pair(clock, &expand(&["--foo", "{spool}/deferred"], &vars));
        let real_foo = real_foo.run();
        for long in ["--version", "--verbose"] {
            let ours = Run::new(
                OUR_QSHAPE,
                clock,
                &expand(&[long, "{spool}/deferred"], &vars),
            )
            .run();
            report.check(
                SUITE,
                &format!("deviation Q7: {long} rejected like any long option"),
                &normalise(&real_foo, REAL_QSHAPE),
                &normalise(&ours, OUR_QSHAPE),
                Compare::Everything,
                &format!("ours `qshape {long} ...` equals real `qshape --foo ...`"),
            );
        }
        let ours_help = Run::new(OUR_QSHAPE, clock, &["--help".to_string()]).run();
        let mut problems = Vec::new();
        if ours_help.status != 255 {
            problems.push(format!("exit {} (want 255)", ours_help.status));
        }
        for option in ["--format", "--output", "--per-message", "--top"] {
            if !ours_help.stdout_text().contains(option) {
                problems.push(format!("--help does not mention {option}"));
            }
        }
        if !ours_help
            .stderr_text()
            .starts_with(&format!("Usage: {OUR_QSHAPE} [ -s ]"))
        {
            problems.push("--help does not end with qshape's usage text".into());
        }
        expect(
            report,
            "deviation Q7: --help lists our long options, then qshape's usage",
            "ours: qshape --help",
            &problems,
        );
    });
}

/// Problems with our tie order: rows tying on (count, name length) out of name order.
fn tie_order_problems(stdout: &[u8]) -> Vec<String> {
    let table = parse_table(stdout);
    let mut problems = Vec::new();
    for window in table.rows.windows(2) {
        let (a, b) = (&window[0], &window[1]);
        if a.1[0] == b.1[0] && a.0.len() == b.0.len() && a.0 > b.0 {
            problems.push(format!("`{}` printed before `{}`", a.0, b.0));
        }
    }
    if table.rows.len() < 5 {
        problems.push(format!("only {} rows", table.rows.len()));
    }
    problems
}

// ------------------------------------------------------------------------------------------
// Queues made by real Postfix
// ------------------------------------------------------------------------------------------

/// Mail queued by real Postfix daemons: deferred mail of three ages (two phases under
/// libfaketime, fed over SMTP), upper case and trailing dots, multi-recipient messages, the
/// null sender, deep subdomains; one message held; after stopping, one deferred file moved
/// into incoming and one into active. Then force expiry (Q1) and a postdrop file (Q2).
#[test]
fn live_queues() {
    scenario(SUITE, "live", |report| {
        if !qshape_available(report) {
            return;
        }
        let options = InstanceOptions {
            extra_main_cf: vec![
                ("maximal_queue_lifetime".into(), "100d".into()),
                ("bounce_queue_lifetime".into(), "100d".into()),
            ],
            ..InstanceOptions::default()
        };
        let mut pf = PostfixInstance::new("qshape-live", options);
        let mut expected = 0;
        let phases: [Phase; 2] = [
            (
                "-26h",
                "a day ago",
                b"old@Sender.Example",
                vec![b"x@slow.example", b"y@r76.example", b"z@SLOW.example"],
            ),
            (
                "-45m",
                "45 minutes ago",
                b"",
                vec![b"a@slow.example", b"b@r75.example"],
            ),
        ];
        for (offset, subject, from, recipients) in phases {
            pf.start_with_clock(Some(offset));
            pf.settle(Settle {
                deferred: Some(expected),
                ..Settle::default()
            });
            let mut smtp = pf.smtp();
            smtp.send(
                from,
                "",
                &recipients,
                &message(&String::from_utf8_lossy(from), subject),
            );
            smtp.quit();
            expected += 1;
            pf.settle(Settle {
                deferred: Some(expected),
                ..Settle::default()
            });
            pf.stop();
        }
        pf.start();
        pf.settle_retried(expected);
        // Real clock: sendmail (postdrop, pickup) and SMTP.
        for n in 1..=3 {
            pf.sendmail(
                &[
                    "-f",
                    "x@x.example",
                    &format!("b{n}@y.example"),
                    "c@Z.Example.",
                ],
                &message("x@x.example", &format!("sendmail {n}")),
            );
        }
        let mut smtp = pf.smtp();
        smtp.send(
            b"",
            "",
            &[b"d@sub1.foo.example"],
            &message("MAILER-DAEMON", "null sender"),
        );
        smtp.send(
            b"deep@sender.example",
            "",
            &[
                b"a@h1.deep.example",
                b"a@h2.deep.example",
                b"a@h3.deep.example",
                b"a@h4.deep.example",
                b"a@h5.deep.example",
                b"a@h6.deep.example",
                b"a@x.b.deep.example",
                b"b@x.b.deep.example",
                b"UP@UPPER.EXAMPLE",
            ],
            &message("deep@sender.example", "deep subdomains"),
        );
        smtp.send(
            b"Hold.Me@Sender.Example",
            "",
            &[b"h1@held.example", b"h2@held.example"],
            &message("Hold.Me@Sender.Example", "to hold"),
        );
        smtp.send(
            b"incoming@sender.example",
            "",
            &[b"i@moved-incoming.example"],
            &message("incoming@sender.example", "to incoming"),
        );
        smtp.send(
            b"active@sender.example",
            "",
            &[b"a@moved-active.example", b"b@moved-active.example"],
            &message("active@sender.example", "to active"),
        );
        smtp.quit();
        expected += 8;
        pf.settle(Settle {
            deferred: Some(expected),
            ..Settle::default()
        });
        let held = pf
            .find_by_subject("to hold", &["deferred"])
            .expect("the message to hold is queued");
        pf.postsuper(&["-h", &held]);
        pf.settle(Settle {
            deferred: Some(expected - 1),
            hold: Some(1),
            ..Settle::default()
        });
        pf.stop();
        for (subject, queue) in [("to incoming", "incoming"), ("to active", "active")] {
            let id = pf
                .find_by_subject(subject, &["deferred"])
                .unwrap_or_else(|| panic!("no queue file for {subject}"));
            let from = files_under(&pf.spool.join("deferred"))
                .into_iter()
                .find(|p| p.file_name().is_some_and(|n| n.to_string_lossy() == id))
                .expect("deferred file");
            fs::rename(&from, pf.spool.join(queue).join(&id)).expect("move queue file");
        }
        let newest = files_under(&pf.spool.join("deferred"))
            .iter()
            .chain(files_under(&pf.spool.join("hold")).iter())
            .filter_map(|p| arrival_of(p))
            .max()
            .expect("queue files have arrival times");
        // Fresh mail is a minute old; the faked phases are 45 minutes and a day old.
        let clock = Clock {
            now: (newest + 60).max(epoch_now() + 5),
        };
        let vars: [(&str, &Path); 2] = [("spool", &pf.spool), ("etc", &pf.etc)];
        let (real, _) = pair(clock, &expand(&["-c", "{etc}", "deferred"], &vars));
        let outcome = real.run();
        assert_contains(
            &outcome,
            &[
                " y.example ",
                " z.example ",
                " sub1.foo.example ",
                " slow.example ",
                " upper.example ",
            ],
            &["held.example", "moved-"],
        );
        let table = parse_table(&outcome.stdout);
        let total = table.row("TOTAL").expect("TOTAL row").to_vec();
        assert!(
            total[0] >= 20 && total[10] >= 3 && total[5] >= 2,
            "setup check: the ages are not where they were put:\n{}",
            outcome.summary()
        );

        let cases: &[(&str, &[&str])] = &[
            ("default queues (incoming active)", &["-c", "{etc}"]),
            ("deferred", &["-c", "{etc}", "deferred"]),
            ("hold", &["-c", "{etc}", "hold"]),
            ("incoming", &["-c", "{etc}", "incoming"]),
            ("active", &["-c", "{etc}", "active"]),
            (
                "all four queues",
                &["-c", "{etc}", "incoming", "active", "deferred", "hold"],
            ),
            ("deferred, absolute", &["{spool}/deferred"]),
            ("the whole spool (.)", &["-c", "{etc}", "."]),
            ("-s deferred", &["-s", "-c", "{etc}", "deferred"]),
            ("-s hold", &["-s", "-c", "{etc}", "hold"]),
            ("-p deferred", &["-p", "-c", "{etc}", "deferred"]),
            (
                "-p -m 1 deferred",
                &["-p", "-m", "1", "-c", "{etc}", "deferred"],
            ),
            (
                "-p -m 2 deferred",
                &["-p", "-m", "2", "-c", "{etc}", "deferred"],
            ),
            (
                "-p -m 7 deferred",
                &["-p", "-m", "7", "-c", "{etc}", "deferred"],
            ),
            (
                "-p -m 8 deferred",
                &["-p", "-m", "8", "-c", "{etc}", "deferred"],
            ),
            (
                "-s -p -m 1 deferred",
                &["-s", "-p", "-m", "1", "-c", "{etc}", "deferred"],
            ),
            ("-b 14 deferred", &["-b", "14", "-c", "{etc}", "deferred"]),
            (
                "-l -b 5 -t 1 deferred",
                &["-l", "-b", "5", "-t", "1", "-c", "{etc}", "deferred"],
            ),
            (
                "-t 0.5 -b 4 deferred",
                &["-t", "0.5", "-b", "4", "-c", "{etc}", "deferred"],
            ),
            (
                "-l -t 30 -b 50 -w 250 deferred",
                &[
                    "-l", "-t", "30", "-b", "50", "-w", "250", "-c", "{etc}", "deferred",
                ],
            ),
            ("-b 1 deferred", &["-b", "1", "-c", "{etc}", "deferred"]),
            (
                "-w 120 -b 14 deferred",
                &["-w", "120", "-b", "14", "-c", "{etc}", "deferred"],
            ),
            (
                "-N 2 -n 3 deferred (not a terminal)",
                &["-N", "2", "-n", "3", "-c", "{etc}", "deferred"],
            ),
        ];
        for (label, args) in cases {
            compare(report, label, clock, &expand(args, &vars));
        }
        compare(
            report,
            "deferred, clock 12 minutes later",
            clock.plus(12 * 60),
            &expand(&["-c", "{etc}", "deferred"], &vars),
        );
        compare(
            report,
            "-s incoming active hold, clock 3 hours later",
            clock.plus(3 * 3600),
            &expand(&["-s", "-c", "{etc}", "incoming", "active", "hold"], &vars),
        );

        // Deviation Q1: force-expired mail (0710) counts for us, not for qshape.
        let args = expand(&["-c", "{etc}", "deferred"], &vars);
        let (real, ours) = pair(clock, &args);
        let before = real.run();
        let expired = pf
            .find_by_subject("deep subdomains", &["deferred"])
            .expect("the deep-subdomain message");
        // With the master down, postsuper appends to the mail log itself, as user postfix.
        let (uid, gid) = postfix_ids();
        std::os::unix::fs::chown(pf.root.join("maillog"), Some(uid), Some(gid))
            .expect("chown maillog");
        pf.postsuper(&["-e", &expired]);
        let real_after = real.run();
        let ours_after = ours.run();
        let mode = files_under(&pf.spool.join("deferred"))
            .into_iter()
            .find(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy() == expired)
            })
            .and_then(|p| fs::metadata(p).ok())
            .map_or(0, |m| m.mode() & 0o7777);
        report.check(
            SUITE,
            "deviation Q1: force-expired message still counted (ours after -e = real before)",
            &normalise(&before, REAL_QSHAPE),
            &normalise(&ours_after, OUR_QSHAPE),
            Compare::Everything,
            &format!("{} after postsuper -e (mode {mode:o})", describe(&args)),
        );
        let real_total = parse_table(&real_after.stdout).total();
        let ours_total = parse_table(&ours_after.stdout).total();
        let mut problems = Vec::new();
        if mode != 0o710 {
            problems.push(format!("the expired file has mode {mode:o}, not 710"));
        }
        if ours_total != real_total + 9 {
            problems.push(format!(
                "ours TOTAL {ours_total}, real TOTAL {real_total}: want real + 9 (the expired \
                 message's recipients)"
            ));
        }
        expect(
            report,
            "deviation Q1: our TOTAL = real TOTAL + the expired message's 9 recipients",
            &describe(&args),
            &problems,
        );
        let args = expand(&["-s", "-c", "{etc}", "deferred"], &vars);
        let (real, ours) = pair(clock, &args);
        let real_total = parse_table(&real.run().stdout).total();
        let ours_total = parse_table(&ours.run().stdout).total();
        let problems = if ours_total == real_total + 1 {
            Vec::new()
        } else {
            vec![format!(
                "ours TOTAL {ours_total}, real TOTAL {real_total}: want real + 1"
            )]
        };
        expect(
            report,
            "deviation Q1: -s, our TOTAL = real TOTAL + 1 expired message",
            &describe(&args),
            &problems,
        );

        // Deviation Q2: a postdrop file (first record T) in maildrop, submitted while the
        // mail system is down.
        pf.sendmail(
            &[
                "-f",
                "drop@Dropper.Example",
                "m1@maildrop.example",
                "m2@maildrop.example",
            ],
            &message("drop@Dropper.Example", "maildrop"),
        );
        assert_eq!(pf.count("maildrop"), 1, "setup check: one maildrop file");
        let clock = Clock {
            now: epoch_now() + 30,
        };
        for (label, args, want) in [
            (
                "deviation Q2: postdrop file, recipients counted",
                &["-c", "{etc}", "maildrop"][..],
                &[("TOTAL", 2u64), ("maildrop.example", 2)][..],
            ),
            (
                "deviation Q2: postdrop file, -s counts its sender",
                &["-s", "-c", "{etc}", "maildrop"][..],
                &[("TOTAL", 1), ("dropper.example", 1)][..],
            ),
        ] {
            let args = expand(args, &vars);
            let (real, ours) = pair(clock, &args);
            let real_out = real.run();
            let ours_out = ours.run();
            let real_table = parse_table(&real_out.stdout);
            let ours_table = parse_table(&ours_out.stdout);
            let mut problems = Vec::new();
            for (name, count) in want {
                match ours_table.row(name) {
                    // Arrival from T: a few seconds old, the first column.
                    Some(counts) if counts[0] == *count && counts[1] == *count => {}
                    other => problems.push(format!(
                        "ours row {name}: {other:?}, want {count} in T and the first column"
                    )),
                }
            }
            if !ours_out.stderr.is_empty() || ours_out.status != 0 {
                problems.push(format!("ours: {}", ours_out.summary()));
            }
            if !real_out.stderr_text().contains("line 282.") {
                problems.push(format!(
                    "the real qshape did not warn at line 282 (did the file change?): {}",
                    real_out.summary()
                ));
            }
            let real_rows: Vec<&str> = real_table.rows.iter().map(|(n, _)| n.as_str()).collect();
            let real_expected: &[&str] = if args.contains(&"-s".to_string()) {
                &["TOTAL", "MAILER-DAEMON"]
            } else {
                &["TOTAL"]
            };
            if real_rows != real_expected {
                problems.push(format!(
                    "the real qshape shows {real_rows:?}, not {real_expected:?}"
                ));
            }
            expect(
                report,
                label,
                &format!(
                    "{}: real counts {} (with Perl warnings), ours reads the file",
                    describe(&args),
                    if real_expected.len() == 2 {
                        "MAILER-DAEMON in the oldest column"
                    } else {
                        "nothing"
                    }
                ),
                &problems,
            );
        }
    });
}

/// A faked-clock phase: clock offset, subject, sender, recipients.
type Phase<'a> = (&'a str, &'a str, &'a [u8], Vec<&'a [u8]>);

/// The `T` record's arrival seconds of a queue file.
fn arrival_of(path: &Path) -> Option<i64> {
    let bytes = fs::read(path).ok()?;
    let mut at = 0;
    while at < bytes.len() {
        let kind = bytes[at];
        let mut length = 0usize;
        let mut shift = 0;
        at += 1;
        loop {
            let byte = *bytes.get(at)?;
            at += 1;
            length |= usize::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        let data = bytes.get(at..at + length)?;
        at += length;
        if kind == b'T' {
            let text = String::from_utf8_lossy(data);
            return text.split_whitespace().next()?.parse().ok();
        }
    }
    None
}

// ------------------------------------------------------------------------------------------
// Damaged files (deviation Q5)
// ------------------------------------------------------------------------------------------

/// Files qshape miscounts (first record not a queue file's) or loops on (a `p` loop): ours
/// skips them with a warning. The expectation: ours on the damaged queue prints what the real
/// qshape prints on the same queue without the damaged files.
#[test]
fn damaged_files() {
    scenario(SUITE, "damaged files", |report| {
        if !qshape_available(report) {
            return;
        }
        let dir = scratch_dir();
        let clock = Clock {
            now: epoch_now() + 86_400,
        };
        let maker = Maker::new(dir.path(), clock.now);
        let good = build_queue_file(&maker.spec(
            400,
            "good@sender.example",
            vec![live("a@good.example"), live("b@good.example")],
        ))
        .bytes;
        let clean = dir.path().join("clean");
        let damaged = dir.path().join("damaged");
        let looping = dir.path().join("loop");
        for queue in [&clean, &damaged, &looping] {
            write_file(&queue.join("GOOD000001"), &good, 0o700);
        }
        write_file(
            &damaged.join("RANDOM0001"),
            b"\x8f\x02random bytes, not records\n",
            0o700,
        );
        write_file(&damaged.join("EMPTY00001"), b"", 0o700);
        // A `p` record that points at itself.
        let mut looped = RawFile::default();
        looped.rec(kind::SIZE, b"1 1 1");
        looped.rec(kind::TIME, format!("{} 0", clock.now - 100).as_bytes());
        looped.rec(kind::FROM, b"loop@sender.example");
        looped.rec(kind::RCPT, b"loop@loop.example");
        let at = looped.len();
        looped.pointer(at);
        looped.rec(kind::END, b"");
        write_file(&looping.join("LOOP000001"), &looped.bytes, 0o700);

        for (label, flags) in [
            ("recipients", &[][..]),
            ("-s", &["-s"][..]),
            ("-p -m 1", &["-p", "-m", "1"][..]),
        ] {
            let mut clean_args: Vec<String> = flags.iter().map(|s| s.to_string()).collect();
            clean_args.push(clean.display().to_string());
            let mut damaged_args: Vec<String> = flags.iter().map(|s| s.to_string()).collect();
            damaged_args.push(damaged.display().to_string());
            let real_clean = Run::new(REAL_QSHAPE, clock, &clean_args).run();
            let real_damaged = Run::new(REAL_QSHAPE, clock, &damaged_args).run();
            let ours = Run::new(OUR_QSHAPE, clock, &damaged_args).run();
            let mut problems = Vec::new();
            if canonical(&ours.stdout) != canonical(&real_clean.stdout) || ours.status != 0 {
                problems.push(format!(
                    "ours differs from the real qshape without the damaged files:\n{}",
                    line_diff(&real_clean.stdout, &ours.stdout)
                ));
            }
            let warnings = ours.stderr_text();
            for name in ["RANDOM0001", "EMPTY00001"] {
                let want = format!(
                    "{OUR_QSHAPE}: warning: {}/{name}: not a queue file, skipped",
                    damaged.display()
                );
                if !warnings.lines().any(|l| l == want) {
                    problems.push(format!("no warning `{want}` in:\n{warnings}"));
                }
            }
            let real_warned = real_damaged.stderr_text().contains("line 282.");
            if !real_warned {
                problems.push(format!(
                    "the real qshape did not warn about the damaged files: {}",
                    real_damaged.summary()
                ));
            }
            expect(
                report,
                &format!("deviation Q5: not queue files skipped with a warning ({label})"),
                &format!(
                    "{}: ours = real on the queue without the damaged files",
                    describe(&damaged_args)
                ),
                &problems,
            );
        }

        let loop_args = vec![looping.display().to_string()];
        let clean_args = vec![clean.display().to_string()];
        let real_loop = Run::new(REAL_QSHAPE, clock, &loop_args)
            .timeout(Duration::from_secs(3))
            .run();
        let real_clean = Run::new(REAL_QSHAPE, clock, &clean_args).run();
        let ours = Run::new(OUR_QSHAPE, clock, &loop_args)
            .timeout(Duration::from_secs(20))
            .run();
        let mut problems = Vec::new();
        if !real_loop.timed_out {
            problems.push(format!(
                "the real qshape did not loop: {}",
                real_loop.summary()
            ));
        }
        if ours.timed_out || ours.status != 0 || ours.stdout != real_clean.stdout {
            problems.push(format!("ours: {}", ours.summary()));
        }
        let want = format!(
            "{OUR_QSHAPE}: warning: {}/LOOP000001: pointer record loop, skipped\n",
            looping.display()
        );
        if ours.stderr_text() != want {
            problems.push(format!("ours stderr is not `{want}`"));
        }
        expect(
            report,
            "deviation Q5: a pointer loop is skipped with a warning (qshape loops forever)",
            &format!(
                "{}: real killed after 3 s; ours = real on the queue without the file",
                describe(&loop_args)
            ),
            &problems,
        );
    });
}

// ------------------------------------------------------------------------------------------
// Terminal mode
// ------------------------------------------------------------------------------------------

/// At a pseudo-terminal: interim reports every -N messages, the clear-screen sequence, at
/// most -n rows (TOTAL counts), CRLF line ends. Every domain name has its own length, so no
/// two rows ever tie and the cut at -n is the same for both.
#[test]
fn terminal_mode() {
    scenario(SUITE, "terminal", |report| {
        if !qshape_available(report) {
            return;
        }
        let dir = scratch_dir();
        let clock = Clock {
            now: epoch_now() + 86_400,
        };
        let maker = Maker::new(dir.path(), clock.now);
        let queue = dir.path().join("queue");
        let domain = |n: usize| format!("{}.example", "d".repeat(n));
        // Seven messages with 1 to 4 recipients, at several ages.
        let messages: [(i64, &[usize]); 7] = [
            (60, &[1, 2]),
            (400, &[2, 3, 3]),
            (900, &[4]),
            (3000, &[1, 5, 6, 6]),
            (100_000, &[7, 2]),
            (60, &[8, 9]),
            (20_000, &[1, 10, 11]),
        ];
        for (index, (age, domains)) in messages.iter().enumerate() {
            let recipients = domains
                .iter()
                .map(|n| live(&format!("r@{}", domain(*n))))
                .collect();
            let spec = maker.spec(
                *age,
                &format!("s{index}@{}", "s".repeat(index + 1)),
                recipients,
            );
            let bytes = build_queue_file(&spec).bytes;
            write_file(&queue.join(format!("TTY00000{index}")), &bytes, 0o700);
        }
        let q = queue.display().to_string();
        let cases: &[(&str, &[&str])] = &[
            ("defaults (-N 1000 -n 20)", &[]),
            ("-N 2 -n 3", &["-N", "2", "-n", "3"]),
            ("-N 1 -n 1", &["-N", "1", "-n", "1"]),
            ("-N 3 -n 2 -s", &["-N", "3", "-n", "2", "-s"]),
            ("-N 0 (no interim reports, no clear)", &["-N", "0"]),
            ("-N 0 -n 2", &["-N", "0", "-n", "2"]),
            ("-n 0 -N 3 (no row limit)", &["-n", "0", "-N", "3"]),
            ("-N 2.5 -n 2.5", &["-N", "2.5", "-n", "2.5"]),
            ("-N -1 -n -1", &["-N", "-1", "-n", "-1"]),
            (
                "-N 4 -n 4 -b 5 -w 100 -l",
                &["-N", "4", "-n", "4", "-b", "5", "-w", "100", "-l"],
            ),
            ("-N 7 -n 5 (batch = every message)", &["-N", "7", "-n", "5"]),
            (
                "-N 2 -n 3 -p -m 1",
                &["-N", "2", "-n", "3", "-p", "-m", "1"],
            ),
        ];
        for (label, flags) in cases {
            let mut args: Vec<String> = flags.iter().map(|s| s.to_string()).collect();
            args.push(q.clone());
            let (real, ours) = pair(clock, &args);
            let (real_out, _) = compare_runs(report, label, &real, &ours, true);
            if *label == "-N 2 -n 3" {
                // Setup check: this really was a terminal.
                let clears = real_out
                    .stdout
                    .windows(CLEAR_XTERM.len())
                    .filter(|w| *w == CLEAR_XTERM)
                    .count();
                assert!(
                    clears == 4 && real_out.stdout.ends_with(b"\r\n"),
                    "setup check: the real qshape at a pty printed {clears} clears:\n{}",
                    real_out.summary()
                );
            }
        }
        // Through a pipe the same options change nothing.
        let args = vec!["-N".to_string(), "2".into(), "-n".into(), "3".into(), q];
        compare(report, "-N 2 -n 3 through a pipe", clock, &args);
    });
}

// ------------------------------------------------------------------------------------------
// Our extensions
// ------------------------------------------------------------------------------------------

fn schema_validator() -> jsonschema::Validator {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/qshape.schema.json");
    let text = fs::read_to_string(path).expect("read docs/qshape.schema.json");
    let schema: serde_json::Value = serde_json::from_str(&text).expect("the schema is JSON");
    jsonschema::validator_for(&schema).expect("the schema compiles")
}

fn schema_problems(validator: &jsonschema::Validator, document: &serde_json::Value) -> Vec<String> {
    validator
        .iter_errors(document)
        .map(|error| format!("schema: {error} at {}", error.instance_path()))
        .collect()
}

fn json_u64s(value: &serde_json::Value) -> Vec<u64> {
    value
        .as_array()
        .map(|a| a.iter().filter_map(serde_json::Value::as_u64).collect())
        .unwrap_or_default()
}

/// The JSON document against our own table (same arguments, same clock): TOTAL, every row in
/// order, the bucket labels; plus the expected bucket bounds in seconds.
fn json_problems(
    document: &serde_json::Value,
    table: &Table,
    bounds: &[(f64, Option<f64>)],
) -> Vec<String> {
    let mut problems = Vec::new();
    let total = table.row("TOTAL").map(<[u64]>::to_vec).unwrap_or_default();
    let json_total: Vec<u64> = std::iter::once(document["total"]["total"].as_u64().unwrap_or(0))
        .chain(json_u64s(&document["total"]["buckets"]))
        .collect();
    if json_total != total {
        problems.push(format!("total {json_total:?}, table {total:?}"));
    }
    let rows: Vec<(String, Vec<u64>)> = table
        .rows
        .iter()
        .filter(|(name, _)| name != "TOTAL")
        .cloned()
        .collect();
    let json_rows: Vec<(String, Vec<u64>)> = document["domains"]
        .as_array()
        .map(|rows| {
            rows.iter()
                .map(|row| {
                    let counts = std::iter::once(row["total"].as_u64().unwrap_or(0))
                        .chain(json_u64s(&row["buckets"]))
                        .collect();
                    (row["domain"].as_str().unwrap_or("?").to_string(), counts)
                })
                .collect()
        })
        .unwrap_or_default();
    if json_rows != rows {
        problems.push(format!(
            "domains differ from the table:\n json: {json_rows:?}\n table: {rows:?}"
        ));
    }
    let labels: Vec<String> = document["buckets"]
        .as_array()
        .map(|b| {
            b.iter()
                .map(|b| b["label"].as_str().unwrap_or("?").to_string())
                .collect()
        })
        .unwrap_or_default();
    if labels.as_slice() != &table.labels[1..] {
        problems.push(format!(
            "bucket labels {labels:?}, table {:?}",
            &table.labels[1..]
        ));
    }
    let json_bounds: Vec<(f64, Option<f64>)> = document["buckets"]
        .as_array()
        .map(|b| {
            b.iter()
                .map(|b| {
                    (
                        b["min_seconds"].as_f64().unwrap_or(-1.0),
                        b["max_seconds"].as_f64(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    if json_bounds != bounds {
        problems.push(format!("bucket bounds {json_bounds:?}, want {bounds:?}"));
    }
    problems
}

/// Bucket bounds in seconds (upper bound None for the last).
type Bounds = Vec<(f64, Option<f64>)>;

/// A JSON case: label, arguments, expected bounds, expected `counting`.
type JsonCase<'a> = (&'a str, &'a [&'a str], Bounds, &'a str);

fn default_bounds() -> Bounds {
    let mut bounds = Vec::new();
    let mut lower = 0.0;
    let mut upper = 300.0;
    for _ in 0..9 {
        bounds.push((lower, Some(upper)));
        lower = upper;
        upper *= 2.0;
    }
    bounds.push((lower, None));
    bounds
}

/// `--format json`: valid against docs/qshape.schema.json, and the same numbers as the table.
#[test]
fn json_output() {
    scenario(SUITE, "json", |report| {
        if !qshape_available(report) {
            return;
        }
        let validator = schema_validator();
        let pf = handmade_instance("qshape-json");
        let clock = Clock {
            now: epoch_now() + 86_400,
        };
        let maker = Maker::new(&pf.spool, clock.now);
        fill_handmade_spool(&maker, &pf.spool);
        let vars: [(&str, &Path); 2] = [("spool", &pf.spool), ("etc", &pf.etc)];
        let bounds_l5 = vec![
            (0.0, Some(60.0)),
            (60.0, Some(120.0)),
            (120.0, Some(180.0)),
            (180.0, Some(240.0)),
            (240.0, None),
        ];
        let bounds_half = vec![
            (0.0, Some(30.0)),
            (30.0, Some(60.0)),
            (60.0, Some(120.0)),
            (120.0, None),
        ];
        let cases: [JsonCase; 6] = [
            (
                "deferred",
                &["{spool}/deferred"],
                default_bounds(),
                "recipients",
            ),
            (
                "-s",
                &["-s", "{spool}/deferred"],
                default_bounds(),
                "senders",
            ),
            (
                "-p -m 1",
                &["-p", "-m", "1", "{spool}/hold"],
                default_bounds(),
                "recipients",
            ),
            (
                "-l -b 5 -t 1",
                &["-l", "-b", "5", "-t", "1", "{spool}/deferred"],
                bounds_l5,
                "recipients",
            ),
            (
                "-t 0.5 -b 4, relative queues",
                &["-t", "0.5", "-b", "4", "-c", "{etc}", "deferred", "hold"],
                bounds_half,
                "recipients",
            ),
            (
                "--per-message",
                &["--per-message", "{spool}/deferred"],
                default_bounds(),
                "messages",
            ),
        ];
        for (label, args, bounds, counting) in cases {
            let mut text_args = vec!["-w".to_string(), "300".into()];
            text_args.extend(expand(args, &vars));
            let mut json_args = vec!["--format".to_string(), "json".into()];
            json_args.extend(expand(args, &vars));
            let text = Run::new(OUR_QSHAPE, clock, &text_args).run();
            let json = Run::new(OUR_QSHAPE, clock, &json_args).run();
            let mut problems = Vec::new();
            if json.status != 0 || text.status != 0 {
                problems.push(format!(
                    "exit: json {}, text {}\n{}",
                    json.status,
                    text.status,
                    json.summary()
                ));
            }
            match serde_json::from_slice::<serde_json::Value>(&json.stdout) {
                Err(error) => problems.push(format!("not JSON: {error}")),
                Ok(document) => {
                    problems.extend(schema_problems(&validator, &document));
                    problems.extend(json_problems(
                        &document,
                        &parse_table(&text.stdout),
                        &bounds,
                    ));
                    if document["counting"] != counting {
                        problems.push(format!(
                            "counting {}, want {counting}",
                            document["counting"]
                        ));
                    }
                    if !document["other"].is_null() {
                        problems.push("other is not null without --top".into());
                    }
                    // The pinned clock starts at `now` when the program starts.
                    let generated = document["generated_at"].as_i64().unwrap_or(0);
                    if !(clock.now..=clock.now + 2).contains(&generated) {
                        problems.push(format!(
                            "generated_at {generated}, want the pinned clock {}",
                            clock.now
                        ));
                    }
                    let queue_names: Vec<&str> = document["queues"]
                        .as_array()
                        .map(|q| q.iter().filter_map(|q| q["name"].as_str()).collect())
                        .unwrap_or_default();
                    let want: Vec<String> = expand(args, &vars)
                        .into_iter()
                        .filter(|a| a.contains("deferred") || a.contains("hold"))
                        .collect();
                    if queue_names != want {
                        problems.push(format!("queues {queue_names:?}, want {want:?}"));
                    }
                }
            }
            expect(
                report,
                &format!("--format json {label}: schema and numbers of the table"),
                &format!(
                    "{} validated against docs/qshape.schema.json; compared with {}",
                    describe(&json_args),
                    describe(&text_args)
                ),
                &problems,
            );
        }

        // queues[].messages = messages counted (= TOTAL under --per-message and -s).
        let args = expand(
            &["--format", "json", "{spool}/deferred", "{spool}/hold"],
            &vars,
        );
        let json = Run::new(OUR_QSHAPE, clock, &args).run();
        let senders = Run::new(
            OUR_QSHAPE,
            clock,
            &expand(&["-s", "{spool}/deferred", "{spool}/hold"], &vars),
        )
        .run();
        let mut problems = Vec::new();
        match serde_json::from_slice::<serde_json::Value>(&json.stdout) {
            Ok(document) => {
                let messages: u64 = document["queues"]
                    .as_array()
                    .map(|q| q.iter().filter_map(|q| q["messages"].as_u64()).sum())
                    .unwrap_or(0);
                let total = parse_table(&senders.stdout).total();
                if messages != total {
                    problems.push(format!(
                        "queues count {messages} messages, -s TOTAL {total}"
                    ));
                }
                if document["files_scanned"].as_u64().unwrap_or(0) < messages {
                    problems.push("files_scanned < messages".into());
                }
            }
            Err(error) => problems.push(format!("not JSON: {error}")),
        }
        expect(
            report,
            "--format json: queues[].messages sum to the -s TOTAL",
            &describe(&args),
            &problems,
        );

        // --top N: N domains, the rest summed in "other" (parent rows excluded).
        for top in [1usize, 3, 1000] {
            let args = expand(
                &[
                    "--format",
                    "json",
                    "--top",
                    &top.to_string(),
                    "-p",
                    "{spool}/deferred",
                ],
                &vars,
            );
            let json = Run::new(OUR_QSHAPE, clock, &args).run();
            let text = Run::new(
                OUR_QSHAPE,
                clock,
                &expand(&["-w", "300", "-p", "{spool}/deferred"], &vars),
            )
            .run();
            let table = parse_table(&text.stdout);
            let rows: Vec<&(String, Vec<u64>)> =
                table.rows.iter().filter(|(n, _)| n != "TOTAL").collect();
            let mut problems = Vec::new();
            match serde_json::from_slice::<serde_json::Value>(&json.stdout) {
                Ok(document) => {
                    problems.extend(schema_problems(&validator, &document));
                    let domains: Vec<String> = document["domains"]
                        .as_array()
                        .map(|d| {
                            d.iter()
                                .map(|d| d["domain"].as_str().unwrap_or("?").to_string())
                                .collect()
                        })
                        .unwrap_or_default();
                    let want: Vec<String> = rows.iter().take(top).map(|(n, _)| n.clone()).collect();
                    if domains != want {
                        problems.push(format!("domains {domains:?}, want {want:?}"));
                    }
                    let rest: Vec<&&(String, Vec<u64>)> = rows
                        .iter()
                        .skip(top)
                        .filter(|(n, _)| !n.starts_with('.'))
                        .collect();
                    if rows.len() <= top {
                        if !document["other"].is_null() {
                            problems.push("other is set although every row fits".into());
                        }
                    } else {
                        let mut sum = vec![0u64; table.labels.len()];
                        for (_, counts) in &rest {
                            for (s, c) in sum.iter_mut().zip(counts) {
                                *s += c;
                            }
                        }
                        let other = &document["other"];
                        let got: Vec<u64> = std::iter::once(other["total"].as_u64().unwrap_or(0))
                            .chain(json_u64s(&other["buckets"]))
                            .collect();
                        if other["domain"] != "other" || got != sum {
                            problems.push(format!("other {other}, want the sum {sum:?}"));
                        }
                    }
                }
                Err(error) => problems.push(format!("not JSON: {error}")),
            }
            expect(
                report,
                &format!("--top {top}: the largest rows, the rest in other"),
                &describe(&args),
                &problems,
            );
        }
        // The table is not cut by --top.
        let with_top = Run::new(
            OUR_QSHAPE,
            clock,
            &expand(&["--top", "2", "{spool}/deferred"], &vars),
        )
        .run();
        let without = Run::new(OUR_QSHAPE, clock, &expand(&["{spool}/deferred"], &vars)).run();
        report.check(
            SUITE,
            "--top leaves the table alone",
            &without,
            &with_top,
            Compare::Everything,
            "ours: qshape --top 2 ... = qshape ...",
        );
    });
}

/// `--per-message`: a message counts once per domain it has recipients in.
#[test]
fn per_message() {
    scenario(SUITE, "per-message", |report| {
        if !qshape_available(report) {
            return;
        }
        let dir = scratch_dir();
        let clock = Clock {
            now: epoch_now() + 86_400,
        };
        let maker = Maker::new(dir.path(), clock.now);
        let queue = dir.path().join("queue");
        for (index, (age, recipients)) in [
            (60, &["a@one.example", "b@One.Example"][..]),
            (60, &["c@one.example", "d@two.example"][..]),
            (700, &["e@two.example"][..]),
            (700, &["f@sub.one.example", "g@x.sub.one.example"][..]),
        ]
        .iter()
        .enumerate()
        {
            let spec = maker.spec(
                *age,
                "s@sender.example",
                recipients.iter().map(|r| live(r)).collect(),
            );
            write_file(
                &queue.join(format!("PERMSG000{index}")),
                &build_queue_file(&spec).bytes,
                0o700,
            );
        }
        let q = queue.display().to_string();
        for (label, args, want) in [
            (
                "TOTAL = messages, one count per domain per message",
                vec!["--per-message".to_string(), q.clone()],
                vec![
                    ("TOTAL", [4u64, 2, 0, 2]),
                    ("one.example", [2, 2, 0, 0]),
                    ("two.example", [2, 1, 0, 1]),
                    ("sub.one.example", [1, 0, 0, 1]),
                    ("x.sub.one.example", [1, 0, 0, 1]),
                ],
            ),
            (
                "-p -m 1: a parent once per message",
                vec![
                    "--per-message".to_string(),
                    "-p".into(),
                    "-m".into(),
                    "1".into(),
                    q.clone(),
                ],
                vec![
                    ("TOTAL", [4, 2, 0, 2]),
                    ("one.example", [2, 2, 0, 0]),
                    (".one.example", [1, 0, 0, 1]),
                    (".sub.one.example", [1, 0, 0, 1]),
                ],
            ),
        ] {
            let ours = Run::new(OUR_QSHAPE, clock, &args).run();
            let table = parse_table(&ours.stdout);
            let mut problems = Vec::new();
            for (name, counts) in &want {
                match table.row(name) {
                    Some(got) if got[..4] == counts[..] => {}
                    other => problems.push(format!("row {name}: {other:?}, want {counts:?}...")),
                }
            }
            if ours.status != 0 || !ours.stderr.is_empty() {
                problems.push(ours.summary());
            }
            expect(
                report,
                &format!("--per-message: {label}"),
                &describe(&args),
                &problems,
            );
        }
        // Spec §3.7 quirk: a name shorter than TOTAL with TOTAL's count comes first.
        let short = dir.path().join("short");
        let spec = maker.spec(60, "s@b.io", vec![live("x@a.io"), live("y@A.IO")]);
        write_file(
            &short.join("SHORT00001"),
            &build_queue_file(&spec).bytes,
            0o700,
        );
        let (real, _) = compare(
            report,
            "a.io above TOTAL (equal count, shorter name)",
            clock,
            &[short.display().to_string()],
        );
        assert!(
            real.stdout_text()
                .lines()
                .nth(1)
                .is_some_and(|l| l.contains(" a.io ")),
            "setup check: the real qshape put a.io below TOTAL:\n{}",
            real.summary()
        );
        compare(
            report,
            "b.io above TOTAL, -s",
            clock,
            &["-s".to_string(), short.display().to_string()],
        );
        // Without --per-message the same queue counts recipients (as qshape does).
        compare(
            report,
            "the same queue per recipient",
            clock,
            std::slice::from_ref(&q),
        );
        compare(report, "the same queue, -s", clock, &["-s".to_string(), q]);
    });
}

/// `--format prometheus` through promtool, its numbers against the table; `--output`.
#[test]
fn prometheus_and_output() {
    scenario(SUITE, "prometheus and --output", |report| {
        if !qshape_available(report) {
            return;
        }
        let pf = handmade_instance("qshape-prom");
        let clock = Clock {
            now: epoch_now() + 86_400,
        };
        let maker = Maker::new(&pf.spool, clock.now);
        fill_handmade_spool(&maker, &pf.spool);
        let vars: [(&str, &Path); 2] = [("spool", &pf.spool), ("etc", &pf.etc)];

        let args = expand(
            &["--format", "prometheus", "-c", "{etc}", "deferred", "hold"],
            &vars,
        );
        let prom = Run::new(OUR_QSHAPE, clock, &args).run();
        let text = Run::new(
            OUR_QSHAPE,
            clock,
            &expand(&["-w", "300", "-c", "{etc}", "deferred", "hold"], &vars),
        )
        .run();
        if Path::new(PROMTOOL).exists() {
            let checked = promtool(&prom.stdout);
            // promtool: exit 1 and "error while linting" for a parse error; exit 3 for lint
            // problems only (naming conventions).
            let parse_error = checked.status == 1 || checked.stderr_text().contains("error");
            let problems = if parse_error || checked.timed_out {
                vec![checked.summary()]
            } else {
                Vec::new()
            };
            expect(
                report,
                "--format prometheus parses (promtool check metrics)",
                &describe(&args),
                &problems,
            );
            let problems = if checked.status == 0 {
                Vec::new()
            } else {
                vec![format!(
                    "promtool check metrics: exit {}: {}",
                    checked.status,
                    checked.stderr_text().trim_end()
                )]
            };
            expect(
                report,
                "--format prometheus passes promtool's lint",
                &describe(&args),
                &problems,
            );
        } else {
            let why = "promtool not installed (Debian package prometheus; `cargo xtask test` \
                       installs it as root)";
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("{why}, and CI=true forbids skipping");
            }
            eprintln!("\n*** SKIPPED: {why} ***\n");
            report.note(
                SUITE,
                "--format prometheus parses (promtool check metrics)",
                why,
            );
        }
        let problems = prometheus_problems(&prom, &parse_table(&text.stdout));
        expect(
            report,
            "--format prometheus: the table's numbers (top 20, other, ages)",
            &describe(&args),
            &problems,
        );

        // --output: nothing on stdout, the file as stdout would have been, a pre-existing
        // file replaced, no temporary file left.
        let out_dir = scratch_dir();
        let target = out_dir.path().join("report.txt");
        let args = expand(&["-p", "{spool}/deferred"], &vars);
        let plain = Run::new(OUR_QSHAPE, clock, &args).run();
        // Options come before the queue names (Getopt::Std stops at the first name).
        let mut with_output = vec!["--output".to_string(), target.display().to_string()];
        with_output.extend(args.iter().cloned());
        let written = Run::new(OUR_QSHAPE, clock, &with_output).run();
        let mut problems = Vec::new();
        if !written.stdout.is_empty() || written.status != 0 {
            problems.push(format!("run: {}", written.summary()));
        }
        if written.stderr != plain.stderr {
            problems.push(format!(
                "stderr differs from the run without --output: {}",
                written.stderr_text()
            ));
        }
        if fs::read(&target).ok().as_deref() != Some(&plain.stdout[..]) {
            problems.push("the file differs from stdout without --output".into());
        }
        expect(
            report,
            "--output FILE: the report in the file, nothing on stdout",
            &describe(&with_output),
            &problems,
        );

        let target = out_dir.path().join("qshape.prom");
        write_file(&target, b"stale content\n", 0o600);
        let old_inode = fs::metadata(&target).expect("stat").ino();
        let args = vec![
            "--format".to_string(),
            "prometheus".into(),
            "--output".into(),
            target.display().to_string(),
            pf.spool.join("hold").display().to_string(),
        ];
        let written = Run::new(OUR_QSHAPE, clock, &args).run();
        let content = fs::read(&target).unwrap_or_default();
        let mut problems = Vec::new();
        if written.status != 0 || !written.stdout.is_empty() || !written.stderr.is_empty() {
            problems.push(format!("run: {}", written.summary()));
        }
        if !content.starts_with(b"# HELP ") || contains(&content, b"stale") {
            problems.push(format!(
                "the file was not replaced: {}",
                String::from_utf8_lossy(&content)
            ));
        }
        if fs::metadata(&target).map(|m| m.ino()).ok() == Some(old_inode) {
            problems.push("the file was rewritten in place, not renamed over".into());
        }
        if Path::new(PROMTOOL).exists() && promtool(&content).status == 1 {
            problems.push("the file does not parse".into());
        }
        let mut names: Vec<String> = fs::read_dir(out_dir.path())
            .expect("read output directory")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        if names != ["qshape.prom", "report.txt"] {
            problems.push(format!("the directory holds {names:?}"));
        }
        expect(
            report,
            "--output FILE: a pre-existing file replaced, no temporary file left",
            &describe(&args),
            &problems,
        );

        let target = out_dir.path().join("qshape.json");
        let args = vec![
            "--format=json".to_string(),
            format!("--output={}", target.display()),
            pf.spool.join("deferred").display().to_string(),
        ];
        let written = Run::new(OUR_QSHAPE, clock, &args).run();
        let mut problems = Vec::new();
        if written.status != 0 || !written.stdout.is_empty() {
            problems.push(format!("run: {}", written.summary()));
        }
        match fs::read(&target)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        {
            Some(document) => problems.extend(schema_problems(&schema_validator(), &document)),
            None => problems.push("no JSON document in the file".into()),
        }
        expect(
            report,
            "--output FILE with --format=json (= forms)",
            &describe(&args),
            &problems,
        );
    });
}

fn promtool(input: &[u8]) -> Outcome {
    Invocation::new(PROMTOOL)
        .args(["check", "metrics"])
        .stdin(input.to_vec())
        .run()
}

/// Parses `name{labels} value` lines.
/// One sample: metric name, labels, value.
type Sample = (String, Vec<(String, String)>, String);

fn prometheus_samples(text: &str) -> Vec<Sample> {
    let mut samples = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or((line, ""));
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => (name, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        let mut pairs = Vec::new();
        let mut rest = labels;
        while let Some((key, after)) = rest.split_once("=\"") {
            let mut value = String::new();
            let mut chars = after.char_indices();
            let mut end = after.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, escaped)) = chars.next() {
                            value.push(if escaped == 'n' { '\n' } else { escaped });
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => value.push(c),
                }
            }
            pairs.push((key.trim_start_matches(',').to_string(), value));
            rest = &after[end..];
        }
        samples.push((name.to_string(), pairs, value.to_string()));
    }
    samples
}

fn prometheus_problems(prom: &Outcome, table: &Table) -> Vec<String> {
    let mut problems = Vec::new();
    if prom.status != 0 || !prom.stderr.is_empty() {
        problems.push(prom.summary());
    }
    let samples = prometheus_samples(&prom.stdout_text());
    let label = |labels: &[(String, String)], key: &str| {
        labels
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let totals: Vec<(String, u64)> = samples
        .iter()
        .filter(|(name, _, _)| name == "postfix_qshape_domain_addresses")
        .map(|(_, labels, value)| (label(labels, "domain"), value.parse().unwrap_or(u64::MAX)))
        .collect();
    let rows: Vec<&(String, Vec<u64>)> = table.rows.iter().filter(|(n, _)| n != "TOTAL").collect();
    let mut want: Vec<(String, u64)> = vec![("TOTAL".into(), table.total())];
    want.extend(rows.iter().take(20).map(|(n, c)| (n.clone(), c[0])));
    if rows.len() > 20 {
        let other: u64 = rows
            .iter()
            .skip(20)
            .filter(|(n, _)| !n.starts_with('.'))
            .map(|(_, c)| c[0])
            .sum();
        want.push(("other".into(), other));
    } else {
        problems.push(format!(
            "setup: only {} rows, the test wants more than 20",
            rows.len()
        ));
    }
    if totals != want {
        problems.push(format!("domain totals {totals:?}, want {want:?}"));
    }
    // The TOTAL row's ages: one series per column, bounds in seconds.
    let ages: Vec<(String, String, u64)> = samples
        .iter()
        .filter(|(name, labels, _)| {
            name == "postfix_qshape_domain_age" && label(labels, "domain") == "TOTAL"
        })
        .map(|(_, labels, value)| {
            (
                label(labels, "age_min_seconds"),
                label(labels, "age_max_seconds"),
                value.parse().unwrap_or(u64::MAX),
            )
        })
        .collect();
    let total = table.row("TOTAL").map(<[u64]>::to_vec).unwrap_or_default();
    let want_ages: Vec<(String, String, u64)> = default_bounds()
        .iter()
        .zip(total.iter().skip(1))
        .map(|((lower, upper), count)| {
            (
                format!("{lower}"),
                upper.map_or("+Inf".to_string(), |u| format!("{u}")),
                *count,
            )
        })
        .collect();
    if ages != want_ages {
        problems.push(format!("TOTAL ages {ages:?}, want {want_ages:?}"));
    }
    let depths: Vec<(String, String)> = samples
        .iter()
        .filter(|(name, _, _)| name == "postfix_queue_depth")
        .map(|(_, labels, value)| (label(labels, "queue"), value.clone()))
        .collect();
    if depths.iter().map(|(q, _)| q.as_str()).collect::<Vec<_>>() != ["deferred", "hold"] {
        problems.push(format!("queue depths {depths:?}"));
    }
    problems
}
