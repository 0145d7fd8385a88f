//! Queue IDs, short and long: which names count as IDs, how they encode time and inode, and the
//! hashed subdirectory path a queue file must live at.
//!
//! Spec: format-and-postqueue.md §2.1, §2.2 (Postfix `mail_queue.h`, `mail_queue.c`).

use std::path::PathBuf;

/// The 52-symbol alphabet of long queue IDs: digits and consonants (spec §2.1).
pub const LONG_ID_ALPHABET: &[u8; 52] = b"0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz";
const LONG_ID_SEPARATOR: u8 = b'z';
/// A long ID's separator only counts at this index or later (6 seconds + 4 microseconds).
const LONG_ID_MIN_SEPARATOR_INDEX: usize = 10;

/// `mail_queue_id_ok`: 1..=255 bytes of `[A-Za-z0-9_]`. Nothing more is checked.
pub fn is_valid_queue_id(name: &[u8]) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A short ID: five hex digits of microseconds, then the inode in hex.
pub fn short_id(microseconds: u32, inode: u64) -> String {
    format!("{:05X}{:X}", microseconds % 1_000_000, inode)
}

/// A long ID: seconds (base 52, at least 6 digits), microseconds (base 52, 4 digits), `z`,
/// inode (base 51).
pub fn long_id(seconds: u64, microseconds: u32, inode: u64) -> String {
    let mut id = encode(seconds, 52, 6);
    id.push_str(&encode(u64::from(microseconds % 1_000_000), 52, 4));
    id.push(LONG_ID_SEPARATOR as char);
    id.push_str(&encode(inode, 51, 1));
    id
}

fn encode(mut value: u64, base: u64, min_width: usize) -> String {
    let mut digits = Vec::new();
    while value > 0 || digits.is_empty() {
        digits.push(LONG_ID_ALPHABET[(value % base) as usize]);
        value /= base;
    }
    while digits.len() < min_width {
        digits.push(b'0');
    }
    digits.reverse();
    String::from_utf8(digits).unwrap_or_default()
}

fn decode(text: &[u8], base: u64) -> Option<u64> {
    text.iter().try_fold(0u64, |acc, &symbol| {
        let digit = LONG_ID_ALPHABET.iter().position(|&a| a == symbol)? as u64;
        if digit >= base {
            return None;
        }
        acc.checked_mul(base)?.checked_add(digit)
    })
}

/// Where a long ID's `z` separator is, if the name is a long ID (the last `z`, at index >= 10).
fn long_id_separator(name: &[u8]) -> Option<usize> {
    name.iter()
        .rposition(|&b| b == LONG_ID_SEPARATOR)
        .filter(|&at| at >= LONG_ID_MIN_SEPARATOR_INDEX)
}

/// The parts a long ID encodes, when `name` is one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LongIdParts {
    pub seconds: u64,
    pub microseconds: u64,
    pub inode: u64,
}

pub fn parse_long_id(name: &[u8]) -> Option<LongIdParts> {
    let separator = long_id_separator(name)?;
    Some(LongIdParts {
        seconds: decode(&name[..separator - 4], 52)?,
        microseconds: decode(&name[separator - 4..separator], 52)?,
        inode: decode(&name[separator + 1..], 51)?,
    })
}

/// The key whose leading characters name the hash subdirectories: for a long ID, its
/// microseconds re-encoded as `%05X` (an undecodable value counts as 0); otherwise the name.
pub fn hash_key(name: &[u8]) -> Vec<u8> {
    match long_id_separator(name) {
        Some(separator) => {
            let microseconds = decode(&name[separator - 4..separator], 52).unwrap_or(0);
            format!("{microseconds:05X}").into_bytes()
        }
        None => name.to_vec(),
    }
}

/// The path of queue file `name` in `queue`, relative to the queue directory; hashed queues get
/// `depth` one-character subdirectories (`_` once the key runs out).
pub fn queue_file_path(queue: &str, name: &[u8], hashed: bool, depth: usize) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    let mut path = Vec::with_capacity(queue.len() + name.len() + 2 * depth + 2);
    path.extend_from_slice(queue.as_bytes());
    path.push(b'/');
    if hashed {
        let key = hash_key(name);
        for level in 0..depth {
            path.push(key.get(level).copied().unwrap_or(b'_'));
            path.push(b'/');
        }
    }
    path.extend_from_slice(name);
    PathBuf::from(std::ffi::OsStr::from_bytes(&path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity_is_only_the_character_set() {
        assert!(is_valid_queue_id(b"7UNK_NAME"));
        assert!(!is_valid_queue_id(b"1234.5678"));
        assert!(!is_valid_queue_id(b""));
        assert!(!is_valid_queue_id(&[b'A'; 256]));
        assert!(is_valid_queue_id(&[b'A'; 255]));
    }

    #[test]
    fn short_ids_encode_usec_and_inode() {
        assert_eq!(short_id(0x398A0, 0x98C5A4), "398A098C5A4");
        assert_eq!(short_id(5, 1), "000051");
    }

    #[test]
    fn long_ids_round_trip_and_hash_by_microseconds() {
        let parts = parse_long_id(b"4jcwSV5FMMz1SRl7").expect("long id");
        assert_eq!(
            parts,
            LongIdParts {
                seconds: 1795976442,
                microseconds: 739199,
                inode: 10010644
            }
        );
        assert_eq!(long_id(1795976442, 739199, 10010644), "4jcwSV5FMMz1SRl7");
        assert_eq!(hash_key(b"4jcwSV5FMMz1SRl7"), b"B477F");
        assert_eq!(
            queue_file_path("deferred", b"4jcwSV5FMMz1SRl7", true, 1),
            PathBuf::from("deferred/B/4jcwSV5FMMz1SRl7")
        );
    }

    #[test]
    fn hashed_paths_at_any_depth() {
        assert_eq!(
            queue_file_path("deferred", b"398A098C5A4", true, 1),
            PathBuf::from("deferred/3/398A098C5A4")
        );
        assert_eq!(
            queue_file_path("deferred", b"398A098C5A4", true, 2),
            PathBuf::from("deferred/3/9/398A098C5A4")
        );
        assert_eq!(
            queue_file_path("deferred", b"AB", true, 3),
            PathBuf::from("deferred/A/B/_/AB")
        );
        assert_eq!(
            queue_file_path("hold", b"398A098C5A4", false, 1),
            PathBuf::from("hold/398A098C5A4")
        );
    }
}
