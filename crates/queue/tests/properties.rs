//! Property tests of the postfix-queue library (owned by the test suite, not by src/): the record
//! reader and writer, defer logfiles, main.cf expansion, showq's extraction and queue IDs, each
//! checked on arbitrary input for "never panics, always ends" and on generated input against
//! the spec (format-and-postqueue.md §2-§5).

use std::collections::HashSet;
use std::io::Cursor;
use std::sync::mpsc;
use std::time::Duration;

use postfix_queue::envelope::{extract_entry, Entry, FileFacts, Queue, Recipient, ShowqSettings};
use postfix_queue::logfile::{format_entry, parse_logfile};
use postfix_queue::queue_id::{
    hash_key, is_valid_queue_id, long_id, parse_long_id, queue_file_path, short_id, LongIdParts,
    LONG_ID_ALPHABET,
};
use postfix_queue::record::{write_record, RecordError, RecordReader, REVERSE_JUMP_LIMIT};
use postfix_queue::text::{present_address, printable, quote_822_local};
use postfix_queue::writer::{
    build_queue_file, FileStyle, MessageSpec, RecipientSpec, RecipientState,
};
use postfix_queue::Config;
use proptest::prelude::*;
use proptest::sample::select;

/// Runs `work` on its own thread and fails the test if it has not finished in time. A plain
/// call would turn a non-terminating reader into a hung test run instead of a failure.
fn within_deadline<T: Send + 'static>(what: &str, work: impl FnOnce() -> T + Send + 'static) -> T {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        // The receiver is gone only after a timeout, when the result no longer matters.
        let _ = sender.send(work());
    });
    match receiver.recv_timeout(Duration::from_secs(20)) {
        Ok(value) => value,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{what}: did not terminate within 20 s"),
        // The worker thread panicked; its message is already on stderr.
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("{what}: panicked"),
    }
}

/// The error variant, without its payload, so outcomes can be compared.
fn error_tag(error: &RecordError) -> &'static str {
    match error {
        RecordError::TooManyLengthBits { .. } => "TooManyLengthBits",
        RecordError::EofInLength { .. } => "EofInLength",
        RecordError::IllegalLength { .. } => "IllegalLength",
        RecordError::EofInData { .. } => "EofInData",
        RecordError::MalformedPointer { .. } => "MalformedPointer",
        RecordError::TooManyReverseJumps => "TooManyReverseJumps",
        RecordError::Io(_) => "Io",
    }
}

/// Proptest settings for this file: `cases` per property, and no regression files written
/// next to the sources (failures print their minimal input instead).
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

type Records = Vec<(u8, Vec<u8>)>;

/// Reads with the transparent rules until EOF or the first error. The loop guard is a proven
/// upper bound (every cycle through a pointer loop costs one of the limited reverse jumps, and
/// between two of them each offset is visited at most once per increasing jump target), so
/// hitting it means the reader would have gone on for ever.
fn read_transparent(bytes: &[u8]) -> (Records, Option<&'static str>) {
    let length = bytes.len() as u64 + 1;
    let bound = (u64::from(REVERSE_JUMP_LIMIT) + 2) * length * length + 16;
    let mut reader = RecordReader::new(Cursor::new(bytes));
    let mut records = Vec::new();
    let mut data = Vec::new();
    loop {
        assert!((records.len() as u64) < bound, "transparent reader loops");
        match reader.next_record(&mut data) {
            Ok(Some(kind)) => records.push((kind, data.clone())),
            Ok(None) => {
                // Once at the end, the reader stays there.
                assert_eq!(reader.next_record(&mut data).ok(), Some(None));
                return (records, None);
            }
            Err(error) => return (records, Some(error_tag(&error))),
        }
    }
}

/// Reads raw records until EOF or the first error, checking that each record's bytes are
/// exactly the next slice of the input.
fn read_raw(bytes: &[u8]) -> (Records, Option<&'static str>) {
    let mut reader = RecordReader::new(Cursor::new(bytes));
    let mut records = Vec::new();
    let mut data = Vec::new();
    loop {
        // Every raw record consumes at least two bytes.
        assert!(records.len() <= bytes.len() / 2, "raw reader loops");
        match reader.next_raw(&mut data) {
            Ok(Some(kind)) => {
                let end = reader.position().expect("cursor position") as usize;
                assert_eq!(&bytes[end - data.len()..end], data.as_slice());
                records.push((kind, data.clone()));
            }
            Ok(None) => return (records, None),
            Err(error) => return (records, Some(error_tag(&error))),
        }
    }
}

