//! Per-core hierarchical timing wheel for instance heartbeat expiry.
//!
//! Each core of the thread-per-core server owns one `TimingWheel` holding the
//! expiry deadlines of the ephemeral instances that core is responsible for.
//! It is a plain single-owner data structure: no locks, no threads, no clock of
//! its own. The core's event loop reads its monotonic clock and calls
//! `advance_to(now_ms, &mut fired)`; the wheel hands back exactly the entries
//! whose deadline has passed.
//!
//! Why a wheel: a heartbeat must move an instance's deadline in O(1) and an
//! expiry must pop in O(1), and there must be no periodic scan over all
//! instances. A second of wheel time costs the same whether 10 or 10^6 entries
//! are pending but not yet due: empty stretches are skipped through per-level
//! occupancy bitmaps, and an entry is only touched when its slot comes due
//! (once per level on its way down, at most `LEVELS` moves plus the final pop).
//! Advancing over a large gap (a stalled process, a test jumping an hour) costs
//! the number of non-empty slots visited plus entries moved, not elapsed ms.
//!
//! Layout: 1 ms resolution, `LEVELS` = 4 levels of 64 slots (6 bits each), so
//! the levels cover 64^4 ms (about 4.66 h). An entry sits at the level of the
//! highest 6-bit group in which its deadline differs from `now` (as in tokio's
//! timer), in the slot named by that group of the deadline. When wheel time
//! reaches the start of a level-L slot, its entries cascade to lower levels; a
//! level-0 slot spans exactly one millisecond, so its entries fire together.
//! Deadlines outside the current 64^4 ms block wait in an overflow list and are
//! re-placed into the levels when time reaches their block (that list is only
//! walked then, so it costs nothing per tick).
//!
//! No cancel: callers cancel lazily. Keep a generation (or the current
//! deadline) in `T`, bump it on deregistration, and ignore fired entries whose
//! generation is stale. Two caller patterns work:
//! - re-insert on every beat: one `insert` per beat, stale entries are dropped
//!   when they fire (pending entries ~ instances x timeout / beat interval);
//! - re-arm on fire: a beat only updates the deadline stored in the instance;
//!   when the old entry fires and the stored deadline is later, insert it again
//!   (one pending entry per instance, one extra pop per timeout period).
//!
//! Ordering: entries returned by one `advance_to` call come in non-decreasing
//! deadline order. An entry inserted with a deadline <= now waits in a due list
//! and fires first on the next advance that moves time forward, so across calls
//! such a late entry can carry an earlier deadline than one already returned.

use std::mem;

/// Bits of the deadline consumed per level; 64 slots make the occupancy of a
/// level exactly one `u64`, so finding the next non-empty slot is one
/// `trailing_zeros`.
const SLOT_BITS: u32 = 6;
const SLOTS: usize = 1 << SLOT_BITS;
const SLOT_MASK: u64 = (SLOTS as u64) - 1;
/// 4 levels reach 64^4 ms (about 4.66 h): far beyond heartbeat timeouts, so the
/// overflow list stays empty in normal operation.
const LEVELS: usize = 4;
/// Size of the block covered by all levels; deadlines outside `now`'s block
/// go to the overflow list.
const WHEEL_SPAN_MS: u64 = 1 << (SLOT_BITS * LEVELS as u32);

/// One ring of 64 slots. Bit `i` of `occupied` is set iff `slots[i]` is
/// non-empty; this is what lets time skip empty slots without visiting them.
struct Level<T> {
    occupied: u64,
    slots: [Vec<(u64, T)>; SLOTS],
}

impl<T> Level<T> {
    fn new() -> Self {
        Level {
            occupied: 0,
            slots: std::array::from_fn(|_| Vec::new()),
        }
    }
}

