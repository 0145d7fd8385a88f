//! Fuzz target `envelope`: arbitrary bytes as a queue file (and optionally a defer log) through
//! showq's extraction. It must not panic, and a listed entry must respect spec §5.
#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use postfix_queue::envelope::{extract_entry, FileFacts, Queue, ShowqSettings};
use postfix_queue::record::RecordReader;

fuzz_target!(|data: &[u8]| {
    // Byte 0: settings; byte 1: how many of the following bytes are the defer log.
    let [flags, log_length, rest @ ..] = data else {
        return;
    };
    let utf8 = flags & 1 != 0;
    let has_log = flags & 2 != 0;
    let settings = ShowqSettings {
        empty_address: b"MAILER-DAEMON".to_vec(),
        utf8_enabled: utf8,
        duplicate_filter_limit: usize::from(flags >> 4),
    };
    let (log, file) = rest.split_at(usize::from(*log_length).min(rest.len()));
    let facts = FileFacts {
        size: file.len() as i64,
        mtime: 1_700_000_000,
        mode: 0o100700 | u32::from(flags & 0o010),
    };
    let mut reader = RecordReader::new(Cursor::new(file));
    let mut warnings = Vec::new();
    let log = has_log.then(|| log.to_vec());
    let entry = extract_entry(
        Queue::Deferred,
        b"ABCDEF123",
        &mut reader,
        facts,
        &settings,
        move || log,
        &mut warnings,
    );
    if let Some(entry) = entry {
        assert_eq!(entry.forced_expire, flags & 0o010 != 0);
        assert!(entry.arrival_time > 0 || entry.arrival_time == facts.mtime);
        assert!(!entry.sender.is_empty());
        if !utf8 {
            let strings = std::iter::once(&entry.sender).chain(
                entry
                    .recipients
                    .iter()
                    .flat_map(|r| [&r.address, &r.reason]),
            );
            for text in strings {
                assert!(text.iter().all(|b| (0x20..0x7f).contains(b)));
            }
        }
    }
});
