//! qshape's view of a queue: which files it counts, what one file contributes (arrival time,
//! sender, recipients), how an address becomes a domain row (and its parent rows), the age
//! buckets, and the per-domain tables, which merge across threads.
//!
//! Reading follows qshape's own record reader (`qenv`, `rec_get` in qshape.pl), not Postfix's:
//! up to three length bytes, a `0` type byte ends the file, `p` pointers are followed, the
//! content is skipped by the size record's first number. Differences, each on purpose
//! (docs/deviations.md Q1-Q5): force-expired files count, postdrop files (first record `T`)
//! are read instead of miscounted, damaged files are skipped with a warning instead of being
//! counted or looping forever, IP literals have no parent rows.
//!
//! Spec: postsuper-and-qshape.md §3.2-§3.7.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;

/// Backward pointer jumps allowed per file (Postfix's own guard against pointer loops; the
/// real qshape has none and can loop forever).
const POINTER_JUMP_LIMIT: u32 = 10_000;
/// qshape reads at most three length bytes: records are shorter than 2^21 bytes.
const MAX_LENGTH_BYTES: u32 = 3;

/// Whether a directory entry's name is one qshape looks at: six or more ASCII letters/digits.
pub fn is_candidate_name(name: &[u8]) -> bool {
    name.len() >= 6 && name.iter().all(u8::is_ascii_alphanumeric)
}

/// qshape's mode rule, `(mode & 0733) == 0700`, except that the force-expire bit (0010) is
/// ignored: force-expired mail is still in the queue and counts (deviation Q1).
pub fn counts_mode(mode: u32) -> bool {
    mode & 0o723 == 0o700
}

/// What one file contributes, in reusable buffers (no allocation per message once warm).
#[derive(Debug, Default, Clone)]
pub struct Envelope {
    /// Epoch seconds, as qshape takes them: the `T` record's first field as a Perl number, or
    /// the file's mtime for the oldest maildrop format.
    pub arrival: f64,
    pub sender: Vec<u8>,
    recipients: Vec<u8>,
    ends: Vec<usize>,
}

impl Envelope {
    fn clear(&mut self) {
        self.arrival = 0.0;
        self.sender.clear();
        self.recipients.clear();
        self.ends.clear();
    }

    fn push_recipient(&mut self, address: &[u8]) {
        self.recipients.extend_from_slice(address);
        self.ends.push(self.recipients.len());
    }

    /// The pending recipients, in file order (duplicates included).
    pub fn recipients(&self) -> impl Iterator<Item = &[u8]> {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let address = &self.recipients[start..end];
            start = end;
            address
        })
    }

    pub fn recipient_count(&self) -> usize {
        self.ends.len()
    }
}

/// The verdict on one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Counted: the envelope holds its sender, recipients and arrival time.
    Counted,
    /// Not counted, as qshape would not count it (incomplete, no recipients left, ...).
    Skipped,
    /// Not counted, where qshape would misbehave; the text says why.
    Damaged(String),
}

/// qshape's `rec_get` over a file, with a small read buffer.
struct RecordReader<'a> {
    file: &'a File,
    position: u64,
    buffer: Vec<u8>,
    buffer_start: u64,
    buffer_length: usize,
    /// `p` records followed so far that pointed at or before the read position.
    backward_jumps: u32,
}

impl<'a> RecordReader<'a> {
    fn new(file: &'a File, buffer: Vec<u8>) -> Self {
        Self {
            file,
            position: 0,
            buffer,
            buffer_start: 0,
            buffer_length: 0,
            backward_jumps: 0,
        }
    }

    /// Follows a `p` record as qshape does (a positive target becomes the read position), but
    /// a file that jumps backwards too often is damaged: qshape would loop on it forever.
    fn follow_pointer(&mut self, data: &[u8]) -> Result<(), Verdict> {
        let target = perl_number(data);
        if target > 0.0 {
            if (target as u64) <= self.position {
                self.backward_jumps += 1;
                if self.backward_jumps > POINTER_JUMP_LIMIT {
                    return Err(Verdict::Damaged("pointer record loop".into()));
                }
            }
            self.position = target as u64;
        }
        Ok(())
    }

