//! The queue-file record format: framing, the transparent reader (`p` pointers, `w` padding,
//! `E` ends the file) and a writer that produces the same bytes cleanup would.
//!
//! Spec: format-and-postqueue.md §3.1-§3.3 (Postfix `record.c`, `rec_type.h`).

use std::fmt;
use std::io::{self, BufRead, Read, Seek, SeekFrom};

/// Record type bytes the tools care about (spec §3.3).
pub mod kind {
    pub const SIZE: u8 = b'C';
    pub const TIME: u8 = b'T';
    pub const FULL_NAME: u8 = b'F';
    pub const FROM: u8 = b'S';
    pub const ORIGINAL_RCPT: u8 = b'O';
    pub const RCPT: u8 = b'R';
    pub const DONE: u8 = b'D';
    pub const DELETED_RCPT: u8 = b'/';
    pub const ATTR: u8 = b'A';
    pub const KILLED: u8 = b'K';
    pub const WARN: u8 = b'W';
    pub const MESSAGE: u8 = b'M';
    pub const NORMAL: u8 = b'N';
    pub const CONTINUED: u8 = b'L';
    pub const PADDING: u8 = b'w';
    pub const EXTRACTED: u8 = b'X';
    pub const POINTER: u8 = b'p';
    pub const END: u8 = b'E';
}

/// Postfix's limit on backward pointer jumps per file, its guard against pointer loops.
pub const REVERSE_JUMP_LIMIT: u32 = 10_000;

/// Why the reader stopped before the end of the file. Every variant is what Postfix's
/// `rec_get` reports as a record error (spec §3.1, §3.2).
#[derive(Debug)]
pub enum RecordError {
    TooManyLengthBits { kind: u8 },
    EofInLength { kind: u8 },
    IllegalLength { kind: u8, length: i64 },
    EofInData { kind: u8, length: i64 },
    MalformedPointer { value: Vec<u8> },
    TooManyReverseJumps,
    Io(io::Error),
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooManyLengthBits { kind } => {
                write!(f, "too many length bits, record type {kind}")
            }
            Self::EofInLength { kind } => {
                write!(f, "unexpected EOF reading length, record type {kind}")
            }
            Self::IllegalLength { kind, length } => {
                write!(f, "illegal length {length}, record type {kind}")
            }
            Self::EofInData { kind, length } => {
                write!(
                    f,
                    "unexpected EOF in data, record type {kind} length {length}"
                )
            }
            Self::MalformedPointer { value } => {
                write!(
                    f,
                    "malformed pointer record value: {}",
                    String::from_utf8_lossy(value)
                )
            }
            Self::TooManyReverseJumps => write!(f, "too many reverse jump records"),
            Self::Io(error) => write!(f, "read error: {error}"),
        }
    }
}

impl std::error::Error for RecordError {}

impl From<io::Error> for RecordError {
    fn from(error: io::Error) -> Self {
        Self::Io(error)
    }
}

/// Reads records from a queue file the way Postfix's `rec_get` does with its default flags.
#[derive(Debug)]
pub struct RecordReader<R> {
    inner: R,
    reached_end: bool,
    last_jump_target: u64,
    reverse_jumps: u32,
}

