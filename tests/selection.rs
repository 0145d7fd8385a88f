//! Our selection extensions (`--sender`, `--recipient`, `--domain`, `--older-than`,
//! `--newer-than`, `--min-size`, `--max-size`, `--reason`, `--header`), `--dry-run` and
//! `--format json`, in postsuper and in `postqueue -p`/`-j`, against hand-checked
//! expectations. Postfix has no selection, so there is nothing to compare with: every expected
//! set below was worked out by hand from the fixture's table of messages.
//!
//! Each test builds its own small queue with the record writer in a temporary directory (a
//! spool owned by user postfix, and a config directory whose main.cf points at it), because
//! postsuper drops privileges to `mail_owner`. Needs root and a `postfix` user; otherwise each
//! test says SKIPPED and passes.
//!
//! The "changed since selection, skipped" path needs a message to change between postsuper's
//! selection and its action within one run, which cannot be arranged from outside the
//! process: the unit tests of crates/postsuper/src/selected.rs cover it.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::CString;
use std::fs;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use postfix_queue::envelope::Queue;
use postfix_queue::writer::{
    build_queue_file, FileStyle, MessageSpec, QueueWriter, RecipientSpec, RecipientState,
};
use postfix_queue::Layout;

const POSTSUPER: &str = env!("CARGO_BIN_EXE_postsuper");
const POSTQUEUE: &str = env!("CARGO_BIN_EXE_postqueue");

const MINUTE: i64 = 60;
const HOUR: i64 = 3600;
const DAY: i64 = 86_400;
const WEEK: i64 = 7 * DAY;

/// The message queues a message file can be in.
const MESSAGE_QUEUES: [&str; 5] = ["maildrop", "incoming", "active", "deferred", "hold"];

// ------------------------------------------------------------------------------------------
// The fixture: one table of messages, hand-checked
// ------------------------------------------------------------------------------------------

/// One message of the fixture. Addresses are in Postfix's internal (unquoted) form, as cleanup
/// stores them; postqueue shows `john doe@example.net` as `"john doe"@example.net`.
struct Def {
    key: &'static str,
    queue: Queue,
    /// Seconds before the fixture's `now`.
    age: i64,
    /// `""` is the null sender (shown as `MAILER-DAEMON`).
    sender: &'static str,
    recipients: &'static [(&'static str, RecipientState)],
    headers: &'static [&'static str],
    /// Lines of filler text in the body (sets the size).
    body_lines: usize,
    /// Extra body lines, after the filler.
    body_extra: &'static [&'static str],
    /// Defer-log entries: (recipient, reason).
    defer: &'static [(&'static str, &'static str)],
}

use RecipientState::{Done, Live};

/// Sizes: "small" is a few hundred bytes, "medium" between 2k and 4k, "large" above 4k
/// (checked when the fixture is built).
///
/// | key | queue    | age  | sender               | live recipients                          | size   | defer reason               |
/// |-----|----------|------|----------------------|------------------------------------------|--------|----------------------------|
/// | A   | deferred | 10m  | alice@example.org    | bob@example.com                          | small  | ... Connection timed out   |
/// | B   | deferred | 2h   | (null)               | carol@mx.example.com                     | medium | ... 450 4.2.0 Mailbox full |
/// | C   | deferred | 3d   | jürgen@bücher.de     | dora@badexample.com, eve@other.net       | large  | -                          |
/// | D   | hold     | 2w   | "john doe"@example.net | kai@Bücher.De                          | small  | -                          |
/// | E   | deferred | 30m  | bob@example.com      | gina@example.com, hal@elsewhere.org      | medium | hal: Connection refused    |
/// | F   | active   | 26h  | alice@example.org    | "mary smith"@example.org                 | small  | -                          |
/// | G   | deferred | 5h   | alice@example.org    | ursula@other.net (zed@example.com done)  | small  | -                          |
const MESSAGES: &[Def] = &[
    Def {
        key: "A",
        queue: Queue::Deferred,
        age: 10 * MINUTE,
        sender: "alice@example.org",
        recipients: &[("bob@example.com", Live)],
        headers: &[
            "From: alice@example.org",
            "To: bob@example.com",
            "Subject: Invoice 2024",
        ],
        body_lines: 1,
        body_extra: &[],
        defer: &[(
            "bob@example.com",
            "connect to mx.example.com[192.0.2.1]:25: Connection timed out",
        )],
    },
    Def {
        key: "B",
        queue: Queue::Deferred,
        age: 2 * HOUR,
        sender: "",
        recipients: &[("carol@mx.example.com", Live)],
        headers: &[
            "From: MAILER-DAEMON@example.org (Mail Delivery System)",
            "Subject: Undelivered Mail Returned to Sender",
        ],
        body_lines: 40,
        body_extra: &[],
        defer: &[(
            "carol@mx.example.com",
            "host mx.example.com[192.0.2.2] said: 450 4.2.0 Mailbox full",
        )],
    },
    Def {
        key: "C",
        queue: Queue::Deferred,
        age: 3 * DAY,
        sender: "jürgen@bücher.de",
        recipients: &[("dora@badexample.com", Live), ("eve@other.net", Live)],
        headers: &[
            "From: =?utf-8?q?J=C3=BCrgen?= <jürgen@bücher.de>",
            "Subject: Spring offers",
            "X-Campaign: spring",
            " sale-2024",
        ],
        body_lines: 160,
        body_extra: &[],
        defer: &[],
    },
    Def {
        key: "D",
        queue: Queue::Hold,
        age: 2 * WEEK,
        sender: "john doe@example.net",
        recipients: &[("kai@Bücher.De", Live)],
        headers: &["Subject: Grüße zum Meeting"],
        body_lines: 1,
        body_extra: &[],
        defer: &[],
    },
    Def {
        key: "E",
        queue: Queue::Deferred,
        age: 30 * MINUTE,
        sender: "bob@example.com",
        recipients: &[("gina@example.com", Live), ("hal@elsewhere.org", Live)],
        headers: &["Subject: Lunch"],
        body_lines: 40,
        body_extra: &[],
        defer: &[(
            "hal@elsewhere.org",
            "connect to mx.elsewhere.org[192.0.2.3]:25: Connection refused",
        )],
    },
    Def {
        key: "F",
        queue: Queue::Active,
        age: 26 * HOUR,
        sender: "alice@example.org",
        recipients: &[("mary smith@example.org", Live)],
        headers: &["Subject: Hello Mary"],
        body_lines: 1,
        body_extra: &[],
        defer: &[],
    },
    Def {
        key: "G",
        queue: Queue::Deferred,
        age: 5 * HOUR,
        sender: "alice@example.org",
        recipients: &[("zed@example.com", Done), ("ursula@other.net", Live)],
        headers: &["Subject: Status"],
        body_lines: 1,
        // Looks like a header, but it is in the body: --header must not see it.
        body_extra: &["Subject: Invoice fake", "X-Campaign: spring sale-2024"],
        defer: &[],
    },
];

