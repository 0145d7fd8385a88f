//! Live compatibility of `postsuper` with real Postfix 3.7: the operation matrix.
//!
//! Real Postfix builds two base queues in private instances (short queue IDs, and
//! `enable_long_queue_ids = yes`) with mail in every state: deferred with defer logs, held,
//! force-expired, incoming, maildrop, active, with bounce, trace and flush logs. A second
//! variant of each base adds hand-made oddities (temporary files young and old, a fifo, stray
//! directories, misplaced files, `#FIX` names, names with a wrong inode part, long names in a
//! short-ID queue). The master is stopped before the matrix runs.
//!
//! Each case copies a base twice (`cp -a`), runs the real postsuper on one copy and ours on the
//! other with the same arguments and stdin, and compares the exit status, stdout, stderr and
//! the tree left behind (path, type, mode, owner, content and whether the mtime was kept, set
//! to about now, or changed otherwise).
//!
//! A copy gives every file a new inode, and short queue IDs (and long ones) end in the inode
//! number, so a repair pass renames files differently in the two copies. Names are therefore
//! normalised: a message file whose name ends in its own inode number shows as `PREFIX{ino}`
//! (long IDs `TIMEz{ino}`), a log file or a message named in stderr whose inode part is that of
//! a message file with the same prefix likewise; any other name stays as it is, so a name that
//! does not match its file shows up as a difference. Cases that need names to match their
//! inodes first run the real `postsuper -S` on both copies ("prepared" copies).
//!
//! Warnings printed while walking a directory (`bogus file name`, `name/inode mismatch`,
//! `remove subdirectory`) come in readdir order, which differs once names differ: each run of
//! them is compared sorted. Cases whose outcome depends on readdir order otherwise (a walk
//! that dies half way) run on fresh copies, where both copies hold the same names.
//!
//! Every case also states what the real postsuper must do (exit status, lines it must print):
//! a case whose real run does not match is a harness failure, so a case cannot pass by
//! comparing two runs that did nothing.
//!
//! Environment: `PQT_POSTSUPER_SELFTEST=1` runs the real postsuper on both sides (every case
//! must then pass, which checks the normalisation); `PQT_POSTSUPER_OURS=PROGRAM` tests another
//! program; `PQT_POSTSUPER_ONLY=TEXT` runs only the cases whose label contains TEXT;
//! `PQT_POSTSUPER_SHOW=TEXT` prints the normalised stderr and tree of those cases;
//! `PQT_KEEP_INSTANCES=1` keeps the copies of failing cases.
//!
//! Needs root and an installed Postfix; otherwise every test records SKIP (and fails under
//! `CI=true`). Results go to `$PQT_COMPAT_RESULTS`, suite "postsuper".

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ffi::CString;
use std::fmt::Write as _;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;

const SUITE: &str = "postsuper";
const OUR_POSTSUPER: &str = env!("CARGO_BIN_EXE_postsuper");

/// The message queues; everything else postsuper walks holds log files.
const MESSAGE_QUEUES: [&str; 5] = ["maildrop", "incoming", "active", "deferred", "hold"];

/// `PQT_POSTSUPER_SELFTEST=1`: "ours" is the real postsuper too.
fn selftest() -> bool {
    std::env::var_os("PQT_POSTSUPER_SELFTEST").is_some_and(|v| !v.is_empty() && v != "0")
}

/// The postsuper under test: ours, the real one under `PQT_POSTSUPER_SELFTEST=1`, or any
/// program named by `PQT_POSTSUPER_OURS` (to check that the matrix catches a broken clone).
fn ours_program() -> String {
    if let Some(program) = std::env::var_os("PQT_POSTSUPER_OURS") {
        return program.to_string_lossy().into_owned();
    }
    if selftest() {
        REAL_POSTSUPER.to_string()
    } else {
        OUR_POSTSUPER.to_string()
    }
}

/// How result lines name the program under test.
fn ours_label() -> String {
    if std::env::var_os("PQT_POSTSUPER_OURS").is_some() {
        ours_program()
    } else if selftest() {
        "real (selftest)".to_string()
    } else {
        "ours".to_string()
    }
}

// ------------------------------------------------------------------------------------------
// Queue ID arithmetic (independent of the crates under test)
// ------------------------------------------------------------------------------------------

/// The long queue ID alphabet; base 51 (inode numbers) leaves out the final `z`.
const SAFE_CHARS: &[u8] = b"0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz";

fn encode_safe(mut value: u64, base: u64, pad: usize) -> String {
    let mut digits = Vec::new();
    loop {
        digits.push(SAFE_CHARS[(value % base) as usize]);
        value /= base;
        if value == 0 {
            break;
        }
    }
    while digits.len() < pad {
        digits.push(b'0');
    }
    digits.reverse();
    String::from_utf8(digits).expect("ASCII")
}

fn decode_safe(text: &str, base: u64) -> Option<u64> {
    if text.is_empty() {
        return None;
    }
    let mut value: u64 = 0;
    for byte in text.bytes() {
        let digit = SAFE_CHARS[..base as usize]
            .iter()
            .position(|&c| c == byte)? as u64;
        value = value.checked_mul(base)?.checked_add(digit)?;
    }
    Some(value)
}

/// A long name split at its last `z` (at offset 10 or more): (time part, inode part).
fn long_parts(name: &str) -> Option<(&str, &str)> {
    let at = name.rfind('z')?;
    (at >= 10).then(|| (&name[..at], &name[at + 1..]))
}

/// A short name split into its 5-character prefix and the inode number it names (upper-case
/// hex, as Postfix writes it).
fn short_parts(name: &str) -> Option<(&str, u64)> {
    if name.len() < 6
        || !name
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
    {
        return None;
    }
    let inode = u64::from_str_radix(&name[5..], 16).ok()?;
    Some((&name[..5], inode))
}

fn strip_fix(name: &str) -> (&str, &str) {
    match name.strip_suffix("#FIX") {
        Some(stem) if !stem.is_empty() => (stem, "#FIX"),
        _ => (name, ""),
    }
}

/// A long queue ID from its parts (seconds, microseconds, inode number).
fn long_id(seconds: u64, microseconds: u64, inode: u64) -> String {
    format!(
        "{}{}z{}",
        encode_safe(seconds, 52, 6),
        encode_safe(microseconds, 52, 4),
        encode_safe(inode, 51, 0)
    )
}

/// The hash directory (depth 1) of a queue ID, as Postfix computes it: long IDs hash on their
/// microseconds in `%05X`.
fn hash_char(name: &str) -> char {
    if let Some((time, _)) = long_parts(name) {
        let usec = decode_safe(&time[time.len() - 4..], 52).unwrap_or(0);
        return format!("{usec:05X}").chars().next().unwrap_or('0');
    }
    name.chars().next().unwrap_or('_')
}

// ------------------------------------------------------------------------------------------
// Files
// ------------------------------------------------------------------------------------------

fn chown_postfix(path: &Path) {
    let (uid, gid) = postfix_ids();
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))
        .unwrap_or_else(|e| panic!("chown {}: {e}", path.display()));
}

fn mkdir_postfix(path: &Path) {
    if !path.exists() {
        fs::create_dir_all(path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
    }
    set_mode(path, 0o700);
    chown_postfix(path);
}

/// A file owned by postfix with the given mode, `age` in the past when given.
fn make_file(path: &Path, bytes: &[u8], mode: u32, age: Option<Duration>) {
    if let Some(parent) = path.parent() {
        if !parent.exists() {
            mkdir_postfix(parent);
        }
    }
    fs::write(path, bytes).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    set_mode(path, mode);
    chown_postfix(path);
    if let Some(age) = age {
        backdate(path, age);
    }
}

fn mkfifo(path: &Path) {
    let c_path = CString::new(path.as_os_str().as_bytes()).expect("no NUL in path");
    // SAFETY: a valid NUL-terminated path.
    let result = unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) };
    assert_eq!(result, 0, "mkfifo {}", path.display());
    chown_postfix(path);
}

fn rename(from: &Path, to: &Path) {
    if let Some(parent) = to.parent() {
        if !parent.exists() {
            mkdir_postfix(parent);
        }
    }
    fs::rename(from, to)
        .unwrap_or_else(|e| panic!("rename {} {}: {e}", from.display(), to.display()));
}