/// An independent decoder of the framing with Postfix 3.7's arithmetic (`record.c`): 7 bits
/// per length byte shifted into a C int, at most 5 length bytes, negative lengths illegal.
fn reference_raw(bytes: &[u8]) -> (Records, Option<&'static str>) {
    let mut records = Vec::new();
    let mut at = 0usize;
    loop {
        let Some(&kind) = bytes.get(at) else {
            return (records, None);
        };
        at += 1;
        let mut length: i32 = 0;
        let mut shift = 0u32;
        loop {
            if shift >= 32 {
                return (records, Some("TooManyLengthBits"));
            }
            let Some(&byte) = bytes.get(at) else {
                return (records, Some("EofInLength"));
            };
            at += 1;
            length |= (u32::from(byte & 0x7f) << shift) as i32;
            if byte & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        if length < 0 {
            return (records, Some("IllegalLength"));
        }
        let end = at + length as usize;
        if end > bytes.len() {
            return (records, Some("EofInData"));
        }
        records.push((kind, bytes[at..end].to_vec()));
        at = end;
    }
}

/// Record kinds the transparent reader returns as they are (not `p`, `w` or `E`).
fn plain_kind() -> impl Strategy<Value = u8> {
    any::<u8>().prop_filter("transparent reader treats p, w, E specially", |k| {
        !matches!(k, b'p' | b'w' | b'E')
    })
}

/// Payload lengths on and around the 1/2/3-byte length encodings.
fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => prop::collection::vec(any::<u8>(), 0..40),
        1 => select(vec![126usize, 127, 128, 129, 16_382, 16_383, 16_384, 16_385])
            .prop_flat_map(|length| prop::collection::vec(any::<u8>(), length..=length)),
    ]
}

fn plain_records(max: usize) -> impl Strategy<Value = Records> {
    prop::collection::vec(
        (plain_kind(), prop::collection::vec(any::<u8>(), 0..20)),
        0..max,
    )
}

fn encode(records: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (kind, data) in records {
        write_record(&mut out, *kind, data);
    }
    out
}

fn pointer(offset: usize) -> Vec<u8> {
    format!("{offset:15}").into_bytes()
}

/// Bytes that look like queue files: real framing with the kinds showq reacts to, pointers to
/// arbitrary or nearby offsets, and the occasional damaged length.
fn queue_file_like() -> impl Strategy<Value = Vec<u8>> {
    let kinds = select(b"CTSRMXEpwDON\0K".to_vec());
    let data = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..24),
        (0usize..400).prop_map(pointer),
        select(vec![
            b"              0".to_vec(),
            b"  123   456   1   0  123   0".to_vec(),
            b"12x".to_vec(),
            b"1795976329 237981".to_vec(),
            b"0".to_vec(),
            b"".to_vec(),
            b"-5".to_vec(),
            b"99999999999999999999".to_vec(),
        ]),
    ];
    (
        prop::collection::vec((kinds, data), 0..24),
        prop::collection::vec(any::<u8>(), 0..6),
    )
        .prop_map(|(records, tail)| {
            let mut out = encode(&records);
            out.extend_from_slice(&tail);
            out
        })
}

