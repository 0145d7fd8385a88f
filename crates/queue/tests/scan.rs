//! Integration tests of the showq-order scan (owned by the test suite, not by src/): real queue
//! directories built in temporary directories with QueueWriter (and hand-made files for the
//! odd cases), checked against format-and-postqueue.md §2.2, §2.3, §3.6, §4, §5 and §12.

use std::ffi::OsString;
use std::fs;
use std::ops::ControlFlow;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use postfix_queue::envelope::{Entry, Queue, Recipient, ShowqSettings};
use postfix_queue::error::Error;
use postfix_queue::identity::ReaderIdentity;
use postfix_queue::queue_id::parse_long_id;
use postfix_queue::record::write_record;
use postfix_queue::scan::{scan, ScanEvent};
use postfix_queue::walk::{Layout, ShowqWalk};
use postfix_queue::writer::{
    build_queue_file, FileStyle, MessageSpec, QueueWriter, RecipientSpec, RecipientState,
};
use tempfile::TempDir;

/// Arrival time of the generated messages (the spec's examples use this one).
const ARRIVAL: i64 = 1_795_976_329;

fn settings() -> ShowqSettings {
    ShowqSettings {
        empty_address: b"MAILER-DAEMON".to_vec(),
        utf8_enabled: true,
        duplicate_filter_limit: 1000,
    }
}

/// A scan event that can be compared (the library's `ScanEvent` is not `PartialEq`).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Event {
    Entry(Entry),
    Warning(String),
}

#[derive(Debug)]
struct Scan {
    events: Vec<Event>,
    result: Result<(), Error>,
}

impl Scan {
    fn entries(&self) -> Vec<&Entry> {
        self.events
            .iter()
            .filter_map(|event| match event {
                Event::Entry(entry) => Some(entry),
                Event::Warning(_) => None,
            })
            .collect()
    }

    fn ids(&self) -> Vec<String> {
        self.entries()
            .iter()
            .map(|entry| String::from_utf8_lossy(&entry.id).into_owned())
            .collect()
    }

    fn warnings(&self) -> Vec<&str> {
        self.events
            .iter()
            .filter_map(|event| match event {
                Event::Warning(text) => Some(text.as_str()),
                Event::Entry(_) => None,
            })
            .collect()
    }

    fn entry(&self, id: &str) -> &Entry {
        self.entries()
            .into_iter()
            .find(|entry| entry.id == id.as_bytes())
            .unwrap_or_else(|| panic!("{id} is not listed"))
    }
}

fn run_scan(layout: &Layout, settings: &ShowqSettings, threads: usize) -> Scan {
    let mut events = Vec::new();
    let result = scan(layout, settings, ShowqWalk::new(layout), threads, |event| {
        events.push(match event {
            ScanEvent::Entry(entry) => Event::Entry(entry),
            ScanEvent::Warning(text) => Event::Warning(text),
        });
        ControlFlow::Continue(())
    });
    Scan { events, result }
}

/// A queue directory in a temporary directory, with every queue created.
struct TestQueue {
    directory: TempDir,
    writer: QueueWriter,
}

impl TestQueue {
    fn new() -> Self {
        Self::with(&["deferred", "defer"], 1, false)
    }

    fn with(hashed: &[&str], depth: usize, long_ids: bool) -> Self {
        let directory = tempfile::tempdir().expect("temporary directory");
        let writer = QueueWriter::new(Layout::new(directory.path(), hashed, depth), long_ids);
        writer.create_directories().expect("queue directories");
        Self { directory, writer }
    }

    fn layout(&self) -> &Layout {
        self.writer.layout()
    }

    fn root(&self) -> &Path {
        self.directory.path()
    }

    fn add(&self, queue: Queue, spec: &MessageSpec, mode: u32) -> String {
        self.writer.add(queue, spec, mode).expect("queue file")
    }

    fn add_raw(&self, queue: &str, name: &str, bytes: &[u8], mode: u32) -> PathBuf {
        self.writer
            .add_raw(queue, name.as_bytes(), bytes, mode)
            .expect("raw queue file")
    }

    fn defer(&self, id: &str, recipient: &str, reason: &str) {
        self.writer
            .append_defer_log(id.as_bytes(), recipient.as_bytes(), 100, reason.as_bytes())
            .expect("defer log");
    }

    fn scan(&self, threads: usize) -> Scan {
        run_scan(self.layout(), &settings(), threads)
    }

    /// Scans sequentially and in parallel, checks both agree, and returns the sequential one.
    fn scan_both(&self) -> Scan {
        let sequential = self.scan(1);
        let parallel = self.scan(4);
        assert_eq!(sequential.events, parallel.events);
        assert_eq!(sequential.result.is_ok(), parallel.result.is_ok());
        sequential
    }
}

