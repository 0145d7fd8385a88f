//! A client for Postfix's showq service: the attr0 stream (`name\0value\0`, a lone `\0` ends a
//! list) that postqueue reads when it cannot read the queue itself. Both server shapes are
//! understood: 3.7 sends `recipient`, `reason` per recipient; 3.11 and later send
//! `original_recipient`, `recipient`, `log_class`, `reason`. The shape is detected from the
//! first recipient's first attribute name.
//!
//! Spec: format-and-postqueue.md §8 (Postfix `attr_scan0.c`, `showq.c`, `showq_compat.c`).

use std::io::{self, BufRead};

use crate::envelope::{Entry, Queue, Recipient};
use crate::text::printable_in_place;

/// The showq stream broke its protocol; postqueue calls this "malformed showq server response".
/// `warning` is what Postfix's attribute scanner logs first, if it logs anything.
#[derive(Debug, Default)]
pub struct Malformed {
    pub warning: Option<String>,
}

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("malformed showq server response")
    }
}

impl std::error::Error for Malformed {}

impl Malformed {
    /// Malformed, after the warning Postfix's scanner logs.
    fn warning(text: String) -> Self {
        Self {
            warning: Some(text),
        }
    }
}

impl From<io::Error> for Malformed {
    fn from(_: io::Error) -> Self {
        Malformed::default()
    }
}

/// The recipient attribute layout a server uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerShape {
    /// Postfix up to 3.10: `recipient`, `reason`.
    Classic,
    /// Postfix 3.11 and later: `original_recipient`, `recipient`, `log_class`, `reason`.
    WithOriginalRecipient,
}

/// What an attribute's value is read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Number,
}

/// Reads a showq listing entry by entry, following Postfix's `attr_scan0` rules closely
/// enough to log the same warning before giving up.
#[derive(Debug)]
pub struct ShowqClient<R> {
    stream: R,
    utf8_enabled: bool,
    shape: Option<ServerShape>,
    /// How the stream is named in warnings (`public/showq socket`).
    name: String,
}

impl<R: BufRead> ShowqClient<R> {
    /// Reads and checks the protocol announcement. `utf8_enabled` is the client's own
    /// smtputf8_enable: postqueue passes every received string through `printable` again.
    /// `name` is how warnings refer to the stream, e.g. `public/showq socket`.
    pub fn new(stream: R, utf8_enabled: bool, name: &str) -> Result<Self, Malformed> {
        let mut client = Self {
            stream,
            utf8_enabled,
            shape: None,
            name: name.to_string(),
        };
        if client.at_eof()? {
            return Err(Malformed::default());
        }
        let protocol = client.scan_named("protocol", Kind::Text)?;
        if protocol != b"mail_queue_list_protocol" {
            return Err(Malformed::warning(format!(
                "unexpected protocol {} from {} (expected: mail_queue_list_protocol)",
                String::from_utf8_lossy(&protocol),
                client.name
            )));
        }
        // Without ATTR_FLAG_MORE the list must end here.
        let terminator = client.read_string("input attribute name")?;
        if !terminator.is_empty() {
            let _ = client.read_string("input attribute value");
            return Err(Malformed::warning(format!(
                "unexpected attribute {} from {} (expecting: (list terminator))",
                String::from_utf8_lossy(&terminator),
                client.name
            )));
        }
        Ok(client)
    }

    /// The server shape, once a recipient has been seen.
    pub fn shape(&self) -> Option<ServerShape> {
        self.shape
    }

    /// The next entry, `Ok(None)` at the end of the listing.
    pub fn next_entry(&mut self) -> Result<Option<Entry>, Malformed> {
        if !self.more()? {
            return Ok(None);
        }
        if self.at_eof()? {
            return Err(Malformed::default());
        }
        let queue_name = self.scan_named("queue_name", Kind::Text)?;
        let id = self.scan_named("queue_id", Kind::Text)?;
        let time = self.scan_named("time", Kind::Number)?;
        let size = self.scan_named("size", Kind::Number)?;
        let forced_expire = self.scan_named("forced_expire", Kind::Number)?;
        let sender = self.scan_named("sender", Kind::Text)?;
        // showq only ever names the five queues it scans.
        let queue = Queue::from_name(&String::from_utf8_lossy(&queue_name))
            .ok_or_else(Malformed::default)?;
        let mut entry = Entry {
            queue,
            id,
            arrival_time: number_value(&time),
            size: number_value(&size),
            forced_expire: number_value(&forced_expire) != 0,
            sender,
            recipients: Vec::new(),
        };
        while self.more()? {
            if self.at_eof()? {
                return Err(Malformed::default());
            }
            entry.recipients.push(self.read_recipient()?);
        }
        Ok(Some(entry))
    }

    fn read_recipient(&mut self) -> Result<Recipient, Malformed> {
        let shape = match self.shape {
            Some(shape) => shape,
            None => {
                let peeked = self.stream.fill_buf()?;
                let shape = if peeked.starts_with(b"original_recipient\0") {
                    ServerShape::WithOriginalRecipient
                } else {
                    ServerShape::Classic
                };
                self.shape = Some(shape);
                shape
            }
        };
        if shape == ServerShape::WithOriginalRecipient {
            self.scan_named("original_recipient", Kind::Text)?;
        }
        let address = self.scan_named("recipient", Kind::Text)?;
        if shape == ServerShape::WithOriginalRecipient {
            self.scan_named("log_class", Kind::Text)?;
        }
        let reason = self.scan_named("reason", Kind::Text)?;
        Ok(Recipient { address, reason })
    }