proptest! {
    #![proptest_config(config(256))]

    // (a) Arbitrary bytes: both readers stop at EOF or at their first error, never panic, and
    // the raw reader agrees record for record (and on the error) with the reference decoder.
    #[test]
    fn readers_end_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let shared = bytes.clone();
        let (raw, _) =
            within_deadline("reading arbitrary bytes", move || (read_raw(&shared), read_transparent(&shared)));
        prop_assert_eq!(&raw, &reference_raw(&bytes));
    }

    #[test]
    fn readers_end_on_queue_file_like_bytes(bytes in queue_file_like()) {
        let shared = bytes.clone();
        let (raw, _) =
            within_deadline("reading queue-file-like bytes", move || (read_raw(&shared), read_transparent(&shared)));
        prop_assert_eq!(&raw, &reference_raw(&bytes));
    }

    // (a) A valid prefix keeps its records whatever garbage follows it.
    #[test]
    fn valid_prefix_survives_garbage(
        prefix in plain_records(12),
        garbage in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut bytes = encode(&prefix);
        bytes.extend_from_slice(&garbage);
        let shared = bytes.clone();
        let ((raw, _), (transparent, _)) =
            within_deadline("reading prefix plus garbage", move || (read_raw(&shared), read_transparent(&shared)));
        prop_assert!(raw.len() >= prefix.len());
        prop_assert_eq!(&raw[..prefix.len()], prefix.as_slice());
        prop_assert!(transparent.len() >= prefix.len());
        prop_assert_eq!(&transparent[..prefix.len()], prefix.as_slice());
    }

    // (b) write_record then next_raw gives back every record, any kind byte, any payload, with
    // the minimal number of length bytes.
    #[test]
    fn write_then_read_raw(records in prop::collection::vec((any::<u8>(), payload()), 0..6)) {
        let bytes = encode(&records);
        let expected_size: usize = records
            .iter()
            .map(|(_, data)| 1 + minimal_length_bytes(data.len()) + data.len())
            .sum();
        prop_assert_eq!(bytes.len(), expected_size);
        let (raw, error) = read_raw(&bytes);
        prop_assert_eq!(error, None);
        prop_assert_eq!(raw, records);
    }

    // (b) ... and next_record gives them back too when none is p, w or E.
    #[test]
    fn write_then_read_transparent(records in prop::collection::vec((plain_kind(), payload()), 0..6)) {
        let bytes = encode(&records);
        let (transparent, error) = read_transparent(&bytes);
        prop_assert_eq!(error, None);
        prop_assert_eq!(transparent, records);
    }

    // (b) Dummy pointers and padding anywhere change nothing the transparent reader returns,
    // and an `E` ends the file even with records after it.
    #[test]
    fn padding_and_dummy_pointers_are_invisible(
        records in plain_records(10),
        fillers in prop::collection::vec(select(vec![0u8, 1, 2]), 10),
        tail in plain_records(4),
    ) {
        let mut bytes = Vec::new();
        for ((kind, data), filler) in records.iter().zip(fillers.iter().cycle()) {
            match filler {
                1 => write_record(&mut bytes, b'w', b"deleted text"),
                2 => write_record(&mut bytes, b'p', b"              0"),
                _ => {}
            }
            write_record(&mut bytes, *kind, data);
        }
        write_record(&mut bytes, b'E', b"");
        bytes.extend_from_slice(&encode(&tail));
        let (transparent, error) = read_transparent(&bytes);
        prop_assert_eq!(error, None);
        let mut expected = records.clone();
        expected.push((b'E', Vec::new()));
        prop_assert_eq!(transparent, expected);
    }

    // (b) A milter-style relocation: records moved past `E` and reached through a forward
    // pointer, with a pointer back to the record that followed them, read in the original order.
    #[test]
    fn relocated_records_read_in_order(
        records in plain_records(10),
        cut in (0usize..=10, 0usize..=10),
    ) {
        let (from, to) = {
            let a = cut.0.min(records.len());
            let b = cut.1.min(records.len());
            (a.min(b), a.max(b))
        };
        let mut bytes = encode(&records[..from]);
        let forward_at = bytes.len();
        write_record(&mut bytes, b'p', &pointer(0)); // patched below
        let resume = bytes.len();
        bytes.extend_from_slice(&encode(&records[to..]));
        write_record(&mut bytes, b'E', b"");
        let heap = bytes.len();
        bytes.extend_from_slice(&encode(&records[from..to]));
        write_record(&mut bytes, b'p', &pointer(resume));
        bytes[forward_at + 2..forward_at + 17].copy_from_slice(&pointer(heap));
        let (transparent, error) = read_transparent(&bytes);
        prop_assert_eq!(error, None);
        let mut expected = records.clone();
        expected.push((b'E', Vec::new()));
        prop_assert_eq!(transparent, expected);
    }
}

fn minimal_length_bytes(length: usize) -> usize {
    match length {
        0..=0x7f => 1,
        0x80..=0x3fff => 2,
        0x4000..=0x1f_ffff => 3,
        _ => 4,
    }
}

proptest! {
    // Each case walks a pointer loop 10000 times; a few dozen cases are plenty.
    #![proptest_config(config(24))]

    // (a) A pointer back into the file makes a loop; it ends with TooManyReverseJumps once the
    // jumps to an offset at or below the previous target exceed REVERSE_JUMP_LIMIT. The first
    // jump is not one of those (there is no previous target), so the loop body is read
    // REVERSE_JUMP_LIMIT + 1 times after the first pass.
    #[test]
    fn pointer_loops_end_with_too_many_reverse_jumps(
        records in prop::collection::vec(
            (plain_kind(), prop::collection::vec(any::<u8>(), 0..8)), 1..6),
        target in any::<prop::sample::Index>(),
    ) {
        let mut bytes = Vec::new();
        let mut starts = Vec::new();
        for (kind, data) in &records {
            starts.push(bytes.len());
            write_record(&mut bytes, *kind, data);
        }
        // Offset 0 would be a dummy pointer; a loop needs a real target.
        let choices: Vec<usize> = (0..records.len()).filter(|&i| starts[i] > 0).collect();
        let looped_from = if choices.is_empty() { records.len() } else { *target.get(&choices) };
        let loop_target = starts.get(looped_from).copied().unwrap_or(bytes.len());
        write_record(&mut bytes, b'p', &pointer(loop_target));
        let (transparent, error) =
            within_deadline("pointer loop", move || read_transparent(&bytes));
        prop_assert_eq!(error, Some("TooManyReverseJumps"));
        let per_pass = records.len() - looped_from;
        prop_assert_eq!(
            transparent.len(),
            records.len() + (REVERSE_JUMP_LIMIT as usize + 1) * per_pass
        );
    }
}