    fn into_buffer(self) -> Vec<u8> {
        self.buffer
    }

    /// Copies the next `length` bytes into `out` (appending); false at end of file.
    fn read(&mut self, length: usize, out: &mut Vec<u8>) -> bool {
        let mut wanted = length;
        while wanted > 0 {
            let end = self.buffer_start + self.buffer_length as u64;
            if self.position >= self.buffer_start && self.position < end {
                let at = (self.position - self.buffer_start) as usize;
                let take = wanted.min(self.buffer_length - at);
                out.extend_from_slice(&self.buffer[at..at + take]);
                self.position += take as u64;
                wanted -= take;
                continue;
            }
            match self.file.read_at(&mut self.buffer, self.position) {
                Ok(0) | Err(_) => return false,
                Ok(read) => {
                    self.buffer_start = self.position;
                    self.buffer_length = read;
                }
            }
        }
        true
    }

    fn byte(&mut self) -> Option<u8> {
        let mut one = Vec::with_capacity(1);
        if self.read(1, &mut one) {
            one.first().copied()
        } else {
            None
        }
    }

    /// One record: its type and payload; `None` at the end (or a `0` type byte, which is
    /// false to Perl, or a length that needs a fourth byte).
    fn record(&mut self, data: &mut Vec<u8>) -> Option<u8> {
        data.clear();
        let kind = self.byte()?;
        if kind == b'0' {
            return None;
        }
        let mut length: usize = 0;
        let mut shift = 0;
        while let Some(byte) = self.byte() {
            length |= usize::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                break;
            }
            shift += 7;
            if shift > 7 * (MAX_LENGTH_BYTES - 1) {
                return None;
            }
        }
        if length > 0 && !self.read(length, data) {
            return None;
        }
        Some(kind)
    }
}

/// Perl's numeric value of a string: leading white space, then the longest prefix that reads
/// as a decimal number; 0 when there is none.
pub fn perl_number(text: &[u8]) -> f64 {
    let text = String::from_utf8_lossy(text);
    let trimmed = text.trim_start_matches(|c: char| c.is_ascii_whitespace());
    let bytes = trimmed.as_bytes();
    let mut end = 0;
    if matches!(bytes.first(), Some(b'+' | b'-')) {
        end = 1;
    }
    let digits_start = end;
    while end < bytes.len() && bytes[end].is_ascii_digit() {
        end += 1;
    }
    if end < bytes.len() && bytes[end] == b'.' {
        end += 1;
        while end < bytes.len() && bytes[end].is_ascii_digit() {
            end += 1;
        }
    }
    if end == digits_start || (end == digits_start + 1 && bytes[digits_start] == b'.') {
        return 0.0;
    }
    let mantissa_end = end;
    if end < bytes.len() && matches!(bytes[end], b'e' | b'E') {
        let mut exponent_end = end + 1;
        if matches!(bytes.get(exponent_end), Some(b'+' | b'-')) {
            exponent_end += 1;
        }
        let exponent_digits = exponent_end;
        while exponent_end < bytes.len() && bytes[exponent_end].is_ascii_digit() {
            exponent_end += 1;
        }
        if exponent_end > exponent_digits {
            end = exponent_end;
        }
    }
    trimmed[..end]
        .parse::<f64>()
        .or_else(|_| trimmed[..mantissa_end].parse::<f64>())
        .unwrap_or(0.0)
}

/// Whether Perl would call `text` numeric (no "isn't numeric" warning).
pub fn perl_looks_like_number(text: &str) -> bool {
    let trimmed = text.trim_matches(|c: char| c.is_ascii_whitespace());
    !trimmed.is_empty()
        && (trimmed.parse::<f64>().is_ok()
            && !trimmed.eq_ignore_ascii_case("inf")
            && !trimmed.eq_ignore_ascii_case("nan")
            || matches!(
                trimmed.to_ascii_lowercase().as_str(),
                "inf" | "infinity" | "nan"
            ))
}

