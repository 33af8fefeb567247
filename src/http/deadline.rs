//! Coarse deadlines for HTTP/1.1 connections. A glommio read timeout reads the clock and arms
//! and cancels a reactor timer on every read; at ~100,000 requests/s on one core that was a
//! measurable share of the request path. Instead each connection keeps its deadline in a
//! `Cell`, computed from a per-core clock that a sweeper task advances every
//! `DEADLINE_TICK_MS`; the sweeper shuts down the socket of every connection past its
//! deadline, which ends the connection's pending read. A timeout fires up to one tick late.

use std::cell::{Cell, RefCell};
use std::os::fd::RawFd;
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use crate::limits::DEADLINE_TICK_MS;

/// No deadline: the connection is not waiting on its client (it is working or writing).
const NONE_MS: u64 = u64::MAX;

/// One core's connection deadlines and the coarse clock they are measured on.
pub struct Deadlines {
    origin: Instant,
    /// Milliseconds since `origin`, as of the last tick.
    clock_ms: Cell<u64>,
    watched: RefCell<Vec<Weak<Deadline>>>,
}

/// The deadline of one connection, shared between the connection and the sweeper.
pub struct Deadline {
    /// The socket the sweeper shuts down. Valid while this `Deadline` lives: the connection
    /// drops it before its stream (field order), and the sweeper only reaches it through a
    /// `Weak`.
    fd: RawFd,
    at_ms: Cell<u64>,
    expired: Cell<bool>,
}

impl Deadlines {
    pub fn new() -> Rc<Deadlines> {
        Rc::new(Deadlines {
            origin: Instant::now(),
            clock_ms: Cell::new(0),
            watched: RefCell::new(Vec::new()),
        })
    }

    /// The coarse clock: milliseconds since this core started, at most one tick stale.
    pub fn now_ms(&self) -> u64 {
        self.clock_ms.get()
    }

    /// Starts watching the socket `fd`; the connection keeps the returned handle.
    pub fn watch(&self, fd: RawFd) -> Rc<Deadline> {
        let deadline = Rc::new(Deadline {
            fd,
            at_ms: Cell::new(NONE_MS),
            expired: Cell::new(false),
        });
        self.watched.borrow_mut().push(Rc::downgrade(&deadline));
        deadline
    }

    /// Advances the clock every tick and expires what is due. Runs for the life of the core.
    pub async fn run(self: Rc<Self>) {
        loop {
            glommio::timer::sleep(Duration::from_millis(DEADLINE_TICK_MS)).await;
            self.tick();
        }
    }

    fn tick(&self) {
        let now_ms = self.origin.elapsed().as_millis() as u64;
        debug_assert!(now_ms >= self.clock_ms.get());
        self.clock_ms.set(now_ms);
        self.watched.borrow_mut().retain(|weak| {
            let Some(deadline) = weak.upgrade() else {
                return false;
            };
            if now_ms >= deadline.at_ms.get() && !deadline.expired.get() {
                deadline.expired.set(true);
                // SAFETY: `fd` is the open socket of a live connection (see `Deadline::fd`).
                // Shutting it down wakes the pending read with end-of-stream.
                unsafe { libc::shutdown(deadline.fd, libc::SHUT_RDWR) };
            }
            true
        });
    }
}

impl Deadline {
    /// The connection now waits on its client until `at_ms` on the core's coarse clock.
    pub fn set(&self, at_ms: u64) {
        self.at_ms.set(at_ms);
    }

    /// The connection is not waiting on its client.
    pub fn clear(&self) {
        self.at_ms.set(NONE_MS);
    }

    /// The sweeper shut the socket down because the deadline passed.
    pub fn expired(&self) -> bool {
        self.expired.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only deadlines that passed expire; cleared and dropped ones never do.
    #[test]
    fn expires_only_what_is_due() {
        let deadlines = Deadlines::new();
        // Sockets that are not connected: shutdown fails harmlessly with ENOTCONN.
        let fds: Vec<RawFd> = (0..3)
            .map(|_| unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) })
            .collect();
        assert!(fds.iter().all(|&fd| fd >= 0));
        let due = deadlines.watch(fds[0]);
        let later = deadlines.watch(fds[1]);
        let cleared = deadlines.watch(fds[2]);
        due.set(0);
        later.set(u64::MAX - 1);
        cleared.set(0);
        cleared.clear();
        let dropped = deadlines.watch(fds[2]);
        drop(dropped);
        deadlines.tick();
        assert!(due.expired());
        assert!(!later.expired());
        assert!(!cleared.expired());
        assert_eq!(deadlines.watched.borrow().len(), 3);
        for fd in fds {
            unsafe { libc::close(fd) };
        }
    }
}
