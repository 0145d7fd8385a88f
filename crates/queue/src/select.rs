//! Selecting messages by what their envelope says (sender, recipient, domain, age, size,
//! deferral reason) and, only when asked, by their header lines; and reading one message's
//! facts by path, with what is needed to recognise it again just before acting on it.
//!
//! These are our extensions (long options of postsuper and postqueue); Postfix has no
//! equivalent. The facts compared are the ones `postqueue -p`/`-j` shows.

use std::fs::File;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};

use regex::bytes::Regex;

use crate::envelope::{extract_entry, Entry, FileFacts, Queue, ShowqSettings};
use crate::pread::{PreadReader, DEFAULT_CAPACITY};
use crate::record::{atol, kind, RecordReader};
use crate::walk::Layout;

/// The criteria of one run; all given criteria must hold (AND).
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub sender: Option<Regex>,
    pub recipient: Option<Regex>,
    /// Lower case, without a trailing dot.
    pub domain: Option<String>,
    /// Seconds: arrived at least this long ago.
    pub older_than: Option<i64>,
    /// Seconds: arrived at most this long ago.
    pub newer_than: Option<i64>,
    pub min_size: Option<i64>,
    pub max_size: Option<i64>,
    pub reason: Option<Regex>,
    pub header: Option<Regex>,
}

impl Selection {
    pub fn is_empty(&self) -> bool {
        self.sender.is_none()
            && self.recipient.is_none()
            && self.domain.is_none()
            && self.older_than.is_none()
            && self.newer_than.is_none()
            && self.min_size.is_none()
            && self.max_size.is_none()
            && self.reason.is_none()
            && self.header.is_none()
    }

    /// Only `--header` needs the message content.
    pub fn needs_headers(&self) -> bool {
        self.header.is_some()
    }

    /// Whether the envelope criteria hold for `entry` at time `now` (epoch seconds).
    /// `empty_address` is how the null sender appears in the entry (`MAILER-DAEMON`); the
    /// null sender then matches as `<>` and as `MAILER-DAEMON` too.
    pub fn matches_envelope(&self, entry: &Entry, now: i64, empty_address: &[u8]) -> bool {
        if let Some(sender) = &self.sender {
            let null = entry.sender == empty_address;
            let matched = sender.is_match(&entry.sender)
                || (null && (sender.is_match(b"<>") || sender.is_match(b"MAILER-DAEMON")));
            if !matched {
                return false;
            }
        }
        if let Some(recipient) = &self.recipient {
            if !entry
                .recipients
                .iter()
                .any(|r| recipient.is_match(&r.address))
            {
                return false;
            }
        }
        if let Some(domain) = &self.domain {
            if !entry
                .recipients
                .iter()
                .any(|r| domain_matches(&r.address, domain))
            {
                return false;
            }
        }
        let age = now - entry.arrival_time;
        if self.older_than.is_some_and(|limit| age < limit)
            || self.newer_than.is_some_and(|limit| age > limit)
            || self.min_size.is_some_and(|limit| entry.size < limit)
            || self.max_size.is_some_and(|limit| entry.size > limit)
        {
            return false;
        }
        if let Some(reason) = &self.reason {
            if !entry
                .recipients
                .iter()
                .any(|r| !r.reason.is_empty() && reason.is_match(&r.reason))
            {
                return false;
            }
        }
        true
    }

    /// Whether `--header` matches one of the (unfolded) header lines.
    pub fn matches_headers(&self, headers: &[Vec<u8>]) -> bool {
        match &self.header {
            Some(header) => headers.iter().any(|line| header.is_match(line)),
            None => true,
        }
    }
}

/// Whether the address's domain (after the last `@`, quotes and a trailing dot ignored) is
/// `domain` or one of its subdomains, ignoring case.
pub fn domain_matches(address: &[u8], domain: &str) -> bool {
    let Some(at) = address.iter().rposition(|&b| b == b'@') else {
        return false;
    };
    let found = String::from_utf8_lossy(&address[at + 1..]).to_lowercase();
    let found = found.trim_end_matches('.');
    found == domain
        || (found.len() > domain.len()
            && found.ends_with(domain)
            && found.as_bytes()[found.len() - domain.len() - 1] == b'.')
}

/// `--domain`'s argument in the form [`domain_matches`] compares with.
pub fn normalise_domain(text: &str) -> Result<String, String> {
    let domain = text.trim().trim_start_matches('@').trim_end_matches('.');
    if domain.is_empty() || domain.contains('@') || domain.chars().any(char::is_whitespace) {
        return Err(format!("bad domain: \"{text}\""));
    }
    Ok(domain.to_lowercase())
}

