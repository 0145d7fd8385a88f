//! Waking Postfix's daemons: the one-shot triggers sent to qmgr and pickup (`postqueue -f`)
//! and the fast-flush request protocol (`postqueue -s` / `-i`), plus the client-side checks
//! postqueue makes before asking (site syntax, `fast_flush_domains`).
//!
//! Spec: format-and-postqueue.md §10 (Postfix `mail_trigger.c`, `unix_trigger.c`,
//! `fifo_trigger.c`, `flush_clnt.c`, `mail_command_client.c`, `valid_hostname.c`).

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use crate::error::strerror;

/// qmgr's requests for a full flush: forget dead destinations, ignore time stamps, scan the
/// deferred queue, scan the incoming queue.
pub const QMGR_FLUSH_ALL: &[u8] = b"FADI";
/// The wake-up request pickup understands.
pub const WAKEUP: &[u8] = b"W";

/// Sends a trigger to `public/<service>` (relative to the queue directory) as `mail_trigger`
/// does: a FIFO gets the bytes; a UNIX socket gets the bytes and a NUL, then we wait up to
/// `linger` for the server to hang up. `Err` carries the warning Postfix prints, if any.
pub fn trigger(service: &str, bytes: &[u8], linger: Duration) -> Result<(), Option<String>> {
    let path = format!("public/{service}");
    let metadata = std::fs::metadata(&path)
        .map_err(|error| Some(format!("unable to look up {path}: {}", strerror(&error))))?;
    let kind = metadata.file_type();
    if kind.is_fifo() {
        use std::os::unix::fs::OpenOptionsExt;
        let mut fifo = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&path)
            .map_err(|_| None)?;
        return fifo.write_all(bytes).map_err(|_| None);
    }
    if !kind.is_socket() {
        return Err(Some(format!("{path} is not a socket or a fifo")));
    }
    let mut stream = UnixStream::connect(&path).map_err(|_| None)?;
    let mut request = bytes.to_vec();
    request.push(0);
    stream.write_all(&request).map_err(|_| None)?;
    // The server reads the request and closes; waiting for that keeps the request from being
    // lost when we exit first. A slow server only costs us the linger time.
    let _ = stream.set_read_timeout(Some(linger));
    let mut sink = [0u8; 64];
    while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
    Ok(())
}

/// The flush daemon's answers.
pub mod flush_status {
    pub const OK: i64 = 0;
    pub const BAD: i64 = 3;
    pub const DENY: i64 = 4;
}

/// `mail_command_client` for the flush service: connect, expect the protocol announcement,
/// send `attributes`, read `status`. `Err` is the warning Postfix prints before giving up.
pub fn flush_request(
    service: &str,
    attributes: &[(&str, &str)],
    timeout: Duration,
) -> Result<i64, String> {
    let path = format!("public/{service}");
    let stream = UnixStream::connect(&path)
        .map_err(|error| format!("connect to {path}: {}", strerror(&error)))?;
    let _ = stream.set_read_timeout(Some(timeout));
    let _ = stream.set_write_timeout(Some(timeout));
    let socket_name = format!("{path} socket");
    let mut reader = BufReader::new(
        stream
            .try_clone()
            .map_err(|error| format!("read {socket_name}: {}", strerror(&error)))?,
    );
    let announcement =
        read_list(&mut reader).map_err(|error| format!("read {socket_name}: {error}"))?;
    if announcement != [("protocol".to_string(), "queue_flush_protocol".to_string())] {
        return Err(format!("read {socket_name}: Success"));
    }
    let mut request = Vec::new();
    for (name, value) in attributes {
        request.extend_from_slice(name.as_bytes());
        request.push(0);
        request.extend_from_slice(value.as_bytes());
        request.push(0);
    }
    request.push(0);
    (&stream)
        .write_all(&request)
        .map_err(|error| format!("write {socket_name}: {}", strerror(&error)))?;
    let answer =
        read_list(&mut reader).map_err(|error| format!("write/read {socket_name}: {error}"))?;
    match answer.as_slice() {
        [(name, value)] if name == "status" => value
            .parse()
            .map_err(|_| format!("write/read {socket_name}: Success")),
        _ => Err(format!("write/read {socket_name}: Success")),
    }
}

/// One attr0 list: `name\0value\0` pairs up to a lone `\0`.
fn read_list(reader: &mut impl BufRead) -> Result<Vec<(String, String)>, String> {
    let mut list = Vec::new();
    loop {
        let name = read_field(reader)?;
        if name.is_empty() {
            return Ok(list);
        }
        let value = read_field(reader)?;
        list.push((name, value));
    }
}