/// `qenv`: reads one queue file the way qshape does. `mtime` is the file's, for the oldest
/// maildrop format. `scratch` is a reusable read buffer.
pub fn read_envelope(
    file: &File,
    mtime: i64,
    envelope: &mut Envelope,
    scratch: &mut Vec<u8>,
) -> Verdict {
    envelope.clear();
    if scratch.len() < 4096 {
        scratch.resize(4096, 0);
    }
    let mut reader = RecordReader::new(file, std::mem::take(scratch));
    let verdict = read_records(&mut reader, mtime, envelope);
    *scratch = reader.into_buffer();
    verdict
}

fn read_records(reader: &mut RecordReader<'_>, mtime: i64, envelope: &mut Envelope) -> Verdict {
    let mut data = Vec::with_capacity(128);
    let mut content_length: Option<u64> = None;
    let mut have_sender = false;
    match reader.record(&mut data) {
        Some(b'C') => {
            content_length = size_record_length(&data);
            if reader.record(&mut data) != Some(b'T') {
                return Verdict::Skipped;
            }
            envelope.arrival = first_field_number(&data);
        }
        Some(kind @ (b'S' | b'F')) => {
            envelope.arrival = mtime as f64;
            if kind == b'F' && reader.record(&mut data) != Some(b'S') {
                return Verdict::Skipped;
            }
            envelope.sender.clear();
            envelope.sender.extend_from_slice(&data);
            have_sender = true;
        }
        // postdrop's maildrop files start with the arrival time; qshape does not know them
        // and counts them as a MAILER-DAEMON message of unknown age under -s (deviation Q2).
        Some(b'T') => {
            envelope.arrival = first_field_number(&data);
        }
        _ => return Verdict::Damaged("not a queue file".into()),
    }
    loop {
        let Some(kind) = reader.record(&mut data) else {
            return Verdict::Skipped;
        };
        match kind {
            b'p' => {
                if let Err(damaged) = reader.follow_pointer(&data) {
                    return damaged;
                }
            }
            b'R' => envelope.push_recipient(&data),
            b'S' => {
                envelope.sender.clear();
                envelope.sender.extend_from_slice(&data);
                have_sender = true;
            }
            b'M' => {
                if !have_sender {
                    return Verdict::Skipped;
                }
                let next = match content_length {
                    Some(length) => {
                        reader.position += length;
                        reader.record(&mut data)
                    }
                    None => loop {
                        match reader.record(&mut data) {
                            Some(b'p') => {
                                if let Err(damaged) = reader.follow_pointer(&data) {
                                    return damaged;
                                }
                            }
                            Some(b'N' | b'L') => {}
                            other => break other,
                        }
                    },
                };
                if next != Some(b'X') {
                    return Verdict::Skipped;
                }
            }
            b'E' => {
                // Every accepted first record set the time; qshape also wants a sender and
                // at least one pending recipient.
                return if have_sender && envelope.recipient_count() > 0 {
                    Verdict::Counted
                } else {
                    Verdict::Skipped
                };
            }
            _ => {}
        }
    }
}

/// `/^\s*(\d+)\s+\d+\s+\d+/` on the size record: the content length, when it matches.
fn size_record_length(data: &[u8]) -> Option<u64> {
    let is_space = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c);
    let mut at = 0;
    while data.get(at).is_some_and(is_space) {
        at += 1;
    }
    let mut fields = Vec::with_capacity(3);
    for field in 0..3 {
        if field > 0 {
            let spaces = at;
            while data.get(at).is_some_and(is_space) {
                at += 1;
            }
            if at == spaces {
                return None;
            }
        }
        let start = at;
        while data.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
        if at == start {
            return None;
        }
        fields.push(&data[start..at]);
    }
    std::str::from_utf8(fields[0]).ok()?.parse().ok()
}

/// `($t) = split(/\s+/, $d)`: the first field (empty when the record starts with white
/// space), as a Perl number.
fn first_field_number(data: &[u8]) -> f64 {
    let end = data
        .iter()
        .position(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c))
        .unwrap_or(data.len());
    perl_number(&data[..end])
}

/// How ages map to columns.
#[derive(Debug, Clone, Copy)]
pub struct Buckets {
    /// `-b`: the number of age columns (Perl compares it as a number, so it may be fractional).
    pub count: f64,
    /// `-t`: the first bucket's width in minutes.
    pub tick: f64,
    /// `-l`.
    pub linear: bool,
    /// The reference time (epoch seconds), taken once at start.
    pub now: i64,
}