fn relative(spool: &Path, path: &Path) -> String {
    path.strip_prefix(spool)
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned()
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn cp_a(from: &Path, to: &Path) {
    let status = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .expect("run cp");
    assert!(
        status.success(),
        "cp -a {} {}",
        from.display(),
        to.display()
    );
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

fn now_seconds() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

// ------------------------------------------------------------------------------------------
// Tree snapshots and normalisation
// ------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Entry {
    rel: String,
    kind: char,
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: (i64, i64),
    ino: u64,
    size: u64,
    sum: Option<u64>,
}

impl Entry {
    fn name(&self) -> &str {
        self.rel.rsplit('/').next().unwrap_or(&self.rel)
    }

    fn queue(&self) -> &str {
        self.rel.split('/').next().unwrap_or("")
    }

    fn is_message(&self) -> bool {
        self.kind == 'f' && self.rel.contains('/') && MESSAGE_QUEUES.contains(&self.queue())
    }
}

/// Everything under a spool but the daemons' sockets and pid files.
fn snapshot(spool: &Path) -> Vec<Entry> {
    fn walk(spool: &Path, dir: &Path, out: &mut Vec<Entry>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let rel = relative(spool, &path);
            if dir == spool && ["public", "private", "pid"].contains(&rel.as_str()) {
                continue;
            }
            let Ok(meta) = fs::symlink_metadata(&path) else {
                continue;
            };
            let kind = meta.file_type();
            let kind = if kind.is_dir() {
                'd'
            } else if kind.is_file() {
                'f'
            } else if kind.is_fifo() {
                'p'
            } else if kind.is_symlink() {
                'l'
            } else if kind.is_socket() {
                's'
            } else {
                '?'
            };
            let sum = (kind == 'f').then(|| fnv1a(&fs::read(&path).unwrap_or_default()));
            out.push(Entry {
                rel,
                kind,
                mode: meta.mode() & 0o7777,
                uid: meta.uid(),
                gid: meta.gid(),
                mtime: (meta.mtime(), meta.mtime_nsec()),
                ino: meta.ino(),
                size: meta.size(),
                sum,
            });
            if kind == 'd' {
                walk(spool, &path, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(spool, spool, &mut out);
    out
}

/// Knows, for one copy, which inode numbers the message files with a given name prefix have,
/// so that names made from an inode number read the same in both copies.
#[derive(Debug, Default)]
struct Names {
    short: HashMap<String, BTreeSet<u64>>,
    long: HashMap<String, BTreeSet<u64>>,
}

impl Names {
    fn learn(snapshots: &[&[Entry]]) -> Self {
        let mut names = Names::default();
        for entry in snapshots.iter().flat_map(|s| s.iter()) {
            if !entry.is_message() {
                continue;
            }
            let (stem, _) = strip_fix(entry.name());
            if let Some((time, _)) = long_parts(stem) {
                names
                    .long
                    .entry(time.to_string())
                    .or_default()
                    .insert(entry.ino);
            } else if stem.len() > 5 && stem.is_char_boundary(5) {
                names
                    .short
                    .entry(stem[..5].to_string())
                    .or_default()
                    .insert(entry.ino);
            }
        }
        names
    }

    /// A name whose inode part is that of some message file with the same prefix.
    fn token(&self, token: &str) -> Option<String> {
        let (stem, suffix) = strip_fix(token);
        if let Some((time, inode)) = long_parts(stem) {
            let inode = decode_safe(inode, 51)?;
            return self
                .long
                .get(time)
                .is_some_and(|set| set.contains(&inode))
                .then(|| format!("{time}z{{ino}}{suffix}"));
        }
        let (prefix, inode) = short_parts(stem)?;
        self.short
            .get(prefix)
            .is_some_and(|set| set.contains(&inode))
            .then(|| format!("{prefix}{{ino}}{suffix}"))
    }

    /// A message file's name, normalised only when it ends in the file's own inode number.
    fn own(name: &str, ino: u64) -> Option<String> {
        let (stem, suffix) = strip_fix(name);
        if let Some((time, inode)) = long_parts(stem) {
            return (decode_safe(inode, 51) == Some(ino))
                .then(|| format!("{time}z{{ino}}{suffix}"));
        }
        let (prefix, inode) = short_parts(stem)?;
        (inode == ino).then(|| format!("{prefix}{{ino}}{suffix}"))
    }

    /// Replaces every alphanumeric token (plus `#FIX`) that is an inode-made name.
    fn text(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut token = String::new();
        let flush = |token: &mut String, out: &mut String| {
            if !token.is_empty() {
                match self.token(token) {
                    Some(label) => out.push_str(&label),
                    None => out.push_str(token),
                }
                token.clear();
            }
        };
        for c in text.chars() {
            if c.is_ascii_alphanumeric() {
                token.push(c);
            } else {
                flush(&mut token, &mut out);
                out.push(c);
            }
        }
        flush(&mut token, &mut out);
        out
    }

    fn path(&self, entry: &Entry) -> String {
        let components: Vec<&str> = entry.rel.split('/').collect();
        let last = components.len() - 1;
        components
            .iter()
            .enumerate()
            .map(|(i, component)| {
                if i == last && entry.is_message() {
                    Self::own(component, entry.ino).unwrap_or_else(|| component.to_string())
                } else {
                    self.token(component)
                        .unwrap_or_else(|| component.to_string())
                }
            })
            .collect::<Vec<_>>()
            .join("/")
    }
}

/// The tree after a run, one line per entry, sorted. `window` is [start, end] of the run in
/// whole seconds.
fn render_tree(pre: &[Entry], post: &[Entry], names: &Names, window: (i64, i64)) -> String {
    let before: HashMap<u64, (i64, i64)> = pre.iter().map(|e| (e.ino, e.mtime)).collect();
    let mut lines: Vec<String> = post
        .iter()
        .map(|e| {
            let class = if before.get(&e.ino) == Some(&e.mtime) {
                "kept"
            } else if e.mtime.0 >= window.0 - 1 && e.mtime.0 <= window.1 + 1 {
                "now"
            } else {
                "changed"
            };
            let mut line = format!(
                "{} {} {:04o} {}:{} mtime={class}",
                names.path(e),
                e.kind,
                e.mode,
                e.uid,
                e.gid
            );
            if let Some(sum) = e.sum {
                let _ = write!(line, " size={} fnv={sum:016x}", e.size);
            }
            line.push('\n');
            line
        })
        .collect();
    lines.sort();
    lines.concat()
}

/// Lines whose order follows readdir order (unspecified, and different in the two copies once
/// names differ): each run of them is sorted.
fn is_walk_line(line: &str) -> bool {
    [
        ": warning: bogus file name: ",
        ": warning: name/inode mismatch: ",
        ": warning: remove subdirectory ",
    ]
    .iter()
    .any(|marker| line.contains(marker))
}

fn sort_walk_runs(text: &str) -> String {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut out = String::new();
    let mut i = 0;
    while i < lines.len() {
        if is_walk_line(lines[i]) {
            let start = i;
            while i < lines.len() && is_walk_line(lines[i]) {
                i += 1;
            }
            let mut run: Vec<String> = lines[start..i]
                .iter()
                .map(|l| {
                    let mut l = l.to_string();
                    if !l.ends_with('\n') {
                        l.push('\n');
                    }
                    l
                })
                .collect();
            run.sort();
            out.push_str(&run.concat());
        } else {
            out.push_str(lines[i]);
            i += 1;
        }
    }
    out
}

// ------------------------------------------------------------------------------------------
// Base queues
// ------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    /// Mail as real Postfix left it.
    Clean,
    /// Plus hand-made oddities.
    Odd,
}

/// A base queue: the clean spool of a stopped instance, and an odd copy of it.
#[derive(Debug)]
struct Base {
    pf: PostfixInstance,
    odd: tempfile::TempDir,
    main_cf: String,
    master_cf: String,
    clean_keys: BTreeMap<&'static str, String>,
    odd_keys: BTreeMap<&'static str, String>,
}

impl Base {
    fn spool(&self, variant: Variant) -> PathBuf {
        match variant {
            Variant::Clean => self.pf.spool.clone(),
            Variant::Odd => self.odd.path().join("spool"),
        }
    }

    fn keys(&self, variant: Variant) -> &BTreeMap<&'static str, String> {
        match variant {
            Variant::Clean => &self.clean_keys,
            Variant::Odd => &self.odd_keys,
        }
    }
}

fn deferred(n: usize) -> Settle {
    Settle {
        deferred: Some(n),
        ..Settle::default()
    }
}

/// Starts the instance's master directly with a master.cf without qmgr and pickup: mail sent
/// over SMTP stays in incoming/.
fn start_without_qmgr(pf: &mut PostfixInstance) {
    let etc = pf.root.join("etc-noqmgr");
    fs::create_dir_all(&etc).expect("mkdir etc-noqmgr");
    fs::copy(pf.etc.join("main.cf"), etc.join("main.cf")).expect("copy main.cf");
    let master = fs::read_to_string(pf.etc.join("master.cf")).expect("read master.cf");
    let filtered: String = master
        .lines()
        .filter(|l| !l.starts_with("qmgr ") && !l.starts_with("pickup "))
        .map(|l| format!("{l}\n"))
        .collect();
    fs::write(etc.join("master.cf"), filtered).expect("write master.cf");
    backdate_config(&etc);
    let outcome = Invocation::new("/usr/lib/postfix/sbin/master")
        .arg("-c")
        .arg(&etc)
        .arg("-w")
        .run();
    assert_eq!(
        outcome.status,
        0,
        "master without qmgr: {}\n{}",
        outcome.summary(),
        pf.maillog_tail()
    );
    pf.adopt_master();
}

fn find(pf: &PostfixInstance, queue: &str, id: &str) -> PathBuf {
    files_under(&pf.spool.join(queue))
        .into_iter()
        .find(|p| file_name(p) == id)
        .unwrap_or_else(|| panic!("{id} is not in {queue}"))
}

fn log_record(recipient: &str, status: &str, action: &str, reason: &str) -> Vec<u8> {
    format!(
        "recipient={recipient}\noffset=300\ndsn_orig_rcpt=rfc822;{recipient}\n\
         notify_flags=0\nstatus={status}\naction={action}\nreason={reason}\n\n"
    )
    .into_bytes()
}

/// Builds a base: real mail in every state, the master stopped, then the odd variant.
fn build_base(long_ids: bool) -> Base {
    let options = InstanceOptions {
        long_queue_ids: long_ids,
        extra_main_cf: vec![("fast_flush_domains".into(), "slow.example".into())],
        ..InstanceOptions::default()
    };
    let mut pf = PostfixInstance::new(
        if long_ids {
            "postsuper-long"
        } else {
            "postsuper-short"
        },
        options,
    );
    pf.start();
    // Deferred mail (retry: transports), each with a defer log.
    let deferred_mail: [(&str, &[&[u8]]); 8] = [
        ("D1", &[b"a@slow.example"]),
        ("D2", &[b"b@r75.example", b"c@r76.example"]),
        ("D3", &[b"d@example.org"]),
        ("DE", &[b"e@r77.example"]),
        ("H1", &[b"f@slow.example"]),
        ("HE", &[b"g@quote.example"]),
        ("A1", &[b"h@utf8.example", b"i@slow.example"]),
        ("DM", &[b"j@long.example"]),
    ];
    let mut smtp = pf.smtp();
    for (key, rcpts) in deferred_mail {
        smtp.send(
            b"sender@origin.example",
            "",
            rcpts,
            &message("sender@origin.example", &format!("matrix {key}")),
        );
    }
    smtp.quit();
    pf.settle(deferred(8));
    let mut ids: BTreeMap<&'static str, String> = BTreeMap::new();
    for (key, _) in deferred_mail {
        let id = pf
            .find_by_subject(&format!("matrix {key}"), &["deferred"])
            .unwrap_or_else(|| panic!("no queue file for {key}"));
        ids.insert(key, id);
    }
    pf.postsuper(&["-h", &ids["H1"]]);
    pf.postsuper(&["-h", &ids["HE"]]);
    pf.postsuper(&["-e", &ids["HE"]]);
    pf.postsuper(&["-e", &ids["DE"]]);
    pf.settle(Settle {
        deferred: Some(6),
        hold: Some(2),
        ..Settle::default()
    });
    pf.stop();

    // Incoming mail: a master without qmgr.
    start_without_qmgr(&mut pf);
    let mut smtp = pf.smtp();
    for key in ["I1", "IE", "A2"] {
        smtp.send(
            b"sender@origin.example",
            "",
            &[b"k@slow.example"],
            &message("sender@origin.example", &format!("matrix {key}")),
        );
    }
    smtp.quit();
    pf.settle(Settle {
        incoming: 3,
        deferred: Some(6),
        hold: Some(2),
        ..Settle::default()
    });
    for key in ["I1", "IE", "A2"] {
        let id = pf
            .find_by_subject(&format!("matrix {key}"), &["incoming"])
            .unwrap_or_else(|| panic!("no queue file for {key}"));
        ids.insert(key, id);
    }
    pf.postsuper(&["-e", &ids["IE"]]);
    pf.stop();

    // Maildrop: postdrop writes the file while the mail system is down.
    for key in ["M1", "M2"] {
        pf.sendmail(
            &["-f", "dropper@origin.example", "l@example.org"],
            &message("dropper@origin.example", &format!("matrix {key}")),
        );
        let id = pf
            .find_by_subject(&format!("matrix {key}"), &["maildrop"])
            .unwrap_or_else(|| panic!("no queue file for {key}"));
        ids.insert(key, id);
    }

    // Active: a rename keeps the inode, so the name still matches it.
    let spool = pf.spool.clone();
    for (key, queue) in [("A1", "deferred"), ("A2", "incoming")] {
        let from = find(&pf, queue, &ids[key]);
        rename(&from, &spool.join("active").join(&ids[key]));
    }

    // Bounce and trace logs, by hand (real ones only live for a moment).
    for queue in ["bounce", "trace", "flush"] {
        mkdir_postfix(&spool.join(queue));
    }
    for (queue, key, recipient) in [
        ("bounce", "D2", "b@r75.example"),
        ("bounce", "A1", "h@utf8.example"),
        ("trace", "D3", "d@example.org"),
        ("trace", "H1", "f@slow.example"),
    ] {
        make_file(
            &spool.join(queue).join(&ids[key]),
            &log_record(recipient, "5.1.1", "failed", "hand-made log"),
            0o600,
            None,
        );
    }
    // A flush log (fast_flush_domains made the flush daemon write one for slow.example).
    if files_under(&spool.join("flush")).is_empty() {
        make_file(
            &spool.join("flush/slow_example"),
            format!("{}\n", ids["D1"]).as_bytes(),
            0o600,
            None,
        );
    }

    // Sanity: the states the cases rely on.
    let mut clean_keys = BTreeMap::new();
    for (key, id) in &ids {
        let queue = match *key {
            "H1" | "HE" => "hold",
            "I1" | "IE" => "incoming",
            "A1" | "A2" => "active",
            "M1" | "M2" => "maildrop",
            _ => "deferred",
        };
        let path = find(&pf, queue, id);
        clean_keys.insert(*key, relative(&spool, &path));
    }
    let mode = |key: &str| {
        fs::metadata(spool.join(&clean_keys[key]))
            .map(|m| m.mode() & 0o777)
            .unwrap_or(0)
    };
    assert_eq!(mode("DE"), 0o710, "DE is force-expired");
    assert_eq!(mode("HE"), 0o710, "HE is held and force-expired");
    assert_eq!(mode("IE"), 0o710, "IE is force-expired");
    assert_eq!(mode("M1") & 0o700, 0o700, "M1 is a complete maildrop file");
    for key in ["D1", "D2", "D3", "DE", "H1", "HE", "A1", "DM"] {
        let id = &ids[key];
        let log = spool.join("defer").join(hash_char(id).to_string()).join(id);
        assert!(log.exists(), "{key} has no defer log {}", log.display());
    }
    assert!(!files_under(&spool.join("flush")).is_empty());
    if !long_ids {
        for id in ids.values() {
            assert!(short_parts(id).is_some(), "{id} is not a short queue ID");
        }
    } else {
        for id in ids.values() {
            assert!(long_parts(id).is_some(), "{id} is not a long queue ID");
        }
    }

    let main_cf = fs::read_to_string(pf.etc.join("main.cf")).expect("read main.cf");
    let master_cf = fs::read_to_string(pf.etc.join("master.cf")).expect("read master.cf");
    let (odd, odd_keys) = build_odd(&pf, long_ids, &clean_keys);
    let base = Base {
        pf,
        odd,
        main_cf,
        master_cf,
        clean_keys,
        odd_keys,
    };
    check_prefixes(&base);
    base
}

/// Short names are told apart by their 5-character microsecond prefix; long names by their
/// time part. Both must be unique among the message files of a base.
fn check_prefixes(base: &Base) {
    for variant in [Variant::Clean, Variant::Odd] {
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        for entry in snapshot(&base.spool(variant)) {
            if !entry.is_message() {
                continue;
            }
            let (stem, _) = strip_fix(entry.name());
            let key = match long_parts(stem) {
                Some((time, _)) => time.to_string(),
                None if stem.len() > 5 && stem.is_char_boundary(5) => stem[..5].to_string(),
                None => continue,
            };
            if let Some(other) = seen.insert(key.clone(), entry.rel.clone()) {
                panic!(
                    "two message files share the name prefix {key}: {other} and {}",
                    entry.rel
                );
            }
        }
    }
}

/// The odd variant: a copy of the clean spool with hand-made oddities.
fn build_odd(
    pf: &PostfixInstance,
    long_ids: bool,
    clean_keys: &BTreeMap<&'static str, String>,
) -> (tempfile::TempDir, BTreeMap<&'static str, String>) {
    let dir = tempfile::Builder::new()
        .prefix("pqt-")
        .tempdir_in("/tmp")
        .expect("create odd base directory");
    set_mode(dir.path(), 0o755);
    let spool = dir.path().join("spool");
    cp_a(&pf.spool, &spool);
    let mut keys = clean_keys.clone();
    let content = fs::read(spool.join(&clean_keys["D3"])).expect("read D3");
    let days = |n: u64| Some(Duration::from_secs(n * 86_400));

    // cleanup's temporary names (usec.pid), young and older than 7 days.
    make_file(&spool.join("incoming/11111.2222"), b"partial", 0o600, None);
    make_file(
        &spool.join("incoming/33333.4444"),
        b"partial",
        0o600,
        days(8),
    );
    // Files still being written (0600) with valid names, young and old.
    make_file(&spool.join("incoming/5A5A5123"), &content, 0o600, None);
    keys.insert("TV", "incoming/5A5A5123".into());
    make_file(&spool.join("incoming/6B6B6456"), &content, 0o600, days(8));
    keys.insert("TO", "incoming/6B6B6456".into());
    make_file(&spool.join("maildrop/7C7C7ABC"), b"partial", 0o600, days(9));
    keys.insert("MO", "maildrop/7C7C7ABC".into());
    // Non-regular files and stray directories.
    mkfifo(&spool.join("active/8D8D8FFF"));
    mkdir_postfix(&spool.join("deferred/straydir"));
    mkdir_postfix(&spool.join("hold/junkdir"));
    make_file(&spool.join("hold/junkdir/F0F0F1"), b"x", 0o600, None);
    // A deferred file at the wrong hash level (its defer log stays where it was).
    let dm = spool.join(&clean_keys["DM"]);
    let dm_top = spool.join("deferred").join(file_name(&dm));
    rename(&dm, &dm_top);
    keys.insert("DM", relative(&spool, &dm_top));
    // `#FIX` names: valid but for another inode, and an invalid stem.
    make_file(&spool.join("hold/9E9E9ABC#FIX"), &content, 0o700, None);
    keys.insert("FX", "hold/9E9E9ABC#FIX".into());
    make_file(&spool.join("incoming/bad.name#FIX"), &content, 0o700, None);
    // A short name with the wrong inode part, with a defer log.
    make_file(&spool.join("hold/12345FFFF"), &content, 0o700, None);
    keys.insert("MM", "hold/12345FFFF".into());
    mkdir_postfix(&spool.join("defer/1"));
    make_file(
        &spool.join("defer/1/12345FFFF"),
        &log_record("x@r75.example", "4.4.2", "delayed", "hand-made"),
        0o600,
        None,
    );
    if long_ids {
        // A long name with a wrong inode part (-s leaves it, -S renames it), with a defer log.
        let name = long_id(1_795_976_329, 654_321, 424_242);
        make_file(&spool.join("hold").join(&name), &content, 0o700, None);
        keys.insert("LW", format!("hold/{name}"));
        let log_dir = spool.join("defer").join(hash_char(&name).to_string());
        mkdir_postfix(&log_dir);
        make_file(
            &log_dir.join(&name),
            &log_record("y@r75.example", "4.4.2", "delayed", "hand-made"),
            0o600,
            None,
        );
    } else {
        // A long name in a short-ID queue (long to short migration under -s), with a defer log.
        let name = long_id(1_795_976_329, 123_456, 999_999);
        make_file(&spool.join("incoming").join(&name), &content, 0o700, None);
        keys.insert("LG", format!("incoming/{name}"));
        let log_dir = spool.join("defer").join(hash_char(&name).to_string());
        mkdir_postfix(&log_dir);
        make_file(
            &log_dir.join(&name),
            &log_record("z@r75.example", "4.4.2", "delayed", "hand-made"),
            0o600,
            None,
        );
    }
    // An orphaned defer log and a bounce log for a message that does not exist.
    make_file(
        &spool.join("defer/B/B0B0B77"),
        &log_record("o@r75.example", "4.4.2", "delayed", "orphan"),
        0o600,
        None,
    );
    (dir, keys)
}

// ------------------------------------------------------------------------------------------
// Copies
// ------------------------------------------------------------------------------------------

/// One copy of a base with its own config directory, for one run.
#[derive(Debug)]
struct Copy {
    dir: Option<tempfile::TempDir>,
    root: PathBuf,
    etc: PathBuf,
    spool: PathBuf,
    /// key -> (the path in the base, the inode of the copied file)
    keys: BTreeMap<&'static str, (String, u64)>,
}

impl Copy {
    fn new(base: &Base, variant: Variant) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("pqt-")
            .tempdir_in("/tmp")
            .expect("create copy directory");
        let root = dir.path().to_path_buf();
        set_mode(&root, 0o755);
        let spool = root.join("spool");
        cp_a(&base.spool(variant), &spool);
        let etc = root.join("etc");
        fs::create_dir(&etc).expect("mkdir etc");
        set_mode(&etc, 0o755);
        let mut main_cf = String::new();
        for line in base.main_cf.lines() {
            let name = line.split('=').next().unwrap_or("").trim();
            match name {
                "queue_directory" => {
                    let _ = writeln!(main_cf, "queue_directory = {}", spool.display());
                }
                "maillog_file" => {
                    let _ = writeln!(main_cf, "maillog_file = {}/maillog", root.display());
                }
                "maillog_file_prefixes" => {
                    let _ = writeln!(main_cf, "maillog_file_prefixes = {}", root.display());
                }
                _ => {
                    main_cf.push_str(line);
                    main_cf.push('\n');
                }
            }
        }
        fs::write(etc.join("main.cf"), main_cf).expect("write main.cf");
        fs::write(etc.join("master.cf"), &base.master_cf).expect("write master.cf");
        backdate_config(&etc);
        // postsuper writes the log itself (as postfix) while the mail system is down.
        make_file(&root.join("maillog"), b"", 0o600, None);
        let keys = base
            .keys(variant)
            .iter()
            .map(|(key, rel)| {
                let ino = fs::symlink_metadata(spool.join(rel))
                    .unwrap_or_else(|e| panic!("copy of {rel}: {e}"))
                    .ino();
                (*key, (rel.clone(), ino))
            })
            .collect();
        Self {
            dir: Some(dir),
            root,
            etc,
            spool,
            keys,
        }
    }

    fn keep(&mut self) {
        if let Some(dir) = self.dir.take() {
            let _ = dir.keep();
        }
    }

    /// Where the file of `key` is now (found by its inode).
    fn current(&self, key: &str) -> Option<PathBuf> {
        let (_, ino) = self.keys.get(key)?;
        fn search(dir: &Path, ino: u64) -> Option<PathBuf> {
            for entry in fs::read_dir(dir).ok()?.flatten() {
                let meta = fs::symlink_metadata(entry.path()).ok()?;
                if meta.ino() == ino && !meta.is_dir() {
                    return Some(entry.path());
                }
                if meta.is_dir() {
                    if let Some(found) = search(&entry.path(), ino) {
                        return Some(found);
                    }
                }
            }
            None
        }
        search(&self.spool, *ino)
    }

    fn path_of(&self, key: &str) -> PathBuf {
        self.current(key)
            .unwrap_or_else(|| panic!("{key} is gone from the copy"))
    }

    /// The queue ID of `key` in this copy (its base name when the file is gone).
    fn id(&self, key: &str) -> String {
        match self.current(key) {
            Some(path) => file_name(&path),
            None => {
                let (rel, _) = self
                    .keys
                    .get(key)
                    .unwrap_or_else(|| panic!("unknown key {key}"));
                rel.rsplit('/').next().unwrap_or(rel).to_string()
            }
        }
    }

    /// Sets (or with `None` removes) a main.cf parameter.
    fn set_cf(&self, name: &str, value: Option<&str>) {
        let path = self.etc.join("main.cf");
        let text = fs::read_to_string(&path).expect("read main.cf");
        let mut out: String = text
            .lines()
            .filter(|l| l.split('=').next().unwrap_or("").trim() != name)
            .map(|l| format!("{l}\n"))
            .collect();
        if let Some(value) = value {
            let _ = writeln!(out, "{name} = {value}");
        }
        fs::write(&path, out).expect("write main.cf");
        backdate_config(&self.etc);
    }

    /// Renames the message of `key` (and its defer, bounce and trace logs) to `new_name`.
    fn rename_message(&self, key: &str, new_name: &str) {
        let from = self.path_of(key);
        let old_name = file_name(&from);
        for log in ["defer", "bounce", "trace"] {
            let hashed = log == "defer";
            let dir = |name: &str| {
                if hashed {
                    self.spool.join(log).join(hash_char(name).to_string())
                } else {
                    self.spool.join(log)
                }
            };
            let old = dir(&old_name).join(&old_name);
            if old.exists() {
                rename(&old, &dir(new_name).join(new_name));
            }
        }
        rename(&from, &from.with_file_name(new_name));
    }

    fn inode_name(&self, key: &str, inode: u64) -> String {
        let name = self.id(key);
        match long_parts(&name) {
            Some((time, _)) => format!("{time}z{}", encode_safe(inode, 51, 0)),
            None => format!("{}{inode:X}", &name[..5]),
        }
    }
}

// ------------------------------------------------------------------------------------------
// Cases
// ------------------------------------------------------------------------------------------

/// A command-line argument or a piece of stdin.
#[derive(Debug, Clone)]
enum A {
    Lit(String),
    /// The current queue ID of a base message in the copy.
    Id(&'static str),
}

fn l(text: &str) -> A {
    A::Lit(text.to_string())
}

fn id(key: &'static str) -> A {
    A::Id(key)
}

fn resolve(copy: &Copy, pieces: &[A]) -> Vec<String> {
    pieces
        .iter()
        .map(|piece| match piece {
            A::Lit(text) => text.clone(),
            A::Id(key) => copy.id(key),
        })
        .collect()
}

fn describe(pieces: &[A]) -> String {
    pieces
        .iter()
        .map(|piece| match piece {
            A::Lit(text) if text.is_empty() => "''".to_string(),
            A::Lit(text) if text.len() > 40 => format!("<{} chars>", text.len()),
            A::Lit(text) => printable(text.as_bytes()),
            A::Id(key) => format!("ID({key})"),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

type Hook = Box<dyn Fn(&Copy) + Send + Sync>;

struct Case {
    label: String,
    variant: Variant,
    /// Run the real `postsuper -S` on both copies first, so names match inodes.
    prep: bool,
    hooks: Vec<Hook>,
    args: Vec<A>,
    /// Put `-c <copy's etc>` in front of the arguments.
    config: bool,
    stdin: Option<Vec<A>>,
    /// Text the real postsuper's normalised stderr must contain (checks the case tests what
    /// it says).
    expect: Vec<String>,
    /// The real postsuper's stderr must be empty.
    quiet: bool,
    status: i32,
    user: Option<&'static str>,
    /// Real postsuper prints verbose traces that ours does not.
    verbose: bool,
}

fn case(label: &str, args: Vec<A>) -> Case {
    Case {
        label: label.to_string(),
        variant: Variant::Clean,
        prep: false,
        hooks: Vec::new(),
        args,
        config: true,
        stdin: None,
        expect: Vec::new(),
        quiet: false,
        status: 0,
        user: None,
        verbose: false,
    }
}

impl Case {
    fn odd(mut self) -> Self {
        self.variant = Variant::Odd;
        self
    }

    fn prep(mut self) -> Self {
        self.prep = true;
        self
    }

    fn hook(mut self, hook: impl Fn(&Copy) + Send + Sync + 'static) -> Self {
        self.hooks.push(Box::new(hook));
        self
    }

    fn stdin(mut self, pieces: Vec<A>) -> Self {
        self.stdin = Some(pieces);
        self
    }

    fn expect(mut self, texts: &[&str]) -> Self {
        self.expect.extend(texts.iter().map(|t| t.to_string()));
        self
    }

    fn quiet(mut self) -> Self {
        self.quiet = true;
        self
    }

    fn fatal(mut self, text: &str) -> Self {
        self.status = 1;
        self.expect.push(format!("postsuper: fatal: {text}"));
        self
    }

    fn raw(mut self) -> Self {
        self.config = false;
        self
    }

    fn user(mut self, name: &'static str) -> Self {
        self.user = Some(name);
        self
    }

    fn verbose(mut self) -> Self {
        self.verbose = true;
        self
    }
}

// Hooks.

fn misplace_top(key: &'static str) -> impl Fn(&Copy) + Send + Sync {
    move |copy| {
        let from = copy.path_of(key);
        let queue = relative(&copy.spool, &from)
            .split('/')
            .next()
            .unwrap_or("")
            .to_string();
        rename(&from, &copy.spool.join(queue).join(file_name(&from)));
    }
}

fn misplace_deep(key: &'static str) -> impl Fn(&Copy) + Send + Sync {
    move |copy| {
        let from = copy.path_of(key);
        let to = from
            .parent()
            .expect("hashed file")
            .join("9")
            .join(file_name(&from));
        rename(&from, &to);
    }
}

fn misplace_defer_log(key: &'static str) -> impl Fn(&Copy) + Send + Sync {
    move |copy| {
        let name = copy.id(key);
        let from = copy
            .spool
            .join("defer")
            .join(hash_char(&name).to_string())
            .join(&name);
        rename(&from, &copy.spool.join("defer").join(&name));
    }
}

/// Renames the message (and its logs) to its own inode number plus `#FIX`.
fn fix_suffix(key: &'static str) -> impl Fn(&Copy) + Send + Sync {
    move |copy| {
        let ino = fs::symlink_metadata(copy.path_of(key)).expect("stat").ino();
        let name = format!("{}#FIX", copy.inode_name(key, ino));
        let from = copy.path_of(key);
        rename(&from, &from.with_file_name(name));
    }
}

/// Renames the message (and its logs) so that its name names another inode.
fn wrong_inode(key: &'static str) -> impl Fn(&Copy) + Send + Sync {
    move |copy| {
        let name = copy.inode_name(key, 0xFFFF);
        copy.rename_message(key, &name);
    }
}

fn set_cf(name: &'static str, value: &'static str) -> impl Fn(&Copy) + Send + Sync {
    move |copy| copy.set_cf(name, Some(value))
}

fn touch(rel: &'static str) -> impl Fn(&Copy) + Send + Sync {
    move |copy| make_file(&copy.spool.join(rel), b"x", 0o600, None)
}

/// A stale `incoming/C/` subdirectory: empty, with a message, or with a message and a
/// temporary file.
fn stale_subdir(message: bool, temporary: bool) -> impl Fn(&Copy) + Send + Sync {
    move |copy| {
        let dir = copy.spool.join("incoming/C");
        mkdir_postfix(&dir);
        if message {
            let from = copy.path_of("I1");
            rename(&from, &dir.join(file_name(&from)));
        }
        if temporary {
            make_file(&dir.join("55555.6666"), b"partial", 0o600, None);
        }
    }
}

/// A second hard link to the message of `key`, in corrupt/ (which no walk visits).
fn hard_link(key: &'static str) -> impl Fn(&Copy) + Send + Sync {
    move |copy| {
        let from = copy.path_of(key);
        fs::hard_link(&from, copy.spool.join("corrupt").join(file_name(&from))).expect("hard link");
    }
}

/// A symbolic link with a valid queue ID name in hold/, to a message of the copy.
fn symlink_in_hold(target: &'static str) -> impl Fn(&Copy) + Send + Sync {
    move |copy| {
        let link = copy.spool.join("hold/B0B0B999");
        std::os::unix::fs::symlink(copy.path_of(target), &link).expect("symlink");
        chown_postfix(&link);
    }
}

fn remove_dir(rel: &'static str) -> impl Fn(&Copy) + Send + Sync {
    move |copy| fs::remove_dir_all(copy.spool.join(rel)).expect("remove directory")
}

/// The defer log of `key` renamed to `ID#FIX` at the top of defer/.
fn defer_log_fix_suffix(key: &'static str) -> impl Fn(&Copy) + Send + Sync {
    move |copy| {
        let name = copy.id(key);
        let from = copy
            .spool
            .join("defer")
            .join(hash_char(&name).to_string())
            .join(&name);
        rename(&from, &copy.spool.join("defer").join(format!("{name}#FIX")));
    }
}

/// An old (30 days) defer log for a message that does not exist: -p never purges logs.
fn old_orphan_log(copy: &Copy) {
    make_file(
        &copy.spool.join("defer/F/F1F1F42"),
        &log_record("old@r75.example", "4.4.2", "delayed", "orphan"),
        0o600,
        Some(Duration::from_secs(30 * 86_400)),
    );
}

fn stdin_mixed() -> Vec<A> {
    vec![
        id("D1"),
        l("\n\n"),
        id("H1"),
        l("*\n"),
        id("I1"),
        l("!\n"),
        id("DE"),
        l("#\n"),
        id("A1"),
        l(" \n"),
        l(" "),
        id("D2"),
        l("\nfoo.bar\n"),
        id("D3"),
        l("\r\n"),
        id("M1"),
    ]
}

/// The cases both bases get.
fn common_cases(long: bool) -> Vec<Case> {
    // The repair option that renames every name made from another inode: -s leaves long
    // names with a wrong inode part alone.
    let fix = if long { "-S" } else { "-s" };
    let long_arg = "A".repeat(300);
    let max_arg = "B".repeat(255);
    let too_long = "C".repeat(256);
    vec![
        // Delete by ID, in every queue.
        case(
            "-d ID: deferred, with defer and flush logs",
            vec![l("-d"), id("D1")],
        )
        .expect(&[": removed", "Deleted: 1 message\n"]),
        case(
            "-d ID: deferred, with a bounce log",
            vec![l("-d"), id("D2")],
        )
        .expect(&["Deleted: 1 message\n"]),
        case("-d ID: deferred, with a trace log", vec![l("-d"), id("D3")])
            .expect(&["Deleted: 1 message\n"]),
        case("-d ID: force-expired deferred", vec![l("-d"), id("DE")])
            .expect(&["Deleted: 1 message\n"]),
        case("-d ID: held", vec![l("-d"), id("H1")]).expect(&["Deleted: 1 message\n"]),
        case("-d ID: held and expired", vec![l("-d"), id("HE")]).expect(&["Deleted: 1 message\n"]),
        case("-d ID: incoming", vec![l("-d"), id("I1")]).expect(&["Deleted: 1 message\n"]),
        case(
            "-d ID: active, with defer and bounce logs",
            vec![l("-d"), id("A1")],
        )
        .expect(&["Deleted: 1 message\n"]),
        case(
            "-d ID: active, moved from incoming",
            vec![l("-d"), id("A2")],
        )
        .expect(&["Deleted: 1 message\n"]),
        case("-d ID: maildrop", vec![l("-d"), id("M1")]).expect(&["Deleted: 1 message\n"]),
        case(
            "-d ID: deferred at the wrong hash level",
            vec![l("-d"), id("DM")],
        )
        .odd()
        .expect(&["Deleted: 0 messages\n"]),
        case(
            "-d ID: 0600 file with a valid name",
            vec![l("-d"), id("TV")],
        )
        .odd()
        .expect(&["Deleted: 0 messages\n"]),
        case("-d ID: unknown valid ID", vec![l("-d"), l("B0B0B1234")])
            .expect(&["Deleted: 0 messages\n"]),
        case("-d ID: invalid ID foo.bar", vec![l("-d"), l("foo.bar")])
            .expect(&["warning: invalid mail queue id: foo.bar\n"]),
        case("-d ID: empty string", vec![l("-d"), l("")])
            .expect(&["warning: invalid mail queue id: \n"]),
        case("-d ID: 300 characters", vec![l("-d"), A::Lit(long_arg)])
            .expect(&["warning: invalid mail queue id: AAAA"]),
        case(
            "-d ID: 255 characters (valid, unknown)",
            vec![l("-d"), A::Lit(max_arg)],
        )
        .expect(&["Deleted: 0 messages\n"]),
        case("-d ID: 256 characters", vec![l("-d"), A::Lit(too_long)])
            .expect(&["warning: invalid mail queue id: CCCC"]),
        case("-d all (lower case is an ID)", vec![l("-d"), l("all")])
            .expect(&["Deleted: 0 messages\n"]),
        case(
            "-d ID -d ID (same ID twice)",
            vec![l("-d"), id("D1"), l("-d"), id("D1")],
        )
        .expect(&["Deleted: 1 message\n"]),
        case(
            "-d ID -d ID (two messages)",
            vec![l("-d"), id("D1"), l("-d"), id("H1")],
        )
        .expect(&["Deleted: 2 messages\n"]),
        case(
            "-d ID hold (not in the listed queue)",
            vec![l("-d"), id("D1"), l("hold")],
        )
        .expect(&["Deleted: 0 messages\n"]),
        case(
            "-d ID deferred (listed queue)",
            vec![l("-d"), id("D1"), l("deferred")],
        )
        .expect(&["Deleted: 1 message\n"]),
        case("-d ID bogusq", vec![l("-d"), id("D1"), l("bogusq")])
            .fatal("invalid directory name: bogusq"),
        // Hold by ID.
        case(
            "-h ID: deferred (future mtime kept)",
            vec![l("-h"), id("D1")],
        )
        .expect(&[": placed on hold", "Placed on hold: 1 message\n"]),
        case("-h ID: incoming", vec![l("-h"), id("I1")]).expect(&["Placed on hold: 1 message\n"]),
        case("-h ID: active", vec![l("-h"), id("A1")]).expect(&["Placed on hold: 1 message\n"]),
        case("-h ID: force-expired deferred", vec![l("-h"), id("DE")])
            .expect(&["Placed on hold: 1 message\n"]),
        case("-h ID: maildrop (never held)", vec![l("-h"), id("M1")])
            .expect(&["Placed on hold: 0 messages\n"]),
        case("-h ID: already held", vec![l("-h"), id("H1")])
            .expect(&["Placed on hold: 0 messages\n"]),
        case(
            "-h ID incoming (not in the listed queue)",
            vec![l("-h"), id("D1"), l("incoming")],
        )
        .expect(&["Placed on hold: 0 messages\n"]),
        // Release by ID.
        case("-H ID: held (mtime kept)", vec![l("-H"), id("H1")])
            .expect(&[": released from hold", "Released from hold: 1 message\n"]),
        case("-H ID: held and expired", vec![l("-H"), id("HE")])
            .expect(&["Released from hold: 1 message\n"]),
        case("-H ID: not held", vec![l("-H"), id("D1")])
            .expect(&["Released from hold: 0 messages\n"]),
        case(
            "-H ID bogusq (no queue lookup)",
            vec![l("-H"), id("H1"), l("bogusq")],
        )
        .expect(&["Released from hold: 0 messages\n"]),
        case(
            "-H ID deferred (hold not listed)",
            vec![l("-H"), id("H1"), l("deferred")],
        )
        .expect(&["Released from hold: 0 messages\n"]),
        // Requeue by ID.
        case(
            "-r ID: deferred (mtime reset, defer log kept)",
            vec![l("-r"), id("D1")],
        )
        .expect(&[": requeued", "Requeued: 1 message\n"]),
        case("-r ID: active", vec![l("-r"), id("A1")]).expect(&["Requeued: 1 message\n"]),
        case("-r ID: held", vec![l("-r"), id("H1")]).expect(&["Requeued: 1 message\n"]),
        case("-r ID: incoming", vec![l("-r"), id("I1")]).expect(&["Requeued: 1 message\n"]),
        case("-r ID: force-expired", vec![l("-r"), id("DE")]).expect(&["Requeued: 1 message\n"]),
        case("-r ID: maildrop (skipped)", vec![l("-r"), id("M1")])
            .expect(&["Requeued: 0 messages\n"]),
        // Expire by ID.
        case("-e ID: deferred", vec![l("-e"), id("D1")])
            .expect(&[": expired", "Force-expired: 1 message\n"]),
        case("-e ID: incoming", vec![l("-e"), id("I1")]).expect(&["Force-expired: 1 message\n"]),
        case("-e ID: active", vec![l("-e"), id("A1")]).expect(&["Force-expired: 1 message\n"]),
        case("-e ID: held", vec![l("-e"), id("H1")]).expect(&["Force-expired: 1 message\n"]),
        case("-e ID: already expired", vec![l("-e"), id("DE")])
            .expect(&["Force-expired: 0 messages\n"]),
        case("-e ID: maildrop (skipped)", vec![l("-e"), id("M1")])
            .expect(&["Force-expired: 0 messages\n"]),
        case(
            "-e ID -e ID (idempotent)",
            vec![l("-e"), id("D1"), l("-e"), id("D1")],
        )
        .expect(&["Force-expired: 1 message\n"]),
        case(
            "-e ID: 0600 file with a valid name",
            vec![l("-e"), id("TV")],
        )
        .odd()
        .expect(&["Force-expired: 0 messages\n"]),
        // Expire and release by ID.
        case("-f ID: held", vec![l("-f"), id("H1")]).expect(&[
            "Force-expired: 1 message\n",
            "Released from hold: 1 message\n",
        ]),
        case("-f ID: deferred", vec![l("-f"), id("D1")]).expect(&[
            "Force-expired: 1 message\n",
            "Released from hold: 0 messages\n",
        ]),
        case("-f ID: held and already expired", vec![l("-f"), id("HE")]).expect(&[
            "Force-expired: 0 messages\n",
            "Released from hold: 1 message\n",
        ]),
        // Several by-ID actions, in command-line order.
        case("-h ID -H ID", vec![l("-h"), id("D1"), l("-H"), id("D1")]).expect(&[
            "Placed on hold: 1 message\n",
            "Released from hold: 1 message\n",
        ]),
        case("-H ID -h ID", vec![l("-H"), id("H1"), l("-h"), id("H1")]).expect(&[
            "Placed on hold: 1 message\n",
            "Released from hold: 1 message\n",
        ]),
        case("-d ID -r ALL", vec![l("-d"), id("D1"), l("-r"), l("ALL")])
            .expect(&["Requeued: ", "Deleted: 1 message\n"]),
        case(
            "-r ALL -d ID (found in maildrop)",
            vec![l("-r"), l("ALL"), l("-d"), id("D1")],
        )
        .expect(&["Deleted: 1 message\n"]),
        case(
            "-r ID -e ID (maildrop is not expired)",
            vec![l("-r"), id("D1"), l("-e"), id("D1")],
        )
        .expect(&["Requeued: 1 message\n", "Force-expired: 0 messages\n"]),
        // Mass actions.
        case("-d ALL", vec![l("-d"), l("ALL")]).expect(&["Deleted: "]),
        case("-d ALL (odd queue)", vec![l("-d"), l("ALL")])
            .odd()
            .expect(&["Deleted: "]),
        case("-h ALL (odd queue)", vec![l("-h"), l("ALL")])
            .odd()
            .expect(&["Placed on hold: "]),
        case("-H ALL (odd queue)", vec![l("-H"), l("ALL")])
            .odd()
            .expect(&["Released from hold: "]),
        case("-r ALL (odd queue, mtimes kept)", vec![l("-r"), l("ALL")])
            .odd()
            .expect(&["Requeued: "]),
        case("-e ALL (odd queue)", vec![l("-e"), l("ALL")])
            .odd()
            .expect(&["Force-expired: "]),
        case("-f ALL (odd queue)", vec![l("-f"), l("ALL")])
            .odd()
            .expect(&["Force-expired: ", "Released from hold: "]),
        case("-h ALL", vec![l("-h"), l("ALL")]).expect(&["Placed on hold: 9 messages\n"]),
        case("-H ALL", vec![l("-H"), l("ALL")]).expect(&["Released from hold: 2 messages\n"]),
        case("-r ALL (mtimes kept)", vec![l("-r"), l("ALL")]).expect(&["Requeued: 11 messages\n"]),
        case("-e ALL", vec![l("-e"), l("ALL")]).expect(&["Force-expired: 8 messages\n"]),
        case("-f ALL", vec![l("-f"), l("ALL")]).expect(&[
            "Force-expired: 8 messages\n",
            "Released from hold: 2 messages\n",
        ]),
        case("-e ALL -e ALL", vec![l("-e"), l("ALL"), l("-e"), l("ALL")])
            .expect(&["Force-expired: "]),
        case("-H ALL -h ALL", vec![l("-H"), l("ALL"), l("-h"), l("ALL")])
            .expect(&["Placed on hold: ", "Released from hold: 2 messages\n"]),
        case("-h ALL -H ALL", vec![l("-h"), l("ALL"), l("-H"), l("ALL")])
            .expect(&["Placed on hold: ", "Released from hold: "]),
        case(
            "-h ALL -d ID (held mail is found)",
            vec![l("-h"), l("ALL"), l("-d"), id("D1")],
        )
        .expect(&["Deleted: 1 message\n"]),
        case("-e ALL -f ID", vec![l("-e"), l("ALL"), l("-f"), id("H1")])
            .expect(&["Released from hold: 1 message\n"]),
        // Queue lists.
        case("-d ALL deferred", vec![l("-d"), l("ALL"), l("deferred")])
            .expect(&["Deleted: 5 messages\n"]),
        case(
            "-d ALL defer bounce (log queues only)",
            vec![l("-d"), l("ALL"), l("defer"), l("bounce")],
        )
        .expect(&["Deleted: 0 messages\n"]),
        case("-d ALL trace", vec![l("-d"), l("ALL"), l("trace")])
            .expect(&["Deleted: 0 messages\n"]),
        case("-d ALL maildrop", vec![l("-d"), l("ALL"), l("maildrop")])
            .expect(&["Deleted: 2 messages\n"]),
        case("-h ALL incoming", vec![l("-h"), l("ALL"), l("incoming")])
            .expect(&["Placed on hold: 2 messages\n"]),
        case("-e ALL hold", vec![l("-e"), l("ALL"), l("hold")])
            .expect(&["Force-expired: 1 message\n"]),
        case("-r ALL active", vec![l("-r"), l("ALL"), l("active")])
            .expect(&["Requeued: 2 messages\n"]),
        case("-d ALL corrupt", vec![l("-d"), l("ALL"), l("corrupt")])
            .fatal("invalid directory name: corrupt"),
        case("-H ALL bogusq", vec![l("-H"), l("ALL"), l("bogusq")])
            .fatal("invalid directory name: bogusq"),
        case(
            "-h ALL hold deferred",
            vec![l("-h"), l("ALL"), l("hold"), l("deferred")],
        )
        .expect(&["Placed on hold: 5 messages\n"]),
        // IDs on stdin.
        case("-d - (mixed lines)", vec![l("-d"), l("-")])
            .stdin(stdin_mixed())
            .expect(&["warning: invalid mail queue id: ", "Deleted: 2 messages\n"]),
        case(
            "-d - -h - (shared stdin)",
            vec![l("-d"), l("-"), l("-h"), l("-")],
        )
        .stdin(vec![id("D1"), l("\n"), id("H1"), l("\n")])
        .expect(&["Deleted: 2 messages\n", "Placed on hold: 0 messages\n"]),
        case("-h - (mixed lines)", vec![l("-h"), l("-")])
            .stdin(stdin_mixed())
            .expect(&["Placed on hold: 1 message\n"]),
        case("-H -", vec![l("-H"), l("-")])
            .stdin(vec![
                id("H1"),
                l("\n"),
                id("HE"),
                l("\n"),
                id("D1"),
                l("\n"),
            ])
            .expect(&["Released from hold: 2 messages\n"]),
        case("-e -", vec![l("-e"), l("-")])
            .stdin(vec![id("D1"), l("\n"), id("DE"), l("\n"), id("I1")])
            .expect(&["Force-expired: 2 messages\n"]),
        case("-r -", vec![l("-r"), l("-")])
            .stdin(vec![
                id("D1"),
                l("\n"),
                id("A1"),
                l("\n"),
                id("M1"),
                l("\n"),
            ])
            .expect(&["Requeued: 2 messages\n"]),
        case("-f -", vec![l("-f"), l("-")])
            .stdin(vec![
                id("H1"),
                l("\n"),
                id("HE"),
                l("\n"),
                id("D2"),
                l("\n"),
            ])
            .expect(&[
                "Force-expired: 2 messages\n",
                "Released from hold: 2 messages\n",
            ]),
        case("-d - (empty stdin)", vec![l("-d"), l("-")])
            .stdin(Vec::new())
            .expect(&["Deleted: 0 messages\n"]),
        case(
            "-d - (stdin not redirected: /dev/null)",
            vec![l("-d"), l("-")],
        )
        .expect(&["Deleted: 0 messages\n"]),
        case("-d - -d ID", vec![l("-d"), l("-"), l("-d"), id("H1")])
            .stdin(vec![id("D1"), l("\n")])
            .expect(&["Deleted: 2 messages\n"]),
        // Repair: fresh copies (no name matches its inode any more).
        if long {
            case("default run, fresh copy (long names left alone)", vec![]).quiet()
        } else {
            case("default run, fresh copy", vec![]).expect(&[
                "Renamed to match inode number: ",
                "warning: QUEUE FILE NAMES WERE CHANGED",
            ])
        },
        case("default run, fresh copy of the odd queue", vec![])
            .odd()
            .expect(&["warning: bogus file name: incoming/11111.2222\n"]),
        case("-s, fresh copy of the odd queue", vec![l("-s")])
            .odd()
            .expect(&["warning: name/inode mismatch: hold/9E9E9ABC#FIX\n"]),
        case("-S, fresh copy of the odd queue", vec![l("-S")])
            .odd()
            .expect(&["Renamed to match inode number: "]),
        case(
            "-p, fresh copy of the odd queue (stale temporary files)",
            vec![l("-p")],
        )
        .odd()
        .expect(&["warning: bogus file name: incoming/11111.2222\n"]),
        case("-p, fresh copy", vec![l("-p")]).quiet(),
        case("-s -p, fresh copy of the odd queue", vec![l("-s"), l("-p")])
            .odd()
            .expect(&["Renamed to match inode number: "]),
        case(
            &format!("{fix} deferred, fresh copy"),
            vec![l(fix), l("deferred")],
        )
        .expect(&["Renamed to match inode number: "]),
        case(
            &format!("{fix} -d ID, fresh copy (refused)"),
            vec![l(fix), l("-d"), id("D1")],
        )
        .fatal("CHECK YOUR QUEUE IDS AND RE-ISSUE THE COMMAND\n"),
        case(
            "-S -h ID, fresh copy (refused)",
            vec![l("-S"), l("-h"), id("D1")],
        )
        .fatal("CHECK YOUR QUEUE IDS AND RE-ISSUE THE COMMAND\n"),
        case(
            &format!("{fix} -d ALL, fresh copy (mass action runs)"),
            vec![l(fix), l("-d"), l("ALL")],
        )
        .expect(&["Deleted: ", "Renamed to match inode number: "]),
        case("-s -h ALL, fresh copy", vec![l("-s"), l("-h"), l("ALL")])
            .expect(&["Placed on hold: "]),
        case(
            "-p -d ID, fresh copy (no inode check without -s)",
            vec![l("-p"), l("-d"), id("D1")],
        )
        .expect(&["Deleted: 1 message\n"]),
        case(
            "-p -e ALL, fresh copy of the odd queue",
            vec![l("-p"), l("-e"), l("ALL")],
        )
        .odd()
        .expect(&["Force-expired: "]),
        // Repair: prepared copies (names match inodes).
        case("-s, healthy queue (prints nothing)", vec![l("-s")])
            .prep()
            .quiet(),
        case("default run, healthy queue (prints nothing)", vec![])
            .prep()
            .quiet(),
        case("-S, healthy queue (prints nothing)", vec![l("-S")])
            .prep()
            .quiet(),
        case("-s -p, healthy odd queue", vec![l("-s"), l("-p")])
            .odd()
            .prep()
            .expect(&["warning: bogus file name: incoming/11111.2222\n"]),
        case("-s, healthy odd queue", vec![l("-s")])
            .odd()
            .prep()
            .expect(&["warning: remove subdirectory hold/junkdir: "]),
        case("-s -d ID, healthy queue", vec![l("-s"), l("-d"), id("D1")])
            .prep()
            .expect(&["Deleted: 1 message\n"]),
        case("-s -r ID, healthy queue", vec![l("-s"), l("-r"), id("D2")])
            .prep()
            .expect(&["Requeued: 1 message\n"]),
        case(
            &format!("{fix}: name with a wrong inode part (with its logs)"),
            vec![l(fix)],
        )
        .prep()
        .hook(wrong_inode("D2"))
        .expect(&["Renamed to match inode number: 1 message\n"]),
        // The preparing repair left trace/NEWID#FIX behind (trace is not in the default queue
        // list); renaming the held message's trace log again finds that name taken and the
        // source gone, which sane_rename() reports as a spurious NFS error.
        case(
            &format!("{fix}: wrong inode part, trace log already renamed (sane_rename)"),
            vec![l(fix)],
        )
        .prep()
        .hook(wrong_inode("H1"))
        .expect(&["): worked around spurious NFS error\n"]),
        case(
            "maillog not writable by postfix: -d ID",
            vec![l("-d"), id("D1")],
        )
        .hook(|copy: &Copy| {
            let log = copy.root.join("maillog");
            std::os::unix::fs::lchown(&log, Some(0), Some(0)).expect("chown maillog");
        })
        .fatal("open logfile '$INSTANCE/maillog': cannot open file: Permission denied"),
        case(
            &format!("{fix} -d ID: after an inode rename (refused)"),
            vec![l(fix), l("-d"), id("D1")],
        )
        .prep()
        .hook(wrong_inode("D2"))
        .fatal("CHECK YOUR QUEUE IDS AND RE-ISSUE THE COMMAND\n"),
        case(
            &format!("{fix} -e ALL: after an inode rename"),
            vec![l(fix), l("-e"), l("ALL")],
        )
        .prep()
        .hook(wrong_inode("H1"))
        .expect(&[
            "Force-expired: ",
            "Renamed to match inode number: 1 message\n",
        ]),
        case("-s: valid #FIX name", vec![l("-s")])
            .prep()
            .hook(fix_suffix("H1"))
            .expect(&["Renamed to match inode number: 1 message\n"]),
        case("-s: valid #FIX name in deferred", vec![l("-s")])
            .prep()
            .hook(fix_suffix("D1"))
            .expect(&["Renamed to match inode number: 1 message\n"]),
        case(
            "-s -H ID: valid #FIX name (refused)",
            vec![l("-s"), l("-H"), id("H1")],
        )
        .prep()
        .hook(fix_suffix("HE"))
        .fatal("CHECK YOUR QUEUE IDS AND RE-ISSUE THE COMMAND\n"),
        case("-p: valid #FIX name (left alone without -s)", vec![l("-p")])
            .prep()
            .hook(fix_suffix("H1"))
            .expect(&["warning: bogus file name: hold/"]),
        case("-s: deferred file at the top level", vec![l("-s")])
            .prep()
            .hook(misplace_top("D1"))
            .quiet(),
        case("-s: deferred file one level too deep", vec![l("-s")])
            .prep()
            .hook(misplace_deep("D2"))
            .quiet(),
        case("-s: misplaced defer log", vec![l("-s")])
            .prep()
            .hook(misplace_defer_log("D3"))
            .quiet(),
        case(
            "-d ID: misplaced defer log (left behind)",
            vec![l("-d"), id("D3")],
        )
        .prep()
        .hook(misplace_defer_log("D3"))
        .expect(&["Deleted: 1 message\n"]),
        case("-s: hash_queue_depth = 2 (files move down)", vec![l("-s")])
            .prep()
            .hook(set_cf("hash_queue_depth", "2"))
            .quiet(),
        case("-s: hash_queue_names adds hold", vec![l("-s")])
            .prep()
            .hook(set_cf("hash_queue_names", "deferred, defer, hold"))
            .quiet(),
        case(
            "-s: hash_queue_names upper case (postsuper compares exactly)",
            vec![l("-s")],
        )
        .prep()
        .hook(set_cf("hash_queue_names", "Deferred, Defer"))
        .fatal("remove directory "),
        case("-s: maildrop hashed", vec![l("-s")])
            .prep()
            .hook(set_cf("hash_queue_names", "deferred, defer, maildrop"))
            .fatal("maildrop queue must not be hashed"),
        case("-H ALL: hash_queue_depth = 2", vec![l("-H"), l("ALL")])
            .prep()
            .hook(set_cf("hash_queue_depth", "2"))
            .expect(&["Released from hold: 2 messages\n"]),
        case(
            "-d ID: hash_queue_depth = 2 (not found)",
            vec![l("-d"), id("D1")],
        )
        .prep()
        .hook(set_cf("hash_queue_depth", "2"))
        .expect(&["Deleted: 0 messages\n"]),
        // A single-character regular file in incoming makes every walk die. Fresh copies:
        // what a walk did before it died depends on readdir order, the same for the same
        // names.
        case("incoming/Q: default run", vec![])
            .hook(touch("incoming/Q"))
            .fatal("scan_dir_push: open directory incoming/Q: Not a directory"),
        case("incoming/Q: -d ALL", vec![l("-d"), l("ALL")])
            .hook(touch("incoming/Q"))
            .fatal("scan_dir_push: open directory incoming/Q: Not a directory"),
        case("incoming/Q: -d ID (no walk)", vec![l("-d"), id("D1")])
            .hook(touch("incoming/Q"))
            .expect(&["Deleted: 1 message\n"]),
        case(
            "incoming/Q: -e ALL deferred (not walked)",
            vec![l("-e"), l("ALL"), l("deferred")],
        )
        .hook(touch("incoming/Q"))
        .expect(&["Force-expired: 4 messages\n"]),
        case(
            "stale incoming/C with files: -e ALL incoming",
            vec![l("-e"), l("ALL"), l("incoming")],
        )
        .prep()
        .hook(stale_subdir(true, true))
        .fatal("remove directory incoming/C: Directory not empty"),
        case("stale incoming/C with files: -s", vec![l("-s")])
            .prep()
            .hook(stale_subdir(true, true))
            .fatal("remove directory incoming/C: Directory not empty"),
        case(
            "stale incoming/C with a message: -s (moved up)",
            vec![l("-s")],
        )
        .prep()
        .hook(stale_subdir(true, false))
        .quiet(),
        case(
            "stale incoming/C with a message: -d ID (not found)",
            vec![l("-d"), id("I1")],
        )
        .prep()
        .hook(stale_subdir(true, false))
        .expect(&["Deleted: 0 messages\n"]),
        case("stale empty incoming/C: -h ALL", vec![l("-h"), l("ALL")])
            .prep()
            .hook(stale_subdir(false, false))
            .expect(&["Placed on hold: "]),
        // Odd files met by ID and by walks.
        case(
            "-d ID: a fifo named like a queue ID",
            vec![l("-d"), l("8D8D8FFF")],
        )
        .odd()
        .expect(&["not a regular file\n", "Deleted: 0 messages\n"]),
        case(
            "-d ID: a symlink named like a queue ID",
            vec![l("-d"), l("B0B0B999")],
        )
        .prep()
        .hook(symlink_in_hold("D1"))
        .expect(&["not a regular file\n", "Deleted: 0 messages\n"]),
        case(
            "-H ALL: a symlink in hold (removed)",
            vec![l("-H"), l("ALL")],
        )
        .prep()
        .hook(symlink_in_hold("D1"))
        .expect(&["Released from hold: 2 messages\n"]),
        case(
            "-e ID: a message with two hard links",
            vec![l("-e"), id("D1")],
        )
        .prep()
        .hook(hard_link("D1"))
        .expect(&["Force-expired: 0 messages\n"]),
        case(
            "-d ID: a message with two hard links",
            vec![l("-d"), id("D1")],
        )
        .prep()
        .hook(hard_link("D1"))
        .expect(&["Deleted: 1 message\n"]),
        case(
            "-e ALL: a message with two hard links",
            vec![l("-e"), l("ALL")],
        )
        .prep()
        .hook(hard_link("D1"))
        .expect(&["file has 2 hard links\n", "Force-expired: 7 messages\n"]),
        case("missing hold directory: default run", vec![])
            .prep()
            .hook(remove_dir("hold"))
            .fatal("scan_dir_push: open directory hold: No such file or directory"),
        case(
            "missing hold directory: -h ID (postfix cannot create it)",
            vec![l("-h"), id("D1")],
        )
        .prep()
        .hook(remove_dir("hold"))
        .fatal("rename file "),
        case("missing hold directory: -H ID", vec![l("-H"), id("H1")])
            .prep()
            .hook(remove_dir("hold"))
            .expect(&["Released from hold: 0 messages\n"]),
        case("missing trace directory: -d ID", vec![l("-d"), id("D3")])
            .prep()
            .hook(remove_dir("trace"))
            .expect(&["Deleted: 1 message\n"]),
        case(
            "missing deferred hash directory: -H ID (recreated)",
            vec![l("-H"), id("H1")],
        )
        .prep()
        .hook(|copy: &Copy| {
            let held = copy.id("H1");
            let dir = copy
                .spool
                .join("deferred")
                .join(hash_char(&held).to_string());
            if dir.exists() {
                for path in files_under(&dir) {
                    rename(&path, &copy.spool.join("corrupt").join(file_name(&path)));
                }
                fs::remove_dir(&dir).expect("remove hash directory");
            }
        })
        .expect(&["Released from hold: 1 message\n"]),
        case("-s: defer log named ID#FIX at the top level", vec![l("-s")])
            .prep()
            .hook(defer_log_fix_suffix("D2"))
            .quiet(),
        case("-p: old orphaned defer log (kept)", vec![l("-p")])
            .prep()
            .hook(old_orphan_log)
            .quiet(),
        case(
            "-d ALL: old orphaned defer log",
            vec![l("-d"), l("ALL"), l("defer")],
        )
        .prep()
        .hook(old_orphan_log)
        .expect(&["Deleted: 0 messages\n"]),
        // Configuration and usage errors.
        case("missing queue_directory", vec![l("-d"), l("ALL")])
            .hook(|copy: &Copy| {
                copy.set_cf(
                    "queue_directory",
                    Some(&copy.root.join("nospool").to_string_lossy()),
                )
            })
            .fatal("chdir "),
        case(
            "-c /nonexistent",
            vec![l("-c"), l("/nonexistent/postfix"), l("-s")],
        )
        .raw()
        .fatal("open /nonexistent/postfix/main.cf"),
        case("-c relative", vec![l("-c"), l("etc"), l("-s")])
            .raw()
            .fatal("-c requires absolute pathname"),
        case("-x (unknown option)", vec![l("-x")]).fatal("usage: postsuper "),
        case("-s -x (nothing done)", vec![l("-s"), l("-x")]).fatal("usage: postsuper "),
        case("-d without an argument", vec![l("-d")]).fatal("usage: postsuper "),
        case(
            "deferred -d ALL (option after a queue name)",
            vec![l("deferred"), l("-d"), l("ALL")],
        )
        .fatal("invalid directory name: -d"),
        case("-- -d (queue named -d)", vec![l("--"), l("-d")]).fatal("invalid directory name: -d"),
        case("as nobody: -d ALL", vec![l("-d"), l("ALL")])
            .user("nobody")
            .fatal("use of this command is reserved for the superuser"),
        case("as nobody: -x", vec![l("-x")])
            .user("nobody")
            .fatal("use of this command is reserved for the superuser"),
        case("-v -d ID", vec![l("-v"), l("-d"), id("D1")])
            .verbose()
            .expect(&["Deleted: 1 message\n"]),
        case("-v -s, healthy queue", vec![l("-v"), l("-s")])
            .prep()
            .verbose(),
    ]
}

fn short_cases() -> Vec<Case> {
    vec![
        case("-s, fresh copy", vec![l("-s")]).expect(&["Renamed to match inode number: "]),
        case(
            "-s: long name in a short-ID queue (migration)",
            vec![l("-s"), l("incoming")],
        )
        .odd()
        .expect(&["Renamed to match inode number: "]),
        case(
            "-d ID: long name in a short-ID queue",
            vec![l("-d"), id("LG")],
        )
        .odd()
        .expect(&["Deleted: 1 message\n"]),
        case(
            "-s: short name with wrong inode (12345FFFF) and defer log",
            vec![l("-s"), l("defer"), l("hold")],
        )
        .odd()
        .expect(&["Renamed to match inode number: "]),
        case(
            "-e ID: 12345FFFF (names need not match to act by ID)",
            vec![l("-e"), id("MM")],
        )
        .odd()
        .expect(&["Force-expired: 1 message\n"]),
    ]
}

fn long_cases() -> Vec<Case> {
    vec![
        case("-s, fresh copy (long names are left alone)", vec![l("-s")]).quiet(),
        case("-S, fresh copy (every long name renamed)", vec![l("-S")])
            .expect(&["Renamed to match inode number: "]),
        case(
            "-s: long name with a wrong inode part (left alone)",
            vec![l("-s"), l("defer"), l("hold")],
        )
        .odd()
        .prep()
        .hook(wrong_inode("H1"))
        .expect(&["warning: remove subdirectory hold/junkdir: "]),
        case(
            "-S: long name with a wrong inode part (renamed)",
            vec![l("-S"), l("defer"), l("hold")],
        )
        .odd()
        .prep()
        .hook(wrong_inode("H1"))
        .expect(&["Renamed to match inode number: 1 message\n"]),
        case(
            "-s -d ID, fresh copy (allowed: no long name is renamed)",
            vec![l("-s"), l("-d"), id("D1")],
        )
        .expect(&["Deleted: 1 message\n"]),
        case(
            "long to short: enable_long_queue_ids = no, -s",
            vec![l("-s")],
        )
        .prep()
        .hook(set_cf("enable_long_queue_ids", "no"))
        .expect(&["Renamed to match inode number: "]),
        case(
            "long to short: enable_long_queue_ids = no, -p (no migration)",
            vec![l("-p")],
        )
        .prep()
        .hook(set_cf("enable_long_queue_ids", "no"))
        .quiet(),
        case(
            "long to short: -s -d ID (refused)",
            vec![l("-s"), l("-d"), id("D1")],
        )
        .prep()
        .hook(set_cf("enable_long_queue_ids", "no"))
        .fatal("CHECK YOUR QUEUE IDS AND RE-ISSUE THE COMMAND\n"),
        case("long to short: odd queue, -s", vec![l("-s")])
            .odd()
            .hook(set_cf("enable_long_queue_ids", "no"))
            .expect(&["Renamed to match inode number: "]),
    ]
}

// ------------------------------------------------------------------------------------------
// Running a case
// ------------------------------------------------------------------------------------------

/// What one run left behind, normalised.
#[derive(Debug)]
struct Run {
    status: i32,
    timed_out: bool,
    stdout: String,
    stderr: String,
    tree: String,
}

impl Run {
    fn parts(&self) -> [(&'static str, String); 4] {
        [
            (
                "exit",
                format!(
                    "{}{}\n",
                    self.status,
                    if self.timed_out { " (timed out)" } else { "" }
                ),
            ),
            ("stdout", self.stdout.clone()),
            ("stderr", self.stderr.clone()),
            ("tree", self.tree.clone()),
        ]
    }
}

/// Prepares a copy for a case; returns the tree as it was before the hooks ran (its message
/// files name inodes too: a hook may delete or move them).
fn prepare(copy: &Copy, case: &Case) -> Vec<Entry> {
    if case.prep {
        let outcome = Invocation::new(REAL_POSTSUPER)
            .arg("-c")
            .arg(&copy.etc)
            .arg("-S")
            .run();
        assert_eq!(
            outcome.status,
            0,
            "preparing with the real postsuper -S:\n{}",
            outcome.summary()
        );
    }
    let before_hooks = snapshot(&copy.spool);
    for hook in &case.hooks {
        hook(copy);
    }
    backdate_config(&copy.etc);
    before_hooks
}

fn invocation(copy: &Copy, program: &str, case: &Case, verbose: bool) -> Invocation {
    let mut invocation = Invocation::new(program);
    if case.config {
        invocation = invocation.arg("-c").arg(&copy.etc);
    }
    let mut args = resolve(copy, &case.args);
    if !verbose {
        args.retain(|a| a != "-v");
    }
    invocation = invocation.args(args);
    if let Some(stdin) = &case.stdin {
        invocation = invocation.stdin(resolve(copy, stdin).concat().into_bytes());
    }
    if let Some(user) = case.user {
        invocation = invocation.run_as(user);
    }
    invocation
}

fn run_on(copy: &Copy, program: &str, case: &Case, verbose: bool, prepared: &[Entry]) -> Run {
    let invocation = invocation(copy, program, case, verbose);
    let pre = snapshot(&copy.spool);
    let start = now_seconds();
    let outcome = invocation.run();
    let end = now_seconds();
    let post = snapshot(&copy.spool);
    let names = Names::learn(&[prepared, &pre, &post]);
    let stderr = names.text(&anonymize_paths(&outcome.stderr_text()));
    Run {
        status: outcome.status,
        timed_out: outcome.timed_out,
        stdout: names.text(&anonymize_paths(&outcome.stdout_text())),
        stderr: sort_walk_runs(&stderr),
        tree: render_tree(&pre, &post, &names, (start, end)),
    }
}

/// Whether the real run looks like what the case claims to test.
fn expectation_problem(case: &Case, real: &Run) -> Option<String> {
    if real.status != case.status {
        return Some(format!(
            "real postsuper exited {} (expected {}):\n{}",
            real.status, case.status, real.stderr
        ));
    }
    if case.quiet && !real.stderr.is_empty() {
        return Some(format!(
            "real postsuper was expected to print nothing:\n{}",
            real.stderr
        ));
    }
    for text in &case.expect {
        if !real.stderr.contains(text.as_str()) {
            return Some(format!("real stderr lacks {text:?}:\n{}", real.stderr));
        }
    }
    None
}

fn parts(real: &Run, ours: &Run) -> Vec<Part> {
    real.parts()
        .into_iter()
        .zip(ours.parts())
        .map(|((name, real), (_, ours))| Part {
            name,
            real: real.into_bytes(),
            ours: ours.into_bytes(),
        })
        .collect()
}

/// Whether `small`'s lines appear in `big` in the same order.
fn is_subsequence(small: &str, big: &str) -> bool {
    let mut lines = big.lines();
    small.lines().all(|want| lines.any(|line| line == want))
}

/// The outcome of one case, worked out on a worker thread and reported in case order.
#[derive(Debug)]
enum Verdict {
    /// The real run did not do what the case is about (or the copies could not be made).
    Harness(String),
    /// A documented deviation.
    Skip(&'static str),
    Compare {
        parts: Vec<Part>,
        command: String,
        copies: Vec<Copy>,
    },
}

fn evaluate(base: &Base, case: &Case) -> Verdict {
    let command = format!(
        "postsuper {}{} (real vs {})",
        describe(&case.args),
        if case.stdin.is_some() { " <stdin" } else { "" },
        ours_label()
    );
    let real_copy = Copy::new(base, case.variant);
    let ours_copy = Copy::new(base, case.variant);
    let real_prepared = prepare(&real_copy, case);
    let ours_prepared = prepare(&ours_copy, case);
    let real = run_on(&real_copy, REAL_POSTSUPER, case, true, &real_prepared);
    let ours = run_on(&ours_copy, &ours_program(), case, true, &ours_prepared);
    if std::env::var_os("PQT_POSTSUPER_SHOW")
        .is_some_and(|s| case.label.contains(&*s.to_string_lossy()))
    {
        eprintln!(
            "SHOW {}\n--- real stderr ---\n{}--- real tree ---\n{}--- ours stderr ---\n{}",
            case.label, real.stderr, real.tree, ours.stderr
        );
    }
    if let Some(problem) = expectation_problem(case, &real) {
        return Verdict::Harness(problem);
    }
    let parts = parts(&real, &ours);
    if case.verbose && parts.iter().any(|p| p.real != p.ours) {
        // Does ours behave like the real one without -v, and is that all the difference?
        let quiet_copy = Copy::new(base, case.variant);
        let quiet_prepared = prepare(&quiet_copy, case);
        let quiet = run_on(&quiet_copy, REAL_POSTSUPER, case, false, &quiet_prepared);
        let only_traces = quiet.status == real.status
            && quiet.tree == real.tree
            && quiet.stdout == real.stdout
            && is_subsequence(&quiet.stderr, &real.stderr)
            && quiet.parts() == ours.parts();
        if only_traces {
            return Verdict::Skip("deviation: -v traces");
        }
    }
    Verdict::Compare {
        parts,
        command,
        copies: vec![real_copy, ours_copy],
    }
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panic".to_string())
}

/// Cases run on this many threads: most of a case is waiting (cp, and the one-second pause
/// Postfix makes before exiting on a fatal error).
const WORKERS: usize = 6;

fn run_matrix(report: &mut Report, long_ids: bool) {
    let base = build_base(long_ids);
    let mut cases = common_cases(long_ids);
    cases.extend(if long_ids {
        long_cases()
    } else {
        short_cases()
    });
    let mut labels = BTreeSet::new();
    for case in &cases {
        assert!(
            labels.insert(case.label.clone()),
            "duplicate case label {}",
            case.label
        );
    }
    // `PQT_POSTSUPER_ONLY=TEXT`: only the cases whose label contains TEXT (when debugging).
    if let Some(only) = std::env::var_os("PQT_POSTSUPER_ONLY") {
        let only = only.to_string_lossy().into_owned();
        cases.retain(|case| case.label.contains(&only));
    }
    let next = AtomicUsize::new(0);
    let verdicts: Vec<Mutex<Option<Verdict>>> = cases.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..WORKERS {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, Ordering::SeqCst);
                let Some(case) = cases.get(index) else {
                    break;
                };
                let verdict = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    evaluate(&base, case)
                }))
                .unwrap_or_else(|panic| Verdict::Harness(panic_text(panic.as_ref())));
                *verdicts[index].lock().unwrap_or_else(|e| e.into_inner()) = Some(verdict);
            });
        }
    });
    let keep = std::env::var_os("PQT_KEEP_INSTANCES").is_some();
    for (case, verdict) in cases.iter().zip(verdicts) {
        let verdict = verdict
            .into_inner()
            .unwrap_or_else(|e| e.into_inner())
            .unwrap_or_else(|| Verdict::Harness("case did not run".into()));
        match verdict {
            Verdict::Harness(problem) => {
                eprintln!("HARNESS [{}] {}: {problem}", report.scenario, case.label);
                let first_line = problem.lines().next().unwrap_or("").to_string();
                report.harness_failure(SUITE, &case.label, &first_line);
            }
            Verdict::Skip(why) => report.note(SUITE, &case.label, why),
            Verdict::Compare {
                parts,
                command,
                mut copies,
            } => {
                let passed = report.check_parts(SUITE, &case.label, &parts, &command);
                if !passed && keep {
                    for copy in &mut copies {
                        eprintln!("kept copy {}", copy.root.display());
                        copy.keep();
                    }
                }
            }
        }
    }
}

#[test]
fn short_queue_ids() {
    scenario(SUITE, "short IDs", |report| run_matrix(report, false));
}

#[test]
fn long_queue_ids() {
    scenario(SUITE, "long IDs", |report| run_matrix(report, true));
}
