//! Live compatibility on queue files real Postfix would never write: damaged, truncated,
//! hand-edited or oddly placed files made with our record writer, put in a private spool (owned
//! by postfix, as showq drops to that user), then listed by the real postqueue (master stopped,
//! so it runs showq stand-alone; and through a showq-only master) and by ours, byte for byte.
//!
//! Needs root and an installed Postfix; otherwise every test records SKIP (and fails under
//! `CI=true`). Results go to `$PQT_COMPAT_RESULTS` as JSON lines, suite "handmade".

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use common::*;
use postfix_queue::envelope::Queue;
use postfix_queue::record::{kind, write_record};
use postfix_queue::writer::{
    build_queue_file, FileStyle, MessageSpec, QueueWriter, RecipientSpec, RecipientState,
};
use postfix_queue::Layout;

const SUITE: &str = "handmade";
/// Sun Nov 29 2026 18:18:49 UTC: a fixed arrival time for every hand-made file.
const ARRIVAL: i64 = 1_795_976_329;
/// Tue Nov 14 2023 22:13:20 UTC: the mtime given to files whose arrival time comes from it.
const OLD_MTIME: i64 = 1_700_000_000;
/// Wed Jul 1 2026 12:00:00 UTC: summer, so New York shows daylight saving time.
const SUMMER_MTIME: i64 = 1_782_907_200;

/// A private spool without a running master, and a writer for it.
struct Spool {
    pf: PostfixInstance,
    writer: QueueWriter,
}

impl Spool {
    fn new(name: &str) -> Self {
        Self::with_options(name, InstanceOptions::default())
    }

    fn with_options(name: &str, options: InstanceOptions) -> Self {
        Self::with_hashing(name, options, &["deferred", "defer"])
    }

    /// `hashed` must match the instance's hash_queue_names (set through `options`).
    fn with_hashing(name: &str, options: InstanceOptions, hashed: &[&str]) -> Self {
        let depth = options.hash_queue_depth as usize;
        let long_ids = options.long_queue_ids;
        let pf = PostfixInstance::new(name, options);
        pf.create_spool();
        let writer = QueueWriter::new(Layout::new(pf.spool.clone(), hashed, depth), long_ids);
        Self { pf, writer }
    }

    fn path(&self, queue: &str, name: &str) -> PathBuf {
        self.writer.layout().path(queue, name.as_bytes())
    }

    /// A well-formed message as cleanup writes it.
    fn add(&self, queue: Queue, spec: &MessageSpec, mode: u32) -> String {
        self.writer
            .add(queue, spec, mode)
            .expect("write queue file")
    }

    /// Raw bytes as queue file `name` in `queue` (hash directories computed from the name).
    fn raw(&self, queue: &str, name: &str, bytes: &[u8], mode: u32) -> PathBuf {
        self.writer
            .add_raw(queue, name.as_bytes(), bytes, mode)
            .expect("write raw queue file")
    }

    fn defer_entry(&self, id: &str, recipient: &str, reason: &str) {
        self.writer
            .append_defer_log(id.as_bytes(), recipient.as_bytes(), 0, reason.as_bytes())
            .expect("append defer log");
    }

    fn defer_raw(&self, id: &str, bytes: &[u8]) {
        let path = self.path("defer", id);
        fs::create_dir_all(path.parent().expect("defer path has a parent")).expect("mkdir");
        append_file(&path, bytes);
    }

    /// showq reads as user postfix: hand every queue and logfile directory over to it.
    fn give_to_postfix(&self) {
        let (uid, _) = postfix_ids();
        for queue in [
            "maildrop", "incoming", "active", "deferred", "hold", "defer", "bounce",
        ] {
            let path = self.pf.spool.join(queue);
            if path.exists() {
                chown_tree(&path, uid, None);
            }
        }
    }

    /// Lists with the real tools (stand-alone showq; then a master running only showq) and
    /// with ours.
    fn compare(&mut self, report: &mut Report, what: Compare) {
        self.give_to_postfix();
        compare_listings_with(report, &self.pf.etc, "stopped", what);
        let showq_etc = self.start_showq_only();
        compare_listings_with(report, &showq_etc, "running (showq only)", what);
        self.stop_showq_only();
    }

    /// Only the stand-alone comparison, for files where the real showq daemon's answer depends
    /// on what it served before (or where it dies and the master throttles it); `why` is
    /// recorded as a SKIP for the running variant.
    fn compare_stopped_only(&mut self, report: &mut Report, what: Compare, why: &str) {
        self.give_to_postfix();
        compare_listings_with(report, &self.pf.etc, "stopped", what);
        report.note(SUITE, "master running (showq only)", why);
    }

    fn start_showq_only(&mut self) -> PathBuf {
        self.pf.start_showq_only()
    }

    fn stop_showq_only(&mut self) {
        self.pf.stop();
    }
}