/// Hierarchical timing wheel with 1 ms resolution; see the module docs.
pub struct TimingWheel<T> {
    now_ms: u64,
    /// Entries held anywhere (due list, levels, overflow); kept so `len` is O(1).
    len: usize,
    /// Boxed so the wheel itself stays small enough to move cheaply (~6 KiB of slot headers).
    levels: Box<[Level<T>; LEVELS]>,
    /// Entries inserted with deadline <= now; they fire on the next forward advance.
    due: Vec<(u64, T)>,
    /// Min deadline in `due` (u64::MAX when empty), for `next_deadline_ms`.
    due_min_ms: u64,
    /// Entries whose deadline lies outside the current 64^4 ms block.
    overflow: Vec<(u64, T)>,
    /// Min deadline in `overflow` (u64::MAX when empty); tells when to refill.
    overflow_min_ms: u64,
    /// Empty buffer swapped into a slot while its entries are redistributed, so
    /// cascades recycle allocations instead of freeing and re-growing them.
    spare: Vec<(u64, T)>,
    /// Entries cascaded, refilled or fired since creation; lets tests check
    /// structurally that idle ticks touch no entries.
    #[cfg(test)]
    moved_items: u64,
}

/// Level an entry belongs to: the highest 6-bit group where deadline and now
/// differ. Ors in the level-0 bits so that equal values map to level 0 rather
/// than underflowing `leading_zeros`. A result >= `LEVELS` means overflow.
fn level_for(now_ms: u64, deadline_ms: u64) -> usize {
    let differing = (now_ms ^ deadline_ms) | SLOT_MASK;
    ((63 - differing.leading_zeros()) / SLOT_BITS) as usize
}

/// Slot within `level` that holds `deadline_ms`.
fn slot_for(deadline_ms: u64, level: usize) -> usize {
    ((deadline_ms >> (SLOT_BITS * level as u32)) & SLOT_MASK) as usize
}

/// Milliseconds covered by one slot of `level`.
fn slot_span_ms(level: usize) -> u64 {
    1 << (SLOT_BITS * level as u32)
}

/// First millisecond of `slot` at `level` within `now_ms`'s block of that level.
fn slot_start_ms(now_ms: u64, level: usize, slot: usize) -> u64 {
    let shift = SLOT_BITS * level as u32;
    let block_mask = (1u64 << (shift + SLOT_BITS)) - 1;
    (now_ms & !block_mask) | ((slot as u64) << shift)
}

impl<T> TimingWheel<T> {
    /// `start_ms`: the wheel's current time in ms (monotonic clock reading, u64).
    pub fn new(start_ms: u64) -> Self {
        TimingWheel {
            now_ms: start_ms,
            len: 0,
            levels: Box::new(std::array::from_fn(|_| Level::new())),
            due: Vec::new(),
            due_min_ms: u64::MAX,
            overflow: Vec::new(),
            overflow_min_ms: u64::MAX,
            spare: Vec::new(),
            #[cfg(test)]
            moved_items: 0,
        }
    }

    /// Current wheel time (the last `advance_to` target, or start).
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// Number of pending entries, stale ones included (the wheel cannot tell).
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Schedule `item` to fire at `deadline_ms`. O(1).
    ///
    /// A deadline <= now fires on the next advance that moves time forward by
    /// >= 1 ms. There is no cancel; see the module docs for lazy cancellation.
    pub fn insert(&mut self, deadline_ms: u64, item: T) {
        self.len += 1;
        if deadline_ms <= self.now_ms {
            // Firing here would need an output vector and would hand entries
            // back in the middle of the caller's own update; defer instead.
            self.due_min_ms = self.due_min_ms.min(deadline_ms);
            self.due.push((deadline_ms, item));
            return;
        }
        self.place(deadline_ms, item);
        debug_assert!(self.len >= self.due.len() + self.overflow.len());
    }