/// A known loop with no records inside: a pointer to itself.
#[test]
fn self_pointer_ends() {
    let mut bytes = Vec::new();
    write_record(&mut bytes, b'S', b"x");
    let at = bytes.len();
    write_record(&mut bytes, b'p', &pointer(at));
    let (records, error) = within_deadline("self pointer", move || read_transparent(&bytes));
    assert_eq!(records, vec![(b'S', b"x".to_vec())]);
    assert_eq!(error, Some("TooManyReverseJumps"));
}

/// Length encodings at the 3/4-byte boundary, too big for the proptest payloads.
#[test]
fn large_payloads_round_trip() {
    for length in [0x1f_ffff, 0x20_0000] {
        let data: Vec<u8> = (0..length).map(|i| (i % 251) as u8).collect();
        let mut bytes = Vec::new();
        write_record(&mut bytes, b'N', &data);
        assert_eq!(bytes.len(), 1 + minimal_length_bytes(length) + length);
        let (records, error) = read_transparent(&bytes);
        assert_eq!(error, None);
        assert_eq!(records, vec![(b'N', data)]);
    }
}

/// 3.7 takes a fifth length byte (spec §3.1); with bit 3 of it set the C int goes negative.
#[test]
fn five_length_bytes_follow_3_7() {
    assert_eq!(
        read_raw(b"S\x80\x80\x80\x80\x01").1,
        Some("EofInData"),
        "a fifth length byte is accepted"
    );
    assert_eq!(read_raw(b"S\x80\x80\x80\x80\x08").1, Some("IllegalLength"));
    assert_eq!(
        read_raw(b"S\x80\x80\x80\x80\x80").1,
        Some("TooManyLengthBits")
    );
}

// ---------------------------------------------------------------------------------------------
// (c) Defer logfiles.

/// Addresses as the bounce daemon might log them: anything but NUL and newline (a newline
/// would end the line in the file itself), biased towards characters quoting reacts to.
fn log_address() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        3 => select(b"ab.@ \"\\<>:;,()[]\t\r\x7f".to_vec()),
        1 => any::<u8>().prop_filter("NUL and newline", |b| *b != 0 && *b != b'\n'),
    ];
    prop::collection::vec(byte, 0..16)
}

/// Reasons that the logfile must carry unchanged: printable ASCII, no outer whitespace.
fn log_reason() -> impl Strategy<Value = Vec<u8>> {
    "[!-~]([ -~]{0,30}[!-~])?".prop_map(String::into_bytes)
}

fn trim_spaces(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().take_while(|b| **b == b' ').count();
    let end = bytes.len()
        - bytes[start..]
            .iter()
            .rev()
            .take_while(|b| **b == b' ')
            .count();
    &bytes[start..end]
}

/// What parse_logfile must report for an address format_entry wrote (spec §4): the quoted
/// form, through printable (which turns every other whitespace into `?`), trimmed.
fn expected_log_address(address: &[u8], utf8: bool) -> Vec<u8> {
    if address.is_empty() {
        return b"<>".to_vec();
    }
    let shown = printable(&quote_822_local(address), utf8);
    match trim_spaces(&shown) {
        [] => b"(MAILER-DAEMON)".to_vec(),
        trimmed => trimmed.to_vec(),
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn parse_logfile_on_arbitrary_bytes(
        bytes in prop::collection::vec(any::<u8>(), 0..400),
        utf8 in any::<bool>(),
    ) {
        let (entries, _) = parse_logfile(&bytes, utf8);
        // An entry is closed only by a line that is empty as a C string.
        let blank_lines = bytes.split(|&b| b == b'\n').filter(|line| matches!(line.first(), None | Some(0))).count();
        prop_assert!(entries.len() <= blank_lines);
        for entry in &entries {
            prop_assert!(!entry.address.is_empty());
            prop_assert!(!entry.reason.is_empty());
            for field in [&entry.address, &entry.reason] {
                prop_assert!(!field.contains(&b'\n') && !field.contains(&0));
                if !utf8 {
                    prop_assert!(field.iter().all(|b| (0x20..0x7f).contains(b)), "{:?}", field);
                }
            }
        }
    }

    #[test]
    fn parse_logfile_on_line_soup(
        lines in prop::collection::vec(select(vec![
            "", "", "<a@b>: why", "<>: x", "recipient=", "recipient=c@d", "reason=", "reason= r ",
            "offset=12", "offset=-3", "offset=99999999999999999999", "status=4.0.0", "!bad",
            " =x", "x", "=", "<no-close: x", "original_recipient=", "\r", "\0hidden",
        ]), 0..20),
    ) {
        let text = lines.join("\n");
        let (entries, _) = parse_logfile(text.as_bytes(), true);
        for entry in &entries {
            prop_assert!(entry.offset >= 0);
            prop_assert!(!entry.address.is_empty() && !entry.reason.is_empty());
        }
    }

    // format_entry writes what parse_logfile reads back; an entry cut off anywhere before its
    // closing blank line is dropped and the complete ones before it are kept.
    #[test]
    fn format_entry_round_trip(
        written in prop::collection::vec(
            (log_address(), 0u64..=i64::MAX as u64, log_reason()), 1..5),
        cut in any::<prop::sample::Index>(),
        utf8 in any::<bool>(),
    ) {
        let mut log = Vec::new();
        for (address, offset, reason) in &written {
            log.extend_from_slice(&format_entry(address, *offset, "4.4.1", "delayed", reason));
        }
        let (entries, _) = parse_logfile(&log, utf8);
        prop_assert_eq!(entries.len(), written.len());
        for (entry, (address, offset, reason)) in entries.iter().zip(&written) {
            prop_assert_eq!(&entry.address, &expected_log_address(address, utf8));
            prop_assert_eq!(&entry.reason, reason);
            prop_assert_eq!(entry.offset, *offset as i64);
            prop_assert_eq!(&entry.status, b"4.4.1");
            prop_assert_eq!(&entry.action, b"delayed");
        }
        // Cut the last entry short, anywhere.
        let last = format_entry(&written[0].0, written[0].1, "4.4.1", "delayed", &written[0].2);
        let keep = cut.index(last.len());
        let mut truncated = log.clone();
        truncated.extend_from_slice(&last[..keep]);
        let (after_cut, _) = parse_logfile(&truncated, utf8);
        prop_assert_eq!(after_cut, entries);
    }
}

#[test]
fn empty_reason_reads_as_unavailable() {
    let log = format_entry(b"a@b", 0, "4.4.1", "delayed", b"");
    let (entries, _) = parse_logfile(&log, true);
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].reason, b"(description unavailable)");
    assert_eq!(entries[0].offset, 0);
}

