//! Defer/bounce logfiles: reading entries the way Postfix's `bounce_log_read` does, and writing
//! them the way the bounce daemon does (for tests, the demo and benchmarks).
//!
//! Spec: format-and-postqueue.md §4.

use crate::text::{c_string, printable_in_place};

/// One logfile entry: a recipient and why its delivery failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// The recipient as logged (already quoted), after `printable`.
    pub address: Vec<u8>,
    pub original_recipient: Vec<u8>,
    pub status: Vec<u8>,
    pub action: Vec<u8>,
    pub offset: i64,
    /// Never empty: a missing reason reads as `(description unavailable)`.
    pub reason: Vec<u8>,
}

/// Something odd in a logfile that Postfix would warn about; reading goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogWarning {
    Malformed { line: Vec<u8>, why: &'static str },
    UnknownAttribute { name: Vec<u8> },
}

/// Parses a whole logfile. Entries are separated by blank lines; an entry that EOF cuts off
/// before its closing blank line is dropped, as Postfix drops it.
pub fn parse_logfile(bytes: &[u8], utf8_enabled: bool) -> (Vec<LogEntry>, Vec<LogWarning>) {
    let mut entries = Vec::new();
    let mut warnings = Vec::new();
    let mut current: Option<PartialEntry> = None;
    let mut rest = bytes;
    while !rest.is_empty() {
        let (raw_line, after) = match rest.iter().position(|&b| b == b'\n') {
            Some(newline) => (&rest[..newline], &rest[newline + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        rest = after;
        let mut line = c_string(raw_line).to_vec();
        if line.is_empty() {
            if let Some(entry) = current.take() {
                entries.push(entry.finish());
            }
            continue;
        }
        printable_in_place(&mut line, utf8_enabled);
        let entry = current.get_or_insert_with(PartialEntry::default);
        if line[0].is_ascii_alphanumeric() {
            entry.apply_attribute(&line, &mut warnings);
        } else if line[0] == b'<' {
            entry.apply_old_style(&line, &mut warnings);
        } else {
            warnings.push(LogWarning::Malformed {
                line: line.clone(),
                why: "malformed record",
            });
        }
    }
    (entries, warnings)
}

#[derive(Default)]
struct PartialEntry {
    address: Vec<u8>,
    original_recipient: Vec<u8>,
    status: Vec<u8>,
    action: Vec<u8>,
    offset: i64,
    reason: Vec<u8>,
}

impl PartialEntry {
    fn apply_attribute(&mut self, line: &[u8], warnings: &mut Vec<LogWarning>) {
        let Some((name, value)) = split_name_value(line) else {
            warnings.push(LogWarning::Malformed {
                line: line.to_vec(),
                why: "missing '=' after attribute name",
            });
            return;
        };
        let or_mailer_daemon = |value: &[u8]| {
            if value.is_empty() {
                b"(MAILER-DAEMON)".to_vec()
            } else {
                value.to_vec()
            }
        };
        match name {
            b"recipient" => self.address = or_mailer_daemon(value),
            b"original_recipient" => self.original_recipient = or_mailer_daemon(value),
            b"offset" => {
                let offset = crate::record::atol(value);
                if offset > 0 {
                    self.offset = offset;
                }
            }
            b"status" => self.status = value.to_vec(),
            b"action" => self.action = value.to_vec(),
            b"reason" => self.reason = value.to_vec(),
            b"dsn_orig_rcpt" | b"notify_flags" | b"diag_type" | b"diag_text" | b"mta_type"
            | b"mta_name" => {}
            _ => warnings.push(LogWarning::UnknownAttribute {
                name: name.to_vec(),
            }),
        }
    }

    fn apply_old_style(&mut self, line: &[u8], warnings: &mut Vec<LogWarning>) {
        let recipient = &line[1..];
        let Some(end) = recipient.windows(3).position(|w| w == b">: ") else {
            warnings.push(LogWarning::Malformed {
                line: line.to_vec(),
                why: "malformed record",
            });
            return;
        };
        let address = &recipient[..end];
        self.address = if address.is_empty() {
            b"(MAILER-DAEMON)".to_vec()
        } else {
            address.to_vec()
        };
        let text = &recipient[end + 2..];
        let skip = text
            .iter()
            .take_while(|b| crate::record::is_c_space(**b))
            .count();
        self.reason = text[skip..].to_vec();
    }

    fn finish(self) -> LogEntry {
        LogEntry {
            address: if self.address.is_empty() {
                b"(recipient address unavailable)".to_vec()
            } else {
                self.address
            },
            original_recipient: self.original_recipient,
            status: self.status,
            action: self.action,
            offset: self.offset,
            reason: if self.reason.is_empty() {
                b"(description unavailable)".to_vec()
            } else {
                self.reason
            },
        }
    }
}

/// `split_nameval`: name up to whitespace or `=`, then `=`, value trimmed of whitespace.
fn split_name_value(line: &[u8]) -> Option<(&[u8], &[u8])> {
    use crate::record::is_c_space;
    let start = line.iter().take_while(|b| is_c_space(**b)).count();
    let line = &line[start..];
    if line.is_empty() || line[0] == b'=' {
        return None;
    }
    let name_end = line
        .iter()
        .position(|&b| is_c_space(b) || b == b'=')
        .unwrap_or(line.len());
    let after_name = &line[name_end..];
    let equals = after_name.iter().take_while(|b| is_c_space(**b)).count();
    if after_name.get(equals) != Some(&b'=') {
        return None;
    }
    let value = &after_name[equals + 1..];
    let value_start = value.iter().take_while(|b| is_c_space(**b)).count();
    let value = &value[value_start..];
    let value_end = value.len() - value.iter().rev().take_while(|b| is_c_space(**b)).count();
    Some((&line[..name_end], &value[..value_end]))
}

/// Formats one entry the way Postfix 3.7's bounce daemon appends it (old-style line first).
/// `address` is the raw recipient; it is quoted here as the daemon quotes it.
pub fn format_entry(
    address: &[u8],
    offset: u64,
    status: &str,
    action: &str,
    reason: &[u8],
) -> Vec<u8> {
    let quoted = if address.is_empty() {
        b"<>".to_vec()
    } else {
        crate::text::quote_822_local(address)
    };
    let mut out = Vec::new();
    out.push(b'\n');
    out.push(b'<');
    out.extend_from_slice(&quoted);
    out.extend_from_slice(b">: ");
    out.extend_from_slice(reason);
    out.extend_from_slice(b"\nrecipient=");
    out.extend_from_slice(&quoted);
    out.push(b'\n');
    if offset > 0 {
        out.extend_from_slice(format!("offset={offset}\n").as_bytes());
    }
    out.extend_from_slice(b"dsn_orig_rcpt=rfc822;");
    out.extend_from_slice(&quoted);
    out.push(b'\n');
    out.extend_from_slice(format!("status={status}\naction={action}\nreason=").as_bytes());
    out.extend_from_slice(reason);
    out.extend_from_slice(b"\n\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_real_format_and_drops_unterminated_tail() {
        let mut log = format_entry(b"r3@example.net", 362, "4.4.1", "delayed", b"test");
        log.extend_from_slice(b"\n<cut@example.net>: half\nrecipient=cut@example.net\n");
        let (entries, warnings) = parse_logfile(&log, true);
        assert!(warnings.is_empty());
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].address, b"r3@example.net");
        assert_eq!(entries[0].reason, b"test");
        assert_eq!(entries[0].offset, 362);
    }

    #[test]
    fn old_style_only_and_placeholders() {
        let (entries, _) = parse_logfile(b"\n<>: gone\n\n\nstatus=4.0.0\n\n", true);
        assert_eq!(entries[0].address, b"(MAILER-DAEMON)");
        assert_eq!(entries[0].reason, b"gone");
        assert_eq!(entries[1].address, b"(recipient address unavailable)");
        assert_eq!(entries[1].reason, b"(description unavailable)");
    }

    #[test]
    fn new_style_overrides_old_and_sanitises() {
        let (entries, warnings) =
            parse_logfile(b"\n<a@b>: old\nreason = new\ttab \nbogus=1\n!odd\n\n", true);
        assert_eq!(entries[0].reason, b"new?tab");
        assert_eq!(warnings.len(), 2);
    }
}