/// A duration such as `90m`, `3d`, `1h30m`, `45` (seconds): units s, m, h, d, w.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let bad = || format!("bad duration: \"{text}\" (use e.g. 90m, 3d, 1h30m; units s m h d w)");
    if text.is_empty() {
        return Err(bad());
    }
    let mut total: i64 = 0;
    let mut digits = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 7 * 86_400,
            _ => return Err(bad()),
        };
        let value: i64 = digits.parse().map_err(|_| bad())?;
        total = value
            .checked_mul(unit)
            .and_then(|part| total.checked_add(part))
            .ok_or_else(bad)?;
        digits.clear();
    }
    if !digits.is_empty() {
        let value: i64 = digits.parse().map_err(|_| bad())?;
        total = total.checked_add(value).ok_or_else(bad)?;
    }
    Ok(total)
}

/// A size in bytes, with an optional `k`, `M` or `G` suffix (powers of 1024).
pub fn parse_size(text: &str) -> Result<i64, String> {
    let bad = || format!("bad size: \"{text}\" (use e.g. 500, 20k, 10M)");
    let (digits, multiplier) = match text.char_indices().last() {
        Some((at, 'k' | 'K')) => (&text[..at], 1024),
        Some((at, 'm' | 'M')) => (&text[..at], 1024 * 1024),
        Some((at, 'g' | 'G')) => (&text[..at], 1024 * 1024 * 1024),
        _ => (text, 1),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    digits
        .parse::<i64>()
        .ok()
        .and_then(|value| value.checked_mul(multiplier))
        .ok_or_else(bad)
}

/// A regular expression for one of the options; the error names the option.
pub fn compile(option: &str, pattern: &str) -> Result<Regex, String> {
    Regex::new(pattern).map_err(|error| {
        // The regex crate explains syntax errors over several lines; its last line says what.
        let text = error.to_string();
        let why = text.lines().last().unwrap_or_default();
        let why = why.strip_prefix("error: ").unwrap_or(why);
        format!("bad regular expression for {option}: \"{pattern}\": {why}")
    })
}

/// One message file, read by path: what the listing shows, plus what identifies this very
/// file (inode and the `T` record's arrival time) for the check just before acting.
#[derive(Debug, Clone)]
pub struct Examined {
    pub entry: Entry,
    pub inode: u64,
    /// The `T` record's seconds (0 when there is none).
    pub arrival: i64,
    pub file: Option<std::sync::Arc<File>>,
}

/// Opens `path` (relative to the queue directory in `layout`) without following symlinks,
/// checks it is a complete regular file, and extracts its entry as showq would.
pub fn examine(
    layout: &Layout,
    settings: &ShowqSettings,
    queue: Queue,
    id: &[u8],
    path: &[u8],
    keep_open: bool,
) -> Option<Examined> {
    let file = open_queue_file(layout, path)?;
    let metadata = file.metadata().ok()?;
    if !metadata.file_type().is_file() || metadata.mode() & 0o700 != 0o700 {
        return None;
    }
    let facts = FileFacts {
        size: metadata.size() as i64,
        mtime: metadata.mtime(),
        mode: metadata.mode(),
    };
    let defer_path = layout.path("defer", id);
    let defer_log = || std::fs::read(defer_path).ok();
    let mut warnings = Vec::new();
    let arrival = read_arrival(&file).unwrap_or(0);
    let mut reader = RecordReader::new(PreadReader::new(&file, DEFAULT_CAPACITY));
    let entry = extract_entry(
        queue,
        id,
        &mut reader,
        facts,
        settings,
        defer_log,
        &mut warnings,
    )?;
    Some(Examined {
        entry,
        inode: metadata.ino(),
        arrival,
        file: keep_open.then(|| std::sync::Arc::new(file)),
    })
}

/// Opens a queue file for reading: no symlinks, no terminals, no blocking on a fifo.
pub fn open_queue_file(layout: &Layout, path: &[u8]) -> Option<File> {
    let full = layout
        .queue_directory
        .join(std::ffi::OsStr::from_bytes(path));
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(full)
        .ok()
}

/// The `T` record's seconds, from the first records of the file.
pub fn read_arrival(file: &File) -> Option<i64> {
    let mut reader = RecordReader::new(PreadReader::new(file, 4096));
    let mut data = Vec::new();
    // T is the first or second record of every queue file; give up at the content.
    for _ in 0..64 {
        match reader.next_record(&mut data).ok()?? {
            kind::TIME => return Some(atol(&data)),
            kind::MESSAGE | kind::END => return None,
            _ => {}
        }
    }
    None
}

/// The message's header lines, unfolded (a continuation line is appended to the line before,
/// with its leading white space), in order. Reads from the `M` record to the first empty line.
pub fn read_headers(file: &File) -> Option<Vec<Vec<u8>>> {
    let mut reader = RecordReader::new(PreadReader::new(file, DEFAULT_CAPACITY));
    let mut data = Vec::new();
    loop {
        match reader.next_record(&mut data).ok()?? {
            kind::MESSAGE => break,
            kind::END | kind::EXTRACTED => return Some(Vec::new()),
            _ => {}
        }
    }
    let mut headers: Vec<Vec<u8>> = Vec::new();
    let mut line: Vec<u8> = Vec::new();
    while let Ok(Some(record_kind)) = reader.next_record(&mut data) {
        match record_kind {
            kind::CONTINUED => line.extend_from_slice(&data),
            kind::NORMAL => {
                line.extend_from_slice(&data);
                if line.is_empty() {
                    break;
                }
                let continuation = matches!(line.first(), Some(b' ' | b'\t'));
                match headers.last_mut() {
                    Some(previous) if continuation => previous.extend_from_slice(&line),
                    _ => headers.push(std::mem::take(&mut line)),
                }
                line.clear();
            }
            _ => break,
        }
    }
    Some(headers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::Recipient;

    fn entry(sender: &str, recipients: &[(&str, &str)], arrival: i64, size: i64) -> Entry {
        Entry {
            queue: Queue::Deferred,
            id: b"ABC".to_vec(),
            arrival_time: arrival,
            size,
            forced_expire: false,
            sender: sender.as_bytes().to_vec(),
            recipients: recipients
                .iter()
                .map(|(address, reason)| Recipient {
                    address: address.as_bytes().to_vec(),
                    reason: reason.as_bytes().to_vec(),
                })
                .collect(),
        }
    }

    #[test]
    fn durations_and_sizes() {
        assert_eq!(parse_duration("90m"), Ok(5400));
        assert_eq!(parse_duration("3d"), Ok(259_200));
        assert_eq!(parse_duration("1h30m"), Ok(5400));
        assert_eq!(parse_duration("45"), Ok(45));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("3x").is_err());
        assert!(parse_duration("d").is_err());
        assert!(parse_duration("99999999999999999999d").is_err());
        assert_eq!(parse_size("20k"), Ok(20 * 1024));
        assert_eq!(parse_size("10M"), Ok(10 * 1024 * 1024));
        assert_eq!(parse_size("500"), Ok(500));
        assert!(parse_size("k").is_err());
        assert!(parse_size("-5").is_err());
    }

    #[test]
    fn domains_match_themselves_and_subdomains_only() {
        assert!(domain_matches(b"a@Example.COM", "example.com"));
        assert!(domain_matches(b"a@mx.example.com.", "example.com"));
        assert!(!domain_matches(b"a@badexample.com", "example.com"));
        assert!(!domain_matches(b"example.com", "example.com"));
        assert!(domain_matches("ü@bücher.de".as_bytes(), "bücher.de"));
        assert!(domain_matches(b"\"a@b\"@x.org", "x.org"));
        assert_eq!(normalise_domain("@Example.COM."), Ok("example.com".into()));
        assert!(normalise_domain("").is_err());
    }

    #[test]
    fn criteria_are_anded_and_null_sender_has_two_names() {
        let now = 1_000_000;
        let message = entry(
            "MAILER-DAEMON",
            &[("u@example.com", "connect timeout"), ("v@other.org", "")],
            now - 7200,
            3000,
        );
        let null = b"MAILER-DAEMON";
        let mut selection = Selection {
            sender: Some(compile("--sender", "^<>$").expect("regex")),
            ..Selection::default()
        };
        assert!(selection.matches_envelope(&message, now, null));
        selection.domain = Some("other.org".into());
        assert!(selection.matches_envelope(&message, now, null));
        selection.older_than = Some(3 * 3600);
        assert!(!selection.matches_envelope(&message, now, null));
        selection.older_than = Some(3600);
        selection.max_size = Some(2999);
        assert!(!selection.matches_envelope(&message, now, null));
        selection.max_size = None;
        selection.reason = Some(compile("--reason", "timeout").expect("regex"));
        assert!(selection.matches_envelope(&message, now, null));
        selection.reason = Some(compile("--reason", "refused").expect("regex"));
        assert!(!selection.matches_envelope(&message, now, null));
        let plain = entry("a@b.c", &[("u@example.com", "")], now, 1);
        let by_sender = Selection {
            sender: Some(compile("--sender", "MAILER-DAEMON").expect("regex")),
            ..Selection::default()
        };
        assert!(!by_sender.matches_envelope(&plain, now, null));
    }
}