fn spec(sender: &str, recipients: &[&str]) -> MessageSpec {
    MessageSpec {
        arrival_seconds: ARRIVAL,
        arrival_microseconds: 237_981,
        sender: sender.as_bytes().to_vec(),
        recipients: recipients.iter().map(|r| RecipientSpec::live(*r)).collect(),
        extracted_recipients: Vec::new(),
        content: b"Subject: hand made\nFrom: someone\n\nhello\nworld\n".to_vec(),
        style: FileStyle::Cleanup,
    }
}

/// A well-formed control message, so each listing also shows that what follows a bad file is
/// still listed.
fn control(spool: &Spool) -> String {
    spool.add(
        Queue::Deferred,
        &spec("control@example.com", &["ok@example.org"]),
        0o700,
    )
}

fn time_record(file: &mut RawFile) {
    file.rec(kind::TIME, format!("{ARRIVAL} 237981").as_bytes());
}

/// Content + X + E, returning (data offset, X offset).
fn content_and_end(file: &mut RawFile) -> (usize, usize) {
    file.rec(kind::MESSAGE, b"");
    let data = file.len();
    file.rec(kind::NORMAL, b"Subject: hand made");
    file.rec(kind::NORMAL, b"");
    file.rec(kind::NORMAL, b"body");
    let x = file.rec(kind::EXTRACTED, b"");
    file.rec(kind::END, b"");
    (data, x)
}

/// Short-ID-looking names: valid queue IDs, placed by their own hash.
const NAME_A: &str = "3AB12C0DEF1";
const NAME_B: &str = "7FF0011AA22";
const NAME_C: &str = "B0C0FFEE123";

fn build(sender: &str, recipients: &[&str]) -> Vec<u8> {
    build_queue_file(&spec(sender, recipients)).bytes
}

fn run(name: &str, what: Compare, setup: impl FnOnce(&Spool)) {
    scenario(SUITE, name, |report| {
        let mut spool = Spool::new(name);
        setup(&spool);
        spool.compare(report, what);
    });
}

fn run_stopped_only(name: &str, what: Compare, why: &str, setup: impl FnOnce(&Spool)) {
    scenario(SUITE, name, |report| {
        let mut spool = Spool::new(name);
        setup(&spool);
        spool.compare_stopped_only(report, what, why);
    });
}

// ------------------------------------------------------------------------------------------
// Truncation and missing records
// ------------------------------------------------------------------------------------------

#[test]
fn truncated_mid_record() {
    run("truncated_mid_record", Compare::Everything, |s| {
        let bytes = build("cut@example.com", &["r1@example.org", "r2@example.org"]);
        // Cut inside the payload of the second R record.
        let r2 = find(&bytes, b"r2@example.org").expect("second recipient");
        s.raw("deferred", NAME_A, &bytes[..r2 + 4], 0o700);
        control(s);
    });
}

#[test]
fn truncated_after_sender() {
    run("truncated_after_sender", Compare::Everything, |s| {
        let bytes = build("cut@example.com", &["r1@example.org"]);
        let sender = find(&bytes, b"cut@example.com").expect("sender");
        s.raw(
            "deferred",
            NAME_A,
            &bytes[..sender + "cut@example.com".len()],
            0o700,
        );
        // Same, with a defer log: its recipients are still listed.
        let other = build("logged@example.com", &["r1@example.org", "r2@example.org"]);
        let sender = find(&other, b"logged@example.com").expect("sender");
        s.raw(
            "deferred",
            NAME_B,
            &other[..sender + "logged@example.com".len()],
            0o700,
        );
        s.defer_entry(NAME_B, "r1@example.org", "reason from the log");
    });
}

#[test]
fn truncated_inside_length_and_type() {
    run(
        "truncated_inside_length_and_type",
        Compare::Everything,
        |s| {
            // A type byte and then EOF; and a multi-byte length cut after its first byte.
            let mut a = build("typeonly@example.com", &["r@example.org"]);
            let at = find(&a, b"r@example.org").expect("rcpt") - 2;
            a.truncate(at + 1);
            s.raw("deferred", NAME_A, &a, 0o700);
            let mut b = RawFile::default();
            time_record(&mut b);
            b.rec(kind::FROM, b"longlen@example.com");
            b.rec(kind::RCPT, b"before@example.org");
            b.bytes.extend_from_slice(&[b'R', 0x85]); // length continues, then EOF
            s.raw("deferred", NAME_B, &b.bytes, 0o700);
            control(s);
        },
    );
}

