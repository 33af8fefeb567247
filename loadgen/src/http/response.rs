//! I/O-free response parsing: the status line and headers with httparse, then a body framed by
//! `Content-Length` or, for servers that stream JSON (Java Nacos on Tomcat), chunked encoding.
//! Partial input is `Ok(None)`; the caller reads more and calls again.

use std::borrow::Cow;

use crate::limits::{RESPONSE_BODY_BYTES_MAX, RESPONSE_HEADERS_COUNT_MAX, RESPONSE_HEAD_BYTES_MAX};

/// Why a response cannot be used; either way the connection is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// The head or the body is larger than our limits.
    TooLarge,
    /// Not HTTP/1.x, a bad header, or a body we cannot frame.
    Malformed(&'static str),
}

/// How the body of a response is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    Length(usize),
    Chunked,
}

/// The parsed status line and the headers we act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub status: u16,
    /// Bytes of the status line and headers, including the blank line.
    pub head_bytes: usize,
    pub framing: Framing,
    /// False when the server announced `Connection: close` (or spoke HTTP/1.0 without
    /// keep-alive); the connection is then replaced after this response.
    pub keep_alive: bool,
}

/// One complete response borrowed from (or, for chunked bodies, decoded out of) the buffer.
#[derive(Debug, PartialEq, Eq)]
pub struct Response<'a> {
    pub status: u16,
    pub body: Cow<'a, [u8]>,
    pub keep_alive: bool,
    /// Bytes of the buffer this response used; anything after it belongs to the next one.
    pub consumed_bytes: usize,
}

/// Parses a complete response from the start of `buf`, or returns `Ok(None)` if more bytes
/// are needed.
pub fn parse_response(buf: &[u8]) -> Result<Option<Response<'_>>, ParseError> {
    let Some(head) = parse_head(buf)? else {
        return Ok(None);
    };
    let rest = &buf[head.head_bytes..];
    let body = match head.framing {
        Framing::Length(length) => {
            if rest.len() < length {
                return Ok(None);
            }
            Some((Cow::Borrowed(&rest[..length]), length))
        }
        Framing::Chunked => decode_chunked(rest)?.map(|(body, used)| (Cow::Owned(body), used)),
    };
    Ok(body.map(|(body, used)| Response {
        status: head.status,
        body,
        keep_alive: head.keep_alive,
        consumed_bytes: head.head_bytes + used,
    }))
}

/// Parses the status line and headers.
pub fn parse_head(buf: &[u8]) -> Result<Option<Head>, ParseError> {
    let mut headers = [httparse::EMPTY_HEADER; RESPONSE_HEADERS_COUNT_MAX];
    let mut response = httparse::Response::new(&mut headers);
    let head_bytes = match response.parse(buf) {
        Ok(httparse::Status::Complete(length)) => length,
        Ok(httparse::Status::Partial) => {
            if buf.len() >= RESPONSE_HEAD_BYTES_MAX {
                return Err(ParseError::TooLarge);
            }
            return Ok(None);
        }
        Err(httparse::Error::TooManyHeaders) => return Err(ParseError::TooLarge),
        Err(_) => return Err(ParseError::Malformed("bad status line or header")),
    };
    if head_bytes > RESPONSE_HEAD_BYTES_MAX {
        return Err(ParseError::TooLarge);
    }
    let status = response.code.ok_or(ParseError::Malformed("no status"))?;
    let http_1_1 = response.version == Some(1);
    let mut content_length: Option<usize> = None;
    let mut chunked = false;
    let mut keep_alive = http_1_1;
    for header in response.headers.iter() {
        if header.name.eq_ignore_ascii_case("content-length") {
            let length = parse_content_length(header.value)?;
            if content_length.is_some_and(|previous| previous != length) {
                return Err(ParseError::Malformed("conflicting Content-Length"));
            }
            content_length = Some(length);
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = ends_with_token(header.value, b"chunked");
        } else if header.name.eq_ignore_ascii_case("connection") {
            if contains_token(header.value, b"close") {
                keep_alive = false;
            } else if contains_token(header.value, b"keep-alive") {
                keep_alive = true;
            }
        }
    }
    let framing = framing_for(status, content_length, chunked)?;
    Ok(Some(Head {
        status,
        head_bytes,
        framing,
        keep_alive,
    }))
}

/// RFC 9112 §6.3: 1xx, 204 and 304 have no body; chunked wins over Content-Length; a
/// response with neither would be delimited by close, which we do not support.
fn framing_for(status: u16, length: Option<usize>, chunked: bool) -> Result<Framing, ParseError> {
    if (100..200).contains(&status) || status == 204 || status == 304 {
        return Ok(Framing::Length(0));
    }
    if chunked {
        return Ok(Framing::Chunked);
    }
    match length {
        Some(length) if length > RESPONSE_BODY_BYTES_MAX => Err(ParseError::TooLarge),
        Some(length) => Ok(Framing::Length(length)),
        None => Err(ParseError::Malformed("neither Content-Length nor chunked")),
    }
}

fn parse_content_length(value: &[u8]) -> Result<usize, ParseError> {
    let text = std::str::from_utf8(value).map_err(|_| ParseError::Malformed("Content-Length"))?;
    text.trim()
        .parse::<usize>()
        .map_err(|_| ParseError::Malformed("Content-Length"))
}