impl<R: BufRead + Seek> RecordReader<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            reached_end: false,
            last_jump_target: 0,
            reverse_jumps: 0,
        }
    }

    pub fn into_inner(self) -> R {
        self.inner
    }

    /// Reads one record exactly as stored: no pointer following, nothing skipped.
    /// `Ok(None)` is a clean end of file.
    pub fn next_raw(&mut self, data: &mut Vec<u8>) -> Result<Option<u8>, RecordError> {
        data.clear();
        let Some(kind) = read_byte(&mut self.inner)? else {
            return Ok(None);
        };
        // Emulates 3.7's arithmetic: 7 bits per byte shifted as a C `int`, so a fifth byte with
        // bit 3 set makes the length negative ("illegal length") and a sixth is refused.
        let mut length: i64 = 0;
        let mut shift: u32 = 0;
        loop {
            if shift >= 32 {
                return Err(RecordError::TooManyLengthBits { kind });
            }
            let Some(byte) = read_byte(&mut self.inner)? else {
                return Err(RecordError::EofInLength { kind });
            };
            length |= ((u32::from(byte & 0x7f)) << shift) as i32 as i64;
            if byte & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        if length < 0 {
            return Err(RecordError::IllegalLength { kind, length });
        }
        // `take` grows the buffer as bytes arrive, so a huge length on a short file costs
        // nothing beyond the file's real size.
        let wanted = length as u64;
        let got = (&mut self.inner).take(wanted).read_to_end(data)?;
        if got as u64 != wanted {
            return Err(RecordError::EofInData { kind, length });
        }
        Ok(Some(kind))
    }

    /// Reads the next record with Postfix's transparency rules: `p` pointers are followed (with
    /// the reverse-jump limit), `w` padding is skipped, and after `E` the file is over.
    pub fn next_record(&mut self, data: &mut Vec<u8>) -> Result<Option<u8>, RecordError> {
        if self.reached_end {
            data.clear();
            return Ok(None);
        }
        loop {
            let Some(kind) = self.next_raw(data)? else {
                return Ok(None);
            };
            match kind {
                kind::POINTER => self.follow_pointer(data)?,
                kind::PADDING => continue,
                kind::END => {
                    self.reached_end = true;
                    return Ok(Some(kind));
                }
                _ => return Ok(Some(kind)),
            }
        }
    }

    fn follow_pointer(&mut self, value: &[u8]) -> Result<(), RecordError> {
        let offset = parse_offset(value).ok_or_else(|| RecordError::MalformedPointer {
            value: crate::text::c_string(value).to_vec(),
        })?;
        if offset == 0 {
            return Ok(()); // a dummy pointer reserving space: keep reading sequentially
        }
        if offset <= self.last_jump_target {
            self.reverse_jumps += 1;
            if self.reverse_jumps > REVERSE_JUMP_LIMIT {
                return Err(RecordError::TooManyReverseJumps);
            }
        }
        self.inner.seek(SeekFrom::Start(offset))?;
        self.last_jump_target = offset;
        Ok(())
    }

    /// Skips `distance` bytes forward, as showq does past the message content.
    pub fn skip_forward(&mut self, distance: u64) -> Result<(), RecordError> {
        let distance = i64::try_from(distance).unwrap_or(i64::MAX);
        self.inner.seek_relative(distance)?;
        Ok(())
    }

    /// The current offset in the file.
    pub fn position(&mut self) -> io::Result<u64> {
        self.inner.stream_position()
    }
}