// ---------------------------------------------------------------------------------------------
// (d) main.cf parsing and expansion.

/// Names the tests ask for: the generated ones and defaults whose values expand.
const CONFIG_NAMES: &[&str] = &[
    "a",
    "b",
    "c",
    "smtputf8_enable",
    "relay_domains",
    "fast_flush_domains",
    "syslog_name",
    "compatibility_level",
    "queue_directory",
    "undefined_name",
];

/// main.cf text made of the pieces expansion cares about: self and mutual references,
/// conditionals, relational forms and stray or unbalanced brackets.
fn main_cf_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(
        select(vec![
            "\na = ",
            "\nb = ",
            "\nc=",
            "\ncompatibility_level = ",
            "\nmydestination = ",
            "\n  ",
            "\n# ",
            "\n",
            " ",
            "\t",
            "=",
            "$",
            "$$",
            "$a",
            "$b",
            "$c",
            "${a}",
            "$(b)",
            "${c?",
            "${a:",
            "${b?{",
            "}:{",
            "${{$a}",
            " <level ",
            " == ",
            " != ",
            " < ",
            "{",
            "}",
            "(",
            ")",
            "?",
            ":",
            "{x}",
            "{1}",
            "x",
            "1",
            "2.3",
            "level",
            "$(",
            "${",
            "$compatibility_level",
            "${relay_domains}",
            "${smtputf8_enable?{y}:{n}}",
            "$mydestination",
            "ä",
        ]),
        0..40,
    )
    .prop_map(|pieces| pieces.concat())
}

fn get_everything(config: &Config) -> Vec<String> {
    CONFIG_NAMES
        .iter()
        .map(|name| {
            // Typed getters must not panic either; their errors are legitimate.
            let _ = config.get_bool(name);
            let _ = config.get_int(name, 0);
            let _ = config.get_list(name);
            config.get(name)
        })
        .collect()
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn config_soup_never_panics(text in main_cf_soup()) {
        let config = Config::parse(&text);
        let values = within_deadline("expanding main.cf", move || get_everything(&config));
        prop_assert_eq!(values.len(), CONFIG_NAMES.len());
        // Undefined names expand to nothing.
        prop_assert_eq!(values.last().map(String::as_str), Some(""));
    }

    #[test]
    fn config_arbitrary_text_never_panics(text in any::<String>()) {
        let config = Config::parse(&text);
        within_deadline("expanding arbitrary main.cf", move || get_everything(&config));
    }

    // Plain values come back trimmed; the last definition wins; a continuation line is joined
    // with no separator and keeps its leading whitespace.
    #[test]
    fn plain_values_are_kept(
        first in "[a-z0-9/._-]{0,12}",
        second in "[a-z0-9/._-]([a-z0-9/._ -]{0,10}[a-z0-9/._-])?",
        more in "[a-z0-9]{1,8}",
    ) {
        let text = format!("# comment\nname = {first}\n\nname =  {second}\n  # inner comment\n\t{more}\n");
        let config = Config::parse(&text);
        prop_assert_eq!(config.get("name"), format!("{second}\t{more}"));
        let joined = format!("{second}\t{more}");
        prop_assert_eq!(config.raw("name"), Some(joined.as_str()));
    }
}