fn message(microseconds: u32, recipients: &[&str]) -> MessageSpec {
    MessageSpec {
        arrival_seconds: ARRIVAL,
        arrival_microseconds: microseconds,
        sender: b"sender@example.com".to_vec(),
        recipients: recipients
            .iter()
            .map(|r| RecipientSpec::live(r.as_bytes()))
            .collect(),
        extracted_recipients: Vec::new(),
        content: b"Subject: test\n\nhello".to_vec(),
        style: FileStyle::Cleanup,
    }
}

fn maildrop_message(microseconds: u32, recipients: &[&str]) -> MessageSpec {
    MessageSpec {
        style: FileStyle::Maildrop,
        ..message(microseconds, recipients)
    }
}

/// A hand-made queue file from records.
fn records(list: &[(u8, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (kind, data) in list {
        write_record(&mut out, *kind, data);
    }
    out
}

fn set_mtime(path: &Path, seconds: u64) {
    fs::File::options()
        .write(true)
        .open(path)
        .and_then(|file| file.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)))
        .expect("set mtime");
}

fn recipient(address: &str, reason: &str) -> Recipient {
    Recipient {
        address: address.as_bytes().to_vec(),
        reason: reason.as_bytes().to_vec(),
    }
}

fn addresses(entry: &Entry) -> Vec<String> {
    entry
        .recipients
        .iter()
        .map(|r| String::from_utf8_lossy(&r.address).into_owned())
        .collect()
}

/// The order showq meets names in: raw readdir order, descending into one-character names
/// where they turn up (maildrop is flat). Observed with std::fs::read_dir independently of
/// the library's walk.
fn readdir_order(directory: &Path, descend: bool, out: &mut Vec<OsString>) {
    for entry in fs::read_dir(directory).expect("read_dir") {
        let name = entry.expect("directory entry").file_name();
        if descend && name.as_bytes().len() == 1 {
            readdir_order(&directory.join(&name), descend, out);
        } else {
            out.push(name);
        }
    }
}

fn readdir_ids(root: &Path, queue: Queue) -> Vec<String> {
    let mut names = Vec::new();
    readdir_order(
        &root.join(queue.name()),
        queue != Queue::Maildrop,
        &mut names,
    );
    names
        .into_iter()
        .map(|name| name.to_string_lossy().into_owned())
        .collect()
}

/// A fixed permutation of 0..n, so creation order, its reverse and sorted order all differ.
fn shuffled(n: u32) -> Vec<u32> {
    let mut order: Vec<u32> = (0..n).collect();
    let mut state = 0x2545_f491_u32;
    for i in (1..order.len()).rev() {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        order.swap(i, state as usize % (i + 1));
    }
    order
}

#[test]
fn queues_are_listed_in_showq_order() {
    let queue = TestQueue::new();
    // Created in the opposite order, so creation order cannot pass for showq order.
    let hold = queue.add(Queue::Hold, &message(1, &["h@example.org"]), 0o700);
    let deferred = queue.add(Queue::Deferred, &message(2, &["d@example.org"]), 0o700);
    let incoming = queue.add(Queue::Incoming, &message(3, &["i@example.org"]), 0o700);
    let active = queue.add(Queue::Active, &message(4, &["a@example.org"]), 0o700);
    let maildrop = queue.add(
        Queue::Maildrop,
        &maildrop_message(5, &["m@example.org"]),
        0o744,
    );
    let scan = queue.scan_both();
    assert!(scan.result.is_ok());
    assert_eq!(scan.ids(), vec![maildrop, active, incoming, deferred, hold]);
    let queues: Vec<Queue> = scan.entries().iter().map(|e| e.queue).collect();
    assert_eq!(queues, Queue::SHOWQ_ORDER.to_vec());
    assert!(scan.warnings().is_empty(), "{:?}", scan.warnings());
}

#[test]
fn readdir_order_within_each_queue() {
    let queue = TestQueue::new();
    for (i, slot) in shuffled(120).into_iter().enumerate() {
        let microseconds = slot * 8000 + 17;
        let target = if i % 2 == 0 {
            Queue::Active
        } else {
            Queue::Deferred
        };
        queue.add(target, &message(microseconds, &["r@example.org"]), 0o700);
    }
    let scan = queue.scan_both();
    assert!(scan.result.is_ok());
    let mut expected = readdir_ids(queue.root(), Queue::Active);
    expected.extend(readdir_ids(queue.root(), Queue::Deferred));
    assert_eq!(expected.len(), 120);
    // Guard: this would not catch a sorting scan if readdir happened to be sorted.
    let mut sorted = expected.clone();
    sorted[..60].sort();
    sorted[60..].sort();
    assert_ne!(expected, sorted, "readdir order happens to be sorted here");
    assert_eq!(scan.ids(), expected);
}