impl Buckets {
    /// Columns in a row: the total, then the age columns (`0..=count`).
    pub fn columns(&self) -> usize {
        if self.count < 0.0 {
            return 0;
        }
        self.count.floor() as usize + 1
    }

    /// `bucket`: the age column for an arrival time. As in qshape, a column past the last one
    /// shown (possible with a fractional `-b` below 1) is counted but never printed, and a
    /// fractional result is truncated, as Perl does with an array index.
    pub fn bucket(&self, arrival: f64) -> usize {
        let minutes = (self.now as f64 - arrival) / (60.0 * self.tick);
        if minutes < 1.0 || minutes.is_nan() {
            return 1;
        }
        let bucket = if self.linear {
            (minutes + 1.0).trunc()
        } else {
            2.0 + (minutes.ln() / 2f64.ln()).trunc()
        };
        let bucket = if bucket < self.count {
            bucket
        } else {
            self.count
        };
        bucket.max(0.0) as usize
    }

    /// The column labels (`T`, then each bucket's upper bound in minutes, the last with `+`),
    /// as qshape's `results` computes them, Perl number formatting included.
    pub fn labels(&self) -> Vec<String> {
        let mut labels = Vec::new();
        let mut value = 0.0f64;
        let mut text: Option<String> = None;
        let mut index = 0usize;
        while (index as f64) <= self.count {
            labels.push(if index == 0 {
                "T".to_string()
            } else {
                text.clone().unwrap_or_else(|| perl_format(value))
            });
            index += 1;
            if (index as f64) < self.count {
                value += if value != 0.0 && !self.linear {
                    value
                } else {
                    self.tick
                };
                text = None;
            } else {
                text = Some(format!(
                    "{}+",
                    text.clone().unwrap_or_else(|| perl_format(value))
                ));
            }
        }
        labels
    }

    /// The lower and upper bounds of each age column in seconds (`None` = no upper bound), for
    /// machine-readable output. Column 0 (the total) is not included.
    pub fn bounds_seconds(&self) -> Vec<(f64, Option<f64>)> {
        let columns = self.columns();
        let mut bounds = Vec::new();
        let mut lower = 0.0;
        let mut upper = 0.0f64;
        for column in 1..columns {
            upper += if upper != 0.0 && !self.linear {
                upper
            } else {
                self.tick
            };
            let last = column + 1 == columns;
            bounds.push((lower * 60.0, (!last).then_some(upper * 60.0)));
            lower = upper;
        }
        bounds
    }
}

/// A number as Perl prints it (`%.15g`).
pub fn perl_format(value: f64) -> String {
    if value.is_finite() && value == value.trunc() && value.abs() < 1e15 {
        return format!("{}", value as i64);
    }
    let mut buffer = [0u8; 64];
    // SAFETY: snprintf writes at most the buffer's length, NUL included, with a literal format.
    let length = unsafe {
        libc::snprintf(
            buffer.as_mut_ptr().cast(),
            buffer.len(),
            c"%.15g".as_ptr(),
            value,
        )
    };
    let length = usize::try_from(length).unwrap_or(0).min(buffer.len() - 1);
    String::from_utf8_lossy(&buffer[..length]).into_owned()
}

/// What a run counts per message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counting {
    /// Each pending recipient (qshape's default).
    Recipients,
    /// The sender, once per message (`-s`).
    Senders,
    /// Each message once per domain it has recipients in (`--per-message`).
    Messages,
}

/// The domain row an address counts in (qshape's normalisation, spec §3.4): lower case
/// (ASCII), the null address as `MAILER-DAEMON`, everything up to the last `@` removed, `..`
/// made `.`, one leading and one trailing dot removed.
pub fn domain_key(address: &[u8], key: &mut Vec<u8>) {
    key.clear();
    if address.is_empty() {
        key.extend_from_slice(b"MAILER-DAEMON");
        return;
    }
    let domain = match address.iter().rposition(|&b| b == b'@') {
        Some(at) => &address[at + 1..],
        None => address,
    };
    let mut index = 0;
    while index < domain.len() {
        let byte = domain[index].to_ascii_lowercase();
        if byte == b'.' && domain.get(index + 1) == Some(&b'.') {
            key.push(b'.');
            index += 2;
            continue;
        }
        key.push(byte);
        index += 1;
    }
    // s/\.?(.+?)\.?$/$1/: keep at least one character.
    if key.len() >= 2 && key[0] == b'.' {
        key.remove(0);
    }
    if key.len() >= 2 && key[key.len() - 1] == b'.' {
        key.pop();
    }
}