#[test]
fn self_and_mutual_references_terminate() {
    for text in [
        "a = $a",
        "a = ${a}${a}${a}",
        "a = $b$b\nb = $a$a",
        "a = ${b?{$a}:{$a}}\nb = $a",
        "a = ${{$a} <level {$a} ? {$a} : {$a}}",
        "a = $(a",
        "a = ${a",
        "a = }}}{{{",
        "compatibility_level = $smtputf8_enable\nmydestination = $relay_domains",
    ] {
        let config = Config::parse(text);
        within_deadline(text, move || get_everything(&config));
    }
}

/// showq's settings with the given UTF-8 switch and duplicate-filter cap.
fn settings(utf8: bool, duplicate_filter_limit: usize) -> ShowqSettings {
    ShowqSettings {
        empty_address: b"MAILER-DAEMON".to_vec(),
        utf8_enabled: utf8,
        duplicate_filter_limit: duplicate_filter_limit as i64,
    }
}

/// Arbitrary `lstat` facts: any size and mtime, any permission bits on a regular file.
fn file_facts() -> impl Strategy<Value = FileFacts> {
    (0i64..1_000_000, 0i64..4_000_000_000, 0u32..0o7777).prop_map(|(size, mtime, mode)| FileFacts {
        size,
        mtime,
        mode: 0o100000 | mode,
    })
}

/// Runs showq's extraction over `bytes` as queue file `ABCDE12` in deferred/.
fn extract(
    bytes: &[u8],
    facts: FileFacts,
    settings: &ShowqSettings,
    log: Option<Vec<u8>>,
) -> (Option<Entry>, Vec<String>) {
    let mut reader = RecordReader::new(Cursor::new(bytes));
    let mut warnings = Vec::new();
    let entry = extract_entry(
        Queue::Deferred,
        b"ABCDE12",
        &mut reader,
        facts,
        settings,
        move || log,
        &mut warnings,
    );
    (entry, warnings)
}

/// What holds for any listed entry, whatever the input: the ID and queue are the ones given,
/// the expiry flag is the group-execute bit, and every string is already printable (no control
/// bytes; no 8-bit bytes at all when UTF-8 is off), with a non-empty sender.
fn check_extracted_invariants(
    entry: &Entry,
    facts: FileFacts,
    utf8: bool,
) -> Result<(), TestCaseError> {
    prop_assert_eq!(&entry.id, &b"ABCDE12".to_vec());
    prop_assert_eq!(entry.queue, Queue::Deferred);
    prop_assert_eq!(entry.forced_expire, facts.mode & 0o010 != 0);
    prop_assert!(!entry.sender.is_empty());
    let strings = std::iter::once(&entry.sender).chain(
        entry
            .recipients
            .iter()
            .flat_map(|r| [&r.address, &r.reason]),
    );
    for text in strings {
        prop_assert!(
            text.iter().all(|&b| b >= 0x20 && b != 0x7f),
            "control byte in {:?}",
            text
        );
        if !utf8 {
            prop_assert!(text.is_ascii(), "8-bit byte with UTF-8 off in {:?}", text);
        }
        prop_assert_eq!(printable(text, utf8), text.clone());
    }
    Ok(())
}

/// `$(...)` does not count braces, so a relational form inside it can reach a `}` with no `{`
/// before it. Expansion must treat that like any other syntax error, not panic.
#[test]
fn relational_with_stray_close_brace_does_not_panic() {
    for text in ["a = $({x}})\n", "a = $({x} == })\n"] {
        let config = Config::parse(text);
        within_deadline(text, move || get_everything(&config));
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn extract_entry_on_arbitrary_bytes(
        bytes in prop::collection::vec(any::<u8>(), 0..300),
        facts in file_facts(),
        utf8 in any::<bool>(),
        log in proptest::option::of(prop::collection::vec(any::<u8>(), 0..100)),
    ) {
        let settings = settings(utf8, 2);
        let (entry, _) = within_deadline("extracting arbitrary bytes", move || {
            extract(&bytes, facts, &settings, log)
        });
        if let Some(entry) = entry {
            check_extracted_invariants(&entry, facts, utf8)?;
        }
    }

    #[test]
    fn extract_entry_on_queue_file_like_bytes(
        bytes in queue_file_like(),
        facts in file_facts(),
        utf8 in any::<bool>(),
        log in proptest::option::of(Just(format_entry(b"x y@z", 1, "4.4.1", "delayed", b"why"))),
    ) {
        let settings = settings(utf8, 1);
        let (entry, _) = within_deadline("extracting queue-file-like bytes", move || {
            extract(&bytes, facts, &settings, log)
        });
        if let Some(entry) = entry {
            check_extracted_invariants(&entry, facts, utf8)?;
        }
    }
}

/// Addresses for generated messages: mostly ordinary, sometimes with bytes that quoting,
/// printable or the C-string cut react to.
fn message_address() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => select(vec![
            b"alice@example.com".to_vec(),
            b"bob@example.org".to_vec(),
            b"carol@example.net".to_vec(),
            b"quoted local@example.org".to_vec(),
            Vec::new(),
        ]),
        1 => prop::collection::vec(
            prop_oneof![select(b"ab@. \"\\\t\x7f".to_vec()), any::<u8>()],
            0..12,
        ),
    ]
}

