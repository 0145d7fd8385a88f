//! The two listing formats, byte for byte as Postfix 3.7's postqueue prints them.
//!
//! Spec: format-and-postqueue.md §6.1 (`showq_compat.c`) and §7 (`showq_json.c`).

use postfix_queue::text::printable_in_place;
use postfix_queue::{Entry, Queue};
use postfix_queue_cli::time::asctime;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListingFormat {
    /// `-p`, the sendmail-style listing.
    Classic,
    /// `-j`, JSON Lines.
    Json,
    /// `--summary` (our extension): a table of recipient domains.
    SummaryText,
    /// `--summary --format json`.
    SummaryJson,
}

/// One entry's lines, rendered on its own (no header or separator), and its size for the
/// summary line.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub bytes: Vec<u8>,
    pub size: i64,
    /// What the entry adds to `--summary`.
    pub summary: Option<crate::summary::Item>,
}

/// Renders one entry in `format`; independent of the entries around it, so it can run on any
/// thread.
pub fn render(format: ListingFormat, long_ids: bool, entry: &Entry) -> Rendered {
    let mut bytes = Vec::with_capacity(256);
    let mut summary = None;
    match format {
        ListingFormat::Classic => Listing::classic_body(long_ids, &mut bytes, entry),
        ListingFormat::Json => json_entry(&mut bytes, entry),
        ListingFormat::SummaryText | ListingFormat::SummaryJson => {
            summary = Some(crate::summary::Item::of(entry));
        }
    }
    Rendered {
        bytes,
        size: entry.size,
        summary,
    }
}

/// Renders entries one at a time and keeps the running totals for the summary line.
#[derive(Debug)]
pub struct Listing {
    format: ListingFormat,
    long_ids: bool,
    count: u64,
    total_size: u64,
    /// With `--all-instances`: the instance whose entries come next.
    instance: Option<String>,
    /// Whether results are labelled with their instance.
    labelled: bool,
    summary: crate::summary::Summary,
}

impl Listing {
    pub fn new(format: ListingFormat, long_ids: bool) -> Self {
        Self {
            format,
            long_ids,
            count: 0,
            total_size: 0,
            instance: None,
            labelled: false,
            summary: crate::summary::Summary::default(),
        }
    }

    pub fn format(&self) -> ListingFormat {
        self.format
    }

    /// `--all-instances`: label what follows with `instance` (a field in JSON, a column in
    /// the summary). The classic listing starts afresh for each instance, after a heading.
    pub fn begin_instance(&mut self, out: &mut Vec<u8>, instance: &str, long_ids: bool) {
        if self.format == ListingFormat::Classic {
            if self.labelled {
                self.finish(out);
                out.push(b'\n');
            }
            out.extend_from_slice(format!("instance {instance}:\n").as_bytes());
            self.count = 0;
            self.total_size = 0;
        }
        self.long_ids = long_ids;
        self.labelled = true;
        self.instance = Some(instance.to_string());
    }

    pub fn entry(&mut self, out: &mut Vec<u8>, entry: &Entry) {
        let rendered = render(self.format, self.long_ids, entry);
        self.push(out, &rendered);
    }

    /// Appends an entry rendered by [`render`] (possibly on another thread), with the header
    /// or separator that depends on its place in the listing.
    pub fn push(&mut self, out: &mut Vec<u8>, rendered: &Rendered) {
        if let Some(item) = &rendered.summary {
            self.summary.add(self.instance.as_deref(), item);
            return;
        }
        if self.format == ListingFormat::Json {
            if let Some(instance) = &self.instance {
                // `{"instance": "NAME", ` then the entry's own fields.
                out.extend_from_slice(b"{\"instance\": ");
                json_string(out, instance.as_bytes());
                out.extend_from_slice(b", ");
                out.extend_from_slice(rendered.bytes.get(1..).unwrap_or_default());
                self.count += 1;
                return;
            }
        }
        if self.format == ListingFormat::Classic {
            if self.count > 0 {
                out.push(b'\n');
            } else if self.long_ids {
                out.extend_from_slice(
                    b"----Queue ID----- --Size-- ---Arrival Time---- --Sender/Recipient------\n",
                );
            } else {
                out.extend_from_slice(
                    b"-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------\n",
                );
            }
        }
        out.extend_from_slice(&rendered.bytes);
        self.count += 1;
        // C adds the signed size into an unsigned long: wrapping is what it does.
        self.total_size = self.total_size.wrapping_add(rendered.size as u64);
    }