fn read_field(reader: &mut impl BufRead) -> Result<String, String> {
    let mut field = Vec::new();
    match reader.read_until(0, &mut field) {
        Ok(_) if field.last() == Some(&0) => {
            field.pop();
            Ok(String::from_utf8_lossy(&field).into_owned())
        }
        Ok(_) => Err("Success".into()),
        Err(error) => Err(strerror(&error)),
    }
}

/// `valid_hostname` without wildcards: labels of letters, digits, `_` and inner `-`, at most
/// 63 bytes each and 255 in all, not all-numeric.
pub fn valid_hostname(name: &str) -> bool {
    if name.is_empty() || name.len() > 255 {
        return false;
    }
    let bytes = name.as_bytes();
    let mut label_length = 0;
    let mut non_numeric = false;
    for (index, &byte) in bytes.iter().enumerate() {
        let next = bytes.get(index + 1).copied();
        if byte.is_ascii_alphanumeric() || byte == b'_' {
            label_length += 1;
            if label_length > 63 {
                return false;
            }
            if !byte.is_ascii_digit() {
                non_numeric = true;
            }
        } else if byte == b'.' {
            if label_length == 0 || next.is_none() {
                return false;
            }
            label_length = 0;
        } else if byte == b'-' {
            non_numeric = true;
            label_length += 1;
            if label_length == 1 || next.is_none() || next == Some(b'.') {
                return false;
            }
        } else {
            return false;
        }
    }
    non_numeric
}

/// `valid_mailhost_literal`: `[IPv4]` or `[IPv6:address]`.
pub fn valid_mailhost_literal(site: &str) -> bool {
    let Some(inner) = site
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
    else {
        return false;
    };
    if let Some(v6) = inner
        .strip_prefix("IPv6:")
        .or_else(|| inner.strip_prefix("ipv6:"))
    {
        return v6.parse::<std::net::Ipv6Addr>().is_ok();
    }
    inner.parse::<std::net::Ipv4Addr>().is_ok()
}

/// Whether `site` matches a domain list like `fast_flush_domains`: names match themselves and,
/// with `parent_matches_subdomains`, their subdomains; `.name` matches subdomains; `!` negates;
/// the first match decides. Lookup tables (`type:name`) other than `static:` cannot be
/// consulted here and make the answer unknown (`None`), which Postfix treats as "down"; an
/// address literal like `[ipv6:::1]` is a plain pattern, as in Postfix.
pub fn domain_list_match(
    patterns: &[String],
    site: &str,
    parent_matches_subdomains: bool,
) -> Option<bool> {
    let site = site.to_ascii_lowercase();
    for pattern in patterns {
        let (negated, pattern) = match pattern.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, pattern.as_str()),
        };
        let pattern = pattern.to_ascii_lowercase();
        let matched = if let Some(table) = pattern.strip_prefix("static:") {
            let _ = table;
            true
        } else if (pattern.contains(':') && !pattern.starts_with('[')) || pattern.starts_with('/') {
            return None;
        } else if let Some(parent) = pattern.strip_prefix('.') {
            site.ends_with(&format!(".{parent}"))
        } else {
            site == pattern || (parent_matches_subdomains && site.ends_with(&format!(".{pattern}")))
        };
        if matched {
            return Some(!negated);
        }
    }
    Some(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames_and_literals() {
        assert!(valid_hostname("example.net"));
        assert!(valid_hostname("a_b.example"));
        assert!(!valid_hostname("bad_host!"));
        assert!(!valid_hostname("-a.example"));
        assert!(!valid_hostname("a-.example"));
        assert!(!valid_hostname("a..b"));
        assert!(!valid_hostname("a.b."));
        assert!(!valid_hostname("1.2.3.4"));
        assert!(valid_mailhost_literal("[1.2.3.4]"));
        assert!(valid_mailhost_literal("[IPv6:::1]"));
        assert!(!valid_mailhost_literal("[1.2.3]"));
    }

    #[test]
    fn domain_lists() {
        let list = vec![
            "example.com".to_string(),
            "!bad.example.org".to_string(),
            ".example.org".to_string(),
        ];
        assert_eq!(domain_list_match(&list, "example.com", true), Some(true));
        assert_eq!(
            domain_list_match(&list, "sub.example.com", true),
            Some(true)
        );
        assert_eq!(
            domain_list_match(&list, "sub.example.com", false),
            Some(false)
        );
        assert_eq!(
            domain_list_match(&list, "bad.example.org", true),
            Some(false)
        );
        assert_eq!(domain_list_match(&list, "x.example.org", true), Some(true));
        assert_eq!(domain_list_match(&list, "other.net", true), Some(false));
        assert_eq!(
            domain_list_match(&["hash:/etc/x".to_string()], "a.b", true),
            None
        );
    }
}