    /// `attr_scan_more`: a NUL ends the current list (false); anything else means more.
    /// EOF here is malformed without a warning.
    fn more(&mut self) -> Result<bool, Malformed> {
        let buffer = self.stream.fill_buf()?;
        match buffer.first() {
            None => Err(Malformed::default()),
            Some(0) => {
                self.stream.consume(1);
                Ok(false)
            }
            Some(_) => Ok(true),
        }
    }

    /// attr_scan's first step: at EOF it converts nothing and says nothing.
    fn at_eof(&mut self) -> Result<bool, Malformed> {
        Ok(self.stream.fill_buf()?.is_empty())
    }

    /// One wanted attribute under ATTR_FLAG_STRICT: the name must be the wanted one.
    fn scan_named(&mut self, wanted: &str, kind: Kind) -> Result<Vec<u8>, Malformed> {
        let name = self.read_string("input attribute name")?;
        if name.is_empty() {
            return Err(Malformed::warning(format!(
                "missing attribute {wanted} in input from {}",
                self.name
            )));
        }
        if name != wanted.as_bytes() {
            return Err(Malformed::warning(format!(
                "unexpected attribute {} from {} (expecting: {wanted})",
                String::from_utf8_lossy(&name),
                self.name
            )));
        }
        let mut value = self.read_string("input attribute value")?;
        match kind {
            Kind::Number => {
                if parse_unsigned(&value).is_none() {
                    return Err(Malformed::warning(format!(
                        "malformed numerical data from {} while reading input attribute value: {}",
                        self.name,
                        String::from_utf8_lossy(&value[..value.len().min(100)])
                    )));
                }
            }
            Kind::Text => printable_in_place(&mut value, self.utf8_enabled),
        }
        Ok(value)
    }

    /// `attr_scan0_string`: bytes up to a NUL; EOF before any byte or part way through each
    /// has its own warning.
    fn read_string(&mut self, context: &str) -> Result<Vec<u8>, Malformed> {
        let mut field = Vec::new();
        let count = self.stream.read_until(0, &mut field)?;
        if count == 0 {
            return Err(Malformed::warning(format!(
                "premature end-of-input on {} while reading {context}",
                self.name
            )));
        }
        if field.last() != Some(&0) {
            return Err(Malformed::warning(format!(
                "unexpected end-of-input from {} while reading {context}",
                self.name
            )));
        }
        field.pop();
        Ok(field)
    }
}

/// `sscanf("%lu%c")`: optional whitespace and sign, digits, nothing after. A minus sign wraps
/// as strtoul does.
fn parse_unsigned(value: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(value).ok()?;
    let trimmed = text.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (negative, digits) = match trimmed.as_bytes().first() {
        Some(b'-') => (true, &trimmed[1..]),
        Some(b'+') => (false, &trimmed[1..]),
        _ => (false, trimmed),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let magnitude = digits.parse::<u64>().unwrap_or(u64::MAX);
    Some(if negative {
        magnitude.wrapping_neg()
    } else {
        magnitude
    })
}

/// The value as the C `long` postqueue stores it.
fn number_value(value: &[u8]) -> i64 {
    parse_unsigned(value).unwrap_or(0) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(parts: &[&str]) -> Vec<u8> {
        let mut bytes = Vec::new();
        for part in parts {
            bytes.extend_from_slice(part.as_bytes());
            bytes.push(0);
        }
        bytes
    }

    const HEADER: [&str; 3] = ["protocol", "mail_queue_list_protocol", ""];
    const MESSAGE: [&str; 12] = [
        "queue_name",
        "deferred",
        "queue_id",
        "ABC",
        "time",
        "100",
        "size",
        "262",
        "forced_expire",
        "1",
        "sender",
        "a@b",
    ];

    #[test]
    fn reads_the_3_7_shape() {
        let mut parts: Vec<&str> = HEADER.to_vec();
        parts.extend(MESSAGE);
        parts.extend(["recipient", "r@x", "reason", "later\tnow", "", ""]);
        let bytes = stream(&parts);
        let mut client =
            ShowqClient::new(bytes.as_slice(), true, "public/showq socket").expect("header");
        let entry = client.next_entry().expect("entry").expect("one entry");
        assert_eq!(entry.queue, Queue::Deferred);
        assert!(entry.forced_expire);
        assert_eq!(
            entry.recipients,
            vec![Recipient {
                address: b"r@x".to_vec(),
                reason: b"later?now".to_vec()
            }]
        );
        assert!(client.next_entry().expect("end").is_none());
        assert_eq!(client.shape(), Some(ServerShape::Classic));
    }

    #[test]
    fn reads_the_3_11_shape() {
        let mut parts: Vec<&str> = HEADER.to_vec();
        parts.extend(MESSAGE);
        parts.extend([
            "original_recipient",
            "o@x",
            "recipient",
            "r@x",
            "log_class",
            "defer",
            "reason",
            "why",
            "",
            "",
        ]);
        let bytes = stream(&parts);
        let mut client =
            ShowqClient::new(bytes.as_slice(), true, "public/showq socket").expect("header");
        let entry = client.next_entry().expect("entry").expect("one entry");
        assert_eq!(entry.recipients[0].address, b"r@x");
        assert_eq!(entry.recipients[0].reason, b"why");
        assert_eq!(client.shape(), Some(ServerShape::WithOriginalRecipient));
    }

    #[test]
    fn a_stream_that_stops_half_way_is_malformed() {
        let mut parts: Vec<&str> = HEADER.to_vec();
        parts.extend(&MESSAGE[..7]);
        let bytes = stream(&parts);
        let mut client =
            ShowqClient::new(bytes.as_slice(), true, "public/showq socket").expect("header");
        assert!(client.next_entry().is_err());
        assert!(
            ShowqClient::new(&b"protocol\0other\0\0"[..], true, "public/showq socket").is_err()
        );
    }
}