#[test]
fn missing_time_record() {
    run("missing_time_record", Compare::Everything, |s| {
        // No T: the file's mtime is shown, in each TZ (one winter, one summer date).
        let mut file = RawFile::default();
        file.rec(kind::FROM, b"notime@example.com");
        file.rec(kind::RCPT, b"r@example.org");
        content_and_end(&mut file);
        let path = s.raw("deferred", NAME_A, &file.bytes, 0o700);
        set_mtime(&path, OLD_MTIME);
        let path = s.raw("hold", NAME_B, &file.bytes, 0o700);
        set_mtime(&path, SUMMER_MTIME);
        // T of 0 counts as absent; a negative T is kept (not 0) but not shown (not > 0).
        for (name, time) in [(NAME_C, "0 0"), ("C0FFEE00001", "-86400 5")] {
            let mut file = RawFile::default();
            file.rec(kind::TIME, time.as_bytes());
            file.rec(kind::TIME, format!("{ARRIVAL}").as_bytes());
            file.rec(kind::FROM, format!("time-{time}@example.com").as_bytes());
            file.rec(kind::RCPT, b"r@example.org");
            content_and_end(&mut file);
            let path = s.raw("deferred", name, &file.bytes, 0o700);
            set_mtime(&path, SUMMER_MTIME);
        }
    });
}

#[test]
fn missing_or_bad_size_record() {
    run("missing_or_bad_size_record", Compare::Everything, |s| {
        let names = [
            "3AB12C0DE01",
            "3AB12C0DE02",
            "3AB12C0DE03",
            "3AB12C0DE04",
            "3AB12C0DE05",
            "3AB12C0DE06",
        ];
        let sizes: [Option<&[u8]>; 6] = [
            None,                   // no C: file size
            Some(b"abc"),           // not digits: file size
            Some(b"-5 10 1 0 0 0"), // '-' is not allowed: file size
            Some(b"   "),           // spaces only: atol 0, valid, size 0
            Some(b"  123    45"),   // an old, short size record
            Some(b"12x34"),         // trailing garbage: file size
        ];
        for (name, size) in names.iter().zip(sizes) {
            let mut file = RawFile::default();
            if let Some(size) = size {
                file.rec(kind::SIZE, size);
            }
            time_record(&mut file);
            file.rec(kind::FROM, format!("size-{name}@example.com").as_bytes());
            file.rec(kind::RCPT, b"r@example.org");
            content_and_end(&mut file);
            s.raw("deferred", name, &file.bytes, 0o700);
        }
        // A second C record is ignored; only the first counts.
        let mut file = RawFile::default();
        file.rec(kind::SIZE, b"111");
        file.rec(kind::SIZE, b"222");
        time_record(&mut file);
        file.rec(kind::FROM, b"twosizes@example.com");
        file.rec(kind::RCPT, b"r@example.org");
        content_and_end(&mut file);
        s.raw("deferred", "3AB12C0DE07", &file.bytes, 0o700);
    });
}

/// A valid size that makes showq's seek past the content land inside a content record whose
/// text looks like a recipient record: showq then reads it as one.
#[test]
fn size_lands_inside_content() {
    run("size_lands_inside_content", Compare::Everything, |s| {
        let mut file = RawFile::default();
        let c = file.size_placeholder();
        time_record(&mut file);
        file.rec(kind::FROM, b"seek@example.com");
        file.rec(kind::RCPT, b"real@example.org");
        file.rec(kind::MESSAGE, b"");
        let data = file.len();
        file.rec(kind::NORMAL, b"Subject: tricky");
        let mut fake = Vec::new();
        write_record(&mut fake, kind::RCPT, b"hidden@example.org");
        let line = file.rec(kind::NORMAL, &fake);
        file.rec(kind::EXTRACTED, b"");
        file.rec(kind::END, b"");
        // Point the seek at the payload of the N record: 2 bytes of framing.
        file.patch_size(c, line + 2 - data, data, 1);
        s.raw("deferred", NAME_A, &file.bytes, 0o700);
        control(s);
    });
}

#[test]
fn huge_size_record() {
    run("huge_size_record", Compare::Everything, |s| {
        // Larger than the file: the seek goes past EOF and the listing ends there.
        let mut file = RawFile::default();
        file.rec(kind::SIZE, b"999999");
        time_record(&mut file);
        file.rec(kind::FROM, b"pastend@example.com");
        file.rec(kind::RCPT, b"before-m@example.org");
        content_and_end(&mut file);
        s.raw("deferred", NAME_A, &file.bytes, 0o700);
        control(s);
    });
}

#[test]
fn size_record_overflows_long() {
    run("size_record_overflows_long", Compare::Everything, |s| {
        // atol saturates at LONG_MAX; the summary sums sizes as unsigned long.
        let mut file = RawFile::default();
        file.rec(kind::SIZE, b"99999999999999999999");
        time_record(&mut file);
        file.rec(kind::FROM, b"huge@example.com");
        file.rec(kind::RCPT, b"r@example.org");
        s.raw("deferred", NAME_A, &file.bytes, 0o700);
        control(s);
    });
}

// ------------------------------------------------------------------------------------------
// Addresses
// ------------------------------------------------------------------------------------------

