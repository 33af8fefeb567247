//! A minimal HTTP/1.1 client for member-to-member calls (forwarded writes, `api/forward.rs`):
//! one request, one answer framed by `Content-Length` (chunked answers and answers over
//! `REQUEST_BODY_BYTES_MAX` are refused), explicit connect and response timeouts, and a small
//! pool of idle keep-alive connections per target. The pool is thread-local, so each core has
//! its own and nothing takes a lock.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpStream;

use crate::limits::{
    CONNECTION_READ_BUFFER_BYTES, FORWARD_CONNECT_TIMEOUT_MS,
    FORWARD_IDLE_CONNECTIONS_PER_PEER_MAX, FORWARD_IDLE_CONNECTION_MAX_AGE_MS,
    FORWARD_RESPONSE_TIMEOUT_MS, REQUEST_BODY_BYTES_MAX, REQUEST_HEADERS_COUNT_MAX,
    REQUEST_HEAD_BYTES_MAX,
};

/// One request to send: the target (path and query, as it goes on the request line), extra
/// headers and a body with its type. `Host`, `Content-Length` and `Connection` are added.
pub struct Outgoing<'a> {
    pub method: &'a str,
    pub target: &'a str,
    pub headers: &'a [(&'a str, &'a str)],
    pub content_type: &'a str,
    pub body: &'a [u8],
}

/// What the peer answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientResponse {
    pub status: u16,
    /// The `Content-Type` header, empty when absent.
    pub content_type: String,
    pub body: Vec<u8>,
}

#[derive(Debug)]
pub enum ClientError {
    /// No connection could be made: the request never left this member.
    Connect(std::io::Error),
    /// The connection failed, timed out or answered something this client does not read,
    /// after the request may have reached the peer.
    Exchange(String),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            ClientError::Connect(error) => write!(f, "cannot connect: {error}"),
            ClientError::Exchange(message) => f.write_str(message),
        }
    }
}

/// Serialises `request` for `host`. Header values must not hold CR or LF (the caller strips
/// them); `debug_assert!`ed here.
pub fn encode(host: SocketAddr, request: &Outgoing) -> Vec<u8> {
    debug_assert!(request.target.starts_with('/') && !request.target.contains([' ', '\r', '\n']));
    let mut out = Vec::with_capacity(256 + request.body.len());
    let mut numbers = itoa::Buffer::new();
    for piece in [request.method, " ", request.target, " HTTP/1.1\r\nHost: "] {
        out.extend_from_slice(piece.as_bytes());
    }
    out.extend_from_slice(host.to_string().as_bytes());
    for (name, value) in request.headers {
        debug_assert!(!value.contains(['\r', '\n']) && !name.contains(['\r', '\n', ':']));
        for piece in ["\r\n", name, ": ", value] {
            out.extend_from_slice(piece.as_bytes());
        }
    }
    for piece in [
        "\r\nContent-Type: ",
        request.content_type,
        "\r\nContent-Length: ",
    ] {
        out.extend_from_slice(piece.as_bytes());
    }
    out.extend_from_slice(numbers.format(request.body.len()).as_bytes());
    out.extend_from_slice(b"\r\nConnection: keep-alive\r\n\r\n");
    out.extend_from_slice(request.body);
    out
}

/// Sends an encoded request to `addr` and reads the answer: on an idle pooled connection if
/// there is one (retried once on a fresh connection if that one turns out closed), otherwise
/// on a new one. A connection that may carry another request goes back to the pool.
pub async fn send(addr: SocketAddr, request: &[u8]) -> Result<ClientResponse, ClientError> {
    if let Some(stream) = take_idle(addr) {
        match exchange(stream, request).await {
            Ok(response) => return Ok(keep(addr, response)),
            // The peer closed it while it sat idle; nothing was answered, so try afresh.
            Err(failure) if failure.stale => {
                tracing::debug!(%addr, reason = %failure.message, "pooled connection was stale");
            }
            Err(failure) => return Err(ClientError::Exchange(failure.message)),
        }
    }
    let timeout = Duration::from_millis(FORWARD_CONNECT_TIMEOUT_MS);
    let stream = TcpStream::connect_timeout(addr, timeout)
        .await
        .map_err(|error| ClientError::Connect(error.into()))?;
    // Small requests must not wait for Nagle's algorithm.
    let _ = stream.set_nodelay(true);
    match exchange(stream, request).await {
        Ok(response) => Ok(keep(addr, response)),
        Err(failure) => Err(ClientError::Exchange(failure.message)),
    }
}