    /// Move time to `now_ms` (never backwards: smaller or equal values are
    /// ignored) and append every entry whose deadline is <= `now_ms` to
    /// `fired` as `(deadline_ms, item)`, in non-decreasing deadline order.
    ///
    /// Cost: O(non-empty slots visited + entries moved), independent of the
    /// number of milliseconds skipped.
    pub fn advance_to(&mut self, now_ms: u64, fired: &mut Vec<(u64, T)>) {
        if now_ms <= self.now_ms {
            return;
        }
        let fired_before = fired.len();
        let len_before = self.len;
        self.fire_due(fired);
        loop {
            if let Some((level, slot, start_ms)) = self.earliest_slot() {
                if start_ms > now_ms {
                    break;
                }
                // Jump straight to the slot: everything in between is empty.
                self.now_ms = start_ms;
                self.expire_slot(level, slot, fired);
            } else if self.overflow.is_empty() {
                break;
            } else {
                // Levels are empty, so the next event is the start of the
                // block holding the earliest overflow deadline.
                let block_start_ms = self.overflow_min_ms & !(WHEEL_SPAN_MS - 1);
                debug_assert!(block_start_ms > self.now_ms);
                if block_start_ms > now_ms {
                    break;
                }
                self.now_ms = block_start_ms;
                self.refill_from_overflow();
            }
        }
        // Every remaining slot starts after `now_ms`, so each entry's placement
        // is still valid relative to the new time (see `check_invariants`).
        self.now_ms = now_ms;
        let newly_fired = &fired[fired_before..];
        debug_assert_eq!(len_before - self.len, newly_fired.len());
        debug_assert!(newly_fired.windows(2).all(|w| w[0].0 <= w[1].0));
        debug_assert!(newly_fired.last().is_none_or(|&(d, _)| d <= now_ms));
        debug_assert_eq!(self.len, self.count_pending());
    }

    /// Lower bound on the earliest pending deadline; `None` when empty.
    ///
    /// Exact when the earliest entry is overdue (inserted at or before now),
    /// due within the current 64 ms block (level 0), or in overflow. Otherwise
    /// it is the start of the earliest non-empty slot of level L >= 1, up to
    /// 64^L - 1 ms early. Sleeping until this value is never late; advancing to
    /// it cascades that slot, so asking again gives a tighter answer (at most
    /// `LEVELS - 1` extra wakeups per deadline).
    ///
    /// A value <= `now_ms()` means overdue entries: `advance_to(now_ms() + 1)`
    /// or any later time fires them (advancing to the value itself is a no-op).
    pub fn next_deadline_ms(&self) -> Option<u64> {
        if !self.due.is_empty() {
            return Some(self.due_min_ms);
        }
        if let Some((_, _, start_ms)) = self.earliest_slot() {
            return Some(start_ms);
        }
        if !self.overflow.is_empty() {
            return Some(self.overflow_min_ms);
        }
        debug_assert_eq!(self.len, 0);
        None
    }

    /// Put an entry with `deadline_ms >= now` into its level slot or overflow.
    fn place(&mut self, deadline_ms: u64, item: T) {
        debug_assert!(deadline_ms >= self.now_ms);
        let level = level_for(self.now_ms, deadline_ms);
        if level >= LEVELS {
            self.overflow_min_ms = self.overflow_min_ms.min(deadline_ms);
            self.overflow.push((deadline_ms, item));
            return;
        }
        let slot = slot_for(deadline_ms, level);
        let start_ms = slot_start_ms(self.now_ms, level, slot);
        debug_assert!(start_ms <= deadline_ms && deadline_ms - start_ms < slot_span_ms(level));
        // Level >= 1 entries never share now's slot, or cascading it would be skipped.
        debug_assert!(level == 0 || slot != slot_for(self.now_ms, level));
        let ring = &mut self.levels[level];
        ring.slots[slot].push((deadline_ms, item));
        ring.occupied |= 1 << slot;
    }

    /// The earliest non-empty slot as (level, slot, start_ms).
    ///
    /// A level-L entry shares now's level-(L+1) block but not now's level-L
    /// slot, so every entry of a lower level is earlier than every entry of a
    /// higher one: the first non-empty level holds the answer.
    fn earliest_slot(&self) -> Option<(usize, usize, u64)> {
        let level = self.levels.iter().position(|ring| ring.occupied != 0)?;
        let occupied = self.levels[level].occupied;
        let slot = occupied.trailing_zeros() as usize;
        let now_slot = slot_for(self.now_ms, level);
        // Nothing may sit behind now, or it would wait a full rotation.
        debug_assert!(slot > now_slot || (level == 0 && slot == now_slot));
        debug_assert!(!self.levels[level].slots[slot].is_empty());
        let start_ms = slot_start_ms(self.now_ms, level, slot);
        debug_assert!(start_ms >= self.now_ms);
        Some((level, slot, start_ms))
    }