#[test]
fn empty_sender_and_recipient() {
    run("empty_sender_and_recipient", Compare::Everything, |s| {
        s.raw(
            "deferred",
            NAME_A,
            &build("", &["", "r@example.org"]),
            0o700,
        );
        // Logfile null recipient: `<>` there, MAILER-DAEMON from the R record.
        s.raw("deferred", NAME_B, &build("", &[""]), 0o700);
        s.defer_raw(
            NAME_B,
            b"\n<>: null recipient reason\nrecipient=<>\nstatus=4.4.1\naction=delayed\nreason=null recipient reason\n\n",
        );
    });
}

#[test]
fn odd_bytes_in_addresses() {
    run("odd_bytes_in_addresses", Compare::Everything, |s| {
        s.raw(
            "deferred",
            NAME_A,
            &build(
                "tab\there@example.com",
                &[
                    "nul\0cut@example.org",
                    "del\u{7f}x@example.org",
                    "ctl\u{1}x@example.org",
                    "quote\"in@example.org",
                    "back\\slash@example.org",
                    "@route.example:user@example.org",
                    "a.@example.org",
                    ".a@example.org",
                    "a..b@example.org",
                    "no-at-sign",
                    "two@at@example.org",
                    "ümlaut@example.org",
                ],
            ),
            0o700,
        );
        // Invalid UTF-8 bytes (3.7's lenient rule keeps a lead byte plus continuations).
        let mut file = RawFile::default();
        time_record(&mut file);
        file.rec(kind::FROM, b"j\xe9r\xf4me@example.com");
        file.rec(kind::RCPT, b"\xc3\xa9\xa9\xa9@example.org");
        file.rec(kind::RCPT, b"\xe2\x82@example.org");
        file.rec(kind::RCPT, b"\xff\xfe@example.org");
        file.rec(kind::RCPT, b"\xc0\xaf@example.org");
        file.rec(kind::RCPT, b"\xf4\x90\x80\x80@example.org");
        content_and_end(&mut file);
        s.raw("deferred", NAME_B, &file.bytes, 0o700);
        s.defer_raw(
            NAME_B,
            b"\n<x@example.org>: tab\there ctl\x01 del\x7f bad\xff utf8 \xc3\xa9 end\nrecipient=x@example.org\nreason=tab\there ctl\x01 del\x7f bad\xff utf8 \xc3\xa9 \"q\" \\ end\n\n",
        );
    });
}

// ------------------------------------------------------------------------------------------
// Pointer records, padding and dead recipients
// ------------------------------------------------------------------------------------------

#[test]
fn pointer_loop() {
    // The real showq gives up after 10000 reverse jumps; a bounded run guards against a hang.
    run_stopped_only(
        "pointer_loop",
        Compare::Everything,
        "showq's reverse-jump counter is static and survives across requests for the same file, \
         so a long-running showq daemon answers differently each time",
        |s| {
            let mut file = RawFile::default();
            time_record(&mut file);
            file.rec(kind::FROM, b"loop@example.com");
            let r = file.rec(kind::RCPT, b"looped@example.org");
            file.pointer(r);
            content_and_end(&mut file);
            s.raw("deferred", NAME_A, &file.bytes, 0o700);
            // A pointer to itself.
            let mut own = RawFile::default();
            time_record(&mut own);
            own.rec(kind::FROM, b"self@example.com");
            let at = own.len();
            own.pointer(at);
            content_and_end(&mut own);
            s.raw("deferred", NAME_B, &own.bytes, 0o700);
            control(s);
        },
    );
}

#[test]
fn pointer_chain_after_end() {
    run("pointer_chain_after_end", Compare::Everything, |s| {
        // Envelope: C T S R p(->heap1) M ... X E | heap1: R R p(->heap2) | heap2: R p(->M)
        let mut file = RawFile::default();
        let c = file.size_placeholder();
        time_record(&mut file);
        file.rec(kind::FROM, b"heap@example.com");
        file.rec(kind::RCPT, b"first@example.org");
        let jump = file.pointer(0);
        let m = file.len();
        let (data, x) = content_and_end(&mut file);
        let heap1 = file.rec(kind::RCPT, b"moved1@example.org");
        file.rec(kind::RCPT, b"moved2@example.org");
        let jump2 = file.pointer(0);
        let heap2 = file.rec(kind::RCPT, b"chained@example.org");
        file.pointer(m);
        file.patch_pointer(jump, heap1);
        file.patch_pointer(jump2, heap2);
        file.patch_size(c, x - data, data, 4);
        s.raw("deferred", NAME_A, &file.bytes, 0o700);
        // A malformed pointer value ends the file there; a dummy (0) is skipped; a pointer
        // past EOF reads nothing more.
        for (name, value) in [
            (NAME_B, "not a number"),
            (NAME_C, "              0"),
            ("C0FFEE00002", "         999999"),
        ] {
            let mut f = RawFile::default();
            time_record(&mut f);
            f.rec(
                kind::FROM,
                format!("ptr-{}@example.com", value.trim())
                    .replace(' ', "_")
                    .as_bytes(),
            );
            f.rec(kind::POINTER, value.as_bytes());
            f.rec(kind::RCPT, b"after-pointer@example.org");
            content_and_end(&mut f);
            s.raw("deferred", name, &f.bytes, 0o700);
        }
    });
}