/// Logged addresses: often the ones messages use (so the duplicate filter has work to do),
/// sometimes odd ones.
fn log_entry_address() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        2 => select(vec![
            b"alice@example.com".to_vec(),
            b"bob@example.org".to_vec(),
            b"quoted local@example.org".to_vec(),
            b"ghost@example.org".to_vec(),
        ]),
        1 => log_address(),
    ]
}

fn recipient_spec() -> impl Strategy<Value = RecipientSpec> {
    (
        message_address(),
        select(vec![
            RecipientState::Live,
            RecipientState::Live,
            RecipientState::Done,
            RecipientState::Cancelled,
        ]),
    )
        .prop_map(|(address, state)| RecipientSpec { address, state })
}

fn message_spec() -> impl Strategy<Value = MessageSpec> {
    (
        (-2i64..3, 1_000_000_000i64..2_000_000_000, 0u32..1_000_000),
        message_address(),
        prop::collection::vec(recipient_spec(), 0..5),
        prop::collection::vec(recipient_spec(), 0..3),
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..200),
            // Lines longer than line_length_limit are split into L records.
            (2040usize..2100).prop_map(|n| vec![b'y'; n]),
        ],
        select(vec![FileStyle::Cleanup, FileStyle::Maildrop]),
    )
        .prop_map(
            |((pick, seconds, microseconds), sender, recipients, extracted, content, style)| {
                MessageSpec {
                    // A few files carry a zero or negative T: those fall back to mtime.
                    arrival_seconds: if pick > 0 { seconds } else { pick },
                    arrival_microseconds: microseconds,
                    sender,
                    recipients,
                    extracted_recipients: extracted,
                    content,
                    style,
                }
            },
        )
}

/// The content size showq must report from the `C` record: the bytes of the `N`/`L` records
/// between `M` and `X`, computed here from the message text alone.
fn content_size(content: &[u8]) -> i64 {
    content
        .split(|&b| b == b'\n')
        .map(|line| {
            let mut size = 0;
            let mut rest = line.len();
            while rest > 2048 {
                size += 1 + minimal_length_bytes(2048) + 2048;
                rest -= 2048;
            }
            size + 1 + minimal_length_bytes(rest) + rest
        })
        .sum::<usize>() as i64
}

proptest! {
    #![proptest_config(config(256))]

    // Spec §5 as a model: sender first, time from T (mtime when absent or not positive), size
    // from C (file size without one), defer-log recipients first with their reasons, then the
    // live R records of both segments that the capped duplicate filter does not hold.
    #[test]
    fn extract_entry_matches_the_showq_model(
        spec in message_spec(),
        log in proptest::option::of(prop::collection::vec((log_entry_address(), log_reason()), 0..4)),
        limit in 0usize..4,
        utf8 in any::<bool>(),
        mode in select(vec![0o700u32, 0o710, 0o744]),
        mtime in 1i64..2_000_000_000,
    ) {
        let built = build_queue_file(&spec);
        let facts = FileFacts { size: built.bytes.len() as i64, mtime, mode: 0o100000 | mode };
        let settings = settings(utf8, limit);
        let log_bytes = log.as_ref().map(|entries| {
            entries
                .iter()
                .flat_map(|(address, reason)| format_entry(address, 7, "4.4.1", "delayed", reason))
                .collect::<Vec<u8>>()
        });
        let (entry, warnings) = extract(&built.bytes, facts, &settings, log_bytes);
        prop_assert!(warnings.is_empty(), "{:?}", warnings);
        let entry = entry.expect("a file with a sender is listed");

        let mut recipients = Vec::new();
        let mut filter: Option<HashSet<Vec<u8>>> = None;
        if let Some(entries) = &log {
            let mut seen = HashSet::new();
            for (address, reason) in entries {
                let address = expected_log_address(address, utf8);
                if limit == 0 || seen.len() < limit {
                    seen.insert(address.clone());
                }
                recipients.push(Recipient { address, reason: reason.clone() });
            }
            filter = Some(seen);
        }
        for recipient in spec.recipients.iter().chain(&spec.extracted_recipients) {
            if recipient.state != RecipientState::Live {
                continue;
            }
            let address = present_address(&recipient.address, b"MAILER-DAEMON", utf8);
            if filter.as_ref().is_none_or(|seen| !seen.contains(&address)) {
                recipients.push(Recipient { address, reason: Vec::new() });
            }
        }
        let expected = Entry {
            queue: Queue::Deferred,
            id: b"ABCDE12".to_vec(),
            arrival_time: if spec.arrival_seconds > 0 { spec.arrival_seconds } else { mtime },
            size: match spec.style {
                FileStyle::Cleanup => content_size(&spec.content),
                FileStyle::Maildrop => built.bytes.len() as i64,
            },
            forced_expire: mode == 0o710,
            sender: present_address(&spec.sender, b"MAILER-DAEMON", utf8),
            recipients,
        };
        prop_assert_eq!(entry, expected);
    }
}

