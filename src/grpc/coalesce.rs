//! Write gathering for an HTTP/2 connection: everything h2 writes during one poll of its
//! connection leaves in one send, after that poll.
//!
//! h2 writes its buffered frames one chunk at a time (the compat layer offers no vectored
//! writes) and flushes whenever its encoder holds a data payload it must get rid of before it
//! can encode the next frame. A unary gRPC answer is headers, data and trailers, so h2 flushes
//! between the data and the trailers; each flush written through is a TCP segment and a wakeup
//! on the client. Here h2's flushes are only noted: `Coalescing` (the I/O object h2 owns)
//! gathers, and the connection's driver, which shares the state through a `GatherHandle`,
//! drains it once h2's poll is over. The buffer is released after each drain, so an idle
//! connection holds none.

use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{ready, Context, Poll};

use futures::io::{AsyncRead, AsyncWrite};

use crate::limits::GRPC_WRITE_COALESCE_BYTES_MAX;

struct Gather<S> {
    inner: S,
    pending: Vec<u8>,
    /// How much of `pending` the inner stream has taken.
    written: usize,
}

impl<S: AsyncWrite + Unpin> Gather<S> {
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
        if self.written > 0 {
            self.pending = Vec::new();
            self.written = 0;
        }
        Poll::Ready(Ok(()))
    }
}

/// The I/O object handed to h2: reads pass through, writes are gathered, flushes are noted.
pub struct Coalescing<S> {
    state: Rc<RefCell<Gather<S>>>,
}

/// The driver's side: drains what h2 gathered during its last poll.
pub struct GatherHandle<S> {
    state: Rc<RefCell<Gather<S>>>,
}

/// Wraps `inner`; h2 gets the `Coalescing`, the connection's driver keeps the handle.
pub fn gather<S>(inner: S) -> (Coalescing<S>, GatherHandle<S>) {
    let state = Rc::new(RefCell::new(Gather {
        inner,
        pending: Vec::new(),
        written: 0,
    }));
    let handle = GatherHandle {
        state: state.clone(),
    };
    (Coalescing { state }, handle)
}

impl<S: AsyncWrite + Unpin> GatherHandle<S> {
    pub fn poll_drain(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut state = self.state.borrow_mut();
        ready!(state.poll_drain(cx))?;
        Pin::new(&mut state.inner).poll_flush(cx)
    }

    /// Polls `future` (which drives h2), then sends what that poll wrote. A failed send
    /// ends it with the error: the connection is gone.
    pub async fn drive<F: Future>(&self, future: F) -> io::Result<F::Output> {
        let mut future = std::pin::pin!(future);
        std::future::poll_fn(|cx| {
            let polled = future.as_mut().poll(cx);
            match self.poll_drain(cx) {
                Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
                // A drain still pending has registered this task's waker with the socket.
                Poll::Ready(Ok(())) | Poll::Pending => polled.map(Ok),
            }
        })
        .await
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Coalescing<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.state.borrow_mut().inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Coalescing<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut state = self.state.borrow_mut();
        if state.pending.len() + data.len() > GRPC_WRITE_COALESCE_BYTES_MAX {
            ready!(state.poll_drain(cx))?;
            if data.len() >= GRPC_WRITE_COALESCE_BYTES_MAX {
                // A large chunk (a big push): no point copying it.
                return Pin::new(&mut state.inner).poll_write(cx, data);
            }
        }
        state.pending.extend_from_slice(data);
        debug_assert!(state.pending.len() <= GRPC_WRITE_COALESCE_BYTES_MAX);
        Poll::Ready(Ok(data.len()))
    }

    /// Only noted: the driver drains once h2's poll is over (`GatherHandle::drive`).
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut state = self.state.borrow_mut();
        ready!(state.poll_drain(cx))?;
        Pin::new(&mut state.inner).poll_close(cx)
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
    fn writes_and_flushes_of_one_poll_leave_as_one() {
        use futures::io::AsyncWriteExt;
        futures::executor::block_on(async {
            let (mut stream, handle) = gather(Counting::default());
            let writes = |h: &GatherHandle<Counting>| h.state.borrow().inner.writes;
            // What h2 does in one poll: a frame, a flush, more frames, a flush.
            let one_poll = async {
                stream.write_all(b"headers").await.unwrap();
                stream.write_all(b"data").await.unwrap();
                stream.flush().await.unwrap();
                stream.write_all(b"trailers").await.unwrap();
                stream.flush().await.unwrap();
            };
            handle.drive(one_poll).await.unwrap();
            assert_eq!(writes(&handle), 1);
            assert_eq!(handle.state.borrow().inner.bytes, b"headersdatatrailers");
            assert_eq!(
                handle.state.borrow().pending.capacity(),
                0,
                "an idle stream keeps no buffer"
            );
            // A chunk too big to gather goes straight through, after what was gathered.
            let big = vec![7u8; GRPC_WRITE_COALESCE_BYTES_MAX];
            stream.write_all(b"small").await.unwrap();
            stream.write_all(&big).await.unwrap();
            assert_eq!(writes(&handle), 3);
            assert_eq!(handle.state.borrow().inner.bytes.len(), 19 + 5 + big.len());
        });
    }
}
