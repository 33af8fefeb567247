//! A latency histogram with fixed bucket boundaries (µs): recording is a short scan of a
//! const array and two adds, merging is element-wise, and the buckets are the same on every
//! core, so snapshots sum without any rebucketing.

/// Upper bounds (inclusive, µs) of the latency buckets; one more bucket above the last counts
/// everything slower (`+Inf`). From 50 µs (an owned read on an idle core) to 30 s (a long poll
/// held for its whole timeout).
pub const LATENCY_BUCKET_BOUNDS_US: [u64; 18] = [
    50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000, 5_000_000, 10_000_000, 30_000_000,
];

/// Buckets per histogram: the bounded ones plus `+Inf`.
pub const BUCKETS: usize = LATENCY_BUCKET_BOUNDS_US.len() + 1;

const _: () = assert!(LATENCY_BUCKET_BOUNDS_US[0] > 0);
const _: () = {
    let mut i = 1;
    while i < LATENCY_BUCKET_BOUNDS_US.len() {
        assert!(LATENCY_BUCKET_BOUNDS_US[i - 1] < LATENCY_BUCKET_BOUNDS_US[i]);
        i += 1;
    }
};

/// Counts per bucket (not cumulative: cumulated when encoded), their total and the sum of
/// the recorded values. Plain data: it lives in one core's state and is copied at scrape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Histogram {
    counts: [u64; BUCKETS],
    count: u64,
    sum_us: u64,
}

impl Default for Histogram {
    fn default() -> Histogram {
        Histogram {
            counts: [0; BUCKETS],
            count: 0,
            sum_us: 0,
        }
    }
}

impl Histogram {
    /// Counts one value. A linear scan: the common (fast) values stop in the first few bounds.
    pub fn record(&mut self, value_us: u64) {
        let mut bucket = LATENCY_BUCKET_BOUNDS_US.len();
        for (index, &bound_us) in LATENCY_BUCKET_BOUNDS_US.iter().enumerate() {
            if value_us <= bound_us {
                bucket = index;
                break;
            }
        }
        debug_assert!(bucket < BUCKETS);
        self.counts[bucket] += 1;
        self.count += 1;
        self.sum_us = self.sum_us.saturating_add(value_us);
    }

    /// Adds another core's counts to these.
    pub fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts.iter()) {
            *mine += theirs;
        }
        self.count += other.count;
        self.sum_us = self.sum_us.saturating_add(other.sum_us);
        debug_assert_eq!(self.count, self.counts.iter().sum::<u64>());
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn sum_us(&self) -> u64 {
        self.sum_us
    }

    /// Cumulative counts per bound (µs), `None` being `+Inf`; the last equals `count()`.
    pub fn cumulative(&self) -> impl Iterator<Item = (Option<u64>, u64)> + '_ {
        let mut total = 0;
        self.counts.iter().enumerate().map(move |(index, &n)| {
            total += n;
            (LATENCY_BUCKET_BOUNDS_US.get(index).copied(), total)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values land in the first bucket whose bound they do not exceed; cumulative counts
    /// end at the total; a merge adds both.
    #[test]
    fn buckets_and_merge() {
        let mut h = Histogram::default();
        h.record(0);
        h.record(50);
        h.record(51);
        h.record(u64::MAX);
        let cumulative: Vec<_> = h.cumulative().collect();
        assert_eq!(cumulative[0], (Some(50), 2));
        assert_eq!(cumulative[1], (Some(100), 3));
        assert_eq!(cumulative[BUCKETS - 1], (None, 4));
        assert_eq!(h.count(), 4);
        let mut other = Histogram::default();
        other.record(1_000);
        h.merge(&other);
        assert_eq!(h.count(), 5);
        assert_eq!(h.cumulative().last(), Some((None, 5)));
    }
}
