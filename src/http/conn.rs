//! One HTTP/1.1 connection: read, parse, route, answer, in order. Pipelined requests are
//! answered in the order they came, and their responses are flushed together once no further
//! complete request is buffered. Slow or idle clients are dropped after explicit timeouts,
//! kept on the core's coarse clock (`deadline.rs`).

use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::Duration;

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpStream;

use crate::api;
use crate::http::codec::{decode_chunked, parse_head, Method, RequestHead};
use crate::http::deadline::{Deadline, Deadlines};
use crate::http::params::Params;
use crate::http::response::Response;
use crate::limits::CHUNKED_FRAMING_BYTES_MAX;
use crate::limits::{
    CONNECTION_IDLE_READ_BYTES, CONNECTION_IDLE_TIMEOUT_MS,
    CONNECTION_READ_BUFFERS_POOLED_PER_CORE_MAX, CONNECTION_READ_BUFFER_BYTES,
    CONNECTION_WRITE_BUFFER_BYTES_MAX, REQUEST_BODY_BYTES_MAX, REQUEST_BODY_TIMEOUT_MS,
    REQUEST_HEAD_BYTES_MAX, REQUEST_HEAD_TIMEOUT_MS, RESPONSE_WRITE_TIMEOUT_MS,
};
use crate::metrics::Protocol;
use crate::shard::CoreHandle;

/// A parsed request as the router sees it.
pub struct Request {
    pub head: RequestHead,
    pub params: Params,
    /// The body when it is not a form (multipart uploads, JSON); empty otherwise.
    pub body: bytes::Bytes,
    /// The address the client reached us on: this node's address as the client sees it.
    pub local_addr: Option<SocketAddr>,
    /// The client's address (a peer's, for a forwarded request).
    pub remote_addr: Option<SocketAddr>,
}

#[cfg(test)]
impl Request {
    /// A request parsed from a raw head (query parameters only, no body), for unit tests.
    pub fn from_raw_head(raw: &[u8]) -> Request {
        let head = crate::http::codec::parse_head(raw)
            .expect("a valid test head")
            .expect("a complete test head");
        let params = Params::parse(head.query(), None);
        Request {
            head,
            params,
            body: bytes::Bytes::new(),
            local_addr: None,
            remote_addr: None,
        }
    }
}

/// Why a connection ended early; only logged (the fields are read through `Debug`).
#[derive(Debug)]
#[allow(dead_code)]
enum Closed {
    Eof,
    Timeout,
    Io(std::io::Error),
}

struct Connection {
    /// Declared before `stream` so it is dropped first: the sweeper must never reach a
    /// closed (and possibly reused) descriptor.
    deadline: Rc<Deadline>,
    deadlines: Rc<Deadlines>,
    stream: TcpStream,
    /// Received bytes live in `buf[start..filled]`; the rest of `buf` is room to read into
    /// (kept initialised, so a read does not clear it first).
    buf: Vec<u8>,
    /// Bytes of `buf` already consumed by answered requests.
    start: usize,
    filled: usize,
    out: Vec<u8>,
    local_addr: Option<SocketAddr>,
    remote_addr: Option<SocketAddr>,
    /// When (coarse clock, ms) the first byte of the request in progress arrived.
    request_started_ms: Option<u64>,
    continue_sent: bool,
}

pub async fn serve(stream: TcpStream, core: CoreHandle, deadlines: Rc<Deadlines>) {
    let local_addr = stream.local_addr().ok();
    let remote_addr = stream.peer_addr().ok();
    // Small responses must not wait for Nagle's algorithm.
    let _ = stream.set_nodelay(true);
    // A client sends its next request only after our answer: a poll armed when a request is
    // read would fire for that next request, one poll per request. Reading again after the
    // answer is written (and other connections ran) often finds it without any poll.
    stream.set_early_read_poll(false);
    let _ = stream.set_write_timeout(Some(Duration::from_millis(RESPONSE_WRITE_TIMEOUT_MS)));
    let mut conn = Connection {
        deadline: deadlines.watch(stream.as_raw_fd()),
        deadlines,
        stream,
        buf: take_read_buffer(),
        start: 0,
        filled: 0,
        out: Vec::new(),
        local_addr,
        remote_addr,
        request_started_ms: None,
        continue_sent: false,
    };
    // --- metrics ---
    let _open = crate::shard::core::OpenConnection::new(&core, Protocol::Http);
    match conn.run(&core).await {
        Ok(()) | Err(Closed::Eof) => {}
        Err(reason) => tracing::debug!(?reason, "connection closed"),
    }
    give_read_buffer(std::mem::take(&mut conn.buf));
}