#[test]
fn owner_rwx_lists_a_file_and_group_execute_forces_expiry() {
    let queue = TestQueue::new();
    // (mode, listed, forced_expire): only the owner bits decide; g+x is forced expiry and
    // g+r (unthrottle) changes nothing.
    let cases = [
        (0o600, false, false),
        (0o500, false, false),
        (0o300, false, false),
        (0o700, true, false),
        (0o710, true, true),
        (0o740, true, false),
        (0o777, true, true),
        (0o704, true, false),
    ];
    let mut expected = Vec::new();
    for (i, (mode, listed, forced)) in cases.into_iter().enumerate() {
        let id = queue.add(Queue::Deferred, &message(i as u32 + 1, &["r@x"]), mode);
        if listed {
            expected.push((id, forced));
        }
    }
    let scan = queue.scan_both();
    let mut got: Vec<(String, bool)> = scan
        .entries()
        .iter()
        .map(|e| (String::from_utf8_lossy(&e.id).into_owned(), e.forced_expire))
        .collect();
    got.sort();
    expected.sort();
    assert_eq!(got, expected);
    // Incomplete files are skipped without a word.
    assert!(scan.warnings().is_empty(), "{:?}", scan.warnings());
}

#[test]
fn names_that_are_not_queue_ids_are_skipped_quietly() {
    let queue = TestQueue::new();
    let bytes = build_queue_file(&message(1, &["r@x"])).bytes;
    // The temporary name a writer uses, and other invalid characters.
    queue.add_raw("incoming", "123456.7890", &bytes, 0o700);
    queue.add_raw("incoming", "AB-CD", &bytes, 0o700);
    queue.add_raw("active", "ABC DEF", &bytes, 0o700);
    queue.add_raw("deferred", "4.4", &bytes, 0o700);
    // Only [A-Za-z0-9_] is checked: this is a queue ID (spec §2.1).
    queue.add_raw("deferred", "7UNK_NAME", &bytes, 0o700);
    let scan = queue.scan_both();
    assert_eq!(scan.ids(), vec!["7UNK_NAME"]);
    assert!(scan.warnings().is_empty(), "{:?}", scan.warnings());
}

#[test]
fn a_file_in_the_wrong_hash_directory_is_skipped() {
    let queue = TestQueue::new();
    let bytes = build_queue_file(&message(1, &["r@x"])).bytes;
    let right = queue.add_raw("deferred", "3ABCDE2", &bytes, 0o700);
    assert_eq!(right, queue.root().join("deferred/3/3ABCDE2"));
    for wrong in ["deferred/4/3ABCDE1", "deferred/3ABCDE3"] {
        let path = queue.root().join(wrong);
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(&path, &bytes).expect("write");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o700)).expect("chmod");
    }
    let scan = queue.scan_both();
    assert!(scan.result.is_ok());
    assert_eq!(scan.ids(), vec!["3ABCDE2"]);
    assert!(scan.warnings().is_empty(), "{:?}", scan.warnings());
}

#[test]
fn a_missing_queue_directory_ends_the_scan_after_what_came_before() {
    let queue = TestQueue::new();
    let maildrop = queue.add(Queue::Maildrop, &maildrop_message(1, &["m@x"]), 0o744);
    let active = queue.add(Queue::Active, &message(2, &["a@x"]), 0o700);
    let incoming = queue.add(Queue::Incoming, &message(3, &["i@x"]), 0o700);
    queue.add(Queue::Hold, &message(4, &["h@x"]), 0o700);
    fs::remove_dir(queue.root().join("deferred")).expect("remove deferred");
    for threads in [1, 4] {
        let scan = queue.scan(threads);
        assert_eq!(
            scan.ids(),
            vec![maildrop.clone(), active.clone(), incoming.clone()]
        );
        match &scan.result {
            Err(Error::OpenDirectory { path, .. }) => assert_eq!(path, Path::new("deferred")),
            other => panic!("expected OpenDirectory, got {other:?}"),
        }
    }
}

#[test]
fn a_one_character_file_in_a_queue_is_an_open_directory_error() {
    let queue = TestQueue::new();
    let active = queue.add(Queue::Active, &message(2, &["a@x"]), 0o700);
    queue.add(Queue::Hold, &message(4, &["h@x"]), 0o700);
    let stray = queue.root().join("deferred/A");
    fs::write(&stray, b"").expect("write");
    for threads in [1, 4] {
        let scan = queue.scan(threads);
        assert_eq!(scan.ids(), vec![active.clone()]);
        match &scan.result {
            Err(Error::OpenDirectory { path, .. }) => {
                assert_eq!(path, Path::new("deferred/A"))
            }
            other => panic!("expected OpenDirectory, got {other:?}"),
        }
    }
}