fn content(def: &Def) -> Vec<u8> {
    let mut text = String::new();
    for header in def.headers {
        text.push_str(header);
        text.push('\n');
    }
    text.push('\n');
    for n in 0..def.body_lines {
        text.push_str(&format!("line {n:04}: {}\n", "x".repeat(48)));
    }
    for line in def.body_extra {
        text.push_str(line);
        text.push('\n');
    }
    text.into_bytes()
}

/// The size postqueue shows, worked out independently of the writer: the `C` record counts the
/// content records, each line (all shorter than 128 bytes here) as type byte, one length byte
/// and the text; the writer turns every `\n`-separated piece into one record.
fn content_size(content: &[u8]) -> i64 {
    content
        .split(|&b| b == b'\n')
        .map(|line| {
            assert!(line.len() < 128, "content lines must be short");
            2 + line.len() as i64
        })
        .sum()
}

struct Fixture {
    _dir: tempfile::TempDir,
    etc: PathBuf,
    spool: PathBuf,
    layout: Layout,
    /// key -> queue ID
    ids: BTreeMap<&'static str, String>,
    /// key -> the size postqueue shows
    sizes: BTreeMap<&'static str, i64>,
    /// key -> arrival time
    arrivals: BTreeMap<&'static str, i64>,
}

fn postfix_user() -> Option<(u32, u32)> {
    let name = CString::new("postfix").expect("no NUL");
    // SAFETY: a valid NUL-terminated name; the result is read at once.
    unsafe {
        let entry = libc::getpwnam(name.as_ptr());
        if entry.is_null() {
            None
        } else {
            Some(((*entry).pw_uid, (*entry).pw_gid))
        }
    }
}

/// Whether these tests can run here; says loudly why not.
fn runnable(test: &str) -> Option<(u32, u32)> {
    // SAFETY: geteuid has no preconditions.
    let why = if unsafe { libc::geteuid() } != 0 {
        "not running as root (postsuper is reserved for the superuser)"
    } else if let Some(ids) = postfix_user() {
        return Some(ids);
    } else {
        "there is no user postfix (postsuper drops privileges to mail_owner)"
    };
    eprintln!("\n**********************************************************************");
    eprintln!("SKIPPED: {why} (selection: {test})");
    eprintln!("**********************************************************************\n");
    None
}

fn chown_tree(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))
        .unwrap_or_else(|e| panic!("chown {}: {e}", path.display()));
    if path.is_dir() && !path.is_symlink() {
        for entry in fs::read_dir(path).expect("read dir").flatten() {
            chown_tree(&entry.path(), uid, gid);
        }
    }
}

fn backdate(path: &Path, age: Duration) {
    let when = SystemTime::now() - age;
    let times = fs::FileTimes::new().set_accessed(when).set_modified(when);
    let file = fs::File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    file.set_times(times)
        .unwrap_or_else(|e| panic!("set times of {}: {e}", path.display()));
}

fn now_seconds() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

impl Fixture {
    /// The queue of [`MESSAGES`], or `None` (after saying SKIPPED) when it cannot run here.
    fn build(test: &str) -> Option<Self> {
        let (uid, gid) = runnable(test)?;
        let dir = tempfile::Builder::new()
            .prefix("pqt-selection-")
            .tempdir_in("/tmp")
            .expect("create temporary directory");
        let root = dir.path().to_path_buf();
        fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).expect("chmod root");
        let spool = root.join("spool");
        let etc = root.join("etc");
        let libexec = root.join("libexec");
        for path in [&spool, &etc, &libexec] {
            fs::create_dir(path).expect("mkdir");
            fs::set_permissions(path, fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        // postqueue only checks that $daemon_directory/showq could be run (it reads the queue
        // itself); keep it away from the installed Postfix.
        let showq = libexec.join("showq");
        fs::write(&showq, "#!/bin/sh\nexit 1\n").expect("write showq");
        fs::set_permissions(&showq, fs::Permissions::from_mode(0o755)).expect("chmod showq");
        let maillog = root.join("maillog");
        fs::write(&maillog, "").expect("create maillog");
        fs::set_permissions(&maillog, fs::Permissions::from_mode(0o600)).expect("chmod");
        std::os::unix::fs::lchown(&maillog, Some(uid), Some(gid)).expect("chown maillog");
        fs::write(
            etc.join("main.cf"),
            format!(
                "compatibility_level = 3.6\n\
                 queue_directory = {spool}\n\
                 daemon_directory = {libexec}\n\
                 mail_owner = postfix\n\
                 maillog_file = {maillog}\n\
                 maillog_file_prefixes = {root}\n",
                spool = spool.display(),
                libexec = libexec.display(),
                maillog = maillog.display(),
                root = root.display(),
            ),
        )
        .expect("write main.cf");
        // A freshly written main.cf makes Postfix programs wait for it to settle.
        backdate(&etc.join("main.cf"), Duration::from_secs(120));
        backdate(&etc, Duration::from_secs(120));

        let layout = Layout::new(spool.clone(), &["deferred", "defer"], 1);
        let writer = QueueWriter::new(layout.clone(), false);
        writer
            .create_directories()
            .expect("create queue directories");
        let now = now_seconds();
        let mut ids = BTreeMap::new();
        let mut sizes = BTreeMap::new();
        let mut arrivals = BTreeMap::new();
        for (n, def) in MESSAGES.iter().enumerate() {
            let spec = MessageSpec {
                arrival_seconds: now - def.age,
                arrival_microseconds: 100_000 + 111_111 * n as u32,
                sender: def.sender.as_bytes().to_vec(),
                recipients: def
                    .recipients
                    .iter()
                    .map(|(address, state)| RecipientSpec {
                        address: address.as_bytes().to_vec(),
                        state: *state,
                    })
                    .collect(),
                extracted_recipients: Vec::new(),
                content: content(def),
                style: FileStyle::Cleanup,
            };
            let built = build_queue_file(&spec);
            let id = writer.add(def.queue, &spec, 0o700).expect("write message");
            for (recipient, reason) in def.defer {
                let index = def
                    .recipients
                    .iter()
                    .position(|(address, _)| address == recipient)
                    .expect("defer-log recipient is a recipient");
                writer
                    .append_defer_log(
                        id.as_bytes(),
                        recipient.as_bytes(),
                        built.recipient_offsets[index],
                        reason.as_bytes(),
                    )
                    .expect("append defer log");
            }
            ids.insert(def.key, id);
            sizes.insert(def.key, content_size(&spec.content));
            arrivals.insert(def.key, spec.arrival_seconds);
        }
        // The size classes the expectations below rely on.
        for (key, size) in &sizes {
            let (low, high) = match *key {
                "B" | "E" => (2048, 4096),
                "C" => (4097, i64::MAX),
                _ => (0, 1023),
            };
            assert!(
                (low..=high).contains(size),
                "fixture: size of {key} is {size}, not in {low}..={high}"
            );
        }
        let ids_seen: BTreeSet<&String> = ids.values().collect();
        assert_eq!(ids_seen.len(), ids.len(), "fixture: queue IDs must differ");
        chown_tree(&spool, uid, gid);
        // queue_directory itself belongs to root, as Postfix installs it.
        std::os::unix::fs::lchown(&spool, Some(0), Some(0)).expect("chown spool");
        Some(Self {
            _dir: dir,
            etc,
            spool,
            layout,
            ids,
            sizes,
            arrivals,
        })
    }

    fn id(&self, key: &str) -> &str {
        self.ids
            .get(key)
            .unwrap_or_else(|| panic!("no message {key}"))
    }

    /// The queue IDs of `keys`.
    fn set(&self, keys: &[&str]) -> BTreeSet<String> {
        keys.iter().map(|key| self.id(key).to_string()).collect()
    }

    /// Where message `key` is now: (queue, permission bits), if anywhere.
    fn locate(&self, key: &str) -> Option<(&'static str, u32)> {
        let id = self.id(key);
        let mut found = None;
        for queue in MESSAGE_QUEUES {
            let path = self.layout.path(queue, id.as_bytes());
            if let Ok(metadata) = fs::symlink_metadata(&path) {
                assert!(found.is_none(), "{key} ({id}) is in two queues");
                found = Some((queue, metadata.mode() & 0o7777));
            }
        }
        found
    }

    fn has_defer_log(&self, key: &str) -> bool {
        self.layout.path("defer", self.id(key).as_bytes()).exists()
    }

    fn postsuper(&self, args: &[&str]) -> Run {
        self.postsuper_with_stdin(args, b"")
    }

    fn postsuper_with_stdin(&self, args: &[&str], stdin: &[u8]) -> Run {
        let mut all = vec!["-c", self.etc.to_str().expect("UTF-8 path")];
        all.extend_from_slice(args);
        run(POSTSUPER, &all, stdin)
    }

    fn postqueue(&self, args: &[&str]) -> Run {
        let mut all = vec!["-c", self.etc.to_str().expect("UTF-8 path")];
        all.extend_from_slice(args);
        run(POSTQUEUE, &all, b"")
    }

    /// The queue IDs `postqueue -j` lists with `selection`, and the listed entries.
    fn listed(&self, selection: &[&str]) -> (BTreeSet<String>, Vec<serde_json::Value>) {
        let mut args = vec!["-j"];
        args.extend_from_slice(selection);
        let out = self.postqueue(&args);
        assert_eq!(
            out.status,
            0,
            "postqueue -j {selection:?}: {}",
            out.summary()
        );
        let entries: Vec<serde_json::Value> = out
            .stdout
            .lines()
            .map(|line| {
                serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("postqueue -j line {line:?}: {e}"))
            })
            .collect();
        let ids: BTreeSet<String> = entries
            .iter()
            .map(|entry| {
                entry["queue_id"]
                    .as_str()
                    .expect("queue_id is a string")
                    .to_string()
            })
            .collect();
        assert_eq!(ids.len(), entries.len(), "postqueue -j listed an ID twice");
        (ids, entries)
    }