thread_local! {
    /// Read buffers of this core's connections that went idle, for the next that wakes up:
    /// under load a connection waits briefly between requests, and its buffer comes back
    /// from here rather than from the allocator (zeroed again).
    static IDLE_READ_BUFFERS: std::cell::RefCell<Vec<Vec<u8>>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

fn take_read_buffer() -> Vec<u8> {
    IDLE_READ_BUFFERS
        .with(|pool| pool.borrow_mut().pop())
        .unwrap_or_else(|| vec![0; CONNECTION_READ_BUFFER_BYTES])
}

fn give_read_buffer(buf: Vec<u8>) {
    if buf.len() != CONNECTION_READ_BUFFER_BYTES {
        return;
    }
    IDLE_READ_BUFFERS.with(|pool| {
        let mut pool = pool.borrow_mut();
        if pool.len() < CONNECTION_READ_BUFFERS_POOLED_PER_CORE_MAX {
            pool.push(buf);
        }
    });
}

impl Connection {
    async fn run(&mut self, core: &CoreHandle) -> Result<(), Closed> {
        loop {
            let head = match parse_head(&self.buf[self.start..self.filled]) {
                Ok(Some(head)) => head,
                Ok(None) => {
                    self.read_more(false).await?;
                    continue;
                }
                Err(error) => {
                    let response = Response::text(error.status, error.message);
                    response.write_to(&mut self.out, false, false);
                    return self.flush().await;
                }
            };
            let (total, chunked_body) = if head.chunked {
                let body_at = self.start + head.head_bytes;
                match decode_chunked(&self.buf[body_at..self.filled]) {
                    Ok(Some((body, used))) => (head.head_bytes + used, Some(body)),
                    Ok(None) => {
                        self.await_body(&head).await?;
                        continue;
                    }
                    Err(error) => {
                        Response::text(error.status, error.message).write_to(
                            &mut self.out,
                            false,
                            false,
                        );
                        return self.flush().await;
                    }
                }
            } else {
                (head.head_bytes + head.body_bytes, None)
            };
            if self.filled - self.start < total {
                self.await_body(&head).await?;
                continue;
            }
            let keep_alive = head.keep_alive;
            let request = self.take_request(head, total, chunked_body);
            // --- metrics ---
            let started = std::time::Instant::now();
            let response = api::route(core, &request).await;
            let latency_us = started.elapsed().as_micros() as u64;
            api::metrics::record_http(core, &request, &response, latency_us);
            let head_only = request.head.method == Method::Head;
            response.write_to(&mut self.out, keep_alive, head_only);
            if !keep_alive {
                return self.flush().await;
            }
            if self.out.len() >= CONNECTION_WRITE_BUFFER_BYTES_MAX {
                self.flush().await?;
            }
        }
    }

    fn take_request(
        &mut self,
        head: RequestHead,
        total: usize,
        chunked_body: Option<Vec<u8>>,
    ) -> Request {
        let raw = &self.buf[self.start + head.head_bytes..self.start + total];
        let body = chunked_body.as_deref().unwrap_or(raw);
        let params = Params::parse(head.query(), head.form_body.then_some(body));
        let body = if head.form_body {
            bytes::Bytes::new()
        } else {
            bytes::Bytes::copy_from_slice(body)
        };
        self.start += total;
        // Pipelined bytes already buffered belong to a request that has started now.
        self.request_started_ms = (self.start < self.filled).then(|| self.deadlines.now_ms());
        self.continue_sent = false;
        debug_assert!(self.start <= self.filled);
        Request {
            head,
            params,
            body,
            local_addr: self.local_addr,
            remote_addr: self.remote_addr,
        }
    }

    /// The head is in, the body is not: say `100 Continue` if asked, then read.
    async fn await_body(&mut self, head: &RequestHead) -> Result<(), Closed> {
        debug_assert!(head.body_bytes <= REQUEST_BODY_BYTES_MAX);
        if head.expect_continue && !self.continue_sent {
            self.continue_sent = true;
            self.out.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
            self.flush().await?;
        }
        self.read_more(true).await
    }

    /// Reads more bytes, first sending whatever responses are ready (the client may be
    /// waiting for them before it sends more).
    async fn read_more(&mut self, in_body: bool) -> Result<(), Closed> {
        if !self.out.is_empty() {
            self.flush().await?;
            // Let this core's other connections run first: under load this client's next
            // request has usually arrived by the time the read below runs, so it needs no
            // io_uring poll (see `set_early_read_poll`); when it has not, the read arms one.
            futures_lite::future::yield_now().await;
        }
        self.make_room();
        let budget_ms = self.read_budget_ms(in_body).ok_or(Closed::Timeout)?;
        self.deadline.set(self.deadlines.now_ms() + budget_ms);
        let read = self.read_some().await;
        self.deadline.clear();
        if self.deadline.expired() {
            return Err(Closed::Timeout);
        }
        let n = read.map_err(Closed::Io)?;
        if n == 0 {
            return Err(Closed::Eof);
        }
        self.filled += n;
        debug_assert!(self.filled <= self.buf.len());
        if self.request_started_ms.is_none() {
            self.request_started_ms = Some(self.deadlines.now_ms());
        }
        Ok(())
    }

    /// Reads into the buffer after what it holds. With nothing buffered the read is tried at
    /// once; if it would wait, the connection is idle: its buffers are released and the wait
    /// holds only a small one, so an idle keep-alive connection costs little memory. Under
    /// load the next request is usually there already and nothing is released.
    async fn read_some(&mut self) -> std::io::Result<usize> {
        if self.filled > 0 {
            return self.stream.read(&mut self.buf[self.filled..]).await;
        }
        {
            let attempt = self.stream.read(&mut self.buf[..]);
            let mut attempt = std::pin::pin!(attempt);
            if let std::task::Poll::Ready(result) = futures::poll!(attempt.as_mut()) {
                return result;
            }
        }
        give_read_buffer(std::mem::take(&mut self.buf));
        self.out = Vec::new();
        let mut first = vec![0u8; CONNECTION_IDLE_READ_BYTES];
        let n = self.stream.read(&mut first).await?;
        self.buf = take_read_buffer();
        self.buf[..n].copy_from_slice(&first[..n]);
        Ok(n)
    }

    /// Moves unconsumed bytes to the front and leaves at least a read buffer's worth of room.
    /// A buffer grown for a large body shrinks back once nothing is buffered.
    fn make_room(&mut self) {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.filled, 0);
            self.filled -= self.start;
            self.start = 0;
        }
        if self.filled == 0 && self.buf.len() > CONNECTION_READ_BUFFER_BYTES {
            self.buf = vec![0; CONNECTION_READ_BUFFER_BYTES];
        }
        if self.buf.len() - self.filled < CONNECTION_READ_BUFFER_BYTES {
            self.buf
                .resize(self.filled + CONNECTION_READ_BUFFER_BYTES, 0);
        }
        debug_assert!(
            self.filled
                <= REQUEST_HEAD_BYTES_MAX + REQUEST_BODY_BYTES_MAX + CHUNKED_FRAMING_BYTES_MAX
        );
    }

    /// How long (ms) the next read may wait: idle between requests, or what is left of the
    /// head/body budget of the request in progress. `None` when that budget is spent.
    fn read_budget_ms(&self, in_body: bool) -> Option<u64> {
        let Some(started_ms) = self.request_started_ms else {
            return Some(CONNECTION_IDLE_TIMEOUT_MS);
        };
        let budget_ms = if in_body {
            REQUEST_HEAD_TIMEOUT_MS + REQUEST_BODY_TIMEOUT_MS
        } else {
            REQUEST_HEAD_TIMEOUT_MS
        };
        let spent_ms = self.deadlines.now_ms().saturating_sub(started_ms);
        budget_ms.checked_sub(spent_ms).filter(|&left| left > 0)
    }

    async fn flush(&mut self) -> Result<(), Closed> {
        let result = self.stream.write_all(&self.out).await;
        self.out.clear();
        result.map_err(Closed::Io)?;
        self.stream.flush().await.map_err(Closed::Io)
    }
}
