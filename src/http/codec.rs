//! HTTP/1.1 request heads: parsed with httparse from the connection buffer, with no I/O. A
//! partial head is `Ok(None)`; every limit violation is an `HttpError` carrying the status
//! the client gets (431 for heads, 413 for bodies, 400/501 for malformed requests).

use crate::limits::{
    CHUNKED_FRAMING_BYTES_MAX, REQUEST_BODY_BYTES_MAX, REQUEST_HEADERS_COUNT_MAX,
    REQUEST_HEAD_BYTES_MAX,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
    Patch,
    Head,
    Options,
    Other,
}

impl Method {
    fn parse(raw: &str) -> Method {
        match raw {
            "GET" => Method::Get,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            "PATCH" => Method::Patch,
            "HEAD" => Method::Head,
            "OPTIONS" => Method::Options,
            _ => Method::Other,
        }
    }
}

/// The parts of a request head the server acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    pub method: Method,
    /// The request target (path and query) followed by the user agent, in one allocation:
    /// `text[..path_end]` is the path, `text[query_start..target_end]` the query,
    /// `text[target_end..]` the User-Agent.
    text: String,
    path_end: usize,
    query_start: usize,
    target_end: usize,
    pub head_bytes: usize,
    pub body_bytes: usize,
    pub keep_alive: bool,
    pub expect_continue: bool,
    /// The body is `application/x-www-form-urlencoded` (or untyped, which Go clients send).
    pub form_body: bool,
    /// The body comes in `Transfer-Encoding: chunked` (its length is not known up front).
    pub chunked: bool,
    /// The headers endpoints read beyond the ones above (config long polling, gray labels,
    /// CAS, client addresses behind proxies, tokens); empty, without allocating, for most
    /// requests.
    kept: Vec<(KeptHeader, String)>,
}

/// Headers kept for the endpoints (matched case-insensitively; the last one of a name counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeptHeader {
    LongPullingTimeout,
    LongPullingNoHangup,
    BetaIps,
    CasMd5,
    VipserverTag,
    ForwardedFor,
    RealIp,
    ClientVersion,
    ContentType,
    AccessToken,
    Authorization,
    // --- auth ---
    /// `nacore-server-identity`: the cluster secret on requests between members.
    ServerIdentity,
    // --- console ---
    /// `If-None-Match`: the console asset the browser holds (RFC 9110 §13.1.2).
    IfNoneMatch,
}

const KEPT_HEADERS: [(&str, KeptHeader); 13] = [
    ("long-pulling-timeout", KeptHeader::LongPullingTimeout),
    (
        "long-pulling-timeout-no-hangup",
        KeptHeader::LongPullingNoHangup,
    ),
    ("betaips", KeptHeader::BetaIps),
    ("casmd5", KeptHeader::CasMd5),
    ("vipserver-tag", KeptHeader::VipserverTag),
    ("x-forwarded-for", KeptHeader::ForwardedFor),
    ("x-real-ip", KeptHeader::RealIp),
    ("client-version", KeptHeader::ClientVersion),
    ("content-type", KeptHeader::ContentType),
    ("accesstoken", KeptHeader::AccessToken),
    ("authorization", KeptHeader::Authorization),
    // --- auth ---
    ("nacore-server-identity", KeptHeader::ServerIdentity),
    // --- console ---
    ("if-none-match", KeptHeader::IfNoneMatch),
];

fn kept_header(name: &str) -> Option<KeptHeader> {
    KEPT_HEADERS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, h)| *h)
}

impl RequestHead {
    /// Raw path, still percent-encoded, without the query.
    pub fn path(&self) -> &str {
        &self.text[..self.path_end]
    }

    /// Raw query string, without `?`.
    pub fn query(&self) -> &str {
        &self.text[self.query_start..self.target_end]
    }

    /// The `User-Agent` header, empty when absent.
    pub fn user_agent(&self) -> &str {
        &self.text[self.target_end..]
    }

    /// A kept header's value, if the request had it.
    pub fn header(&self, which: KeptHeader) -> Option<&str> {
        self.kept
            .iter()
            .rev()
            .find(|(h, _)| *h == which)
            .map(|(_, v)| v.as_str())
    }
}

/// A request the server refuses before routing; the connection is closed after the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpError {
    pub status: u16,
    pub message: String,
}

impl HttpError {
    fn new(status: u16, message: impl Into<String>) -> HttpError {
        HttpError {
            status,
            message: message.into(),
        }
    }
}

