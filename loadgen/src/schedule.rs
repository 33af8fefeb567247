//! The open-loop (fixed-rate) schedule: the intended send time of every request, so that a
//! slow server delays requests without lowering the offered load, and latency is measured
//! from the intended time (no coordinated omission).

use std::cell::Cell;
use std::time::{Duration, Instant};

/// Intended send times of one core's share of a fixed total rate.
///
/// Slot `k` of core `c` out of `C` cores is global slot `k·C + c`, sent at
/// `start + (k·C + c) / rate_total`: cores interleave evenly instead of all sending at the same
/// instants. Connections of the core claim slots in order when they are free; when every
/// connection is busy, the next slot is claimed late, and its latency includes that wait.
#[derive(Debug)]
pub struct Schedule {
    start: Instant,
    rate_total_per_s: f64,
    cores: u64,
    core: u64,
    next_slot: Cell<u64>,
}

impl Schedule {
    pub fn new(start: Instant, rate_total_per_s: f64, cores: u64, core: u64) -> Self {
        assert!(rate_total_per_s > 0.0, "rate must be positive");
        assert!(core < cores, "core {core} of {cores}");
        Self {
            start,
            rate_total_per_s,
            cores,
            core,
            next_slot: Cell::new(0),
        }
    }

    /// Claims the next slot of this core and returns its intended send time.
    pub fn claim(&self) -> Instant {
        let slot = self.next_slot.get();
        self.next_slot.set(slot + 1);
        self.intended_at(slot)
    }

    /// Claims the next slot of this core and returns its global slot number (unique across
    /// the cores, in order of intended time) with its intended send time.
    pub fn claim_global(&self) -> (u64, Instant) {
        let slot = self.next_slot.get();
        self.next_slot.set(slot + 1);
        (slot * self.cores + self.core, self.intended_at(slot))
    }

    /// Intended send time of this core's slot `slot`.
    pub fn intended_at(&self, slot: u64) -> Instant {
        let global_slot = slot * self.cores + self.core;
        self.start + intended_offset(global_slot, self.rate_total_per_s)
    }
}

/// Offset from the schedule start of global slot `global_slot` at `rate_total_per_s`.
pub fn intended_offset(global_slot: u64, rate_total_per_s: f64) -> Duration {
    debug_assert!(rate_total_per_s > 0.0);
    let offset_ns = (global_slot as f64 * 1e9 / rate_total_per_s).round();
    debug_assert!(offset_ns >= 0.0);
    Duration::from_nanos(offset_ns as u64)
}

/// How many global slots are intended before `span` from the start at `rate_total_per_s`
/// (slot `g` is intended at `intended_offset(g)`, so these are slots `0..count`).
pub fn slots_before(span: Duration, rate_total_per_s: f64) -> u64 {
    assert!(rate_total_per_s > 0.0 && rate_total_per_s.is_finite());
    let mut count = (span.as_secs_f64() * rate_total_per_s).ceil().max(0.0) as u64;
    // The estimate is off by rounding at most; each loop moves it by one slot.
    while count > 0 && intended_offset(count - 1, rate_total_per_s) >= span {
        count -= 1;
    }
    while intended_offset(count, rate_total_per_s) < span {
        count += 1;
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    /// At 1000 req/s, slot k is intended k ms after the start.
    #[test]
    fn offsets_follow_the_rate() {
        assert_eq!(intended_offset(0, 1000.0), Duration::ZERO);
        assert_eq!(intended_offset(1, 1000.0), Duration::from_millis(1));
        assert_eq!(intended_offset(2500, 1000.0), Duration::from_millis(2500));
        // Fractional rates (steady beats of 7 instances at a 5 s period: 1.4/s).
        assert_eq!(intended_offset(7, 1.4), Duration::from_secs(5));
    }

    /// Two cores sharing 100 req/s interleave: core 0 at 0, 20, 40 ms; core 1 at 10, 30, 50 ms.
    #[test]
    fn cores_interleave() {
        let start = Instant::now();
        let core_0 = Schedule::new(start, 100.0, 2, 0);
        let core_1 = Schedule::new(start, 100.0, 2, 1);
        let ms = |at: Instant| at.duration_since(start).as_millis();
        let zero: Vec<u128> = (0..3).map(|_| ms(core_0.claim())).collect();
        let one: Vec<u128> = (0..3).map(|_| ms(core_1.claim())).collect();
        assert_eq!(zero, vec![0, 20, 40]);
        assert_eq!(one, vec![10, 30, 50]);
    }

    /// Claiming never skips or repeats a slot, regardless of wall-clock time: a late claim
    /// still gets the earlier intended time (that is what corrects coordinated omission).
    #[test]
    fn late_claims_keep_intended_times() {
        let start = Instant::now() - Duration::from_secs(10);
        let schedule = Schedule::new(start, 10.0, 1, 0);
        let first = schedule.claim();
        let second = schedule.claim();
        assert_eq!(first, start);
        assert_eq!(second.duration_since(first), Duration::from_millis(100));
        assert!(second < Instant::now());
    }

    /// Global claims number the slots of all cores in order of intended time.
    #[test]
    fn global_claims() {
        let start = Instant::now();
        let core_0 = Schedule::new(start, 100.0, 2, 0);
        let core_1 = Schedule::new(start, 100.0, 2, 1);
        assert_eq!(core_0.claim_global(), (0, start));
        assert_eq!(
            core_1.claim_global(),
            (1, start + Duration::from_millis(10))
        );
        assert_eq!(
            core_0.claim_global(),
            (2, start + Duration::from_millis(20))
        );
    }

    /// Slots before a span: exactly those intended strictly before it.
    #[test]
    fn slots_before_a_span() {
        assert_eq!(slots_before(Duration::ZERO, 1000.0), 0);
        assert_eq!(slots_before(Duration::from_millis(1), 1000.0), 1);
        assert_eq!(slots_before(Duration::from_micros(1001), 1000.0), 2);
        assert_eq!(slots_before(Duration::from_secs(2), 10_000.0), 20_000);
        assert_eq!(slots_before(Duration::from_secs(5), 1.4), 7);
        for (span_ms, rate) in [(12_000u64, 10_000.0), (333, 7.0), (1, 3.3)] {
            let span = Duration::from_millis(span_ms);
            let count = slots_before(span, rate);
            assert!(intended_offset(count, rate) >= span);
            assert!(count == 0 || intended_offset(count - 1, rate) < span);
        }
    }
}
