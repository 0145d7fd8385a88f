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
#[derive(Debug)]
pub struct Malformed;

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("malformed showq server response")
    }
}

impl std::error::Error for Malformed {}

impl From<io::Error> for Malformed {
    fn from(_: io::Error) -> Self {
        Malformed
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

/// Reads a showq listing entry by entry.
#[derive(Debug)]
pub struct ShowqClient<R> {
    stream: R,
    utf8_enabled: bool,
    shape: Option<ServerShape>,
}

impl<R: BufRead> ShowqClient<R> {
    /// Reads and checks the protocol announcement. `utf8_enabled` is the client's own
    /// smtputf8_enable: postqueue passes every received string through `printable` again.
    pub fn new(mut stream: R, utf8_enabled: bool) -> Result<Self, Malformed> {
        let name = read_field(&mut stream)?;
        let value = read_field(&mut stream)?;
        if name != b"protocol"
            || value != b"mail_queue_list_protocol"
            || !read_field(&mut stream)?.is_empty()
        {
            return Err(Malformed);
        }
        Ok(Self {
            stream,
            utf8_enabled,
            shape: None,
        })
    }

    /// The server shape, once a recipient has been seen.
    pub fn shape(&self) -> Option<ServerShape> {
        self.shape
    }

    /// The next entry, `Ok(None)` at the end of the listing.
    pub fn next_entry(&mut self) -> Result<Option<Entry>, Malformed> {
        let first = read_field(&mut self.stream)?;
        if first.is_empty() {
            return Ok(None);
        }
        let mut attributes = vec![(first, self.read_value()?)];
        for _ in 0..5 {
            let name = read_field(&mut self.stream)?;
            if name.is_empty() {
                return Err(Malformed);
            }
            attributes.push((name, self.read_value()?));
        }
        let lookup = |wanted: &str| {
            attributes
                .iter()
                .find(|(name, _)| name == wanted.as_bytes())
                .map(|(_, value)| value.clone())
                .ok_or(Malformed)
        };
        let queue_name = lookup("queue_name")?;
        let queue = Queue::from_name(&String::from_utf8_lossy(&queue_name)).ok_or(Malformed)?;
        let mut entry = Entry {
            queue,
            id: lookup("queue_id")?,
            arrival_time: parse_number(&lookup("time")?)?,
            size: parse_number(&lookup("size")?)?,
            forced_expire: parse_number(&lookup("forced_expire")?)? != 0,
            sender: lookup("sender")?,
            recipients: Vec::new(),
        };
        loop {
            let name = read_field(&mut self.stream)?;
            if name.is_empty() {
                return Ok(Some(entry));
            }
            entry.recipients.push(self.read_recipient(name)?);
        }
    }

    fn read_recipient(&mut self, first_name: Vec<u8>) -> Result<Recipient, Malformed> {
        let shape = match (self.shape, first_name.as_slice()) {
            (None | Some(ServerShape::Classic), b"recipient") => ServerShape::Classic,
            (None | Some(ServerShape::WithOriginalRecipient), b"original_recipient") => {
                ServerShape::WithOriginalRecipient
            }
            _ => return Err(Malformed),
        };
        self.shape = Some(shape);
        let first_value = self.read_value()?;
        let names: &[&[u8]] = match shape {
            ServerShape::Classic => &[b"reason"],
            ServerShape::WithOriginalRecipient => &[b"recipient", b"log_class", b"reason"],
        };
        let mut address = first_value;
        let mut reason = Vec::new();
        for expected in names {
            let name = read_field(&mut self.stream)?;
            if name != *expected {
                return Err(Malformed);
            }
            let value = self.read_value()?;
            match *expected {
                b"recipient" => address = value,
                b"reason" => reason = value,
                _ => {}
            }
        }
        Ok(Recipient { address, reason })
    }

    fn read_value(&mut self) -> Result<Vec<u8>, Malformed> {
        let mut value = read_field(&mut self.stream)?;
        printable_in_place(&mut value, self.utf8_enabled);
        Ok(value)
    }
}

/// One NUL-terminated field; EOF anywhere is a protocol error.
fn read_field<R: BufRead>(stream: &mut R) -> Result<Vec<u8>, Malformed> {
    let mut field = Vec::new();
    let count = stream.read_until(0, &mut field)?;
    if count == 0 || field.last() != Some(&0) {
        return Err(Malformed);
    }
    field.pop();
    Ok(field)
}

/// attr0 numbers are decimal text; anything else is a protocol error.
fn parse_number(value: &[u8]) -> Result<i64, Malformed> {
    std::str::from_utf8(value)
        .ok()
        .and_then(|text| text.parse().ok())
        .ok_or(Malformed)
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
        let mut client = ShowqClient::new(bytes.as_slice(), true).expect("header");
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
        let mut client = ShowqClient::new(bytes.as_slice(), true).expect("header");
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
        let mut client = ShowqClient::new(bytes.as_slice(), true).expect("header");
        assert!(client.next_entry().is_err());
        assert!(ShowqClient::new(&b"protocol\0other\0\0"[..], true).is_err());
    }
}