fn contains_token(value: &[u8], token: &[u8]) -> bool {
    value
        .split(|&byte| byte == b',')
        .any(|part| part.trim_ascii().eq_ignore_ascii_case(token))
}

fn ends_with_token(value: &[u8], token: &[u8]) -> bool {
    value
        .rsplit(|&byte| byte == b',')
        .next()
        .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(token))
}

/// Decodes a chunked body from the start of `buf`: `Ok(Some((body, bytes used)))` once the
/// last chunk and the trailer section are complete. Bounded by `RESPONSE_BODY_BYTES_MAX`.
pub fn decode_chunked(buf: &[u8]) -> Result<Option<(Vec<u8>, usize)>, ParseError> {
    let mut body = Vec::new();
    let mut position = 0usize;
    loop {
        let (size_bytes, size) = match httparse::parse_chunk_size(&buf[position..]) {
            Ok(httparse::Status::Complete(parsed)) => parsed,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(_) => return Err(ParseError::Malformed("bad chunk size")),
        };
        position += size_bytes;
        if size == 0 {
            return Ok(trailer_end(&buf[position..]).map(|used| (body, position + used)));
        }
        let size = usize::try_from(size).map_err(|_| ParseError::TooLarge)?;
        if body.len().saturating_add(size) > RESPONSE_BODY_BYTES_MAX {
            return Err(ParseError::TooLarge);
        }
        let chunk_end = position + size;
        if buf.len() < chunk_end + 2 {
            return Ok(None);
        }
        if &buf[chunk_end..chunk_end + 2] != b"\r\n" {
            return Err(ParseError::Malformed("chunk not followed by CRLF"));
        }
        body.extend_from_slice(&buf[position..chunk_end]);
        position = chunk_end + 2;
    }
}

/// Length of the trailer section after the last chunk (an empty line, or trailer fields
/// followed by an empty line), or `None` if it is not complete yet.
fn trailer_end(buf: &[u8]) -> Option<usize> {
    if buf.starts_with(b"\r\n") {
        return Some(2);
    }
    buf.windows(4)
        .position(|window| window == b"\r\n\r\n")
        .map(|index| index + 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Content-Length response parses only once the whole body is there.
    #[test]
    fn content_length_complete_and_partial() {
        let wire =
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nokNEXT";
        let response = parse_response(wire).unwrap().unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(&*response.body, b"ok");
        assert!(response.keep_alive);
        assert_eq!(response.consumed_bytes, wire.len() - 4);
        for cut in [5, 20, wire.len() - 6] {
            assert_eq!(parse_response(&wire[..cut]).unwrap(), None, "cut at {cut}");
        }
    }

    /// `Connection: close` and HTTP/1.0 turn keep-alive off; HTTP/1.0 keep-alive turns it on.
    #[test]
    fn keep_alive_rules() {
        let close = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
        assert!(!parse_head(close).unwrap().unwrap().keep_alive);
        let old = b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n";
        assert!(!parse_head(old).unwrap().unwrap().keep_alive);
        let old_ka = b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n";
        assert!(parse_head(old_ka).unwrap().unwrap().keep_alive);
    }

    /// Non-2xx statuses parse like any other; 204 has no body even without Content-Length.
    #[test]
    fn statuses() {
        let wire = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy";
        assert_eq!(parse_response(wire).unwrap().unwrap().status, 503);
        let empty = b"HTTP/1.1 204 No Content\r\n\r\n";
        let response = parse_response(empty).unwrap().unwrap();
        assert!(response.body.is_empty());
        assert_eq!(response.consumed_bytes, empty.len());
    }

    /// Chunked bodies are decoded across chunks, with and without trailers, and are partial
    /// until the terminating empty line.
    #[test]
    fn chunked_bodies() {
        let wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
                     3\r\n{\"a\r\n2\r\n\"}\r\n0\r\n\r\n";
        let response = parse_response(wire).unwrap().unwrap();
        assert_eq!(&*response.body, b"{\"a\"}");
        assert_eq!(response.consumed_bytes, wire.len());
        assert_eq!(parse_response(&wire[..wire.len() - 1]).unwrap(), None);
        let trailers = b"1\r\nx\r\n0\r\nX-T: 1\r\n\r\n";
        assert_eq!(
            decode_chunked(trailers).unwrap(),
            Some((b"x".to_vec(), trailers.len()))
        );
        assert!(decode_chunked(b"1\r\nxyz").is_err());
    }

    /// Garbage, missing framing and oversized heads or bodies are errors, not hangs.
    #[test]
    fn malformed_and_oversized() {
        assert!(parse_response(b"SSH-2.0-OpenSSH\r\n\r\n").is_err());
        assert!(parse_response(b"HTTP/1.1 200 OK\r\n\r\n").is_err());
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n").is_err());
        let huge = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
            RESPONSE_BODY_BYTES_MAX + 1
        );
        assert_eq!(parse_response(huge.as_bytes()), Err(ParseError::TooLarge));
        let mut long_head = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
        long_head.resize(RESPONSE_HEAD_BYTES_MAX, b'a');
        assert_eq!(parse_response(&long_head), Err(ParseError::TooLarge));
        let conflicting = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n";
        assert!(parse_response(conflicting).is_err());
    }
}
