//! A socket that remembers when it last read bytes. A push arrives when its connection reads
//! it off the socket, not when the load generator, busy with a thousand subscribers on one
//! core, gets round to decoding it and writing its ack: timing the read keeps the client's own
//! queue out of the server's push latency.

use std::cell::Cell;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Instant;

use futures_lite::io::{AsyncRead, AsyncWrite};

pub struct ReadStamped<S> {
    inner: S,
    last_read: Rc<Cell<Instant>>,
}

impl<S> ReadStamped<S> {
    /// The stream and the time of its latest read that returned bytes (at first, now).
    pub fn new(inner: S) -> (Self, Rc<Cell<Instant>>) {
        let last_read = Rc::new(Cell::new(Instant::now()));
        let stamped = ReadStamped {
            inner,
            last_read: last_read.clone(),
        };
        (stamped, last_read)
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for ReadStamped<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(read)) if read > 0) {
            this.last_read.set(Instant::now());
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for ReadStamped<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_close(cx)
    }
}