#[test]
fn padding_and_dead_recipients() {
    run("padding_and_dead_recipients", Compare::Everything, |s| {
        // w padding, D (delivered), / (cancelled), K (killed), and O / A records around them.
        let mut spec = spec("mixed@example.com", &[]);
        spec.recipients = vec![
            RecipientSpec {
                address: b"done@example.org".to_vec(),
                state: RecipientState::Done,
            },
            RecipientSpec::live("live1@example.org"),
            RecipientSpec {
                address: b"cancelled@example.org".to_vec(),
                state: RecipientState::Cancelled,
            },
            RecipientSpec::live("live2@example.org"),
        ];
        spec.extracted_recipients = vec![
            RecipientSpec::live("extracted@example.org"),
            RecipientSpec {
                address: b"extracted-done@example.org".to_vec(),
                state: RecipientState::Done,
            },
        ];
        s.add(Queue::Deferred, &spec, 0o700);
        let mut file = RawFile::default();
        time_record(&mut file);
        file.rec(kind::PADDING, b"padding before the sender");
        file.rec(kind::FROM, b"padded@example.com");
        file.rec(kind::PADDING, b"");
        file.rec(kind::KILLED, b"killed@example.org");
        file.rec(kind::RCPT, b"kept@example.org");
        file.rec(b'D', b"delivered@example.org");
        file.rec(b'/', b"dropped@example.org");
        file.rec(kind::PADDING, &[b'w'; 300]);
        file.rec(kind::RCPT, b"kept2@example.org");
        content_and_end(&mut file);
        s.raw("deferred", NAME_A, &file.bytes, 0o700);
    });
}

#[test]
fn nul_record_type() {
    run("nul_record_type", Compare::Everything, |s| {
        // rec_get returns type 0, and showq's loop (`> 0`) ends there as at EOF.
        let mut file = RawFile::default();
        time_record(&mut file);
        file.rec(kind::FROM, b"nul@example.com");
        file.rec(kind::RCPT, b"before@example.org");
        file.rec(0, b"");
        file.rec(kind::RCPT, b"after@example.org");
        content_and_end(&mut file);
        s.raw("deferred", NAME_A, &file.bytes, 0o700);
        // Unknown but non-zero types are ignored.
        let mut other = RawFile::default();
        time_record(&mut other);
        other.rec(kind::FROM, b"unknown@example.com");
        other.rec(b'?', b"mystery");
        other.rec(0x7f, b"del type");
        other.rec(0xff, b"high type");
        other.rec(kind::RCPT, b"after-unknown@example.org");
        content_and_end(&mut other);
        s.raw("deferred", NAME_B, &other.bytes, 0o700);
        control(s);
    });
}

#[test]
fn five_length_bytes() {
    run("five_length_bytes", Compare::Everything, |s| {
        // 3.7 accepts a fifth length byte (shift 28 < 32); a non-minimal encoding of 17.
        let mut file = RawFile::default();
        time_record(&mut file);
        file.rec(kind::FROM, b"fivelen@example.com");
        file.bytes
            .extend_from_slice(&[b'R', 0x91, 0x80, 0x80, 0x80, 0x00]);
        file.bytes.extend_from_slice(b"five@example.org.");
        file.rec(kind::RCPT, b"after@example.org");
        content_and_end(&mut file);
        s.raw("deferred", NAME_A, &file.bytes, 0o700);
        // Six length bytes: "too many length bits".
        let mut six = RawFile::default();
        time_record(&mut six);
        six.rec(kind::FROM, b"sixlen@example.com");
        six.bytes
            .extend_from_slice(&[b'R', 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]);
        six.rec(kind::RCPT, b"after@example.org");
        content_and_end(&mut six);
        s.raw("deferred", NAME_B, &six.bytes, 0o700);
        control(s);
    });
}

// ------------------------------------------------------------------------------------------
// File modes, names and places
// ------------------------------------------------------------------------------------------

#[test]
fn file_modes() {
    run("file_modes", Compare::Everything, |s| {
        let body = build("mode@example.com", &["r@example.org"]);
        s.raw("deferred", "3AB12C0DE01", &body, 0o600); // being written: skipped
        s.raw("deferred", "3AB12C0DE02", &body, 0o710); // forced expiry: #
        s.raw("hold", "3AB12C0DE03", &body, 0o710); // !#
        s.raw("active", "3AB12C0DE04", &body, 0o750); // g+r (unthrottle) is no flag
        s.raw("incoming", "3AB12C0DE05", &body, 0o717);
        s.raw("deferred", "3AB12C0DE06", &body, 0o500); // not rwx: skipped
        s.raw("deferred", "3AB12C0DE07", &body, 0o1700);
        s.raw(
            "maildrop",
            "3AB12C0DE08",
            &build("drop@example.com", &["m@example.org"]),
            0o744,
        );
    });
}

