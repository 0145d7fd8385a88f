//! Fuzz target `logfile`: arbitrary bytes as a defer logfile. parse_logfile must not panic,
//! and every entry it returns must have the non-empty, printable fields the spec promises.
#![no_main]

use libfuzzer_sys::fuzz_target;
use postfix_queue::logfile::parse_logfile;

fuzz_target!(|data: &[u8]| {
    for utf8 in [false, true] {
        let (entries, _warnings) = parse_logfile(data, utf8);
        for entry in entries {
            // Placeholders replace empty values (spec §4).
            assert!(!entry.address.is_empty());
            assert!(!entry.reason.is_empty());
            assert!(entry.offset >= 0);
            if !utf8 {
                // printable() leaves nothing but printable ASCII when UTF-8 is off.
                for field in [&entry.address, &entry.reason] {
                    assert!(field.iter().all(|b| (0x20..0x7f).contains(b)));
                }
            }
        }
    }
});