// ---------------------------------------------------------------------------------------------
// (f) Queue IDs.

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn long_ids_round_trip(seconds in any::<u64>(), microseconds in 0u32..1_000_000, inode in any::<u64>()) {
        let id = long_id(seconds, microseconds, inode);
        prop_assert!(is_valid_queue_id(id.as_bytes()));
        prop_assert_eq!(
            parse_long_id(id.as_bytes()),
            Some(LongIdParts { seconds, microseconds: u64::from(microseconds), inode })
        );
        prop_assert_eq!(hash_key(id.as_bytes()), format!("{microseconds:05X}").into_bytes());
        // The layout of §2.1: >= 6 seconds digits, 4 microseconds digits, `z`, inode in base 51.
        let separator = id.rfind('z').expect("separator");
        prop_assert!(separator >= 10);
        prop_assert!(!id[separator + 1..].contains('z'));
        prop_assert!(id.bytes().all(|b| LONG_ID_ALPHABET.contains(&b)));
    }

    #[test]
    fn short_ids_are_hex_and_hash_by_their_own_characters(
        microseconds in 0u32..1_000_000,
        inode in any::<u64>(),
        depth in 1usize..=4,
    ) {
        let id = short_id(microseconds, inode);
        prop_assert!(is_valid_queue_id(id.as_bytes()));
        prop_assert_eq!(&id[..5], format!("{microseconds:05X}"));
        prop_assert_eq!(u64::from_str_radix(&id[5..], 16).ok(), Some(inode));
        prop_assert!(id.bytes().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)));
        prop_assert_eq!(parse_long_id(id.as_bytes()), None);
        prop_assert_eq!(hash_key(id.as_bytes()), id.as_bytes().to_vec());
        let mut expected = String::from("deferred/");
        for level in 0..depth {
            expected.push(id.as_bytes()[level] as char);
            expected.push('/');
        }
        expected.push_str(&id);
        prop_assert_eq!(
            queue_file_path("deferred", id.as_bytes(), true, depth),
            std::path::PathBuf::from(expected)
        );
    }

    #[test]
    fn validity_is_exactly_the_character_set(name in prop::collection::vec(any::<u8>(), 0..300)) {
        let expected = !name.is_empty()
            && name.len() <= 255
            && name.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_');
        prop_assert_eq!(is_valid_queue_id(&name), expected);
    }

    #[test]
    fn valid_names_hash_at_any_depth(name in "[A-Za-z0-9_]{1,40}", depth in 1usize..=4) {
        let key = hash_key(name.as_bytes());
        let path = queue_file_path("defer", name.as_bytes(), true, depth);
        let parts: Vec<String> = path.iter().map(|p| p.to_string_lossy().into_owned()).collect();
        prop_assert_eq!(parts.len(), depth + 2);
        prop_assert_eq!(parts[0].as_str(), "defer");
        prop_assert_eq!(parts[depth + 1].as_str(), name.as_str());
        for level in 0..depth {
            let expected = key.get(level).map_or('_', |&b| b as char);
            prop_assert_eq!(parts[level + 1].clone(), expected.to_string());
        }
        // Long IDs hash by their microseconds, anything else by the name itself.
        match name.rfind('z').filter(|&at| at >= 10) {
            // %05X of four base-52 digits: five hex digits, or six above 0xFFFFF.
            Some(_) => prop_assert!(
                (5..=6).contains(&key.len())
                    && key.iter().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(b))
            ),
            None => prop_assert_eq!(key, name.as_bytes().to_vec()),
        }
        prop_assert_eq!(
            queue_file_path("hold", name.as_bytes(), false, depth),
            std::path::PathBuf::from(format!("hold/{name}"))
        );
    }
}

#[test]
fn long_id_with_undecodable_microseconds_hashes_to_zero() {
    // `a` is a vowel, outside the alphabet: the key is 00000 (spec §2.2).
    assert_eq!(hash_key(b"000000aaaaz1"), b"00000");
    assert_eq!(
        queue_file_path("deferred", b"000000aaaaz1", true, 2),
        std::path::PathBuf::from("deferred/0/0/000000aaaaz1")
    );
    // A `z` before index 10 is not a separator.
    assert_eq!(hash_key(b"ABCzDEF"), b"ABCzDEF");
}