    fn snapshot(&self) -> Tree {
        let mut tree = BTreeMap::new();
        walk(&self.spool, &self.spool, &mut tree);
        tree
    }
}

// ------------------------------------------------------------------------------------------
// Running the tools and looking at the tree
// ------------------------------------------------------------------------------------------

#[derive(Debug)]
struct Run {
    status: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn summary(&self) -> String {
        format!(
            "exit {}\n--- stdout ---\n{}--- stderr ---\n{}",
            self.status, self.stdout, self.stderr
        )
    }

    fn stdout_lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }

    fn stderr_lines(&self) -> Vec<&str> {
        self.stderr.lines().collect()
    }
}

fn run(program: &str, args: &[&str], stdin: &[u8]) -> Run {
    let mut child = Command::new(program)
        .args(args)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("TZ", "UTC")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
    {
        let mut input = child.stdin.take().expect("stdin pipe");
        // The program may exit without reading (a fatal error): ignore EPIPE.
        let _ = input.write_all(stdin);
    }
    let output = child.wait_with_output().expect("wait for program");
    Run {
        status: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// What a path in the spool is: type, mode, owner, size, mtime and (for files) content.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Node {
    directory: bool,
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: (i64, i64),
    content: Vec<u8>,
}

type Tree = BTreeMap<String, Node>;

fn walk(root: &Path, path: &Path, tree: &mut Tree) {
    for entry in fs::read_dir(path).expect("read dir").flatten() {
        let path = entry.path();
        let metadata = fs::symlink_metadata(&path).expect("stat");
        let relative = path
            .strip_prefix(root)
            .expect("under root")
            .to_string_lossy()
            .into_owned();
        let directory = metadata.is_dir();
        tree.insert(
            relative,
            Node {
                directory,
                mode: metadata.mode(),
                uid: metadata.uid(),
                gid: metadata.gid(),
                mtime: (metadata.mtime(), metadata.mtime_nsec()),
                content: if directory {
                    Vec::new()
                } else {
                    fs::read(&path).expect("read file")
                },
            },
        );
        if directory {
            walk(root, &path, tree);
        }
    }
}

/// Every file whose name is not one of `changed` (queue IDs) is exactly as it was, and no
/// new file appeared under another name.
fn assert_only_changed(before: &Tree, after: &Tree, changed: &BTreeSet<String>) {
    let name = |path: &str| Path::new(path).file_name().map(|n| n.as_bytes().to_vec());
    let keep = |path: &&String, node: &&Node| {
        !node.directory
            && !changed
                .iter()
                .any(|id| name(path).as_deref() == Some(id.as_bytes()))
    };
    let before: BTreeMap<&String, &Node> = before.iter().filter(|(p, n)| keep(p, n)).collect();
    let after: BTreeMap<&String, &Node> = after.iter().filter(|(p, n)| keep(p, n)).collect();
    let before_paths: BTreeSet<&&String> = before.keys().collect();
    let after_paths: BTreeSet<&&String> = after.keys().collect();
    assert_eq!(before_paths, after_paths, "files other than {changed:?}");
    for (path, node) in &before {
        assert_eq!(Some(node), after.get(path), "{path} changed");
    }
}

fn strings(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn set_of(lines: &[&str]) -> BTreeSet<String> {
    let set: BTreeSet<String> = lines.iter().map(|s| s.to_string()).collect();
    assert_eq!(set.len(), lines.len(), "duplicate lines in {lines:?}");
    set
}

/// Runs postsuper `--dry-run -d ALL` with `selection` and returns the IDs it would act on,
/// after checking the tree is untouched and the count line matches.
fn would_delete(q: &Fixture, selection: &[&str]) -> BTreeSet<String> {
    let before = q.snapshot();
    let mut args = vec!["--dry-run", "-d", "ALL"];
    args.extend_from_slice(selection);
    let out = q.postsuper(&args);
    assert_eq!(out.status, 0, "postsuper {args:?}: {}", out.summary());
    assert_eq!(q.snapshot(), before, "dry run changed the tree: {args:?}");
    let ids = set_of(&out.stdout_lines());
    let n = ids.len();
    let plural = if n == 1 { "" } else { "s" };
    assert_eq!(
        out.stderr_lines(),
        vec![format!("postsuper: would delete {n} message{plural}")],
        "postsuper {args:?}"
    );
    ids
}

/// The same selection through postsuper (dry run) and `postqueue -j` must give `expected`,
/// and `postqueue -p` must count it in its summary line.
fn check_selection(q: &Fixture, selection: &[&str], expected: &[&str]) {
    let expected_ids = q.set(expected);
    assert_eq!(
        would_delete(q, selection),
        expected_ids,
        "postsuper --dry-run -d ALL {selection:?}: expected {expected:?}"
    );
    let (listed, _) = q.listed(selection);
    assert_eq!(
        listed, expected_ids,
        "postqueue -j {selection:?}: expected {expected:?}"
    );
    let mut args = vec!["-p"];
    args.extend_from_slice(selection);
    let out = q.postqueue(&args);
    assert_eq!(
        out.status,
        0,
        "postqueue -p {selection:?}: {}",
        out.summary()
    );
    let last = out.stdout.lines().last().unwrap_or_default().to_string();
    if expected.is_empty() {
        assert_eq!(last, "Mail queue is empty", "postqueue -p {selection:?}");
    } else {
        let total: i64 = expected.iter().map(|key| q.sizes[key]).sum();
        let n = expected.len();
        let plural = if n == 1 { "" } else { "s" };
        assert_eq!(
            last,
            format!("-- {} Kbytes in {n} Request{plural}.", total / 1024),
            "postqueue -p {selection:?}: expected {expected:?}"
        );
        for id in &expected_ids {
            assert!(
                out.stdout.lines().any(|line| line.starts_with(id.as_str())),
                "postqueue -p {selection:?} does not list {id}:\n{}",
                out.stdout
            );
        }
    }
}

// ------------------------------------------------------------------------------------------
// The fixture itself, as postqueue shows it
// ------------------------------------------------------------------------------------------

#[test]
fn fixture_lists_as_designed() {
    let Some(q) = Fixture::build("fixture_lists_as_designed") else {
        return;
    };
    let (ids, entries) = q.listed(&[]);
    assert_eq!(ids, q.set(&["A", "B", "C", "D", "E", "F", "G"]));
    let by_id: BTreeMap<&str, &serde_json::Value> = entries
        .iter()
        .map(|e| (e["queue_id"].as_str().expect("queue_id"), e))
        .collect();
    let expect = |key: &str, queue: &str, sender: &str, recipients: &[&str]| {
        let entry = by_id[q.id(key)];
        assert_eq!(entry["queue_name"], queue, "{key}");
        assert_eq!(entry["sender"], sender, "{key}");
        assert_eq!(entry["message_size"], q.sizes[key], "{key}: size");
        assert_eq!(entry["arrival_time"], q.arrivals[key], "{key}: arrival");
        let shown: BTreeSet<String> = entry["recipients"]
            .as_array()
            .expect("recipients")
            .iter()
            .map(|r| r["address"].as_str().expect("address").to_string())
            .collect();
        assert_eq!(shown, strings(recipients), "{key}: recipients");
    };
    expect("A", "deferred", "alice@example.org", &["bob@example.com"]);
    expect("B", "deferred", "MAILER-DAEMON", &["carol@mx.example.com"]);
    expect(
        "C",
        "deferred",
        "jürgen@bücher.de",
        &["dora@badexample.com", "eve@other.net"],
    );
    expect("D", "hold", "\"john doe\"@example.net", &["kai@Bücher.De"]);
    expect(
        "E",
        "deferred",
        "bob@example.com",
        &["gina@example.com", "hal@elsewhere.org"],
    );
    expect(
        "F",
        "active",
        "alice@example.org",
        &["\"mary smith\"@example.org"],
    );
    // zed@example.com is done: not listed, and not matched by selection either.
    expect("G", "deferred", "alice@example.org", &["ursula@other.net"]);
    let reasons: Vec<&str> = by_id[q.id("E")]["recipients"]
        .as_array()
        .expect("recipients")
        .iter()
        .filter_map(|r| r["delay_reason"].as_str())
        .collect();
    assert_eq!(
        reasons,
        vec!["connect to mx.elsewhere.org[192.0.2.3]:25: Connection refused"]
    );
}

// ------------------------------------------------------------------------------------------
// Each criterion (postsuper dry run, postqueue -j and -p agree with the hand-checked sets)
// ------------------------------------------------------------------------------------------

#[test]
fn sender_regex_and_the_null_sender() {
    let Some(q) = Fixture::build("sender_regex_and_the_null_sender") else {
        return;
    };
    // The null sender matches as <> and as MAILER-DAEMON; no ordinary sender does.
    check_selection(&q, &["--sender", "^<>$"], &["B"]);
    check_selection(&q, &["--sender", "^MAILER-DAEMON$"], &["B"]);
    check_selection(&q, &["--sender", "<>"], &["B"]);
    check_selection(&q, &["--sender", "^alice@example\\.org$"], &["A", "F", "G"]);
    // UTF-8 sender, matched by a non-ASCII regex.
    check_selection(&q, &["--sender", "^jürgen@bücher\\.de$"], &["C"]);
    check_selection(&q, &["--sender", "ü"], &["C"]);
    // A quoted local part is matched as shown, quotes included.
    check_selection(&q, &["--sender", "^\"john doe\"@example\\.net$"], &["D"]);
    check_selection(&q, &["--sender", "^john doe@"], &[]);
    check_selection(&q, &["--sender", "nobody@nowhere"], &[]);
}

#[test]
fn recipient_regex_any_live_recipient() {
    let Some(q) = Fixture::build("recipient_regex_any_live_recipient") else {
        return;
    };
    check_selection(&q, &["--recipient", "^bob@"], &["A"]);
    // The second recipient of a two-recipient message is enough.
    check_selection(&q, &["--recipient", "^hal@elsewhere\\.org$"], &["E"]);
    check_selection(&q, &["--recipient", "^eve@"], &["C"]);
    check_selection(
        &q,
        &["--recipient", "^\"mary smith\"@example\\.org$"],
        &["F"],
    );
    check_selection(&q, &["--recipient", "^mary smith@"], &[]);
    check_selection(&q, &["--recipient", "^kai@Bücher\\.De$"], &["D"]);
    // Case matters in a regex unless asked otherwise.
    check_selection(&q, &["--recipient", "^kai@bücher\\.de$"], &[]);
    check_selection(&q, &["--recipient", "(?i)^kai@bücher\\.de$"], &["D"]);
    // A delivered recipient no longer counts.
    check_selection(&q, &["--recipient", "^zed@"], &[]);
    check_selection(&q, &["--recipient", "^ursula@"], &["G"]);
    check_selection(
        &q,
        &["--recipient", "@example\\.com$"],
        &["A", "E"], // carol is @mx.example.com; zed is done
    );
}

#[test]
fn domain_and_subdomains_only() {
    let Some(q) = Fixture::build("domain_and_subdomains_only") else {
        return;
    };
    // bob@example.com, carol@mx.example.com (subdomain), gina@example.com (one of two);
    // not dora@badexample.com (look-alike), not zed@example.com (done).
    check_selection(&q, &["--domain", "example.com"], &["A", "B", "E"]);
    // The argument is normalised: case, a leading @ and a trailing dot do not matter.
    check_selection(&q, &["--domain", "EXAMPLE.COM"], &["A", "B", "E"]);
    check_selection(&q, &["--domain", "@example.com."], &["A", "B", "E"]);
    check_selection(&q, &["--domain", "mx.example.com"], &["B"]);
    check_selection(&q, &["--domain", "badexample.com"], &["C"]);
    check_selection(&q, &["--domain", "ample.com"], &[]);
    check_selection(&q, &["--domain", "com"], &["A", "B", "C", "E"]);
    // One recipient inside the domain and one outside: selected.
    check_selection(&q, &["--domain", "elsewhere.org"], &["E"]);
    check_selection(&q, &["--domain", "other.net"], &["C", "G"]);
    // UTF-8 domains: the recipient is kai@Bücher.De; Unicode case folding both ways. C's
    // sender is in bücher.de too, but --domain looks at recipients only.
    check_selection(&q, &["--domain", "bücher.de"], &["D"]);
    check_selection(&q, &["--domain", "BÜCHER.de"], &["D"]);
    // The quoted local part does not hide the domain.
    check_selection(&q, &["--domain", "example.org"], &["F"]);
}

#[test]
fn ages_around_the_limits() {
    let Some(q) = Fixture::build("ages_around_the_limits") else {
        return;
    };
    // Ages: A 10m, E 30m, B 2h, G 5h, F 26h, C 3d, D 2w. Every limit is far from every age.
    check_selection(&q, &["--older-than", "1h"], &["B", "C", "D", "F", "G"]);
    check_selection(&q, &["--older-than", "60m"], &["B", "C", "D", "F", "G"]);
    check_selection(&q, &["--older-than", "3600"], &["B", "C", "D", "F", "G"]);
    check_selection(&q, &["--newer-than", "1h"], &["A", "E"]);
    check_selection(&q, &["--newer-than", "20m"], &["A"]);
    check_selection(&q, &["--older-than", "1h30m"], &["B", "C", "D", "F", "G"]);
    check_selection(&q, &["--older-than", "1d"], &["C", "D", "F"]);
    check_selection(&q, &["--older-than", "1w"], &["D"]);
    check_selection(&q, &["--older-than", "2w1d"], &[]);
    check_selection(
        &q,
        &["--older-than", "1h30m", "--newer-than", "4d"],
        &["B", "C", "F", "G"],
    );
    check_selection(&q, &["--older-than", "3h", "--newer-than", "1d"], &["G"]);
    // An empty window.
    check_selection(&q, &["--older-than", "1d", "--newer-than", "1h"], &[]);
}

#[test]
fn sizes_with_suffixes() {
    let Some(q) = Fixture::build("sizes_with_suffixes") else {
        return;
    };
    // small: A D F G (< 1k); medium: B E (2k..4k); large: C (> 4k).
    check_selection(&q, &["--min-size", "2k"], &["B", "C", "E"]);
    check_selection(&q, &["--min-size", "2K"], &["B", "C", "E"]);
    check_selection(&q, &["--min-size", "2048"], &["B", "C", "E"]);
    check_selection(&q, &["--max-size", "4k"], &["A", "B", "D", "E", "F", "G"]);
    check_selection(&q, &["--max-size", "1k"], &["A", "D", "F", "G"]);
    check_selection(&q, &["--min-size", "2k", "--max-size", "4k"], &["B", "E"]);
    check_selection(&q, &["--min-size", "1M"], &[]);
    // The exact size shown by postqueue is inside both limits.
    let b = q.sizes["B"].to_string();
    check_selection(&q, &["--min-size", &b, "--max-size", &b], &["B"]);
}

#[test]
fn reasons_from_defer_logs() {
    let Some(q) = Fixture::build("reasons_from_defer_logs") else {
        return;
    };
    check_selection(&q, &["--reason", "Connection timed out"], &["A"]);
    // E's reason is on its second recipient.
    check_selection(&q, &["--reason", "Connection refused"], &["E"]);
    check_selection(&q, &["--reason", "(?i)mailbox FULL"], &["B"]);
    check_selection(&q, &["--reason", "refused|timed out"], &["A", "E"]);
    // Any reason at all: the messages with a defer log.
    check_selection(&q, &["--reason", "."], &["A", "B", "E"]);
    check_selection(&q, &["--reason", "^4\\.4\\.1"], &[]);
}

#[test]
fn headers_unfolded_and_only_headers() {
    let Some(q) = Fixture::build("headers_unfolded_and_only_headers") else {
        return;
    };
    // G has "Subject: Invoice fake" in its body: not a header.
    check_selection(&q, &["--header", "^Subject: Invoice"], &["A"]);
    check_selection(
        &q,
        &["--header", "^Subject: "],
        &["A", "B", "C", "D", "E", "F", "G"],
    );
    // The folded header, unfolded (the continuation keeps its leading space); G's body copy
    // of the same text is not a header.
    check_selection(&q, &["--header", "^X-Campaign: spring sale-2024$"], &["C"]);
    check_selection(&q, &["--header", "spring\\s+sale"], &["C"]);
    // The continuation is not a header line of its own.
    check_selection(&q, &["--header", "^ sale"], &[]);
    check_selection(&q, &["--header", "^X-Campaign: spring$"], &[]);
    check_selection(&q, &["--header", "^Subject: Grüße"], &["D"]);
    check_selection(&q, &["--header", "(?i)^subject: lunch$"], &["E"]);
    // The body is never searched.
    check_selection(&q, &["--header", "^line 0000"], &[]);
}

#[test]
fn all_criteria_must_hold() {
    let Some(q) = Fixture::build("all_criteria_must_hold") else {
        return;
    };
    check_selection(
        &q,
        &["--domain", "example.com", "--older-than", "1h"],
        &["B"],
    );
    check_selection(
        &q,
        &["--domain", "example.com", "--newer-than", "1h"],
        &["A", "E"],
    );
    check_selection(
        &q,
        &[
            "--domain",
            "example.com",
            "--min-size",
            "2k",
            "--reason",
            "refused",
        ],
        &["E"],
    );
    check_selection(&q, &["--sender", "^alice@", "--recipient", "mary"], &["F"]);
    check_selection(&q, &["--sender", "^alice@", "--reason", "."], &["A"]);
    check_selection(
        &q,
        &["--sender", "^alice@", "--header", "^Subject: Status"],
        &["G"],
    );
    check_selection(&q, &["--sender", "^alice@", "--header", "Lunch"], &[]);
    check_selection(&q, &["--sender", "^<>$", "--domain", "other.net"], &[]);
    check_selection(
        &q,
        &[
            "--sender",
            "^bob@",
            "--recipient",
            "^gina@",
            "--domain",
            "elsewhere.org",
            "--newer-than",
            "1h",
            "--min-size",
            "2k",
            "--max-size",
            "4k",
            "--reason",
            "refused",
            "--header",
            "^Subject: Lunch$",
        ],
        &["E"],
    );
}

// ------------------------------------------------------------------------------------------
// postsuper: dry run, JSON, real actions, IDs, stdin, bad arguments
// ------------------------------------------------------------------------------------------

#[test]
fn dry_run_for_each_action_changes_nothing() {
    let Some(q) = Fixture::build("dry_run_for_each_action_changes_nothing") else {
        return;
    };
    let before = q.snapshot();
    // (action, selection, expected, verb): -h leaves hold (D) and -H looks only in hold.
    let cases: &[(&str, &[&str], &[&str], &str)] = &[
        ("-d", &["--sender", "^alice@"], &["A", "F", "G"], "delete"),
        ("-h", &["--sender", "^alice@"], &["A", "F", "G"], "hold"),
        ("-h", &["--domain", "bücher.de"], &[], "hold"),
        ("-H", &["--domain", "bücher.de"], &["D"], "release"),
        ("-H", &["--sender", "^alice@"], &[], "release"),
        ("-r", &["--older-than", "1d"], &["C", "D", "F"], "requeue"),
        ("-e", &["--reason", "."], &["A", "B", "E"], "expire"),
    ];
    for (action, selection, expected, verb) in cases {
        let mut args = vec!["--dry-run", action, "ALL"];
        args.extend_from_slice(selection);
        let out = q.postsuper(&args);
        assert_eq!(out.status, 0, "{args:?}: {}", out.summary());
        assert_eq!(set_of(&out.stdout_lines()), q.set(expected), "{args:?}");
        let n = expected.len();
        let plural = if n == 1 { "" } else { "s" };
        assert_eq!(
            out.stderr_lines(),
            vec![format!("postsuper: would {verb} {n} message{plural}")],
            "{args:?}"
        );
        assert_eq!(q.snapshot(), before, "dry run changed the tree: {args:?}");
    }
    // -f on hold: expire and release.
    let out = q.postsuper(&["--dry-run", "-f", "ALL", "--older-than", "1d"]);
    assert_eq!(out.status, 0, "{}", out.summary());
    assert_eq!(set_of(&out.stdout_lines()), q.set(&["C", "D", "F"]));
    assert_eq!(
        out.stderr_lines(),
        vec![
            "postsuper: would expire 3 messages",
            "postsuper: would release 1 message"
        ]
    );
    assert_eq!(q.snapshot(), before);
}

#[test]
fn json_output_has_the_documented_fields() {
    let Some(q) = Fixture::build("json_output_has_the_documented_fields") else {
        return;
    };
    let parse = |out: &Run| -> Vec<serde_json::Value> {
        out.stdout
            .lines()
            .map(|line| {
                serde_json::from_str(line).unwrap_or_else(|e| panic!("JSON line {line:?}: {e}"))
            })
            .collect()
    };
    let check_fields = |object: &serde_json::Value| {
        let keys: BTreeSet<&str> = object
            .as_object()
            .expect("a JSON object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            BTreeSet::from(["id", "queue", "action", "result"]),
            "{object}"
        );
    };

    // Dry run: result "dry-run", nothing changes.
    let before = q.snapshot();
    let out = q.postsuper(&[
        "--format",
        "json",
        "--dry-run",
        "-r",
        "ALL",
        "--sender",
        "^alice@",
    ]);
    assert_eq!(out.status, 0, "{}", out.summary());
    assert_eq!(q.snapshot(), before);
    let objects = parse(&out);
    let mut seen = BTreeMap::new();
    for object in &objects {
        check_fields(object);
        assert_eq!(object["action"], "requeue");
        assert_eq!(object["result"], "dry-run");
        seen.insert(
            object["id"].as_str().expect("id").to_string(),
            object["queue"].as_str().expect("queue").to_string(),
        );
    }
    let expected: BTreeMap<String, String> =
        [("A", "deferred"), ("F", "active"), ("G", "deferred")]
            .iter()
            .map(|(key, queue)| (q.id(key).to_string(), queue.to_string()))
            .collect();
    assert_eq!(seen, expected);
    assert_eq!(objects.len(), 3);
    assert_eq!(
        out.stderr_lines(),
        vec!["postsuper: would requeue 3 messages"]
    );

    // For real: result "done", the per-ID lines and the summary on stderr.
    let out = q.postsuper(&["--format", "json", "-d", "ALL", "--domain", "example.com"]);
    assert_eq!(out.status, 0, "{}", out.summary());
    let objects = parse(&out);
    assert_eq!(objects.len(), 3, "{}", out.summary());
    let mut ids = BTreeSet::new();
    for object in &objects {
        check_fields(object);
        assert_eq!(object["queue"], "deferred");
        assert_eq!(object["action"], "delete");
        assert_eq!(object["result"], "done");
        ids.insert(object["id"].as_str().expect("id").to_string());
    }
    assert_eq!(ids, q.set(&["A", "B", "E"]));
    for key in ["A", "B", "E"] {
        assert_eq!(q.locate(key), None, "{key} should be deleted");
    }
    let stderr = out.stderr_lines();
    assert_eq!(stderr.last(), Some(&"postsuper: Deleted: 3 messages"));
    assert_eq!(
        set_of(&stderr[..stderr.len() - 1]),
        q.set(&["A", "B", "E"])
            .iter()
            .map(|id| format!("postsuper: {id}: removed"))
            .collect()
    );
    // Nothing selected: no JSON at all.
    let out = q.postsuper(&["--format", "json", "-d", "ALL", "--domain", "example.com"]);
    assert_eq!(out.status, 0, "{}", out.summary());
    assert_eq!(out.stdout, "");
    assert_eq!(out.stderr_lines(), vec!["postsuper: Deleted: 0 messages"]);
}

#[test]
fn delete_removes_exactly_the_selected_messages_and_their_logs() {
    let Some(q) = Fixture::build("delete_removes_exactly_the_selected") else {
        return;
    };
    let before = q.snapshot();
    let out = q.postsuper(&["-d", "ALL", "--domain", "example.com"]);
    assert_eq!(out.status, 0, "{}", out.summary());
    assert_eq!(
        out.stdout, "",
        "text output without --dry-run prints nothing on stdout"
    );
    let selected = q.set(&["A", "B", "E"]);
    let stderr = out.stderr_lines();
    assert_eq!(stderr.last(), Some(&"postsuper: Deleted: 3 messages"));
    assert_eq!(
        set_of(&stderr[..stderr.len() - 1]),
        selected
            .iter()
            .map(|id| format!("postsuper: {id}: removed"))
            .collect()
    );
    for key in ["A", "B", "E"] {
        assert_eq!(q.locate(key), None, "{key} should be deleted");
        assert!(!q.has_defer_log(key), "{key}'s defer log should be deleted");
    }
    assert_eq!(q.locate("C"), Some(("deferred", 0o700)));
    assert_eq!(q.locate("D"), Some(("hold", 0o700)));
    assert_eq!(q.locate("F"), Some(("active", 0o700)));
    assert_eq!(q.locate("G"), Some(("deferred", 0o700)));
    assert_only_changed(&before, &q.snapshot(), &selected);
    let (listed, _) = q.listed(&[]);
    assert_eq!(listed, q.set(&["C", "D", "F", "G"]));
}

#[test]
fn hold_release_requeue_expire_move_exactly_the_selected_files() {
    let Some(q) = Fixture::build("hold_release_requeue_expire") else {
        return;
    };
    let summary_and_lines = |out: &Run, summary: &[&str], keys: &[&str], what: &str| {
        assert_eq!(out.status, 0, "{}", out.summary());
        let stderr = out.stderr_lines();
        let (lines, tail) = stderr.split_at(stderr.len() - summary.len());
        assert_eq!(tail, summary, "{}", out.summary());
        assert_eq!(
            set_of(lines),
            q.set(keys)
                .iter()
                .map(|id| format!("postsuper: {id}: {what}"))
                .collect(),
            "{}",
            out.summary()
        );
    };

    // Hold what is older than an hour: B, C, F, G (D is already on hold).
    let before = q.snapshot();
    let out = q.postsuper(&["-h", "ALL", "--older-than", "1h"]);
    summary_and_lines(
        &out,
        &["postsuper: Placed on hold: 4 messages"],
        &["B", "C", "F", "G"],
        "placed on hold",
    );
    for key in ["B", "C", "D", "F", "G"] {
        assert_eq!(q.locate(key), Some(("hold", 0o700)), "{key}");
    }
    assert_eq!(q.locate("A"), Some(("deferred", 0o700)));
    assert_eq!(q.locate("E"), Some(("deferred", 0o700)));
    // Defer logs stay where they are.
    assert!(q.has_defer_log("B"));
    assert_only_changed(&before, &q.snapshot(), &q.set(&["B", "C", "F", "G"]));

    // Release only the held ones with a recipient at other.net: C and G.
    let before = q.snapshot();
    let out = q.postsuper(&["-H", "ALL", "--domain", "other.net"]);
    summary_and_lines(
        &out,
        &["postsuper: Released from hold: 2 messages"],
        &["C", "G"],
        "released from hold",
    );
    assert_eq!(q.locate("C"), Some(("deferred", 0o700)));
    assert_eq!(q.locate("G"), Some(("deferred", 0o700)));
    for key in ["B", "D", "F"] {
        assert_eq!(q.locate(key), Some(("hold", 0o700)), "{key}");
    }
    assert_only_changed(&before, &q.snapshot(), &q.set(&["C", "G"]));

    // Requeue the ones with a deferral reason (A, E in deferred; B in hold).
    let before = q.snapshot();
    let out = q.postsuper(&["-r", "ALL", "--reason", "."]);
    summary_and_lines(
        &out,
        &["postsuper: Requeued: 3 messages"],
        &["A", "B", "E"],
        "requeued",
    );
    for key in ["A", "B", "E"] {
        assert_eq!(q.locate(key), Some(("maildrop", 0o700)), "{key}");
    }
    assert_only_changed(&before, &q.snapshot(), &q.set(&["A", "B", "E"]));

    // Expire the large one (C, in deferred): mode 0710 in place.
    let before = q.snapshot();
    let out = q.postsuper(&["-e", "ALL", "--min-size", "4k"]);
    summary_and_lines(
        &out,
        &["postsuper: Force-expired: 1 message"],
        &["C"],
        "expired",
    );
    assert_eq!(q.locate("C"), Some(("deferred", 0o710)));
    assert_only_changed(&before, &q.snapshot(), &q.set(&["C"]));

    // -f on the held D: expired and released.
    let before = q.snapshot();
    let out = q.postsuper(&["-f", "ALL", "--sender", "^\"john doe\"@"]);
    assert_eq!(out.status, 0, "{}", out.summary());
    let id = q.id("D");
    assert_eq!(
        out.stderr_lines(),
        vec![
            format!("postsuper: {id}: expired"),
            format!("postsuper: {id}: released from hold"),
            "postsuper: Force-expired: 1 message".to_string(),
            "postsuper: Released from hold: 1 message".to_string(),
        ]
    );
    assert_eq!(q.locate("D"), Some(("deferred", 0o710)));
    assert_only_changed(&before, &q.snapshot(), &q.set(&["D"]));
    // B and F are untouched on hold still.
    assert_eq!(q.locate("B"), Some(("maildrop", 0o700)));
    assert_eq!(q.locate("F"), Some(("hold", 0o700)));
}

#[test]
fn ids_on_stdin_are_narrowed_by_the_selection() {
    let Some(q) = Fixture::build("ids_on_stdin_are_narrowed") else {
        return;
    };
    let stdin = format!(
        "{}\n{}\n{}\n{}\n",
        q.id("A"),
        q.id("B"),
        q.id("C"),
        q.id("D")
    );
    // Dry run first: of A B C D, only A and B have a recipient in example.com.
    let before = q.snapshot();
    let out = q.postsuper_with_stdin(
        &["--dry-run", "-d", "-", "--domain", "example.com"],
        stdin.as_bytes(),
    );
    assert_eq!(out.status, 0, "{}", out.summary());
    assert_eq!(set_of(&out.stdout_lines()), q.set(&["A", "B"]));
    assert_eq!(
        out.stderr_lines(),
        vec!["postsuper: would delete 2 messages"]
    );
    assert_eq!(q.snapshot(), before);

    // For real. E (in example.com, but not on stdin) stays.
    let out = q.postsuper_with_stdin(&["-d", "-", "--domain", "example.com"], stdin.as_bytes());
    assert_eq!(out.status, 0, "{}", out.summary());
    let stderr = out.stderr_lines();
    assert_eq!(stderr.last(), Some(&"postsuper: Deleted: 2 messages"));
    assert_eq!(
        set_of(&stderr[..stderr.len() - 1]),
        q.set(&["A", "B"])
            .iter()
            .map(|id| format!("postsuper: {id}: removed"))
            .collect()
    );
    assert_eq!(q.locate("A"), None);
    assert_eq!(q.locate("B"), None);
    assert_eq!(q.locate("C"), Some(("deferred", 0o700)));
    assert_eq!(q.locate("D"), Some(("hold", 0o700)));
    assert_eq!(q.locate("E"), Some(("deferred", 0o700)));
    assert_only_changed(&before, &q.snapshot(), &q.set(&["A", "B"]));

    // Held by ID list: D is already on hold and -h does not search hold; C is held.
    let before = q.snapshot();
    let stdin = format!("{}\n{}\n", q.id("C"), q.id("D"));
    let out = q.postsuper_with_stdin(&["-h", "-", "--sender", "."], stdin.as_bytes());
    assert_eq!(out.status, 0, "{}", out.summary());
    assert_eq!(
        out.stderr_lines(),
        vec![
            format!("postsuper: {}: placed on hold", q.id("C")),
            "postsuper: Placed on hold: 1 message".to_string(),
        ]
    );
    assert_eq!(q.locate("C"), Some(("hold", 0o700)));
    assert_only_changed(&before, &q.snapshot(), &q.set(&["C"]));
}

#[test]
fn a_given_id_that_does_not_match_is_left_alone() {
    let Some(q) = Fixture::build("a_given_id_that_does_not_match") else {
        return;
    };
    let before = q.snapshot();
    // C has no recipient in example.com (dora is at badexample.com).
    let out = q.postsuper(&["-d", q.id("C"), "--domain", "example.com"]);
    assert_eq!(out.status, 0, "{}", out.summary());
    assert_eq!(out.stdout, "");
    assert_eq!(out.stderr_lines(), vec!["postsuper: Deleted: 0 messages"]);
    assert_eq!(q.snapshot(), before);

    let out = q.postsuper(&["--dry-run", "-h", q.id("C"), "--newer-than", "1d"]);
    assert_eq!(out.status, 0, "{}", out.summary());
    assert_eq!(out.stdout, "");
    assert_eq!(out.stderr_lines(), vec!["postsuper: would hold 0 messages"]);
    assert_eq!(q.snapshot(), before);

    // And one that does match is acted on.
    let out = q.postsuper(&["-h", q.id("C"), "--older-than", "1d"]);
    assert_eq!(out.status, 0, "{}", out.summary());
    assert_eq!(
        out.stderr_lines(),
        vec![
            format!("postsuper: {}: placed on hold", q.id("C")),
            "postsuper: Placed on hold: 1 message".to_string(),
        ]
    );
    assert_eq!(q.locate("C"), Some(("hold", 0o700)));
    assert_only_changed(&before, &q.snapshot(), &q.set(&["C"]));
}

#[test]
fn bad_criteria_are_fatal_before_anything_changes() {
    let Some(q) = Fixture::build("bad_criteria_are_fatal") else {
        return;
    };
    let before = q.snapshot();
    let cases: &[(&[&str], &str)] = &[
        (
            &["--sender", "("],
            "postsuper: fatal: bad regular expression for --sender: \"(\"",
        ),
        (
            &["--recipient", "[z-a]"],
            "postsuper: fatal: bad regular expression for --recipient: \"[z-a]\"",
        ),
        (
            &["--reason", "a{2,1}"],
            "postsuper: fatal: bad regular expression for --reason: \"a{2,1}\"",
        ),
        (
            &["--header", "(?P<"],
            "postsuper: fatal: bad regular expression for --header: \"(?P<\"",
        ),
        (
            &["--older-than", "3x"],
            "postsuper: fatal: bad duration: \"3x\"",
        ),
        (
            &["--newer-than", "h"],
            "postsuper: fatal: bad duration: \"h\"",
        ),
        (
            &["--older-than", ""],
            "postsuper: fatal: bad duration: \"\"",
        ),
        (
            &["--min-size", "12q"],
            "postsuper: fatal: bad size: \"12q\"",
        ),
        (&["--max-size", "-5"], "postsuper: fatal: bad size: \"-5\""),
        (&["--max-size", "k"], "postsuper: fatal: bad size: \"k\""),
        (&["--domain", ""], "postsuper: fatal: bad domain: \"\""),
        (
            &["--domain", "a@b.com"],
            "postsuper: fatal: bad domain: \"a@b.com\"",
        ),
    ];
    for (selection, start) in cases {
        // A valid criterion next to the bad one, and the bad one after the action.
        for action in [["-d", "ALL"], ["-h", "ALL"]] {
            let mut args = vec![action[0], action[1], "--domain", "example.com"];
            args.extend_from_slice(selection);
            let out = q.postsuper(&args);
            assert_eq!(out.status, 1, "{args:?}: {}", out.summary());
            assert_eq!(out.stdout, "", "{args:?}");
            let stderr = out.stderr_lines();
            assert_eq!(stderr.len(), 1, "{args:?}: {}", out.summary());
            assert!(
                stderr[0].starts_with(start),
                "{args:?}: expected {start:?}...: {}",
                out.summary()
            );
            assert_eq!(q.snapshot(), before, "{args:?} changed the tree");
        }
        // postqueue refuses the same arguments.
        let mut args = vec!["-p"];
        args.extend_from_slice(selection);
        let out = q.postqueue(&args);
        assert_ne!(out.status, 0, "postqueue {args:?}: {}", out.summary());
        assert_eq!(out.stdout, "", "postqueue {args:?}");
        let expected = start.replacen("postsuper:", "postqueue:", 1);
        assert!(
            out.stderr.starts_with(&expected),
            "postqueue {args:?}: expected {expected:?}...: {}",
            out.summary()
        );
    }
    // --format with a bad value, too.
    let out = q.postsuper(&["-d", "ALL", "--format", "yaml"]);
    assert_eq!(out.status, 1, "{}", out.summary());
    assert!(
        out.stderr
            .starts_with("postsuper: fatal: bad --format: \"yaml\""),
        "{}",
        out.summary()
    );
    assert_eq!(q.snapshot(), before);
}

/// The same ID twice on stdin names one message: it is selected and acted on once, with no
/// second result and no warning.
#[test]
fn a_duplicate_id_is_acted_on_once() {
    let Some(q) = Fixture::build("a_duplicate_id_is_acted_on_once") else {
        return;
    };
    let before = q.snapshot();
    let id = q.id("A").to_string();
    let stdin = format!("{id}\n{id}\n");
    let out = q.postsuper_with_stdin(
        &["--format", "json", "-d", "-", "--domain", "example.com"],
        stdin.as_bytes(),
    );
    assert_eq!(out.status, 0, "{}", out.summary());
    let results: Vec<(String, String)> = out
        .stdout
        .lines()
        .map(|line| {
            let object: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("JSON {line:?}: {e}"));
            (
                object["id"].as_str().expect("id").to_string(),
                object["result"].as_str().expect("result").to_string(),
            )
        })
        .collect();
    assert_eq!(results, vec![(id.clone(), "done".into())]);
    assert_eq!(
        out.stderr_lines(),
        vec![
            format!("postsuper: {id}: removed"),
            "postsuper: Deleted: 1 message".to_string(),
        ]
    );
    assert_eq!(q.locate("A"), None);
    assert!(!q.has_defer_log("A"));
    assert_only_changed(&before, &q.snapshot(), &q.set(&["A"]));
}

/// With the same ID twice on stdin, `--dry-run` lists it once and counts one message, as the
/// real run acts on it once.
#[test]
fn dry_run_counts_a_duplicate_id_once() {
    let Some(q) = Fixture::build("dry_run_counts_a_duplicate_id_once") else {
        return;
    };
    let id = q.id("C").to_string();
    let stdin = format!("{id}\n{id}\n");
    let out = q.postsuper_with_stdin(&["--dry-run", "-h", "-", "--sender", "."], stdin.as_bytes());
    assert_eq!(out.status, 0, "{}", out.summary());
    assert_eq!(out.stdout_lines(), vec![id.as_str()], "{}", out.summary());
    assert_eq!(
        out.stderr_lines(),
        vec!["postsuper: would hold 1 message"],
        "{}",
        out.summary()
    );
}

/// Several actions in one run each select again: `-h E -d E` holds E, then deletes it from
/// hold; the summary lines come in Postfix's fixed order (Deleted before Placed on hold).
#[test]
fn several_actions_each_select_again() {
    let Some(q) = Fixture::build("several_actions_each_select_again") else {
        return;
    };
    let before = q.snapshot();
    let id = q.id("E").to_string();
    let out = q.postsuper(&["-h", &id, "-d", &id, "--sender", "^bob@"]);
    assert_eq!(out.status, 0, "{}", out.summary());
    assert_eq!(
        out.stderr_lines(),
        vec![
            format!("postsuper: {id}: placed on hold"),
            format!("postsuper: {id}: removed"),
            "postsuper: Deleted: 1 message".to_string(),
            "postsuper: Placed on hold: 1 message".to_string(),
        ]
    );
    assert_eq!(q.locate("E"), None);
    assert!(!q.has_defer_log("E"));
    assert_only_changed(&before, &q.snapshot(), &q.set(&["E"]));
}