fn keep(
    addr: SocketAddr,
    (response, reusable): (ClientResponse, Option<TcpStream>),
) -> ClientResponse {
    if let Some(stream) = reusable {
        put_idle(addr, stream);
    }
    response
}

/// Why an exchange failed; `stale` when the connection was closed before any answer byte
/// came (a pooled connection the peer had dropped), so a retry cannot run a request twice
/// that the peer already answered.
struct Failure {
    stale: bool,
    message: String,
}

impl Failure {
    fn new(message: impl Into<String>) -> Failure {
        Failure {
            stale: false,
            message: message.into(),
        }
    }
}

/// One request and its answer within `FORWARD_RESPONSE_TIMEOUT_MS`; the stream comes back
/// when it may be reused.
async fn exchange(
    mut stream: TcpStream,
    request: &[u8],
) -> Result<(ClientResponse, Option<TcpStream>), Failure> {
    let budget = Duration::from_millis(FORWARD_RESPONSE_TIMEOUT_MS);
    let round_trip = async { Ok(round_trip(&mut stream, request).await) };
    match glommio::timer::timeout(budget, round_trip).await {
        Ok(Ok((response, true))) => Ok((response, Some(stream))),
        Ok(Ok((response, false))) => Ok((response, None)),
        Ok(Err(failure)) => Err(failure),
        Err(_) => Err(Failure::new(format!(
            "no answer within {FORWARD_RESPONSE_TIMEOUT_MS} ms"
        ))),
    }
}

/// Writes the request and reads one answer; `true` with it when the connection may be reused.
async fn round_trip(
    stream: &mut TcpStream,
    request: &[u8],
) -> Result<(ClientResponse, bool), Failure> {
    let sent = async {
        stream.write_all(request).await?;
        stream.flush().await
    };
    sent.await.map_err(|error| Failure {
        stale: true,
        message: format!("send failed: {error}"),
    })?;
    let mut buf = Vec::with_capacity(CONNECTION_READ_BUFFER_BYTES);
    let head = loop {
        match parse_head(&buf).map_err(Failure::new)? {
            Some(head) if head.status < 200 => {
                // An interim answer (100 Continue): the real one follows.
                buf.drain(..head.head_bytes);
            }
            Some(head) => break head,
            None => read_some(stream, &mut buf, CONNECTION_READ_BUFFER_BYTES).await?,
        }
    };
    let total = head.head_bytes + head.body_bytes;
    buf.reserve(total.saturating_sub(buf.len()));
    while buf.len() < total {
        let want = total - buf.len();
        read_some(stream, &mut buf, want).await?;
    }
    // Bytes past the answer were never asked for: the connection is not reused.
    let reusable = head.keep_alive && buf.len() == total;
    buf.drain(..head.head_bytes);
    debug_assert!(buf.len() >= head.body_bytes);
    buf.truncate(head.body_bytes);
    let response = ClientResponse {
        status: head.status,
        content_type: head.content_type,
        body: buf,
    };
    Ok((response, reusable))
}

/// Appends up to `want` bytes (at least one) from the stream to `buf`.
async fn read_some(stream: &mut TcpStream, buf: &mut Vec<u8>, want: usize) -> Result<(), Failure> {
    debug_assert!(want > 0);
    let start = buf.len();
    buf.resize(start + want.min(CONNECTION_READ_BUFFER_BYTES), 0);
    let read = stream.read(&mut buf[start..]).await;
    let n = *read.as_ref().unwrap_or(&0);
    buf.truncate(start + n);
    let nothing_yet = start == 0;
    match read {
        Ok(0) => Err(Failure {
            stale: nothing_yet,
            message: "the peer closed the connection before answering".into(),
        }),
        Ok(_) => Ok(()),
        Err(error) => Err(Failure {
            stale: nothing_yet,
            message: format!("reading the answer failed: {error}"),
        }),
    }
}

/// The parts of an answer head the client acts on.
#[derive(Debug, PartialEq, Eq)]
struct ResponseHead {
    status: u16,
    content_type: String,
    head_bytes: usize,
    body_bytes: usize,
    keep_alive: bool,
}