    /// The summary line (`-p` only; an empty JSON listing prints nothing at all).
    pub fn finish(&self, out: &mut Vec<u8>) {
        match self.format {
            ListingFormat::Json => return,
            ListingFormat::SummaryText => {
                out.extend_from_slice(self.summary.text(self.labelled).as_bytes());
                return;
            }
            ListingFormat::SummaryJson => {
                out.extend_from_slice(self.summary.json(self.labelled).as_bytes());
                return;
            }
            ListingFormat::Classic => {}
        }
        if self.count == 0 {
            out.extend_from_slice(b"Mail queue is empty\n");
        } else {
            let plural = if self.count == 1 { "" } else { "s" };
            out.extend_from_slice(
                format!(
                    "\n-- {} Kbytes in {} Request{plural}.\n",
                    self.total_size / 1024,
                    self.count
                )
                .as_bytes(),
            );
        }
    }

    fn classic_body(long_ids: bool, out: &mut Vec<u8>, entry: &Entry) {
        let (id_width, size_width, time_width, indent): (usize, usize, usize, usize) = if long_ids {
            (17, 8, 19, 47)
        } else {
            (11, 7, 20, 41)
        };
        let mut id_status = entry.id.clone();
        match entry.queue {
            Queue::Active => id_status.push(b'*'),
            Queue::Hold => id_status.push(b'!'),
            _ => {}
        }
        if entry.forced_expire {
            id_status.push(b'#');
        }
        pad_left_aligned(out, &id_status, id_width);
        out.push(b' ');
        let size = entry.size.to_string();
        out.resize(out.len() + size_width.saturating_sub(size.len()), b' ');
        out.extend_from_slice(size.as_bytes());
        out.push(b' ');
        // asctime's text plus its trailing newline, cut to the field width: the short layout
        // keeps the space after the seconds (so two spaces follow), the long one does not.
        let mut time = asctime(entry.arrival_time);
        time.push('\n');
        let time = &time.as_bytes()[..time_width.min(time.len())];
        pad_left_aligned(out, time, time_width);
        out.push(b' ');
        out.extend_from_slice(&entry.sender);
        out.push(b'\n');
        let mut previous_reason: &[u8] = b"";
        for recipient in &entry.recipients {
            if recipient.reason != previous_reason {
                previous_reason = &recipient.reason;
                let shown: &[u8] = if recipient.reason.is_empty() {
                    b"reason unavailable"
                } else {
                    &recipient.reason
                };
                out.resize(out.len() + 76usize.saturating_sub(shown.len()), b' ');
                out.push(b'(');
                out.extend_from_slice(shown);
                out.extend_from_slice(b")\n");
            }
            out.resize(out.len() + indent, b' ');
            out.extend_from_slice(&recipient.address);
            out.push(b'\n');
        }
    }
}

fn pad_left_aligned(out: &mut Vec<u8>, text: &[u8], width: usize) {
    out.extend_from_slice(text);
    out.resize(out.len() + width.saturating_sub(text.len()), b' ');
}