/// The `-p` parent of a row: `s/^(?:\.)?[^.]+\.(.*\.)/.$1/` (drop the first label while a dot
/// remains after it), never for IP literals (deviation Q4).
pub fn parent_key(key: &[u8]) -> Option<Vec<u8>> {
    if key.first() == Some(&b'[') {
        return None;
    }
    let rest = key.strip_prefix(b".").unwrap_or(key);
    let dot = rest.iter().position(|&b| b == b'.')?;
    if dot == 0 {
        return None;
    }
    let after = &rest[dot + 1..];
    if !after.contains(&b'.') {
        return None;
    }
    let mut parent = Vec::with_capacity(after.len() + 1);
    parent.push(b'.');
    parent.extend_from_slice(after);
    Some(parent)
}

/// Per-row counts: the total, then one per age column.
pub type Counts = Vec<u64>;

/// The row name of the grand total.
pub const TOTAL: &[u8] = b"TOTAL";

/// Counts by domain row and age column, mergeable across threads.
#[derive(Debug, Clone)]
pub struct Shape {
    columns: usize,
    rows: HashMap<Vec<u8>, Counts>,
    /// Messages counted (qshape's `-N` batches count these).
    pub messages: u64,
    key: Vec<u8>,
    seen: Vec<Vec<u8>>,
}

/// One row of a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub name: Vec<u8>,
    pub counts: Counts,
}

impl Shape {
    pub fn new(columns: usize) -> Self {
        let mut rows = HashMap::new();
        rows.insert(TOTAL.to_vec(), vec![0; columns]);
        Self {
            columns,
            rows,
            messages: 0,
            key: Vec::new(),
            seen: Vec::new(),
        }
    }

    fn bump(&mut self, row: &[u8], bucket: usize) {
        let columns = self.columns;
        let counts = match self.rows.get_mut(row) {
            Some(counts) => counts,
            None => self
                .rows
                .entry(row.to_vec())
                .or_insert_with(|| vec![0; columns]),
        };
        counts[0] += 1;
        // Like a Perl array, a row grows to hold a column past the last one shown (possible
        // with a fractional -b below 1); such a row makes Perl's printf warn.
        if bucket >= counts.len() {
            counts.resize(bucket + 1, 0);
        }
        counts[bucket] += 1;
    }

    /// Counts one address in its row and, with `parents`, in each parent row.
    fn count_address(&mut self, address: &[u8], bucket: usize, parents: bool) {
        let mut key = std::mem::take(&mut self.key);
        domain_key(address, &mut key);
        self.bump(&key, bucket);
        if parents {
            let mut current = key.clone();
            while let Some(parent) = parent_key(&current) {
                self.bump(&parent, bucket);
                current = parent;
            }
        }
        self.key = key;
    }

    /// Adds one counted message.
    pub fn add(&mut self, envelope: &Envelope, bucket: usize, counting: Counting, parents: bool) {
        self.messages += 1;
        match counting {
            Counting::Senders => {
                self.bump(TOTAL, bucket);
                self.count_address(&envelope.sender, bucket, parents);
            }
            Counting::Recipients => {
                for recipient in envelope.recipients() {
                    self.bump(TOTAL, bucket);
                    self.count_address(recipient, bucket, parents);
                }
            }
            Counting::Messages => {
                // Once per distinct row (and parent row) the message has recipients in.
                self.bump(TOTAL, bucket);
                let mut seen = std::mem::take(&mut self.seen);
                seen.clear();
                let mut key = Vec::new();
                for recipient in envelope.recipients() {
                    domain_key(recipient, &mut key);
                    let mut current = key.clone();
                    loop {
                        if !seen.contains(&current) {
                            seen.push(current.clone());
                        }
                        match parent_key(&current).filter(|_| parents) {
                            Some(parent) => current = parent,
                            None => break,
                        }
                    }
                }
                for row in &seen {
                    self.bump(row, bucket);
                }
                self.seen = seen;
            }
        }
    }