#[test]
fn odd_names_and_places() {
    run("odd_names_and_places", Compare::Everything, |s| {
        let body = build("name@example.com", &["r@example.org"]);
        // Names that are not queue IDs: skipped.
        for name in ["ABC.123", "ABC-123", "1234567890.12345"] {
            let path = s.pf.spool.join("deferred/A").join(name);
            fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            fs::write(&path, &body).expect("write");
            fs::set_permissions(&path, fs::Permissions::from_mode(0o700)).expect("chmod");
        }
        // Any [A-Za-z0-9_] name counts, hex or not.
        s.raw("deferred", "7UNK_NAME", &body, 0o700);
        s.raw("hold", "lower_case_id", &body, 0o700);
        // A valid name in the wrong hash directory: skipped.
        let wrong = s.pf.spool.join("deferred/C/B1234567890");
        fs::create_dir_all(wrong.parent().expect("parent")).expect("mkdir");
        fs::write(&wrong, &body).expect("write");
        fs::set_permissions(&wrong, fs::Permissions::from_mode(0o700)).expect("chmod");
        // A file in maildrop's (unhashed) subdirectory is not looked for.
        let sub = s.pf.spool.join("maildrop/X");
        fs::create_dir_all(&sub).expect("mkdir");
        fs::write(sub.join("ABCDEF12345"), &body).expect("write");
        // The same file in two queues (a rename caught half way): listed twice.
        let original = s.raw("active", NAME_C, &body, 0o700);
        let second = s.path("deferred", NAME_C);
        fs::create_dir_all(second.parent().expect("parent")).expect("mkdir");
        fs::hard_link(&original, &second).expect("hard link");
        control(s);
    });
}

/// Non-regular files with valid ID names: showq warns (to syslog/the mail log only) and skips
/// them. stderr is compared without those warnings in case a build of ours prints them.
#[test]
fn non_regular_files() {
    run(
        "non_regular_files",
        Compare::StderrExcept("not a regular file"),
        |s| {
            let dir = s.path("deferred", "ABCDE12345");
            fs::create_dir_all(&dir).expect("mkdir");
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).expect("chmod");
            let fifo = s.path("active", "FEDCB54321");
            let c = std::ffi::CString::new(fifo.to_string_lossy().as_bytes()).expect("path");
            // SAFETY: valid NUL-terminated path.
            let rc = unsafe { libc::mkfifo(c.as_ptr(), 0o700) };
            assert_eq!(rc, 0, "mkfifo");
            let target = s.raw(
                "hold",
                NAME_A,
                &build("link@example.com", &["r@example.org"]),
                0o700,
            );
            std::os::unix::fs::symlink(&target, s.path("incoming", "LINK0000001"))
                .expect("symlink");
            control(s);
        },
    );
}

/// A one-character *file* inside a hashed queue: showq takes it for a subdirectory, fails to
/// open it and dies; postqueue reports a malformed response.
#[test]
fn one_character_file_in_hashed_queue() {
    run_stopped_only(
        "one_character_file_in_hashed_queue",
        Compare::Everything,
        "the showq daemon dies on every request and the master throttles it, so what postqueue \
         gets depends on timing",
        |s| {
            s.raw(
                "active",
                NAME_C,
                &build("first@example.com", &["r@example.org"]),
                0o700,
            );
            let path = s.pf.spool.join("deferred/Z");
            fs::write(&path, b"not a directory").expect("write");
            control(s);
        },
    );
}

/// Files the postfix user cannot read: showq (which runs as postfix) skips the queue file and
/// cannot open the defer log; a root-run reader sees both unless it checks.
#[test]
fn unreadable_for_postfix() {
    scenario(SUITE, "unreadable_for_postfix", |report| {
        let mut s = Spool::new("unreadable_for_postfix");
        let body = build("secret@example.com", &["r@example.org"]);
        s.raw("deferred", NAME_A, &body, 0o700);
        let id = control(&s);
        s.defer_entry(&id, "ok@example.org", "reason in a root-only log");
        s.give_to_postfix();
        let (root_uid, root_gid) = (0, 0);
        std::os::unix::fs::chown(s.path("deferred", NAME_A), Some(root_uid), Some(root_gid))
            .expect("chown");
        std::os::unix::fs::chown(s.path("defer", &id), Some(root_uid), Some(root_gid))
            .expect("chown");
        compare_listings_with(report, &s.pf.etc, "stopped", Compare::Everything);
        let etc = s.start_showq_only();
        compare_listings_with(report, &etc, "running (showq only)", Compare::Everything);
        s.stop_showq_only();
    });
}

// ------------------------------------------------------------------------------------------
// Defer logs
// ------------------------------------------------------------------------------------------