    /// Empty the slot that starts at `self.now_ms`: fire it (level 0) or
    /// cascade its entries to lower levels.
    fn expire_slot(&mut self, level: usize, slot: usize, fired: &mut Vec<(u64, T)>) {
        debug_assert_eq!(slot_start_ms(self.now_ms, level, slot), self.now_ms);
        let ring = &mut self.levels[level];
        debug_assert!(ring.occupied & (1 << slot) != 0 && !ring.slots[slot].is_empty());
        ring.occupied &= !(1 << slot);
        #[cfg(test)]
        {
            self.moved_items += ring.slots[slot].len() as u64;
        }
        if level == 0 {
            // A level-0 slot is a single millisecond: everything in it is due now.
            let entries = &mut ring.slots[slot];
            debug_assert!(entries.iter().all(|&(d, _)| d == self.now_ms));
            self.len -= entries.len();
            fired.append(entries);
            return;
        }
        let mut batch = mem::replace(&mut ring.slots[slot], mem::take(&mut self.spare));
        for (deadline_ms, item) in batch.drain(..) {
            debug_assert!(level_for(self.now_ms, deadline_ms) < level);
            self.place(deadline_ms, item);
        }
        self.spare = batch;
        debug_assert!(self.levels[level].slots[slot].is_empty());
    }

    /// Re-place overflow entries now that time sits at the start of a new
    /// 64^4 ms block; those still out of range go back to the overflow list.
    fn refill_from_overflow(&mut self) {
        debug_assert!(self.levels.iter().all(|ring| ring.occupied == 0));
        debug_assert_eq!(self.now_ms % WHEEL_SPAN_MS, 0);
        let mut batch = mem::replace(&mut self.overflow, mem::take(&mut self.spare));
        #[cfg(test)]
        {
            self.moved_items += batch.len() as u64;
        }
        self.overflow_min_ms = u64::MAX;
        for (deadline_ms, item) in batch.drain(..) {
            self.place(deadline_ms, item);
        }
        self.spare = batch;
        // The earliest overflow entry was in this block, so progress is made.
        debug_assert!(self.levels.iter().any(|ring| ring.occupied != 0));
    }

    /// Fire entries inserted late (deadline <= the previous now); they are all
    /// earlier than anything in the levels, so they go first.
    fn fire_due(&mut self, fired: &mut Vec<(u64, T)>) {
        if self.due.is_empty() {
            return;
        }
        debug_assert!(self.due.iter().all(|&(d, _)| d <= self.now_ms));
        // Callers insert in arbitrary order; stable sort keeps ties in insert order.
        self.due.sort_by_key(|&(deadline_ms, _)| deadline_ms);
        debug_assert_eq!(self.due[0].0, self.due_min_ms);
        self.len -= self.due.len();
        fired.append(&mut self.due);
        self.due_min_ms = u64::MAX;
    }

    /// Recount entries (O(slots), debug checks only) and verify that each
    /// occupancy bit is set iff its slot is non-empty.
    fn count_pending(&self) -> usize {
        let mut count = self.due.len() + self.overflow.len();
        for ring in self.levels.iter() {
            for (slot, entries) in ring.slots.iter().enumerate() {
                debug_assert_eq!(ring.occupied & (1 << slot) != 0, !entries.is_empty());
                count += entries.len();
            }
        }
        count
    }