    /// Adds another thread's counts.
    pub fn merge(&mut self, other: Shape) {
        self.messages += other.messages;
        for (name, counts) in other.rows {
            match self.rows.get_mut(&name) {
                Some(mine) => {
                    if counts.len() > mine.len() {
                        mine.resize(counts.len(), 0);
                    }
                    for (cell, add) in mine.iter_mut().zip(counts) {
                        *cell += add;
                    }
                }
                None => {
                    self.rows.insert(name, counts);
                }
            }
        }
    }

    pub fn total(&self) -> &[u64] {
        self.rows.get(TOTAL).map(Vec::as_slice).unwrap_or_default()
    }

    /// The number of distinct rows directly below each parent row (qshape's `%sub`): the
    /// rows whose `-p` parent it is.
    pub fn subdomain_counts(&self) -> HashMap<Vec<u8>, u64> {
        let mut counts: HashMap<Vec<u8>, u64> = HashMap::new();
        for name in self.rows.keys() {
            if name.as_slice() == TOTAL {
                continue;
            }
            if let Some(parent) = parent_key(name) {
                if self.rows.contains_key(&parent) {
                    *counts.entry(parent).or_default() += 1;
                }
            }
        }
        counts
    }

    /// Every row, TOTAL included as an ordinary row, in qshape's order: larger totals first,
    /// then shorter names (in bytes), then, where qshape's order is random, by name
    /// (deviation Q3). Each says whether qshape shows it: rows starting with `.` (parents)
    /// need at least `min_subdomains` subdomain rows.
    pub fn ordered_rows(&self, min_subdomains: f64) -> Vec<(Row, Shown)> {
        let subdomains = self.subdomain_counts();
        let mut rows: Vec<(Row, Shown)> = self
            .rows
            .iter()
            .map(|(name, counts)| {
                let shown = if name.first() != Some(&b'.') {
                    Shown::Yes
                } else {
                    match subdomains.get(name.as_slice()) {
                        Some(&count) if count as f64 >= min_subdomains => Shown::Yes,
                        Some(_) => Shown::TooFewSubdomains,
                        // qshape compares an undefined count (with a Perl warning).
                        None if 0.0 >= min_subdomains => Shown::YesUndefined,
                        None => Shown::NoUndefined,
                    }
                };
                (
                    Row {
                        name: name.clone(),
                        counts: counts.clone(),
                    },
                    shown,
                )
            })
            .collect();
        rows.sort_by(|(a, _), (b, _)| {
            b.counts[0]
                .cmp(&a.counts[0])
                .then(a.name.len().cmp(&b.name.len()))
                .then(a.name.cmp(&b.name))
        });
        rows
    }

    /// The rows qshape shows, in its order (see [`Shape::ordered_rows`]).
    pub fn rows(&self, min_subdomains: f64) -> Vec<Row> {
        self.ordered_rows(min_subdomains)
            .into_iter()
            .filter(|(_, shown)| matches!(shown, Shown::Yes | Shown::YesUndefined))
            .map(|(row, _)| row)
            .collect()
    }
}