#[test]
fn maildrop_is_flat_and_its_files_are_postdrop_style() {
    let queue = TestQueue::new();
    let spec = MessageSpec {
        sender: Vec::new(),
        ..maildrop_message(1, &["target2@example.org"])
    };
    let id = queue.add(Queue::Maildrop, &spec, 0o744);
    let file_size = fs::metadata(queue.root().join("maildrop").join(&id))
        .expect("stat")
        .len();
    // A one-character name in maildrop is a file name, not a subdirectory.
    let bytes = build_queue_file(&maildrop_message(2, &["q@x"])).bytes;
    queue.add_raw("maildrop", "Q", &bytes, 0o744);
    fs::create_dir(queue.root().join("maildrop/X")).expect("mkdir");
    fs::write(queue.root().join("maildrop/X/ABCDEF"), &bytes).expect("write");
    let scan = queue.scan_both();
    assert!(scan.result.is_ok());
    let mut ids = scan.ids();
    ids.sort();
    let mut expected = vec!["Q".to_string(), id.clone()];
    expected.sort();
    assert_eq!(ids, expected);
    let entry = scan.entry(&id);
    assert_eq!(entry.queue, Queue::Maildrop);
    // No C record: the size is the file size. The null sender shows as MAILER-DAEMON.
    assert_eq!(entry.size, file_size as i64);
    assert_eq!(entry.sender, b"MAILER-DAEMON");
    assert_eq!(entry.arrival_time, ARRIVAL);
    assert!(!entry.forced_expire);
    assert_eq!(entry.recipients, vec![recipient("target2@example.org", "")]);
    // The directory X was looked at as a candidate and refused.
    let warnings = scan.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("not a regular file"), "{warnings:?}");
}

#[test]
fn defer_log_recipients_come_first_then_the_rest() {
    let queue = TestQueue::new();
    let id = queue.add(
        Queue::Deferred,
        &message(
            1,
            &[
                "a@example.org",
                "b@example.org",
                "c@example.org",
                "quoted local@example.org",
            ],
        ),
        0o700,
    );
    queue.defer(&id, "c@example.org", "reason c");
    queue.defer(&id, "ghost@example.org", "not in queue file");
    queue.defer(&id, "quoted local@example.org", "reason q");
    queue.defer(&id, "", "null recipient");
    let plain = queue.add(
        Queue::Deferred,
        &message(2, &["a@example.org", "", "c@example.org"]),
        0o700,
    );
    let scan = queue.scan_both();
    assert_eq!(
        scan.entry(&id).recipients,
        vec![
            recipient("c@example.org", "reason c"),
            recipient("ghost@example.org", "not in queue file"),
            recipient("\"quoted local\"@example.org", "reason q"),
            recipient("<>", "null recipient"),
            recipient("a@example.org", ""),
            recipient("b@example.org", ""),
        ]
    );
    // Without a log every R is listed, an empty one as MAILER-DAEMON (spec §13.3).
    assert_eq!(
        addresses(scan.entry(&plain)),
        vec!["a@example.org", "MAILER-DAEMON", "c@example.org"]
    );
}

#[test]
fn the_defer_log_of_a_held_message_still_gives_reasons() {
    let queue = TestQueue::new();
    let id = queue.add(Queue::Hold, &message(1, &["a@x", "b@x"]), 0o700);
    queue.defer(&id, "b@x", "on hold");
    let scan = queue.scan_both();
    assert_eq!(
        scan.entry(&id).recipients,
        vec![recipient("b@x", "on hold"), recipient("a@x", "")]
    );
}

#[test]
fn duplicate_filter_limit_caps_the_filter() {
    let queue = TestQueue::new();
    let id = queue.add(
        Queue::Deferred,
        &message(1, &["a@x", "b@x", "c@x", "d@x"]),
        0o700,
    );
    for address in ["a@x", "b@x", "c@x"] {
        queue.defer(&id, address, "later");
    }
    let listed = |limit: usize| {
        let settings = ShowqSettings {
            duplicate_filter_limit: limit as i64,
            ..settings()
        };
        let sequential = run_scan(queue.layout(), &settings, 1);
        assert_eq!(
            sequential.events,
            run_scan(queue.layout(), &settings, 4).events
        );
        addresses(sequential.entry(&id))
    };
    // Only the first two logged addresses fit in the filter, so c@x is listed again.
    assert_eq!(listed(2), ["a@x", "b@x", "c@x", "c@x", "d@x"]);
    assert_eq!(listed(1), ["a@x", "b@x", "c@x", "b@x", "c@x", "d@x"]);
    // 0 means no limit.
    assert_eq!(listed(0), ["a@x", "b@x", "c@x", "d@x"]);
    assert_eq!(listed(1000), ["a@x", "b@x", "c@x", "d@x"]);
}