/// Parses the answer head at the start of `buf`; `Ok(None)`: incomplete.
fn parse_head(buf: &[u8]) -> Result<Option<ResponseHead>, String> {
    let mut headers = [httparse::EMPTY_HEADER; REQUEST_HEADERS_COUNT_MAX];
    let mut response = httparse::Response::new(&mut headers);
    let head_bytes = match response.parse(buf) {
        Ok(httparse::Status::Complete(n)) if n <= REQUEST_HEAD_BYTES_MAX => n,
        Ok(httparse::Status::Partial) if buf.len() <= REQUEST_HEAD_BYTES_MAX => return Ok(None),
        Ok(_) => return Err(format!("answer head over {REQUEST_HEAD_BYTES_MAX} bytes")),
        Err(error) => return Err(format!("malformed answer: {error}")),
    };
    let (Some(status), Some(version)) = (response.code, response.version) else {
        return Err("malformed answer status line".into());
    };
    let mut head = ResponseHead {
        status,
        content_type: String::new(),
        head_bytes,
        body_bytes: 0,
        keep_alive: version == 1,
    };
    let mut content_length = None;
    for header in response.headers.iter() {
        let value = std::str::from_utf8(header.value).unwrap_or("").trim();
        let name = header.name;
        if name.eq_ignore_ascii_case("content-length") {
            let length = value.parse::<usize>();
            content_length = Some(length.map_err(|_| format!("bad Content-Length {value:?}"))?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(format!("Transfer-Encoding {value} is not supported"));
        } else if name.eq_ignore_ascii_case("content-type") {
            head.content_type = value.to_string();
        } else if name.eq_ignore_ascii_case("connection") {
            head.keep_alive &= !value
                .split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("close"));
        }
    }
    head.body_bytes = match (content_length, status) {
        (Some(length), _) => length,
        (None, 100..=199 | 204 | 304) => 0,
        (None, _) => return Err("answer without Content-Length".into()),
    };
    if head.body_bytes > REQUEST_BODY_BYTES_MAX {
        return Err(format!("answer body over {REQUEST_BODY_BYTES_MAX} bytes"));
    }
    Ok(Some(head))
}

thread_local! {
    /// Idle keep-alive connections of this core, by target, oldest first.
    static IDLE: RefCell<HashMap<SocketAddr, Vec<(TcpStream, Instant)>>> =
        RefCell::new(HashMap::new());
}

/// The most recently used idle connection to `addr` that is young enough to still be open;
/// older ones are closed.
fn take_idle(addr: SocketAddr) -> Option<TcpStream> {
    let max_age = Duration::from_millis(FORWARD_IDLE_CONNECTION_MAX_AGE_MS);
    IDLE.with(|idle| {
        let mut idle = idle.borrow_mut();
        let list = idle.get_mut(&addr)?;
        list.retain(|(_, since)| since.elapsed() < max_age);
        list.pop().map(|(stream, _)| stream)
    })
}

/// Keeps `stream` for the next request to `addr`, unless `addr` has enough idle ones.
fn put_idle(addr: SocketAddr, stream: TcpStream) {
    IDLE.with(|idle| {
        let mut idle = idle.borrow_mut();
        let list = idle.entry(addr).or_default();
        if list.len() < FORWARD_IDLE_CONNECTIONS_PER_PEER_MAX {
            list.push((stream, Instant::now()));
        }
        debug_assert!(list.len() <= FORWARD_IDLE_CONNECTIONS_PER_PEER_MAX);
    });
}