/// Whether qshape shows a row, and whether its test read an undefined subdomain count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    Yes,
    /// A parent row with fewer subdomain rows than `-m` asks for.
    TooFewSubdomains,
    /// A row starting with `.` that is nobody's parent: qshape warns, and shows it only if
    /// `-m` is not above 0 (it always is).
    NoUndefined,
    YesUndefined,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(address: &str) -> String {
        let mut key = Vec::new();
        domain_key(address.as_bytes(), &mut key);
        String::from_utf8(key).expect("utf8")
    }

    #[test]
    fn domains_normalise_as_qshape_does() {
        assert_eq!(key("a@Example.COM."), "example.com");
        assert_eq!(key("a@.example.com"), "example.com");
        assert_eq!(key("x@"), "");
        assert_eq!(key("u@."), ".");
        assert_eq!(key("root"), "root");
        assert_eq!(key(""), "MAILER-DAEMON");
        assert_eq!(key("a@b@c.example.org"), "c.example.org");
        assert_eq!(key("a@x...y"), "x..y");
        assert_eq!(key("a@[192.168.1.2]"), "[192.168.1.2]");
        assert_eq!(key("Ü@BÜCHER.de"), "bÜcher.de");
    }

    #[test]
    fn parents_drop_the_first_label_while_a_dot_remains() {
        let parent =
            |k: &str| parent_key(k.as_bytes()).map(|p| String::from_utf8(p).expect("utf8"));
        assert_eq!(parent("a.b.example.com").as_deref(), Some(".b.example.com"));
        assert_eq!(parent(".b.example.com").as_deref(), Some(".example.com"));
        assert_eq!(parent(".example.com"), None);
        assert_eq!(parent("example.com"), None);
        assert_eq!(parent("[192.168.1.2]"), None);
    }

    #[test]
    fn buckets_and_labels() {
        let buckets = Buckets {
            count: 10.0,
            tick: 5.0,
            linear: false,
            now: 10_000,
        };
        assert_eq!(
            buckets.labels().join(" "),
            "T 5 10 20 40 80 160 320 640 1280 1280+"
        );
        assert_eq!(buckets.bucket(10_000.0), 1);
        assert_eq!(buckets.bucket(10_000.0 - 300.0), 2);
        assert_eq!(buckets.bucket(20_000.0), 1);
        // 10000 s = 33.3 ticks: 2 + int(log2(33.3)) = 7.
        assert_eq!(buckets.bucket(0.0), 7);
        assert_eq!(buckets.bucket(-1.0e9), 10);
        let linear = Buckets {
            count: 5.0,
            tick: 1.0,
            linear: true,
            now: 0,
        };
        assert_eq!(linear.labels().join(" "), "T 1 2 3 4 4+");
        let one = Buckets {
            count: 1.0,
            ..linear
        };
        assert_eq!(one.labels().join(" "), "T 0+");
        let half = Buckets {
            count: 4.0,
            tick: 0.5,
            linear: false,
            now: 0,
        };
        assert_eq!(half.labels().join(" "), "T 0.5 1 2 2+");
        let fractional = Buckets {
            count: 2.5,
            tick: 5.0,
            linear: false,
            now: 0,
        };
        assert_eq!(fractional.labels().join(" "), "T 5 10");
    }

    #[test]
    fn perl_numbers() {
        assert_eq!(perl_number(b" 12abc"), 12.0);
        assert_eq!(perl_number(b"0.5"), 0.5);
        assert_eq!(perl_number(b"abc"), 0.0);
        assert_eq!(perl_number(b"1e3x"), 1000.0);
        assert_eq!(perl_number(b"1e"), 1.0);
        assert_eq!(perl_format(0.5), "0.5");
        assert_eq!(perl_format(1280.0), "1280");
        assert_eq!(perl_format(0.1 + 0.2), "0.3");
        assert!(perl_looks_like_number("5"));
        assert!(perl_looks_like_number(" 0.5 "));
        assert!(!perl_looks_like_number("5abc"));
        assert!(!perl_looks_like_number(""));
    }

    #[test]
    fn sub_counts_are_distinct_children() {
        let buckets = 3;
        let mut shape = Shape::new(buckets);
        let mut envelope = Envelope::default();
        for address in [
            "a@x.b.example.com",
            "b@y.b.example.com",
            "c@x.b.example.com",
            "d@b.example.com",
        ] {
            envelope.push_recipient(address.as_bytes());
        }
        envelope.sender = b"s@example.org".to_vec();
        shape.add(&envelope, 1, Counting::Recipients, true);
        let subs = shape.subdomain_counts();
        assert_eq!(subs.get(b".b.example.com".as_slice()), Some(&2));
        // b.example.com and .b.example.com are two children of .example.com.
        assert_eq!(subs.get(b".example.com".as_slice()), Some(&2));
        assert_eq!(shape.total()[0], 4);
        let rows = shape.rows(2.0);
        assert_eq!(rows[0].name, b"TOTAL");
        assert!(rows.iter().any(|row| row.name == b".b.example.com"));
    }
}