/// Room for a typical User-Agent (`Nacos-Java-Client:v2.3.2`) next to the target, so adding it
/// rarely grows the head's string.
const USER_AGENT_RESERVE_BYTES: usize = 48;

/// Parses the head at the start of `buf`. `Ok(None)`: incomplete, read more.
pub fn parse_head(buf: &[u8]) -> Result<Option<RequestHead>, HttpError> {
    let mut headers = [httparse::EMPTY_HEADER; REQUEST_HEADERS_COUNT_MAX];
    let mut request = httparse::Request::new(&mut headers);
    let head_bytes = match request.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            if buf.len() > REQUEST_HEAD_BYTES_MAX {
                return Err(head_too_large());
            }
            return Ok(None);
        }
        Err(httparse::Error::TooManyHeaders) => {
            return Err(HttpError::new(
                431,
                format!("too many request headers (max {REQUEST_HEADERS_COUNT_MAX})"),
            ));
        }
        Err(e) => return Err(HttpError::new(400, format!("malformed HTTP request: {e}"))),
    };
    if head_bytes > REQUEST_HEAD_BYTES_MAX {
        return Err(head_too_large());
    }
    head_from(&request, head_bytes).map(Some)
}

fn head_too_large() -> HttpError {
    HttpError::new(
        431,
        format!("request header fields too large (max {REQUEST_HEAD_BYTES_MAX} bytes)"),
    )
}

fn head_from(request: &httparse::Request, head_bytes: usize) -> Result<RequestHead, HttpError> {
    let (Some(method), Some(target), Some(version)) =
        (request.method, request.path, request.version)
    else {
        return Err(HttpError::new(400, "malformed HTTP request line"));
    };
    let path_end = target.find('?').unwrap_or(target.len());
    let mut text = String::with_capacity(target.len() + USER_AGENT_RESERVE_BYTES);
    text.push_str(target);
    let mut head = RequestHead {
        method: Method::parse(method),
        text,
        path_end,
        query_start: (path_end + 1).min(target.len()),
        target_end: target.len(),
        head_bytes,
        body_bytes: 0,
        // HTTP/1.1 defaults to keep-alive, HTTP/1.0 to close (RFC 9112 §9.3).
        keep_alive: version == 1,
        expect_continue: false,
        form_body: true,
        chunked: false,
        kept: Vec::new(),
    };
    let mut content_length: Option<usize> = None;
    for header in request.headers.iter() {
        let value = std::str::from_utf8(header.value).unwrap_or("").trim();
        apply_header(&mut head, &mut content_length, header.name, value)?;
        if let Some(kept) = kept_header(header.name) {
            head.kept.push((kept, value.to_string()));
        }
    }
    // Both framings at once is a request-smuggling vector (RFC 9112 §6.1).
    if head.chunked && content_length.is_some() {
        return Err(HttpError::new(
            400,
            "both Content-Length and chunked Transfer-Encoding",
        ));
    }
    head.body_bytes = content_length.unwrap_or(0);
    if head.body_bytes > REQUEST_BODY_BYTES_MAX {
        return Err(HttpError::new(
            413,
            format!("request body too large (max {REQUEST_BODY_BYTES_MAX} bytes)"),
        ));
    }
    Ok(head)
}

fn apply_header(
    head: &mut RequestHead,
    content_length: &mut Option<usize>,
    name: &str,
    value: &str,
) -> Result<(), HttpError> {
    if name.eq_ignore_ascii_case("content-length") {
        let length: usize = value
            .parse()
            .map_err(|_| HttpError::new(400, format!("invalid Content-Length: {value}")))?;
        // Differing duplicates are a request-smuggling vector (RFC 9112 §6.3).
        if content_length.is_some_and(|previous| previous != length) {
            return Err(HttpError::new(400, "conflicting Content-Length headers"));
        }
        *content_length = Some(length);
    } else if name.eq_ignore_ascii_case("transfer-encoding") {
        if value.eq_ignore_ascii_case("chunked") {
            head.chunked = true;
        } else if !value.eq_ignore_ascii_case("identity") {
            return Err(HttpError::new(
                501,
                format!(
                    "Transfer-Encoding {value} is not supported; send chunked or Content-Length"
                ),
            ));
        }
    } else if name.eq_ignore_ascii_case("connection") {
        let tokens = value.split(',').map(str::trim);
        for token in tokens {
            if token.eq_ignore_ascii_case("close") {
                head.keep_alive = false;
            } else if token.eq_ignore_ascii_case("keep-alive") {
                head.keep_alive = true;
            }
        }
    } else if name.eq_ignore_ascii_case("expect") {
        head.expect_continue = value.eq_ignore_ascii_case("100-continue");
    } else if name.eq_ignore_ascii_case("content-type") {
        let mime = value.split(';').next().unwrap_or("").trim();
        head.form_body =
            mime.is_empty() || mime.eq_ignore_ascii_case("application/x-www-form-urlencoded");
    } else if name.eq_ignore_ascii_case("user-agent") {
        // The last one counts, as with any other single-valued header here.
        head.text.truncate(head.target_end);
        head.text.push_str(value);
    }
    Ok(())
}