/// Idle connections pooled for `addr` on this core (tests).
#[cfg(test)]
pub fn idle_count(addr: SocketAddr) -> usize {
    IDLE.with(|idle| idle.borrow().get(&addr).map_or(0, Vec::len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::test_peer::{self, answer, Step};

    fn run(test: impl std::future::Future<Output = ()> + 'static) {
        let executor = glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
            .io_memory(512 * 1024)
            .make()
            .unwrap();
        executor.run(test);
    }

    fn get(addr: SocketAddr) -> Vec<u8> {
        let request = Outgoing {
            method: "PUT",
            target: "/x?a=1",
            headers: &[("User-Agent", "t")],
            content_type: "application/x-www-form-urlencoded",
            body: b"b=2",
        };
        encode(addr, &request)
    }

    /// The request line, Host, extra headers, type, length and body, in that order.
    #[test]
    fn encodes_a_request() {
        let addr: SocketAddr = "10.0.0.1:8848".parse().unwrap();
        let text = String::from_utf8(get(addr)).unwrap();
        assert_eq!(
            text,
            "PUT /x?a=1 HTTP/1.1\r\nHost: 10.0.0.1:8848\r\nUser-Agent: t\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 3\r\n\
             Connection: keep-alive\r\n\r\nb=2"
        );
    }

    /// Content-Length framing, keep-alive, and the answers the client refuses.
    #[test]
    fn answer_heads() {
        let raw = b"HTTP/1.1 200 OK\r\nContent-Type: a/b\r\nContent-Length: 2\r\n\r\nok";
        let head = parse_head(raw).unwrap().unwrap();
        assert_eq!(
            (
                head.status,
                head.content_type.as_str(),
                head.body_bytes,
                head.keep_alive
            ),
            (200, "a/b", 2, true)
        );
        assert_eq!(head.head_bytes, raw.len() - 2);
        let close =
            parse_head(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
        assert!(!close.unwrap().unwrap().keep_alive);
        let old = parse_head(b"HTTP/1.0 204 No\r\n\r\n").unwrap().unwrap();
        assert!(!old.keep_alive && old.body_bytes == 0);
        assert_eq!(parse_head(b"HTTP/1.1 200 OK\r\nContent-Len").unwrap(), None);
        assert!(parse_head(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").is_err());
        assert!(parse_head(b"HTTP/1.1 200 OK\r\n\r\n").is_err());
        assert!(parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n").is_err());
        let huge = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
            REQUEST_BODY_BYTES_MAX + 1
        );
        assert!(parse_head(huge.as_bytes()).is_err());
        let long = format!(
            "HTTP/1.1 200 OK\r\nX: {}",
            "a".repeat(REQUEST_HEAD_BYTES_MAX)
        );
        assert!(parse_head(long.as_bytes()).is_err());
        assert!(parse_head(b"garbage\r\n\r\n").is_err());
    }

    /// Two requests share one pooled connection; the peer sees what was sent.
    #[test]
    fn keep_alive_reuses_a_connection() {
        run(async {
            let peer = test_peer::start(vec![
                Step::Answer(answer(200, "text/plain", "one")),
                Step::Answer(
                    b"HTTP/1.1 100 Continue\r\n\r\n"
                        .iter()
                        .chain(answer(201, "application/json", "{}").iter())
                        .copied()
                        .collect(),
                ),
            ]);
            let first = send(peer.addr, &get(peer.addr)).await.unwrap();
            assert_eq!(
                (first.status, &first.body[..], first.content_type.as_str()),
                (200, &b"one"[..], "text/plain")
            );
            assert_eq!(idle_count(peer.addr), 1);
            let second = send(peer.addr, &get(peer.addr)).await.unwrap();
            assert_eq!((second.status, &second.body[..]), (201, &b"{}"[..]));
            assert_eq!(peer.accepted.get(), 1);
            let requests = peer.requests.borrow();
            assert_eq!(requests.len(), 2);
            assert_eq!(
                (requests[0].method.as_str(), requests[0].path.as_str()),
                ("PUT", "/x?a=1")
            );
            assert_eq!(requests[0].body, b"b=2");
            assert_eq!(requests[0].header("user-agent"), Some("t"));
        });
    }

    /// A pooled connection the peer closed is replaced by a fresh one, once.
    #[test]
    fn stale_pooled_connection_is_retried() {
        run(async {
            let peer = test_peer::start(vec![
                Step::AnswerAndClose(answer(200, "text/plain", "one")),
                Step::Answer(answer(200, "text/plain", "two")),
            ]);
            // The answer says keep-alive, so the closed connection is pooled.
            send(peer.addr, &get(peer.addr)).await.unwrap();
            glommio::timer::sleep(Duration::from_millis(20)).await;
            let second = send(peer.addr, &get(peer.addr)).await.unwrap();
            assert_eq!(second.body, b"two");
            assert_eq!(peer.accepted.get(), 2);
        });
    }

    /// Nobody listening: a connect error (the caller may try another member).
    #[test]
    fn refused_connect() {
        run(async {
            let addr = glommio::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap();
            let result = send(addr, &get(addr)).await;
            assert!(matches!(result, Err(ClientError::Connect(_))), "{result:?}");
        });
    }

    /// A peer that never answers fails the exchange after the response timeout.
    #[test]
    fn silent_peer_times_out() {
        run(async {
            let peer = test_peer::start(vec![Step::Silent]);
            let started = Instant::now();
            let result = send(peer.addr, &get(peer.addr)).await;
            assert!(
                matches!(&result, Err(ClientError::Exchange(m)) if m.contains("no answer")),
                "{result:?}"
            );
            assert!(started.elapsed() >= Duration::from_millis(FORWARD_RESPONSE_TIMEOUT_MS));
            assert_eq!(idle_count(peer.addr), 0);
        });
    }
}
