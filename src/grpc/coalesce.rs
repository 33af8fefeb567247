//! `Coalescing`: a stream whose writes are gathered until the next flush. h2 writes the frames
//! it has buffered one chunk at a time (the compat layer offers no vectored writes), so without
//! this a unary gRPC answer leaves as three sends (headers, data, trailers), each a TCP segment
//! and a wakeup on the client; gathered, it is one. The buffer is released after each flush, so
//! an idle connection holds none.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use futures::io::{AsyncRead, AsyncWrite};

use crate::limits::GRPC_WRITE_COALESCE_BYTES_MAX;

pub struct Coalescing<S> {
    inner: S,
    pending: Vec<u8>,
    /// How much of `pending` the inner stream has taken.
    written: usize,
}

impl<S> Coalescing<S> {
    pub fn new(inner: S) -> Coalescing<S> {
        Coalescing {
            inner,
            pending: Vec::new(),
            written: 0,
        }
    }
}

impl<S: AsyncWrite + Unpin> Coalescing<S> {
    /// Hands everything gathered to the inner stream.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.pending.len() {
            let rest = &self.pending[self.written..];
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, rest))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.pending = Vec::new();
        self.written = 0;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Coalescing<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Coalescing<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.pending.len() + data.len() > GRPC_WRITE_COALESCE_BYTES_MAX {
            ready!(this.poll_drain(cx))?;
            if data.len() >= GRPC_WRITE_COALESCE_BYTES_MAX {
                // A large chunk (a big push): no point copying it.
                return Pin::new(&mut this.inner).poll_write(cx, data);
            }
        }
        this.pending.extend_from_slice(data);
        debug_assert!(this.pending.len() <= GRPC_WRITE_COALESCE_BYTES_MAX);
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_close(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink that counts the writes it is given.
    #[derive(Default)]
    struct Counting {
        bytes: Vec<u8>,
        writes: usize,
    }

    impl AsyncWrite for Counting {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            data: &[u8],
        ) -> Poll<io::Result<usize>> {
            let this = self.get_mut();
            this.writes += 1;
            this.bytes.extend_from_slice(data);
            Poll::Ready(Ok(data.len()))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[test]
    fn writes_until_a_flush_leave_as_one() {
        use futures::io::AsyncWriteExt;
        futures::executor::block_on(async {
            let mut stream = Coalescing::new(Counting::default());
            stream.write_all(b"headers").await.unwrap();
            stream.write_all(b"data").await.unwrap();
            stream.write_all(b"trailers").await.unwrap();
            assert_eq!(stream.inner.writes, 0);
            stream.flush().await.unwrap();
            assert_eq!(stream.inner.writes, 1);
            assert_eq!(stream.inner.bytes, b"headersdatatrailers");
            assert_eq!(
                stream.pending.capacity(),
                0,
                "an idle stream keeps no buffer"
            );
            // A chunk too big to gather goes straight through, after what was gathered.
            let big = vec![7u8; GRPC_WRITE_COALESCE_BYTES_MAX];
            stream.write_all(b"small").await.unwrap();
            stream.write_all(&big).await.unwrap();
            assert_eq!(stream.inner.writes, 3);
            assert_eq!(stream.inner.bytes.len(), 19 + 5 + big.len());
        });
    }
}