#[test]
fn defer_log_unterminated_entry() {
    run("defer_log_unterminated_entry", Compare::Everything, |s| {
        let id = s.add(
            Queue::Deferred,
            &spec(
                "log@example.com",
                &["r1@example.org", "r2@example.org", "r3@example.org"],
            ),
            0o700,
        );
        s.defer_entry(&id, "r1@example.org", "complete entry");
        // The last entry lacks its closing blank line: bounce_log drops it.
        s.defer_raw(
            &id,
            b"\n<r2@example.org>: unterminated\nrecipient=r2@example.org\nreason=unterminated",
        );
    });
}

#[test]
fn defer_log_odd_entries() {
    run("defer_log_odd_entries", Compare::Everything, |s| {
        let id = s.add(
            Queue::Deferred,
            &spec("log@example.com", &["live@example.org", "also@example.org"]),
            0o700,
        );
        // Recipients the queue file does not have (delivered since, or stale): still listed.
        s.defer_entry(&id, "ghost@example.org", "not in queue file");
        s.defer_entry(&id, "live@example.org", "not in queue file");
        // Old-style line only; new style overriding old; unknown and malformed lines; no
        // recipient (placeholder), no reason (placeholder); extra blank lines.
        s.defer_raw(
            &id,
            b"\n<oldstyle@example.org>: old style reason\n\n\
              \n<both@example.org>: old text\nrecipient=both@example.org\nreason=new text\n\n\
              \nrecipient=unknown@example.org\nfrobnicate=yes\n!!malformed line\nreason=has odd lines\n\n\
              \nstatus=4.4.1\nreason=no recipient here\n\n\
              \nrecipient=noreason@example.org\n\n\n\n\
              \nrecipient=  spaced@example.org  \nreason =   spaced reason   \n\n\
              \nrecipient=\nreason=empty recipient value\n\n",
        );
        // A second message whose log repeats one recipient many times.
        let id2 = s.add(
            Queue::Deferred,
            &spec("dups@example.com", &["a@example.org", "b@example.org"]),
            0o700,
        );
        for reason in ["one", "one", "two", "one"] {
            s.defer_entry(&id2, "a@example.org", reason);
        }
        // A log with no entry at all, and one that is empty.
        let id3 = s.add(
            Queue::Deferred,
            &spec("nolog@example.com", &["x@example.org"]),
            0o700,
        );
        s.defer_raw(&id3, b"");
        let id4 = s.add(
            Queue::Deferred,
            &spec("junklog@example.com", &["y@example.org"]),
            0o700,
        );
        s.defer_raw(&id4, b"garbage without newline");
    });
}

#[test]
fn duplicate_filter_limit() {
    scenario(SUITE, "duplicate_filter_limit", |report| {
        // With duplicate_filter_limit = 3 only the first 3 logfile addresses go into the
        // filter; queue-file recipients beyond them are listed a second time.
        let options = InstanceOptions {
            extra_main_cf: vec![("duplicate_filter_limit".into(), "3".into())],
            ..InstanceOptions::default()
        };
        let mut s = Spool::with_options("duplicate_filter_limit", options);
        let rcpts: Vec<String> = (0..6).map(|i| format!("r{i}@example.org")).collect();
        let refs: Vec<&str> = rcpts.iter().map(String::as_str).collect();
        let id = s.add(Queue::Deferred, &spec("limit@example.com", &refs), 0o700);
        for r in &rcpts[..5] {
            s.defer_entry(&id, r, "logged");
        }
        s.compare(report, Compare::Everything);
    });
}

// ------------------------------------------------------------------------------------------
// Layouts and volume
// ------------------------------------------------------------------------------------------

#[test]
fn long_ids_and_depth_two() {
    scenario(SUITE, "long_ids_and_depth_two", |report| {
        let options = InstanceOptions {
            long_queue_ids: true,
            hash_queue_depth: 2,
            ..InstanceOptions::default()
        };
        let mut s = Spool::with_options("long_ids_and_depth_two", options);
        for i in 0..5u32 {
            let mut m = spec(&format!("long{i}@example.com"), &["r@example.org"]);
            m.arrival_microseconds = 100_000 * i + 7;
            let id = s.add(Queue::Deferred, &m, 0o700);
            s.defer_entry(&id, "r@example.org", "long id reason");
        }
        // A short ID in a long-ID spool: listed in the long layout.
        s.raw(
            "hold",
            NAME_A,
            &build("short@example.com", &["r@example.org"]),
            0o710,
        );
        s.compare(report, Compare::Everything);
    });
}