/// Decodes a chunked body at the start of `input` (RFC 9112 §7.1). `Ok(None)`: incomplete;
/// `Ok(Some((body, consumed)))`: the body and how many input bytes it took, trailers included.
pub fn decode_chunked(input: &[u8]) -> Result<Option<(Vec<u8>, usize)>, HttpError> {
    let mut body = Vec::new();
    let mut at = 0;
    loop {
        let (size_bytes, size) = match httparse::parse_chunk_size(&input[at..]) {
            Ok(httparse::Status::Complete((n, size))) => (n, size),
            Ok(httparse::Status::Partial) => return chunked_partial(input.len()),
            Err(_) => return Err(HttpError::new(400, "malformed chunk size")),
        };
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        if size > REQUEST_BODY_BYTES_MAX - body.len() {
            return Err(body_too_large());
        }
        at += size_bytes;
        if size == 0 {
            return Ok(skip_trailers(input, at).map(|end| (body, end)));
        }
        if input.len() < at + size + 2 {
            return chunked_partial(input.len());
        }
        if &input[at + size..at + size + 2] != b"\r\n" {
            return Err(HttpError::new(400, "chunk data not followed by CRLF"));
        }
        body.extend_from_slice(&input[at..at + size]);
        at += size + 2;
    }
}

/// An incomplete chunked body may still grow, up to the framing allowance.
fn chunked_partial(buffered: usize) -> Result<Option<(Vec<u8>, usize)>, HttpError> {
    if buffered > REQUEST_BODY_BYTES_MAX + CHUNKED_FRAMING_BYTES_MAX {
        return Err(body_too_large());
    }
    Ok(None)
}

/// The end of the trailer section that starts at `at` (after the last chunk), if complete.
fn skip_trailers(input: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let line_end = input[at..].windows(2).position(|w| w == b"\r\n")?;
        at += line_end + 2;
        if line_end == 0 {
            return Some(at);
        }
    }
}

