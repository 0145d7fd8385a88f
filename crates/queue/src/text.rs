//! Address and text presentation exactly as showq applies it: `quote_822_local` then `printable`.
//!
//! Spec: format-and-postqueue.md §5.1 and §7.1 (Postfix `quote_822_local.c`, `printable.c`).

/// Cuts a record payload at its first NUL, as a C reader sees it (spec §3.1).
pub fn c_string(bytes: &[u8]) -> &[u8] {
    match bytes.iter().position(|&b| b == 0) {
        Some(end) => &bytes[..end],
        None => bytes,
    }
}

/// Postfix 3.7's `printable(s, '?')`: printable ASCII stays; with UTF-8 enabled a lead byte in
/// 0xC2..=0xFE followed by a continuation byte keeps itself and every continuation byte after
/// it (the lenient 3.7 rule); everything else becomes `?`.
pub fn printable_in_place(bytes: &mut [u8], utf8_enabled: bool) {
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        if (0x20..0x7f).contains(&byte) {
            // printable ASCII
        } else if utf8_enabled
            && (0xc2..=0xfe).contains(&byte)
            && bytes
                .get(index + 1)
                .is_some_and(|&next| is_continuation(next))
        {
            while bytes
                .get(index + 1)
                .is_some_and(|&next| is_continuation(next))
            {
                index += 1;
            }
        } else {
            bytes[index] = b'?';
        }
        index += 1;
    }
}

fn is_continuation(byte: u8) -> bool {
    (0x80..0xc0).contains(&byte)
}

/// `printable` on an owned copy.
pub fn printable(bytes: &[u8], utf8_enabled: bool) -> Vec<u8> {
    let mut copy = bytes.to_vec();
    printable_in_place(&mut copy, utf8_enabled);
    copy
}

/// Postfix's `quote_822_local` with its default 8BITCLEAN flag: a local part that is not a
/// valid dot-string is wrapped in double quotes, with `"`, `\` and CR escaped. A leading source
/// route (`@a,@b:`) is left alone; the local part ends at the last `@`.
pub fn quote_822_local(address: &[u8]) -> Vec<u8> {
    let address = c_string(address);
    let start = if address.first() == Some(&b'@') {
        address
            .iter()
            .position(|&b| b == b':')
            .map_or(0, |colon| colon + 1)
    } else {
        0
    };
    let end = address[start..]
        .iter()
        .rposition(|&b| b == b'@')
        .map_or(address.len(), |at| start + at);
    let local_part = &address[start..end];
    if is_dot_string(local_part) {
        return address.to_vec();
    }
    let mut quoted = Vec::with_capacity(address.len() + 4);
    quoted.extend_from_slice(&address[..start]);
    quoted.push(b'"');
    for &byte in local_part {
        if matches!(byte, b'"' | b'\\' | b'\r') {
            quoted.push(b'\\');
        }
        quoted.push(byte);
    }
    quoted.push(b'"');
    quoted.extend_from_slice(&address[end..]);
    quoted
}

fn is_dot_string(local_part: &[u8]) -> bool {
    if local_part.is_empty() || local_part[0] == b'.' || local_part[local_part.len() - 1] == b'.' {
        return false;
    }
    if local_part.windows(2).any(|pair| pair == b"..") {
        return false;
    }
    // 8-bit bytes are allowed (8BITCLEAN); controls, space and RFC 822 specials are not.
    !local_part.iter().any(|&byte| {
        byte <= b' '
            || byte == 0x7f
            || matches!(
                byte,
                b'(' | b')' | b'<' | b'>' | b'@' | b',' | b';' | b':' | b'\\' | b'"' | b'[' | b']'
            )
    })
}

/// The address as showq presents it: empty becomes `empty_address`, then quoting, then
/// `printable`.
pub fn present_address(raw: &[u8], empty_address: &[u8], utf8_enabled: bool) -> Vec<u8> {
    let raw = c_string(raw);
    let raw = if raw.is_empty() { empty_address } else { raw };
    let mut quoted = quote_822_local(raw);
    printable_in_place(&mut quoted, utf8_enabled);
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_replaces_controls_and_keeps_utf8() {
        assert_eq!(printable(b"a\tb\x01c\x7fd", true), b"a?b?c?d");
        assert_eq!(printable("é".as_bytes(), true), "é".as_bytes());
        assert_eq!(printable("üser".as_bytes(), false), b"??ser");
        assert_eq!(printable(b"\xff end", true), b"? end");
        // lenient 3.7 rule: a lead byte swallows every continuation byte after it
        assert_eq!(printable(b"\xc3\xa9\xa9\xa9x", true), b"\xc3\xa9\xa9\xa9x");
        assert_eq!(printable(b"\xc1\xa9", true), b"??");
    }

    #[test]
    fn quoting_follows_quote_822_local() {
        assert_eq!(
            quote_822_local(b"quoted local@example.org"),
            b"\"quoted local\"@example.org"
        );
        assert_eq!(quote_822_local(b"plain@example.org"), b"plain@example.org");
        assert_eq!(quote_822_local(b"a..b@x"), b"\"a..b\"@x");
        assert_eq!(quote_822_local(b".a@x"), b"\".a\"@x");
        assert_eq!(quote_822_local(b"@x"), b"\"\"@x");
        assert_eq!(quote_822_local(b"a\"b@x"), b"\"a\\\"b\"@x");
        assert_eq!(quote_822_local(b"a@b@x"), b"\"a@b\"@x");
        assert_eq!(quote_822_local(b"@r1,@r2:u s@x"), b"@r1,@r2:\"u s\"@x");
        assert_eq!(quote_822_local("ü@x".as_bytes()), "ü@x".as_bytes());
        assert_eq!(quote_822_local(b"MAILER-DAEMON"), b"MAILER-DAEMON");
    }
}