    /// Full O(n) placement check of every entry; tests only.
    #[cfg(test)]
    fn check_invariants(&self) {
        assert_eq!(self.len, self.count_pending());
        for &(d, _) in &self.due {
            assert!(d <= self.now_ms && d >= self.due_min_ms);
        }
        for &(d, _) in &self.overflow {
            assert!(level_for(self.now_ms, d) >= LEVELS && d > self.now_ms);
            assert!(d >= self.overflow_min_ms);
        }
        for (level, ring) in self.levels.iter().enumerate() {
            for (slot, entries) in ring.slots.iter().enumerate() {
                for &(d, _) in entries {
                    assert!(d > self.now_ms, "entry {d} not after now {}", self.now_ms);
                    assert_eq!(level_for(self.now_ms, d), level);
                    assert_eq!(slot_for(d, level), slot);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    const HOUR_MS: u64 = 3_600_000;

    /// Deterministic xorshift64 so tests need no rand crate and are reproducible.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }

        fn below(&mut self, bound: u64) -> u64 {
            self.next() % bound
        }
    }

    fn advance(wheel: &mut TimingWheel<usize>, now_ms: u64) -> Vec<(u64, usize)> {
        let mut fired = Vec::new();
        wheel.advance_to(now_ms, &mut fired);
        fired
    }

    /// Inserts `deadlines` (id = index) at `start_ms`, advances through the
    /// ascending `targets`, and checks each call returns exactly the entries
    /// with deadline in (previous now, target], in non-decreasing order.
    fn check_targets(start_ms: u64, deadlines: &[u64], targets: &[u64]) {
        let mut wheel = TimingWheel::new(start_ms);
        for (id, &d) in deadlines.iter().enumerate() {
            assert!(d > start_ms);
            wheel.insert(d, id);
        }
        wheel.check_invariants();
        let mut prev_ms = start_ms;
        let mut fired_total = 0;
        for &target in targets {
            let mut fired = advance(&mut wheel, target);
            assert!(
                fired.windows(2).all(|w| w[0].0 <= w[1].0),
                "order at {target}"
            );
            fired.sort_by_key(|&(d, id)| (d, id));
            let mut expected: Vec<(u64, usize)> = (deadlines.iter().copied().enumerate())
                .filter(|&(_, d)| d > prev_ms && d <= target)
                .map(|(id, d)| (d, id))
                .collect();
            expected.sort();
            assert_eq!(fired, expected, "advance {prev_ms} -> {target}");
            fired_total += fired.len();
            prev_ms = prev_ms.max(target);
            wheel.check_invariants();
        }
        assert_eq!(wheel.len(), deadlines.len() - fired_total);
    }

    /// For each deadline, targets d-1 (must not fire it) and d (must fire it).
    fn targets_around(deadlines: &[u64]) -> Vec<u64> {
        let mut targets: Vec<u64> = deadlines.iter().flat_map(|&d| [d - 1, d]).collect();
        targets.sort_unstable();
        targets.dedup();
        targets
    }

    /// An entry fires at its deadline, not 1 ms before, at every level.
    #[test]
    fn fires_exactly_at_deadline() {
        for delta_ms in [1, 5, 64, 5_000, 300_000, 20_000_000] {
            let mut wheel = TimingWheel::new(0);
            wheel.insert(delta_ms, 7);
            assert!(
                advance(&mut wheel, delta_ms - 1).is_empty(),
                "early at {delta_ms}"
            );
            assert_eq!(advance(&mut wheel, delta_ms), vec![(delta_ms, 7)]);
            assert!(wheel.is_empty());
        }
    }

    /// Deadlines at or before now fire on the next forward advance, sorted.
    #[test]
    fn past_deadline_fires_on_next_advance() {
        let mut wheel = TimingWheel::new(1_000);
        wheel.insert(1_000, 1);
        wheel.insert(500, 0);
        wheel.insert(1_001, 2);
        assert_eq!(wheel.len(), 3);
        assert!(
            advance(&mut wheel, 1_000).is_empty(),
            "no forward move, no fire"
        );
        assert_eq!(
            advance(&mut wheel, 1_001),
            vec![(500, 0), (1_000, 1), (1_001, 2)]
        );
        assert!(wheel.is_empty());
    }

    /// 100_000 random deadlines up to 2 h each fire exactly once, at the first
    /// advance whose target reaches them, in non-decreasing deadline order.
    #[test]
    fn random_deadlines_fire_once_in_order() {
        const N: usize = 100_000;
        let start_ms = 987_654_321;
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        let mut wheel = TimingWheel::new(start_ms);
        let deadlines: Vec<u64> = (0..N)
            .map(|_| start_ms + 1 + rng.below(2 * HOUR_MS))
            .collect();
        for (id, &d) in deadlines.iter().enumerate() {
            wheel.insert(d, id);
        }
        let mut seen = vec![false; N];
        let (mut now_ms, mut last_ms) = (start_ms, 0);
        let mut fired = Vec::new();
        while now_ms <= start_ms + 2 * HOUR_MS {
            let step_ms = match rng.below(100) {
                0 => rng.below(600_000),
                1..=20 => rng.below(5_000),
                _ => rng.below(70),
            };
            let prev_ms = now_ms;
            now_ms += step_ms + 1;
            fired.clear();
            wheel.advance_to(now_ms, &mut fired);
            for &(d, id) in &fired {
                assert_eq!(d, deadlines[id]);
                assert!(
                    d > prev_ms && d <= now_ms,
                    "{d} fired in ({prev_ms}, {now_ms}]"
                );
                assert!(!seen[id], "fired twice");
                assert!(d >= last_ms, "out of order");
                seen[id] = true;
                last_ms = d;
            }
        }
        assert!(seen.iter().all(|&s| s));
        assert!(wheel.is_empty());
        wheel.check_invariants();
    }

    /// Deadlines straddling every level boundary fire exactly on time, as
    /// offsets from start and as absolute multiples, from aligned and
    /// non-aligned starts.
    #[test]
    fn cascade_boundaries_fire_exactly() {
        let boundaries = [64u64, 4_096, 64u64.pow(3), 64u64.pow(4)];
        for start_ms in [0u64, 1_234_567, 64u64.pow(4) - 3, 5 * 64u64.pow(4) + 4_095] {
            let mut deadlines = Vec::new();
            for b in boundaries {
                let next_multiple = (start_ms / b + 1) * b;
                for base in [start_ms + b, next_multiple, next_multiple + b] {
                    deadlines.extend([base - 1, base, base + 1]);
                }
            }
            deadlines.retain(|&d| d > start_ms);
            check_targets(start_ms, &deadlines, &targets_around(&deadlines));
        }
    }

    /// Deadlines beyond the 64^4 ms top level wait in overflow and still fire
    /// exactly on time, including the very last representable millisecond.
    #[test]
    fn overflow_beyond_top_level() {
        let start_ms = 5;
        let deadlines = [
            WHEEL_SPAN_MS + 10,
            3 * WHEEL_SPAN_MS + 7,
            3 * WHEEL_SPAN_MS + 7,
            10_000_000_000,
            1_000_000_000_003,
            u64::MAX - 1,
            u64::MAX,
        ];
        let mut wheel = TimingWheel::new(start_ms);
        for (id, &d) in deadlines.iter().enumerate() {
            wheel.insert(d, id);
        }
        assert_eq!(wheel.overflow.len(), deadlines.len());
        assert_eq!(wheel.next_deadline_ms(), Some(WHEEL_SPAN_MS + 10));
        check_targets(start_ms, &deadlines, &targets_around(&deadlines));
    }

    /// One 10 h jump fires everything in order, moving each entry a bounded
    /// number of times rather than costing per elapsed millisecond.
    #[test]
    fn big_jump_fires_everything_in_order() {
        const N: usize = 50_000;
        let start_ms = 42;
        let mut rng = XorShift(12345);
        let mut wheel = TimingWheel::new(start_ms);
        for id in 0..N {
            wheel.insert(start_ms + 1 + rng.below(10 * HOUR_MS), id);
        }
        let fired = advance(&mut wheel, start_ms + 10 * HOUR_MS);
        assert_eq!(fired.len(), N);
        assert!(fired.windows(2).all(|w| w[0].0 <= w[1].0));
        let mut ids: Vec<usize> = fired.iter().map(|&(_, id)| id).collect();
        ids.sort_unstable();
        assert!(ids.iter().copied().eq(0..N));
        // Each entry: at most one refill, LEVELS - 1 cascades and one fire.
        assert!(wheel.moved_items <= (N * (LEVELS + 1)) as u64);
        assert!(wheel.is_empty());
    }

    /// `advance_to` with an earlier or equal time changes nothing and fires
    /// nothing, not even overdue entries.
    #[test]
    fn advance_backwards_is_noop() {
        let mut wheel = TimingWheel::new(0);
        wheel.insert(2_000, 1);
        assert!(advance(&mut wheel, 1_000).is_empty());
        wheel.insert(700, 0);
        assert!(advance(&mut wheel, 500).is_empty());
        assert_eq!(wheel.now_ms(), 1_000);
        assert!(advance(&mut wheel, 1_000).is_empty());
        assert_eq!(wheel.len(), 2);
        assert_eq!(advance(&mut wheel, 1_001), vec![(700, 0)]);
        assert_eq!(advance(&mut wheel, 2_000), vec![(2_000, 1)]);
    }

    /// Inserting relative to a non-zero, non-aligned now (heartbeat pattern:
    /// now + 15 s) fires at the right millisecond after stepping time.
    #[test]
    fn insert_during_time_fires_on_time() {
        let mut wheel = TimingWheel::new(0);
        assert!(advance(&mut wheel, 1_000_003).is_empty());
        let deadline_ms = wheel.now_ms() + 15_000;
        wheel.insert(deadline_ms, 9);
        let mut now_ms = wheel.now_ms();
        while now_ms + 37 < deadline_ms {
            now_ms += 37;
            assert!(advance(&mut wheel, now_ms).is_empty(), "early at {now_ms}");
            wheel.check_invariants();
        }
        assert!(advance(&mut wheel, deadline_ms - 1).is_empty());
        assert_eq!(advance(&mut wheel, deadline_ms), vec![(deadline_ms, 9)]);
    }

    /// `len`/`is_empty` track inserts (future, past, overflow) and fires.
    #[test]
    fn len_tracking() {
        let mut wheel = TimingWheel::new(100);
        assert!(wheel.is_empty());
        wheel.insert(50, 0);
        wheel.insert(150, 1);
        wheel.insert(10_000, 2);
        wheel.insert(100 + 2 * WHEEL_SPAN_MS, 3);
        assert_eq!(wheel.len(), 4);
        assert_eq!(advance(&mut wheel, 150).len(), 2);
        assert_eq!(wheel.len(), 2);
        assert_eq!(advance(&mut wheel, 10_000).len(), 1);
        assert_eq!(wheel.len(), 1);
        assert_eq!(advance(&mut wheel, 100 + 2 * WHEEL_SPAN_MS).len(), 1);
        assert!(wheel.is_empty());
    }

    /// One second of 1 ms ticks with 10^6 far-future entries pending (in the
    /// levels and in overflow) fires nothing and moves no entry at all.
    #[test]
    fn idle_ticks_touch_no_entries() {
        let start_ms = 7_777_777;
        let mut rng = XorShift(0xDEAD_BEEF);
        let mut wheel = TimingWheel::new(start_ms);
        for id in 0..1_000_000 {
            wheel.insert(start_ms + HOUR_MS + rng.below(2 * HOUR_MS), id);
        }
        assert!(
            !wheel.overflow.is_empty(),
            "some entries should be in overflow"
        );
        let mut fired = Vec::new();
        for tick in 1..=1_000 {
            wheel.advance_to(start_ms + tick, &mut fired);
        }
        assert!(fired.is_empty());
        assert_eq!(wheel.moved_items, 0);
        assert_eq!(wheel.len(), 1_000_000);
    }

    /// `next_deadline_ms` is never later than the true earliest deadline, is
    /// exact in level 0 / due list / overflow, and tightens after advancing.
    #[test]
    fn next_deadline_is_a_tight_enough_lower_bound() {
        let mut wheel = TimingWheel::new(1_000);
        assert_eq!(wheel.next_deadline_ms(), None);
        wheel.insert(1_000 + 15_000, 0);
        let bound = wheel.next_deadline_ms().unwrap();
        assert!(bound <= 16_000 && bound > 1_000);
        let mut fired = Vec::new();
        let mut wakeups = 0;
        while fired.is_empty() {
            let wake_ms = wheel.next_deadline_ms().unwrap();
            wheel.advance_to(wake_ms, &mut fired);
            wakeups += 1;
        }
        assert_eq!(fired, vec![(16_000, 0)]);
        assert!(wakeups <= LEVELS);
        wheel.insert(16_010, 1);
        assert_eq!(wheel.next_deadline_ms(), Some(16_010));
        wheel.insert(900, 2);
        assert_eq!(wheel.next_deadline_ms(), Some(900));
    }

    /// Randomised comparison against a BTreeSet model with interleaved
    /// inserts (future, past, overflow), forward and backward advances.
    #[test]
    fn matches_model_under_random_operations() {
        let mut rng = XorShift(0x0123_4567_89AB_CDEF);
        let start_ms = 3 * WHEEL_SPAN_MS - 50_000;
        let mut wheel = TimingWheel::new(start_ms);
        let mut model: BTreeSet<(u64, usize)> = BTreeSet::new();
        let mut next_id = 0;
        for round in 0..20_000 {
            let now_ms = wheel.now_ms();
            for _ in 0..rng.below(4) {
                let deadline_ms = match rng.below(10) {
                    0 => now_ms.saturating_sub(rng.below(1_000)),
                    1 => now_ms + rng.below(3 * WHEEL_SPAN_MS),
                    2..=4 => now_ms + rng.below(300_000),
                    _ => now_ms + rng.below(20_000),
                };
                wheel.insert(deadline_ms, next_id);
                model.insert((deadline_ms, next_id));
                next_id += 1;
            }
            let target_ms = match rng.below(20) {
                0 => now_ms.saturating_sub(rng.below(100)),
                1 => now_ms + rng.below(WHEEL_SPAN_MS),
                _ => now_ms + rng.below(200),
            };
            let mut fired = advance(&mut wheel, target_ms);
            assert!(fired.windows(2).all(|w| w[0].0 <= w[1].0));
            fired.sort_unstable();
            let expected: Vec<(u64, usize)> = if target_ms > now_ms {
                let rest = model.split_off(&(target_ms + 1, 0));
                mem::replace(&mut model, rest).into_iter().collect()
            } else {
                Vec::new()
            };
            assert_eq!(fired, expected, "round {round}");
            assert_eq!(wheel.len(), model.len());
            if round % 1_000 == 0 {
                wheel.check_invariants();
            }
        }
    }

    /// Lazy cancellation as callers use it: a stale generation fires and is
    /// ignored, only the latest re-armed deadline counts as an expiry.
    #[test]
    fn lazy_cancellation_by_generation() {
        let mut wheel: TimingWheel<(u32, u64)> = TimingWheel::new(0);
        let mut generation = [0u64; 2];
        // Instance 0 beats at t=5_000, moving its deadline from 15_000 to 20_000.
        wheel.insert(15_000, (0, 0));
        wheel.insert(15_000, (1, 0));
        let mut fired = Vec::new();
        wheel.advance_to(5_000, &mut fired);
        generation[0] += 1;
        wheel.insert(20_000, (0, generation[0]));
        wheel.advance_to(20_000, &mut fired);
        let expired: Vec<(u64, u32)> = fired
            .iter()
            .filter(|(_, (inst, seen_gen))| generation[*inst as usize] == *seen_gen)
            .map(|&(d, (inst, _))| (d, inst))
            .collect();
        assert_eq!(fired.len(), 3);
        assert_eq!(expired, vec![(15_000, 1), (20_000, 0)]);
    }
}