#[test]
fn arrival_time_comes_from_the_first_t_record_or_else_mtime() {
    let queue = TestQueue::new();
    let body: &[(u8, &[u8])] = &[
        (b'S', b"s@x"),
        (b'R', b"r@x"),
        (b'M', b""),
        (b'N', b"hi"),
        (b'X', b""),
        (b'E', b""),
    ];
    // showq takes a T record while it has no arrival time yet: a zero (or missing) time lets a
    // later T count; otherwise later ones are ignored. No usable T at all means mtime.
    let cases: [(&str, &[&[u8]], i64); 5] = [
        ("NOTIME", &[], 1_234_567_890),
        ("ZEROTIME", &[b"0 5"], 1_234_567_890),
        ("ZEROTHENTIME", &[b"0 5", b"42"], 42),
        ("TIME", &[b"1700000000 5", b"42"], 1_700_000_000),
        ("SECONDSONLY", &[b"1600000000"], 1_600_000_000),
    ];
    for (name, times, _) in &cases {
        let mut list: Vec<(u8, &[u8])> = times.iter().map(|time| (b'T', *time)).collect();
        list.extend_from_slice(body);
        let path = queue.add_raw("active", name, &records(&list), 0o700);
        set_mtime(&path, 1_234_567_890);
    }
    let scan = queue.scan_both();
    for (name, _, expected) in cases {
        assert_eq!(scan.entry(name).arrival_time, expected, "{name}");
    }
}

#[test]
fn size_comes_from_the_first_valid_c_record_or_else_the_file_size() {
    let queue = TestQueue::new();
    let content: &[(u8, &[u8])] = &[
        (b'T', b"1700000000 1"),
        (b'S', b"s@x"),
        (b'R', b"r@x"),
        (b'M', b""),
        (b'N', b"hello"),
        (b'X', b""),
        (b'R', b"extracted@x"),
        (b'E', b""),
    ];
    // The N record is 7 bytes: a C size of 7 skips exactly to X. Validation goes on until a
    // C record passes (showq's `msg_size_ok == 0` test), so only the first valid one counts.
    // (name, C payloads, expected size or None for the file size, warns)
    type Case<'a> = (&'a str, &'a [&'a [u8]], Option<i64>, bool);
    let cases: [Case; 7] = [
        ("NOSIZE", &[], None, false),
        ("BADSIZE", &[b"12x"], None, true),
        ("NEGATIVE", &[b"-7"], None, true),
        (
            "GOODSIZE",
            &[b"              7             20"],
            Some(7),
            false,
        ),
        ("BLANKSIZE", &[b"   "], Some(0), false),
        ("GOODTHENLEFTOVER", &[b"7", b"999"], Some(7), false),
        ("BADTHENGOOD", &[b"x", b"7"], Some(7), true),
    ];
    for (name, sizes, _, _) in &cases {
        let mut list: Vec<(u8, &[u8])> = sizes.iter().map(|size| (b'C', *size)).collect();
        list.extend_from_slice(content);
        queue.add_raw("active", name, &records(&list), 0o700);
    }
    let scan = queue.scan_both();
    for (name, _, size, warns) in cases {
        let entry = scan.entry(name);
        let file_size = fs::metadata(queue.root().join("active").join(name))
            .expect("stat")
            .len() as i64;
        assert_eq!(entry.size, size.unwrap_or(file_size), "{name}");
        // The content skip must land on X, so the extracted recipient is still found.
        assert_eq!(addresses(entry), ["r@x", "extracted@x"], "{name}");
        let warned = scan
            .warnings()
            .iter()
            .any(|w| w.contains(name) && w.contains("malformed size record"));
        assert_eq!(warned, warns, "{name}: {:?}", scan.warnings());
    }
}

#[test]
fn damaged_files_list_what_was_read_before_the_damage() {
    let queue = TestQueue::new();
    let mut truncated = records(&[(b'T', b"1700000000 1"), (b'S', b"s@x"), (b'R', b"r1@x")]);
    let whole = records(&[(b'R', b"r2@x-cut-short")]);
    truncated.extend_from_slice(&whole[..whole.len() - 3]);
    queue.add_raw("active", "TRUNCATED", &truncated, 0o700);
    // No S record: nothing is listed and the file does not count.
    queue.add_raw(
        "active",
        "NOSENDER",
        &records(&[(b'T', b"1700000000 1"), (b'M', b""), (b'E', b"")]),
        0o700,
    );
    // An empty file has no sender either.
    queue.add_raw("active", "EMPTY", b"", 0o700);
    // Not a record stream at all.
    queue.add_raw("active", "GARBAGE", b"\xff\xff\xff\xff\xff\xff\xff", 0o700);
    let scan = queue.scan_both();
    assert_eq!(scan.ids(), vec!["TRUNCATED"]);
    assert_eq!(addresses(scan.entry("TRUNCATED")), ["r1@x"]);
    assert!(
        scan.warnings().iter().any(|w| w.contains("TRUNCATED")),
        "{:?}",
        scan.warnings()
    );
}

#[test]
fn delivered_and_cancelled_recipients_are_not_listed() {
    let queue = TestQueue::new();
    let mut spec = message(1, &[]);
    spec.recipients = vec![
        RecipientSpec::live("live@x"),
        RecipientSpec {
            address: b"done@x".to_vec(),
            state: RecipientState::Done,
        },
        RecipientSpec {
            address: b"gone@x".to_vec(),
            state: RecipientState::Cancelled,
        },
    ];
    spec.extracted_recipients = vec![RecipientSpec::live("header@x")];
    let id = queue.add(Queue::Active, &spec, 0o700);
    let scan = queue.scan_both();
    assert_eq!(addresses(scan.entry(&id)), ["live@x", "header@x"]);
}

