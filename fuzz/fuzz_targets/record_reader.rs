//! Fuzz target `record_reader`: arbitrary bytes through the transparent reader (pointers,
//! padding, `E`) and the raw reader; neither may panic, and both must stop.
#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use postfix_queue::record::{RecordReader, REVERSE_JUMP_LIMIT};

fuzz_target!(|data: &[u8]| {
    let mut buffer = Vec::new();

    // Raw: every record consumes at least two bytes, so more than len/2 records is a loop.
    let mut raw = RecordReader::new(Cursor::new(data));
    let mut count = 0usize;
    while let Ok(Some(_)) = raw.next_raw(&mut buffer) {
        count += 1;
        assert!(count <= data.len() / 2, "raw reader did not advance");
    }

    // Transparent: a pointer loop must end with TooManyReverseJumps. The bound is generous
    // (every pass through a loop costs one of the limited reverse jumps); libFuzzer's own
    // -timeout catches a hang inside a single call.
    let mut transparent = RecordReader::new(Cursor::new(data));
    let length = data.len() as u64 + 1;
    let bound = (u64::from(REVERSE_JUMP_LIMIT) + 2) * length * length;
    let mut count = 0u64;
    while let Ok(Some(_)) = transparent.next_record(&mut buffer) {
        count += 1;
        assert!(count <= bound, "transparent reader did not stop");
    }
});