fn json_entry(out: &mut Vec<u8>, entry: &Entry) {
    out.extend_from_slice(b"{\"queue_name\": ");
    json_string(out, entry.queue.name().as_bytes());
    out.extend_from_slice(b", \"queue_id\": ");
    json_string(out, &entry.id);
    out.extend_from_slice(
        format!(
            ", \"arrival_time\": {}, \"message_size\": {}, \"forced_expire\": {}, \"sender\": ",
            entry.arrival_time, entry.size, entry.forced_expire
        )
        .as_bytes(),
    );
    json_string(out, &entry.sender);
    out.extend_from_slice(b", \"recipients\": [");
    for (index, recipient) in entry.recipients.iter().enumerate() {
        if index > 0 {
            out.extend_from_slice(b", ");
        }
        out.extend_from_slice(b"{\"address\": ");
        json_string(out, &recipient.address);
        if !recipient.reason.is_empty() {
            out.extend_from_slice(b", \"delay_reason\": ");
            json_string(out, &recipient.reason);
        }
        out.push(b'}');
    }
    out.extend_from_slice(b"]}\n");
}

/// 3.7's `json_quote` followed by `printable`: quote and backslash escaped, control
/// characters escaped (none survive showq's `printable` in practice), bytes >= 0x80 raw.
fn json_string(out: &mut Vec<u8>, text: &[u8]) {
    out.push(b'"');
    let start = out.len();
    for &byte in text {
        match byte {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x00..=0x1f | 0x7f => out.extend_from_slice(format!("\\u{byte:04X}").as_bytes()),
            _ => out.push(byte),
        }
    }
    // The strings already passed showq's printable with the right UTF-8 setting; running it
    // again with UTF-8 on keeps them unchanged, as Postfix's second pass does.
    printable_in_place(&mut out[start..], true);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use postfix_queue::Recipient;

    fn entry(queue: Queue, forced_expire: bool) -> Entry {
        Entry {
            queue,
            id: b"398A098C5A4".to_vec(),
            arrival_time: 1795976329,
            size: 262,
            forced_expire,
            sender: b"alice@example.com".to_vec(),
            recipients: vec![
                Recipient {
                    address: b"bob@example.org".to_vec(),
                    reason: b"test".to_vec(),
                },
                Recipient {
                    address: b"x@example.org".to_vec(),
                    reason: Vec::new(),
                },
            ],
        }
    }

    #[test]
    fn classic_layout_matches_postfix() {
        std::env::set_var("TZ", "UTC");
        postfix_queue_cli::time::init_timezone();
        let mut listing = Listing::new(ListingFormat::Classic, false);
        let mut out = Vec::new();
        listing.entry(&mut out, &entry(Queue::Deferred, true));
        listing.entry(&mut out, &entry(Queue::Hold, false));
        listing.finish(&mut out);
        let expected = r#"-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------
398A098C5A4#     262 Sun Nov 29 18:18:49  alice@example.com
                                                                        (test)
                                         bob@example.org
                                                          (reason unavailable)
                                         x@example.org

398A098C5A4!     262 Sun Nov 29 18:18:49  alice@example.com
                                                                        (test)
                                         bob@example.org
                                                          (reason unavailable)
                                         x@example.org

-- 0 Kbytes in 2 Requests.
"#;
        assert_eq!(String::from_utf8_lossy(&out), expected);
    }

    #[test]
    fn json_layout_matches_postfix() {
        let mut out = Vec::new();
        json_entry(&mut out, &entry(Queue::Deferred, true));
        assert_eq!(
            String::from_utf8_lossy(&out),
            "{\"queue_name\": \"deferred\", \"queue_id\": \"398A098C5A4\", \"arrival_time\": 1795976329, \"message_size\": 262, \"forced_expire\": true, \"sender\": \"alice@example.com\", \"recipients\": [{\"address\": \"bob@example.org\", \"delay_reason\": \"test\"}, {\"address\": \"x@example.org\"}]}\n"
        );
    }

    #[test]
    fn empty_listings() {
        let listing = Listing::new(ListingFormat::Classic, false);
        let mut out = Vec::new();
        listing.finish(&mut out);
        assert_eq!(out, b"Mail queue is empty\n");
        let listing = Listing::new(ListingFormat::Json, false);
        let mut out = Vec::new();
        listing.finish(&mut out);
        assert!(out.is_empty());
    }
}