#[test]
fn hash_queue_depth_two() {
    let queue = TestQueue::with(&["deferred", "defer"], 2, false);
    let mut ids = Vec::new();
    for microseconds in [0x398A0, 0x3CD04, 0xF0000, 0x00001] {
        let id = queue.add(Queue::Deferred, &message(microseconds, &["r@x"]), 0o700);
        let bytes = id.as_bytes();
        let expected = queue.root().join(format!(
            "deferred/{}/{}/{id}",
            bytes[0] as char, bytes[1] as char
        ));
        assert!(expected.is_file(), "{}", expected.display());
        queue.defer(&id, "r@x", "two levels");
        assert!(queue
            .root()
            .join(format!(
                "defer/{}/{}/{id}",
                bytes[0] as char, bytes[1] as char
            ))
            .is_file());
        ids.push(id);
    }
    // A copy one level up is in the wrong place for depth 2.
    let wrong = queue.root().join("deferred/3/398A0FFFF");
    fs::write(&wrong, build_queue_file(&message(1, &["r@x"])).bytes).expect("write");
    fs::set_permissions(&wrong, fs::Permissions::from_mode(0o700)).expect("chmod");
    let scan = queue.scan_both();
    assert!(scan.result.is_ok());
    let mut listed = scan.ids();
    listed.sort();
    ids.sort();
    assert_eq!(listed, ids);
    assert_eq!(
        scan.ids(),
        readdir_ids(queue.root(), Queue::Deferred)
            .into_iter()
            .filter(|name| name != "398A0FFFF")
            .collect::<Vec<_>>()
    );
    for id in &ids {
        assert_eq!(
            scan.entry(id).recipients,
            vec![recipient("r@x", "two levels")]
        );
    }
}

#[test]
fn long_ids_are_hashed_by_their_microseconds() {
    let queue = TestQueue::with(&["deferred", "defer"], 1, true);
    let mut ids = Vec::new();
    for microseconds in [739_199, 0, 999_999, 65_536] {
        let id = queue.add(Queue::Deferred, &message(microseconds, &["r@x"]), 0o700);
        let parts = parse_long_id(id.as_bytes()).expect("a long ID");
        assert_eq!(parts.seconds, ARRIVAL as u64);
        assert_eq!(parts.microseconds, u64::from(microseconds));
        let directory = format!("{microseconds:05X}")[..1].to_string();
        assert!(queue
            .root()
            .join("deferred")
            .join(&directory)
            .join(&id)
            .is_file());
        queue.defer(&id, "r@x", "long");
        ids.push(id);
    }
    let scan = queue.scan_both();
    let mut listed = scan.ids();
    listed.sort();
    ids.sort();
    assert_eq!(listed, ids);
    for id in &ids {
        assert_eq!(scan.entry(id).recipients, vec![recipient("r@x", "long")]);
    }
}

#[test]
fn non_regular_files_are_refused_with_a_warning() {
    let queue = TestQueue::new();
    let id = queue.add(Queue::Active, &message(1, &["r@x"]), 0o700);
    fs::create_dir(queue.root().join("active/SUBDIR")).expect("mkdir");
    std::os::unix::fs::symlink(
        queue.root().join("active").join(&id),
        queue.root().join("active/LINK"),
    )
    .expect("symlink");
    let scan = queue.scan_both();
    assert_eq!(scan.ids(), vec![id]);
    let mut warnings = scan.warnings();
    warnings.sort();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[0].contains("LINK") && warnings[0].contains("not a regular file"));
    assert!(warnings[1].contains("SUBDIR") && warnings[1].contains("not a regular file"));
}

#[test]
fn the_same_id_in_two_queues_is_listed_twice() {
    let queue = TestQueue::new();
    let id = queue.add(Queue::Deferred, &message(1, &["r@x"]), 0o700);
    let hashed = queue.layout().path("deferred", id.as_bytes());
    fs::copy(&hashed, queue.root().join("active").join(&id)).expect("copy");
    let scan = queue.scan_both();
    assert_eq!(scan.ids(), vec![id.clone(), id]);
    let queues: Vec<Queue> = scan.entries().iter().map(|e| e.queue).collect();
    assert_eq!(queues, [Queue::Active, Queue::Deferred]);
}

