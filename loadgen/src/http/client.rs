//! One keep-alive HTTP/1.1 client connection over a glommio `TcpStream`, with exactly one
//! request in flight: write the request, read until one complete response, hand its status
//! and body to the caller's check. The connection remembers when its last read returned bytes,
//! so that a long-poll answer is timed when it came off the socket (as `grpc::stamped` does for
//! pushes), not when a load core busy with a thousand other listeners got round to it.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpStream;

use crate::http::response::{parse_response, ParseError};
use crate::limits::{
    CONNECTION_READ_BUFFER_BYTES, CONNECT_TIMEOUT_MS, RESPONSE_BODY_BYTES_MAX,
    RESPONSE_HEAD_BYTES_MAX,
};
use crate::stats::ErrorKind;

/// The read buffer never grows past one maximal head plus one maximal body.
const READ_BUFFER_BYTES_MAX: usize = RESPONSE_HEAD_BYTES_MAX + RESPONSE_BODY_BYTES_MAX;

/// What a round trip produced, when the transport worked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exchange {
    /// The caller's verdict on the status and body.
    pub outcome: Result<(), ErrorKind>,
    /// False when the server asked to close; the caller then replaces the connection.
    pub keep_alive: bool,
}

/// A client connection and its read buffer (allocated once, grown only for large bodies).
pub struct HttpConnection {
    stream: TcpStream,
    read_buf: Vec<u8>,
    /// Bytes of `read_buf` holding received data not yet consumed.
    filled_bytes: usize,
    /// When the latest read that returned bytes completed (at first, the connect).
    last_read_at: Instant,
}

impl HttpConnection {
    pub async fn connect(server: SocketAddr) -> Result<Self, ErrorKind> {
        Self::connect_with_buffer(server, CONNECTION_READ_BUFFER_BYTES).await
    }

    /// Connects with a read buffer of `read_buffer_bytes` to start with (it grows on demand):
    /// thousands of held long polls, whose answers are a few dozen bytes, need less than the
    /// default.
    pub async fn connect_with_buffer(
        server: SocketAddr,
        read_buffer_bytes: usize,
    ) -> Result<Self, ErrorKind> {
        assert!(read_buffer_bytes > 0);
        assert!(read_buffer_bytes <= READ_BUFFER_BYTES_MAX);
        let timeout = Duration::from_millis(CONNECT_TIMEOUT_MS);
        let stream = TcpStream::connect_timeout(server, timeout)
            .await
            .map_err(|_| ErrorKind::Connect)?;
        // Requests are small and answered one at a time: Nagle would only add delay.
        stream.set_nodelay(true).map_err(|_| ErrorKind::Connect)?;
        Ok(Self {
            stream,
            read_buf: vec![0; read_buffer_bytes],
            filled_bytes: 0,
            last_read_at: Instant::now(),
        })
    }

    /// When the latest read that returned bytes completed: for a complete response, the read
    /// that brought its last bytes.
    pub fn last_read_at(&self) -> Instant {
        self.last_read_at
    }

    /// Sends `request` and reads one response, giving its status and body to `check`.
    /// Transport and framing failures are errors (the connection must then be dropped);
    /// `check`'s verdict is returned inside the `Exchange`.
    pub async fn round_trip<F>(&mut self, request: &[u8], check: F) -> Result<Exchange, ErrorKind>
    where
        F: FnOnce(u16, &[u8]) -> Result<(), ErrorKind>,
    {
        self.send(request).await?;
        self.receive(check).await
    }

    /// Writes one request; `receive` reads its response. Split from `round_trip` for long
    /// polls, whose answer may come half a minute after the request is out.
    pub async fn send(&mut self, request: &[u8]) -> Result<(), ErrorKind> {
        debug_assert!(!request.is_empty());
        if self.filled_bytes != 0 {
            // One request in flight: bytes before a request means the server sent extra data.
            return Err(ErrorKind::Protocol);
        }
        self.stream
            .write_all(request)
            .await
            .map_err(|_| ErrorKind::Io)
    }

    /// Reads one complete response to the request `send` wrote, giving its status and body to
    /// `check`.
    pub async fn receive<F>(&mut self, check: F) -> Result<Exchange, ErrorKind>
    where
        F: FnOnce(u16, &[u8]) -> Result<(), ErrorKind>,
    {
        loop {
            match parse_response(&self.read_buf[..self.filled_bytes]) {
                Ok(Some(response)) => {
                    let exchange = Exchange {
                        outcome: check(response.status, &response.body),
                        keep_alive: response.keep_alive,
                    };
                    let consumed = response.consumed_bytes;
                    self.read_buf.copy_within(consumed..self.filled_bytes, 0);
                    self.filled_bytes -= consumed;
                    return Ok(exchange);
                }
                Ok(None) => self.read_more().await?,
                Err(ParseError::TooLarge) | Err(ParseError::Malformed(_)) => {
                    return Err(ErrorKind::Protocol)
                }
            }
        }
    }

    /// Reads at least one more byte into the buffer, growing it up to its limit.
    async fn read_more(&mut self) -> Result<(), ErrorKind> {
        if self.filled_bytes == self.read_buf.len() {
            if self.read_buf.len() >= READ_BUFFER_BYTES_MAX {
                return Err(ErrorKind::Protocol);
            }
            let grown = (self.read_buf.len() * 2).min(READ_BUFFER_BYTES_MAX);
            self.read_buf.resize(grown, 0);
        }
        let read = self
            .stream
            .read(&mut self.read_buf[self.filled_bytes..])
            .await
            .map_err(|_| ErrorKind::Io)?;
        if read == 0 {
            // EOF before a complete response.
            return Err(ErrorKind::Io);
        }
        self.filled_bytes += read;
        self.last_read_at = Instant::now();
        debug_assert!(self.filled_bytes <= self.read_buf.len());
        Ok(())
    }
}