#[test]
fn many_files_in_readdir_order() {
    scenario(SUITE, "many_files_in_readdir_order", |report| {
        // Enough files that the parallel scan must reorder results into readdir order.
        let mut s = Spool::new("many_files_in_readdir_order");
        for i in 0..1500u32 {
            let mut m = spec(&format!("bulk{i}@example.com"), &["r@example.org"]);
            m.arrival_microseconds = (i * 613) % 1_000_000;
            let queue = if i % 10 == 0 {
                Queue::Hold
            } else {
                Queue::Deferred
            };
            s.add(queue, &m, if i % 7 == 0 { 0o710 } else { 0o700 });
        }
        s.compare(report, Compare::Everything);
    });
}

/// Other `hash_queue_names`: the defer logs flat while deferred is hashed, every queue hashed
/// (hold, incoming and active too), and no listed queue or logfile hashed.
#[test]
fn hash_queue_names_variants() {
    let variants: [(&str, &str, &[&str]); 3] = [
        ("hash_queue_names_defer_flat", "deferred", &["deferred"]),
        (
            "hash_queue_names_all_queues",
            "deferred, defer, hold, incoming, active",
            &["deferred", "defer", "hold", "incoming", "active"],
        ),
        // (An empty value is a configuration error in Postfix; config_edge_cases has it.)
        ("hash_queue_names_no_queue_hashed", "flush", &["flush"]),
    ];
    for (name, setting, hashed) in variants {
        scenario(SUITE, name, |report| {
            let mut s = Spool::with_hashing(name, InstanceOptions::default(), hashed);
            // After `postfix check`, which refuses an empty hash_queue_names.
            s.pf.set_main_cf(&[("hash_queue_names", setting)]);
            for (queue, mode) in [
                (Queue::Deferred, 0o700),
                (Queue::Hold, 0o700),
                (Queue::Incoming, 0o710),
                (Queue::Active, 0o700),
                (Queue::Deferred, 0o710),
            ] {
                let id = s.add(
                    queue,
                    &spec(
                        &format!("{}@example.com", queue.name()),
                        &["r1@example.org", "r2@example.org"],
                    ),
                    mode,
                );
                s.defer_entry(&id, "r1@example.org", "hashed or not");
            }
            s.compare(report, Compare::Everything);
        });
    }
}

/// The arrival time under more TZ forms than the main matrix: POSIX rules, a half-hour zone,
/// a leading colon, an unknown zone (UTC without a name), an empty TZ, and no TZ at all
/// (/etc/localtime).
#[test]
fn time_zone_variants() {
    scenario(SUITE, "time_zone_variants", |report| {
        let s = Spool::new("time_zone_variants");
        for (i, when) in [
            ARRIVAL,
            SUMMER_MTIME,
            OLD_MTIME,
            0,
            1,
            2_147_483_648,
            253_402_300_800,
        ]
        .into_iter()
        .enumerate()
        {
            let mut file = RawFile::default();
            file.rec(kind::TIME, format!("{when} 0").as_bytes());
            file.rec(kind::FROM, format!("tz{i}@example.com").as_bytes());
            file.rec(kind::RCPT, b"r@example.org");
            content_and_end(&mut file);
            let path = s.raw("deferred", &format!("C0FFEE0000{i}"), &file.bytes, 0o700);
            // T of 0 falls back to the mtime.
            set_mtime(&path, SUMMER_MTIME);
        }
        s.give_to_postfix();
        let zones = [
            Some("EST5EDT"),
            Some("Asia/Kolkata"),
            Some(":Europe/Berlin"),
            Some("Australia/Lord_Howe"),
            Some("Nonexistent/Zone"),
            Some("<+0330>-3:30"),
            Some(""),
            None,
        ];
        for zone in zones {
            for mode in ["-p", "-j"] {
                let mut real = Invocation::new(REAL_POSTQUEUE)
                    .arg("-c")
                    .arg(&s.pf.etc)
                    .arg(mode);
                let mut ours = Invocation::new(OUR_POSTQUEUE)
                    .arg("-c")
                    .arg(&s.pf.etc)
                    .arg(mode);
                if let Some(zone) = zone {
                    real = real.env("TZ", zone);
                    ours = ours.env("TZ", zone);
                }
                compare_invocations(
                    report,
                    SUITE,
                    &format!("postqueue {mode}, TZ={}", zone.unwrap_or("(unset)")),
                    &real,
                    &ours,
                    Compare::Everything,
                );
            }
        }
    });
}

// ------------------------------------------------------------------------------------------
// Undefined in 3.7: not compared, only noted
// ------------------------------------------------------------------------------------------

#[test]
fn undefined_in_postfix_3_7() {
    if !live_postfix_available(SUITE, "undefined_in_postfix_3_7") {
        return;
    }
    // A duplicate S record and an R before S: 3.7's showq frees its buffers and reads on
    // (undefined behaviour); the project follows 3.12 here (docs/deviations.md).
    for case in ["duplicate sender record", "recipient before sender record"] {
        record_result(
            SUITE,
            &format!("undefined_in_postfix_3_7: {case}"),
            Status::Skip,
            "undefined behaviour in Postfix 3.7 showq; not compared",
        );
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