#[test]
fn a_breaking_sink_stops_the_scan() {
    let queue = TestQueue::new();
    for microseconds in 1..=5 {
        queue.add(Queue::Active, &message(microseconds, &["r@x"]), 0o700);
    }
    for threads in [1, 4] {
        let mut seen = 0;
        let result = scan(
            queue.layout(),
            &settings(),
            ShowqWalk::new(queue.layout()),
            threads,
            |_| {
                seen += 1;
                if seen == 2 {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            },
        );
        assert!(result.is_ok());
        assert_eq!(seen, 2);
    }
}

#[test]
fn files_the_mail_owner_cannot_read_are_skipped() {
    // Needs root to give files away; elsewhere there is nothing to test.
    if !running_as_root() {
        return;
    }
    let queue = TestQueue::new();
    let owner = ReaderIdentity {
        uid: 54_321,
        groups: vec![54_321],
    };
    let layout = queue.layout().clone().reading_as(Some(owner));
    let mine = queue.add(Queue::Deferred, &message(1, &["r@x"]), 0o700);
    let root_only = queue.add(Queue::Deferred, &message(2, &["r@x"]), 0o700);
    let world = queue.add(Queue::Deferred, &message(3, &["r@x"]), 0o704);
    std::os::unix::fs::chown(
        queue.layout().path("deferred", mine.as_bytes()),
        Some(54_321),
        None,
    )
    .expect("chown");
    queue.defer(&mine, "r@x", "unreadable log");
    let scan = run_scan(&layout, &settings(), 1);
    let mut listed = scan.ids();
    listed.sort();
    let mut expected = vec![mine.clone(), world];
    expected.sort();
    assert_eq!(listed, expected);
    assert!(
        scan.warnings()
            .iter()
            .any(|w| w.contains(&root_only) && w.contains("Permission denied")),
        "{:?}",
        scan.warnings()
    );
    // The defer log is root's 0600 file: the mail owner cannot read it, so no reasons.
    assert_eq!(scan.entry(&mine).recipients, vec![recipient("r@x", "")]);
}

/// Whether the tests run as root: /proc/self belongs to the effective uid.
fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// The required large test: ~20,000 messages over every queue, with defer logs, forced
/// expiry, held and incomplete files, scanned sequentially, on 4 threads and on the default
/// pool; every event, in order, must be the same, and the order must be readdir order.
#[test]
fn twenty_thousand_messages_scan_identically_on_any_number_of_threads() {
    const MESSAGES: u32 = 20_000;
    let started = std::time::Instant::now();
    let queue = TestQueue::new();
    let mut listed = 0usize;
    for (i, slot) in shuffled(MESSAGES).into_iter().enumerate() {
        let microseconds = slot * 50 + (i as u32 % 50);
        let recipients: Vec<String> = (0..1 + i % 3)
            .map(|r| format!("r{r}.{i}@example.org"))
            .collect();
        let recipients: Vec<&str> = recipients.iter().map(String::as_str).collect();
        let mut spec = message(microseconds, &recipients);
        spec.arrival_seconds = ARRIVAL + i as i64;
        let (target, mode) = match i % 20 {
            0..=9 => (Queue::Deferred, 0o700),
            10 => (Queue::Deferred, 0o710),
            11 => (Queue::Deferred, 0o600),
            12 | 13 => (Queue::Active, 0o700),
            14 | 15 => (Queue::Incoming, 0o700),
            16 => (Queue::Incoming, 0o600),
            17 => (Queue::Hold, 0o700),
            _ => {
                spec.style = FileStyle::Maildrop;
                (Queue::Maildrop, 0o744)
            }
        };
        let id = queue.add(target, &spec, mode);
        if mode & 0o100 != 0 {
            listed += 1;
        }
        if i % 7 == 0 {
            queue.defer(&id, recipients[0], "connection timed out");
            queue.defer(&id, "ghost@example.org", "gone");
        }
    }
    let built = started.elapsed();
    let sequential = queue.scan(1);
    assert!(sequential.result.is_ok());
    assert_eq!(sequential.entries().len(), listed);
    assert!(sequential.warnings().is_empty());
    let mut in_readdir_order = Vec::new();
    for q in Queue::SHOWQ_ORDER {
        in_readdir_order.extend(readdir_ids(queue.root(), q));
    }
    let listed_ids: std::collections::HashSet<String> = sequential.ids().into_iter().collect();
    in_readdir_order.retain(|id| listed_ids.contains(id));
    assert_eq!(sequential.ids(), in_readdir_order);
    let logged = sequential
        .entries()
        .iter()
        .filter(|e| e.recipients.first().is_some_and(|r| !r.reason.is_empty()))
        .count();
    assert!(logged > 1000, "{logged} entries with defer-log reasons");
    for threads in [4, 0] {
        let parallel = queue.scan(threads);
        assert!(parallel.result.is_ok());
        assert_eq!(parallel.events.len(), sequential.events.len());
        assert!(
            parallel.events == sequential.events,
            "threads={threads}: first difference at event {:?}",
            parallel
                .events
                .iter()
                .zip(&sequential.events)
                .position(|(a, b)| a != b)
        );
    }
    eprintln!(
        "built {MESSAGES} messages in {built:?}; total with three scans {:?}",
        started.elapsed()
    );
}

/// A queue file with a valid `C` record, a recipient relocated past `E` (reached through a
/// pointer, with a pointer back), content of `content_lines` x 1000 bytes, and an `R` record
/// hidden inside the content segment that only a reader that fails to skip the content sees.
fn file_with_heap_and_hidden_recipient(content_lines: usize, with_size: bool) -> (Vec<u8>, i64) {
    let pointer = |offset: usize| format!("{offset:15}").into_bytes();
    let mut out = Vec::new();
    let size_at = out.len();
    if with_size {
        write_record(&mut out, b'C', &[b' '; 95]); // patched below
    }
    write_record(&mut out, b'T', b"1700000000 1");
    write_record(&mut out, b'S', b"s@x");
    let forward_at = out.len();
    write_record(&mut out, b'p', &pointer(0)); // patched: jumps to the heap
    let resume = out.len();
    write_record(&mut out, b'R', b"a@x");
    write_record(&mut out, b'M', b"");
    let content_start = out.len();
    let line = vec![b'y'; 1000];
    for i in 0..content_lines {
        write_record(&mut out, b'N', &line);
        if i == content_lines / 2 {
            write_record(&mut out, b'R', b"hidden-in-content@x");
        }
    }
    let content_size = out.len() - content_start;
    write_record(&mut out, b'X', b"");
    write_record(&mut out, b'R', b"extracted@x");
    write_record(&mut out, b'E', b"");
    let heap = out.len();
    write_record(&mut out, b'R', b"relocated@x");
    write_record(&mut out, b'p', &pointer(resume));
    out[forward_at + 2..forward_at + 17].copy_from_slice(&pointer(heap));
    if with_size {
        let size = format!(
            "{content_size:15} {content_start:15} {:15} {:15} {content_size:15} {:15}",
            3, 0, 0
        );
        let mut record = Vec::new();
        write_record(&mut record, b'C', size.as_bytes());
        out[size_at..size_at + record.len()].copy_from_slice(&record);
    }
    (out, content_size as i64)
}

#[test]
fn content_is_skipped_by_the_c_size_in_small_and_large_files() {
    let queue = TestQueue::new();
    // 10 KB files are read whole; 200 KB files are streamed and the content is skipped with
    // a seek. Both must give the same listing.
    let mut expected_sizes = Vec::new();
    for (name, lines, with_size) in [
        ("SMALLSIZED", 10, true),
        ("LARGESIZED", 200, true),
        ("SMALLUNSIZED", 10, false),
        ("LARGEUNSIZED", 200, false),
    ] {
        let (bytes, content_size) = file_with_heap_and_hidden_recipient(lines, with_size);
        let path = queue.add_raw("active", name, &bytes, 0o700);
        let file_size = fs::metadata(path).expect("stat").len() as i64;
        expected_sizes.push((name, if with_size { content_size } else { file_size }));
    }
    assert!(expected_sizes[1].1 > 64 * 1024);
    let scan = queue.scan_both();
    assert!(scan.warnings().is_empty(), "{:?}", scan.warnings());
    for (name, size) in expected_sizes {
        let entry = scan.entry(name);
        assert_eq!(entry.size, size, "{name}");
        let mut expected = vec!["relocated@x", "a@x"];
        // Without a size the reader walks through the content and meets the stray R.
        if name.ends_with("UNSIZED") {
            expected.push("hidden-in-content@x");
        }
        expected.push("extracted@x");
        assert_eq!(addresses(entry), expected, "{name}");
    }
}

#[test]
fn main_cf_settings_drive_the_layout_and_the_listing() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let config = postfix_queue::Config::parse(&format!(
        "queue_directory = {}\n\
         # hold is hashed too; names match case-insensitively\n\
         hash_queue_names = deferred, DEFER,\n  Hold\n\
         hash_queue_depth = 2\n\
         duplicate_filter_limit = 1\n\
         empty_address_recipient = nobody-here\n",
        directory.path().display()
    ));
    let layout = Layout::from_config(&config).expect("layout");
    let settings = ShowqSettings::from_config(&config).expect("settings");
    assert_eq!(settings.duplicate_filter_limit, 1);
    let writer = QueueWriter::new(layout.clone(), false);
    writer.create_directories().expect("queue directories");
    let mut spec = message(0x398A0, &["a@x", "b@x", ""]);
    spec.sender = Vec::new();
    let id = writer.add(Queue::Hold, &spec, 0o700).expect("queue file");
    assert!(directory.path().join(format!("hold/3/9/{id}")).is_file());
    for address in ["a@x", "b@x"] {
        writer
            .append_defer_log(id.as_bytes(), address.as_bytes(), 1, b"held")
            .expect("defer log");
    }
    assert!(directory.path().join(format!("defer/3/9/{id}")).is_file());
    let scan = run_scan(&layout, &settings, 1);
    assert!(scan.result.is_ok());
    let entry = scan.entry(&id);
    assert_eq!(entry.queue, Queue::Hold);
    assert_eq!(entry.sender, b"nobody-here");
    // The filter holds only a@x, so b@x comes back from the queue file.
    assert_eq!(addresses(entry), ["a@x", "b@x", "b@x", "nobody-here"]);
}