fn read_byte<R: BufRead>(reader: &mut R) -> io::Result<Option<u8>> {
    loop {
        let buffer = match reader.fill_buf() {
            Ok(buffer) => buffer,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        let Some(&byte) = buffer.first() else {
            return Ok(None);
        };
        reader.consume(1);
        return Ok(Some(byte));
    }
}

/// Postfix's `off_cvt_string` after leading whitespace: decimal digits only, no sign, and
/// no overflow.
fn parse_offset(value: &[u8]) -> Option<u64> {
    let value = crate::text::c_string(value);
    let digits = &value[value.iter().take_while(|b| is_c_space(**b)).count()..];
    if digits.is_empty() {
        return None;
    }
    let mut offset: u64 = 0;
    for &byte in digits {
        if !byte.is_ascii_digit() {
            return None;
        }
        offset = offset
            .checked_mul(10)?
            .checked_add(u64::from(byte - b'0'))?;
    }
    i64::try_from(offset).ok().map(|_| offset)
}

/// C `isspace` in the C locale.
pub fn is_c_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// C `atol` on a record payload: leading whitespace, optional sign, digits; anything after is
/// ignored and overflow saturates (glibc's `strtol` behaviour).
pub fn atol(value: &[u8]) -> i64 {
    let value = crate::text::c_string(value);
    let mut rest = &value[value.iter().take_while(|b| is_c_space(**b)).count()..];
    let negative = match rest.first() {
        Some(b'-') => {
            rest = &rest[1..];
            true
        }
        Some(b'+') => {
            rest = &rest[1..];
            false
        }
        _ => false,
    };
    let mut magnitude: i128 = 0;
    for &byte in rest.iter().take_while(|b| b.is_ascii_digit()) {
        magnitude = (magnitude * 10 + i128::from(byte - b'0')).min(i128::from(i64::MAX) + 1);
    }
    let signed = if negative { -magnitude } else { magnitude };
    signed.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// Appends one record in Postfix's framing, with the minimal number of length bytes.
pub fn write_record(out: &mut Vec<u8>, kind: u8, data: &[u8]) {
    out.push(kind);
    let mut length = data.len();
    loop {
        let low = (length & 0x7f) as u8;
        length >>= 7;
        if length == 0 {
            out.push(low);
            break;
        }
        out.push(low | 0x80);
    }
    out.extend_from_slice(data);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn read_all(bytes: &[u8]) -> (Vec<(u8, Vec<u8>)>, Option<String>) {
        let mut reader = RecordReader::new(Cursor::new(bytes));
        let mut records = Vec::new();
        let mut data = Vec::new();
        loop {
            match reader.next_record(&mut data) {
                Ok(Some(kind)) => records.push((kind, data.clone())),
                Ok(None) => return (records, None),
                Err(error) => return (records, Some(error.to_string())),
            }
        }
    }

    #[test]
    fn length_bytes_are_little_endian_base_128() {
        let mut out = Vec::new();
        write_record(&mut out, b'N', &[b'x'; 300]);
        assert_eq!(&out[..3], &[b'N', 0xac, 0x02]);
        let (records, error) = read_all(&out);
        assert!(error.is_none());
        assert_eq!(records, vec![(b'N', vec![b'x'; 300])]);
    }

    #[test]
    fn pointers_padding_and_end_are_transparent() {
        let mut out = Vec::new();
        write_record(&mut out, b'S', b"a@b");
        write_record(&mut out, b'p', b"              0"); // dummy
        write_record(&mut out, b'w', b"pad");
        let pointer_at = out.len();
        write_record(&mut out, b'p', b"000000000000000");
        write_record(&mut out, b'R', b"hidden@b"); // jumped over
        let back_target = out.len();
        write_record(&mut out, b'E', b"");
        write_record(&mut out, b'R', b"after-end@b"); // only reachable through the pointer
        let heap = out.len();
        write_record(&mut out, b'R', b"heap@b");
        write_record(&mut out, b'p', format!("{back_target:15}").as_bytes());
        let pointer = format!("{heap:15}");
        out[pointer_at + 2..pointer_at + 17].copy_from_slice(pointer.as_bytes());
        let (records, error) = read_all(&out);
        assert!(error.is_none(), "{error:?}");
        let kinds: Vec<_> = records
            .iter()
            .map(|(k, d)| (*k, String::from_utf8_lossy(d).into_owned()))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (b'S', "a@b".into()),
                (b'R', "heap@b".into()),
                (b'E', String::new())
            ]
        );
    }

    #[test]
    fn pointer_loop_is_an_error_not_a_hang() {
        let mut out = Vec::new();
        write_record(&mut out, b'S', b"a@b");
        let loop_start = out.len();
        write_record(&mut out, b'p', format!("{loop_start:15}").as_bytes());
        let (_, error) = read_all(&out);
        assert_eq!(error.as_deref(), Some("too many reverse jump records"));
    }

    #[test]
    fn damaged_framing_is_reported() {
        assert!(read_all(b"S").1.unwrap().contains("EOF reading length"));
        assert!(read_all(b"S\x05ab").1.unwrap().contains("EOF in data"));
        assert!(read_all(b"S\x80\x80\x80\x80\x80\x01")
            .1
            .unwrap()
            .contains("too many length bits"));
        assert!(read_all(b"S\x80\x80\x80\x80\x08")
            .1
            .unwrap()
            .contains("illegal length"));
        assert!(read_all(b"p\x03abc")
            .1
            .unwrap()
            .contains("malformed pointer"));
    }

    #[test]
    fn atol_matches_c() {
        assert_eq!(atol(b" 42 7"), 42);
        assert_eq!(atol(b"-3"), -3);
        assert_eq!(atol(b"x"), 0);
        assert_eq!(atol(b"99999999999999999999"), i64::MAX);
    }
}