fn body_too_large() -> HttpError {
    HttpError::new(
        413,
        format!("request body too large (max {REQUEST_BODY_BYTES_MAX} bytes)"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Chunked bodies decode across chunks and trailers; partial input waits; bad framing and
    /// oversized bodies are refused.
    #[test]
    fn chunked_bodies() {
        let raw = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT";
        let (body, used) = decode_chunked(raw).unwrap().unwrap();
        assert_eq!(body, b"hello world");
        assert_eq!(&raw[used..], b"NEXT");
        assert_eq!(decode_chunked(&raw[..9]).unwrap(), None);
        assert_eq!(decode_chunked(b"0\r\n").unwrap(), None);
        assert_eq!(decode_chunked(b"0\r\n\r\n").unwrap(), Some((Vec::new(), 5)));
        assert_eq!(decode_chunked(b"zz\r\n").unwrap_err().status, 400);
        assert_eq!(decode_chunked(b"2\r\nabXY").unwrap_err().status, 400);
        let huge = format!("{:x}\r\n", REQUEST_BODY_BYTES_MAX + 1);
        assert_eq!(decode_chunked(huge.as_bytes()).unwrap_err().status, 413);
        let both = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n";
        assert_eq!(parse_head(both).unwrap_err().status, 400);
        let gzip = b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n";
        assert_eq!(parse_head(gzip).unwrap_err().status, 501);
    }

    /// The headers endpoints read are kept, case-insensitively, the last one of a name
    /// winning; others are not kept.
    #[test]
    fn kept_headers() {
        let raw = b"POST /nacos/v1/cs/configs/listener HTTP/1.1\r\nlong-pulling-timeout: 30000\r\n\
            CasMd5: a\r\ncasmd5: b\r\nX-Other: 1\r\nVipserver-Tag: v2\r\n\r\n";
        let head = parse_head(raw).unwrap().unwrap();
        assert_eq!(head.header(KeptHeader::LongPullingTimeout), Some("30000"));
        assert_eq!(head.header(KeptHeader::CasMd5), Some("b"));
        assert_eq!(head.header(KeptHeader::VipserverTag), Some("v2"));
        assert_eq!(head.header(KeptHeader::BetaIps), None);
        assert_eq!(head.kept.len(), 4);
    }

    /// A complete head parses; a partial one asks for more bytes.
    #[test]
    fn complete_and_partial() {
        let raw = b"POST /nacos/v1/ns/instance?ip=1 HTTP/1.1\r\nContent-Length: 3\r\n\
                    Content-Type: application/x-www-form-urlencoded\r\nUser-Agent: x\r\n\r\nabc";
        let head = parse_head(raw).unwrap().unwrap();
        assert_eq!(head.method, Method::Post);
        assert_eq!(head.path(), "/nacos/v1/ns/instance");
        assert_eq!(head.query(), "ip=1");
        assert_eq!(head.body_bytes, 3);
        assert_eq!(head.head_bytes, raw.len() - 3);
        assert!(head.keep_alive && head.form_body);
        assert_eq!(parse_head(&raw[..20]).unwrap(), None);
    }

    /// HTTP/1.0 closes by default; Connection headers override.
    /// Path, query and User-Agent come apart again from the one string they share.
    #[test]
    fn target_parts() {
        let h = parse_head(b"GET /a/b HTTP/1.1\r\n\r\n").unwrap().unwrap();
        assert_eq!((h.path(), h.query(), h.user_agent()), ("/a/b", "", ""));
        let h = parse_head(
            b"GET /a? HTTP/1.1\r\nUser-Agent: one\r\nUser-Agent: Nacos-Java-Client:v2.5.1\r\n\r\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            (h.path(), h.query(), h.user_agent()),
            ("/a", "", "Nacos-Java-Client:v2.5.1")
        );
        let h = parse_head(b"GET /a?x=1&y=2 HTTP/1.1\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!((h.path(), h.query()), ("/a", "x=1&y=2"));
    }

    #[test]
    fn keep_alive_rules() {
        let h = parse_head(b"GET / HTTP/1.0\r\n\r\n").unwrap().unwrap();
        assert!(!h.keep_alive);
        let h = parse_head(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(h.keep_alive);
        let h = parse_head(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(!h.keep_alive);
    }

    /// Limits: head size 431 (at max ok, max + 1 refused), header count 431, body 413,
    /// chunked 501, bad Content-Length 400.
    #[test]
    fn limits() {
        let filler = |n: usize| {
            let mut v = b"GET / HTTP/1.1\r\nX: ".to_vec();
            v.resize(n - 4, b'a');
            v.extend_from_slice(b"\r\n\r\n");
            v
        };
        assert!(parse_head(&filler(REQUEST_HEAD_BYTES_MAX))
            .unwrap()
            .is_some());
        assert_eq!(
            parse_head(&filler(REQUEST_HEAD_BYTES_MAX + 1))
                .unwrap_err()
                .status,
            431
        );
        let mut partial = b"GET / HTTP/1.1\r\nX: ".to_vec();
        partial.resize(REQUEST_HEAD_BYTES_MAX + 1, b'a');
        assert_eq!(parse_head(&partial).unwrap_err().status, 431);
        let mut many = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..=REQUEST_HEADERS_COUNT_MAX {
            many.extend_from_slice(format!("H{i}: v\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(parse_head(&many).unwrap_err().status, 431);
        let big = format!(
            "POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
            REQUEST_BODY_BYTES_MAX + 1
        );
        assert_eq!(parse_head(big.as_bytes()).unwrap_err().status, 413);
        let ok = format!("POST / HTTP/1.1\r\nContent-Length: {REQUEST_BODY_BYTES_MAX}\r\n\r\n");
        assert!(parse_head(ok.as_bytes()).unwrap().is_some());
        let chunked = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert!(parse_head(chunked).unwrap().unwrap().chunked);
        let bad = b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n";
        assert_eq!(parse_head(bad).unwrap_err().status, 400);
        let dup = b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n";
        assert_eq!(parse_head(dup).unwrap_err().status, 400);
        assert_eq!(
            parse_head(b"\x00\x01garbage\r\n\r\n").unwrap_err().status,
            400
        );
    }

    /// JSON bodies are not form bodies; untyped bodies are (Go clients omit the type).
    #[test]
    fn form_detection() {
        let h = parse_head(b"PUT / HTTP/1.1\r\nContent-Type: application/json\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(!h.form_body);
        let h = parse_head(b"PUT / HTTP/1.1\r\n\r\n").unwrap().unwrap();
        assert!(h.form_body);
    }
}
