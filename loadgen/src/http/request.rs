//! Request encoding: the request line, the few headers a Nacos server needs, and form bodies
//! with percent-encoded values. Everything is written into caller-owned, reused buffers.

use std::io::Write;

/// Sent on every request, so that server logs show where the traffic came from.
pub const USER_AGENT: &str = concat!("nacore-loadgen/", env!("CARGO_PKG_VERSION"));

/// Writes one complete request into `out` (cleared first). `body` is sent as an
/// `application/x-www-form-urlencoded` form when present.
pub fn write_request(out: &mut Vec<u8>, method: &str, target: &str, host: &str, body: &[u8]) {
    write_request_with_headers(out, method, target, host, &[], body);
}

/// `write_request` with `headers` (name, value) after the standard ones, e.g. a long poll's
/// `Long-Pulling-Timeout`. Names and values are written as given: plain ASCII, no CR or LF.
pub fn write_request_with_headers(
    out: &mut Vec<u8>,
    method: &str,
    target: &str,
    host: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) {
    debug_assert!(target.starts_with('/'), "origin-form target expected");
    debug_assert!(!method.is_empty());
    out.clear();
    // Writing into a Vec cannot fail.
    let _ = write!(
        out,
        "{method} {target} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {USER_AGENT}\r\n"
    );
    for (name, value) in headers {
        debug_assert!(!name.is_empty());
        debug_assert!(!value.bytes().any(|byte| byte == b'\r' || byte == b'\n'));
        let _ = write!(out, "{name}: {value}\r\n");
    }
    if !body.is_empty() || method != "GET" {
        let _ = write!(
            out,
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            body.len()
        );
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
}

/// Appends `value` percent-encoded for a query string or form body: RFC 3986 unreserved
/// characters stay, every other byte becomes `%XX`.
pub fn push_encoded(out: &mut Vec<u8>, value: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &byte in value.as_bytes() {
        let unreserved = byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~');
        if unreserved {
            out.push(byte);
        } else {
            out.extend_from_slice(&[b'%', HEX[(byte >> 4) as usize], HEX[(byte & 0xF) as usize]]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A POST carries Content-Type and Content-Length; the body follows the blank line.
    #[test]
    fn post_with_form_body() {
        let mut out = Vec::new();
        write_request(&mut out, "POST", "/nacos/v1/ns/instance", "h:1", b"a=1");
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("POST /nacos/v1/ns/instance HTTP/1.1\r\nHost: h:1\r\n"));
        assert!(text.contains("Content-Length: 3\r\n"));
        assert!(text.ends_with("\r\n\r\na=1"));
    }

    /// A GET without body has no Content-Length and ends with the blank line.
    #[test]
    fn get_without_body() {
        let mut out = Vec::new();
        write_request(&mut out, "GET", "/x?y=1", "h", b"");
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains("Content-Length"));
        assert!(text.ends_with("\r\n\r\n"));
    }

    /// Extra headers go after the standard ones, before the body's.
    #[test]
    fn extra_headers() {
        let mut out = Vec::new();
        let headers = [("Long-Pulling-Timeout", "30000")];
        write_request_with_headers(&mut out, "POST", "/l", "h", &headers, b"a=1");
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("\r\nLong-Pulling-Timeout: 30000\r\nContent-Type: "));
        assert!(text.ends_with("\r\n\r\na=1"));
    }

    /// Reserved characters are escaped; unreserved ones stay.
    #[test]
    fn percent_encoding() {
        let mut out = Vec::new();
        push_encoded(&mut out, "DEFAULT_GROUP@@a-b.c~{\"k\":1}");
        assert_eq!(out, b"DEFAULT_GROUP%40%40a-b.c~%7B%22k%22%3A1%7D");
    }
}
