//! The long polls one core holds (`POST /v1/cs/configs/listener`): who waits, until when.
//! No I/O and no clock of its own: the core admits a poll with the time it was read, wakes it
//! when an owner core reports a change, and sweeps expired ones every `CONFIG_POLL_SWEEP_MS`,
//! so a held request costs an entry here rather than a reactor timer.
//!
//! `W` is how a waiter is told (the core uses a oneshot sender): waking hands it back to the
//! caller, expiry hands it back too, and dropping it tells the waiter it timed out.

use std::collections::BTreeSet;

use hashbrown::HashMap;

/// Poll ids carry the holding core in the top 16 bits, like connection ids, so an owner core
/// knows where to send a wake.
const HOLDER_SHIFT: u32 = 48;

/// The core holding poll `poll`.
pub fn poll_holder(poll: u64) -> usize {
    (poll >> HOLDER_SHIFT) as usize
}

/// Why a poll was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableFull {
    pub held_max: usize,
}

struct Held<W> {
    deadline_ms: u64,
    waiter: W,
}

pub struct PollTable<W> {
    holder: usize,
    held_max: usize,
    next_serial: u64,
    held: HashMap<u64, Held<W>>,
    /// (deadline, poll), so expiry walks from the front.
    by_deadline: BTreeSet<(u64, u64)>,
}

impl<W> PollTable<W> {
    pub fn new(holder: usize, held_max: usize) -> PollTable<W> {
        assert!(holder < 1 << 16, "a holder core must fit in 16 bits");
        assert!(held_max > 0);
        PollTable {
            holder,
            held_max,
            next_serial: 0,
            held: HashMap::new(),
            by_deadline: BTreeSet::new(),
        }
    }

    pub fn len(&self) -> usize {
        debug_assert_eq!(self.held.len(), self.by_deadline.len());
        self.held.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Holds a poll until `deadline_ms`; its id, or `TableFull` at the limit.
    pub fn admit(&mut self, deadline_ms: u64, waiter: W) -> Result<u64, TableFull> {
        if self.held.len() >= self.held_max {
            return Err(TableFull {
                held_max: self.held_max,
            });
        }
        self.next_serial += 1;
        debug_assert!(self.next_serial < 1 << HOLDER_SHIFT);
        let poll = ((self.holder as u64) << HOLDER_SHIFT) | self.next_serial;
        self.held.insert(
            poll,
            Held {
                deadline_ms,
                waiter,
            },
        );
        self.by_deadline.insert((deadline_ms, poll));
        debug_assert_eq!(poll_holder(poll), self.holder);
        Ok(poll)
    }

    /// Ends a poll early (woken, or answered without waiting); its waiter if still held. A
    /// second wake for the same poll (two of its keys changed) finds nothing.
    pub fn take(&mut self, poll: u64) -> Option<W> {
        let held = self.held.remove(&poll)?;
        let removed = self.by_deadline.remove(&(held.deadline_ms, poll));
        debug_assert!(removed);
        Some(held.waiter)
    }

    /// Ends every poll whose deadline is at or before `now_ms`; their waiters, oldest first.
    pub fn expire(&mut self, now_ms: u64) -> Vec<W> {
        let mut expired = Vec::new();
        while let Some(&(deadline_ms, poll)) = self.by_deadline.first() {
            if deadline_ms > now_ms {
                break;
            }
            self.by_deadline.pop_first();
            if let Some(held) = self.held.remove(&poll) {
                expired.push(held.waiter);
            }
        }
        expired
    }
}

/// How long to hold a poll whose client asked for `timeout_ms`: Java's
/// `max(MIN_LONG_POOLING_TIMEOUT, timeout − FIXED_DELAY_TIME)`, so the answer beats the
/// client's own read timeout, capped so a hostile header cannot park a request for days.
pub fn hold_ms(timeout_ms: u64, min_ms: u64, delay_ms: u64, max_ms: u64) -> u64 {
    debug_assert!(min_ms <= max_ms);
    timeout_ms.saturating_sub(delay_ms).clamp(min_ms, max_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admit_take_expire() {
        let mut table: PollTable<&str> = PollTable::new(3, 2);
        let a = table.admit(100, "a").unwrap();
        let b = table.admit(50, "b").unwrap();
        assert_eq!(table.admit(10, "c"), Err(TableFull { held_max: 2 }));
        assert_eq!((poll_holder(a), poll_holder(b)), (3, 3));
        assert_ne!(a, b);
        assert!(table.expire(49).is_empty());
        assert_eq!(table.expire(50), vec!["b"]);
        assert_eq!(table.take(a), Some("a"));
        assert_eq!(table.take(a), None, "a second wake finds nothing");
        assert!(table.is_empty());
        assert!(table.expire(1_000).is_empty());
    }

    #[test]
    fn expiry_is_oldest_first_and_leaves_later_ones() {
        let mut table: PollTable<u32> = PollTable::new(0, 10);
        for (i, deadline) in [30, 10, 20, 40].into_iter().enumerate() {
            table.admit(deadline, i as u32).unwrap();
        }
        assert_eq!(table.expire(30), vec![1, 2, 0]);
        assert_eq!(table.len(), 1);
    }

    #[test]
    fn hold_follows_java_and_is_capped() {
        assert_eq!(hold_ms(30_000, 10_000, 500, 120_000), 29_500);
        assert_eq!(hold_ms(3_000, 10_000, 500, 120_000), 10_000);
        assert_eq!(hold_ms(0, 10_000, 500, 120_000), 10_000);
        assert_eq!(hold_ms(u64::MAX, 10_000, 500, 120_000), 120_000);
    }
}
