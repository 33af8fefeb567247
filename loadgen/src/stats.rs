//! What a run measured: per-core latency histograms and counters by outcome, merged at the end,
//! plus the lock-free live counters the progress line reads every second.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::limits::{LATENCY_SIGNIFICANT_DIGITS, LATENCY_US_MAX};

/// Why a request did not count as a success.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ErrorKind {
    /// A complete response with a non-2xx status.
    Status(u16),
    /// The TCP connect failed or timed out.
    Connect,
    /// The connection failed while sending or receiving (reset, early EOF).
    Io,
    /// No complete response within `--timeout`.
    Timeout,
    /// The response could not be parsed or broke a limit.
    Protocol,
    /// HTTP 2xx, but Nacos reported a failure (beat `code` != 10200, register body != `ok`,
    /// a gRPC reply with `resultCode` != 200 or an `ErrorResponse`).
    Nacos,
    /// A gRPC call that ended with a non-zero `grpc-status`.
    GrpcStatus(u16),
    /// A churn change a subscriber never received a push for (`grpc-subscribe-push`).
    MissingPush,
    /// An acknowledged registration never seen on the peer (`cluster-replication`).
    Missing,
}

impl ErrorKind {
    /// Stable name used in the table and in the JSON output.
    pub fn label(&self) -> String {
        match self {
            ErrorKind::Status(status) => format!("status_{status}"),
            ErrorKind::Connect => "connect".to_string(),
            ErrorKind::Io => "io".to_string(),
            ErrorKind::Timeout => "timeout".to_string(),
            ErrorKind::Protocol => "protocol".to_string(),
            ErrorKind::Nacos => "nacos".to_string(),
            ErrorKind::GrpcStatus(status) => format!("grpc_status_{status}"),
            ErrorKind::MissingPush => "missing_push".to_string(),
            ErrorKind::Missing => "missing".to_string(),
        }
    }
}

/// Everything one core recorded after warmup. Latency covers successful requests only, in
/// microseconds, from the intended send time in fixed-rate mode and from the actual send time
/// in closed-loop mode.
#[derive(Debug, Clone)]
pub struct CoreStats {
    pub latency_us: Histogram<u64>,
    pub ok_count: u64,
    pub errors: BTreeMap<ErrorKind, u64>,
}

impl Default for CoreStats {
    fn default() -> Self {
        Self::new()
    }
}

impl CoreStats {
    pub fn new() -> Self {
        let latency_us = Histogram::new_with_bounds(1, LATENCY_US_MAX, LATENCY_SIGNIFICANT_DIGITS)
            .expect("constant histogram bounds are valid");
        Self {
            latency_us,
            ok_count: 0,
            errors: BTreeMap::new(),
        }
    }

    pub fn record_ok(&mut self, latency: Duration) {
        let latency_us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        // Values above the histogram's range are clamped to its maximum, not dropped.
        self.latency_us.saturating_record(latency_us);
        self.ok_count += 1;
    }

    pub fn record_error(&mut self, kind: ErrorKind) {
        self.record_errors(kind, 1);
    }

    /// Counts `count` errors of one kind at once (missing pushes are tallied at the end).
    pub fn record_errors(&mut self, kind: ErrorKind, count: u64) {
        if count > 0 {
            *self.errors.entry(kind).or_insert(0) += count;
        }
    }

    pub fn errors_count(&self) -> u64 {
        self.errors.values().sum()
    }

    pub fn requests_count(&self) -> u64 {
        self.ok_count + self.errors_count()
    }

    /// Adds another core's figures into this one.
    pub fn merge(&mut self, other: &CoreStats) {
        let before = self.latency_us.len();
        self.latency_us
            .add(&other.latency_us)
            .expect("histograms share constant bounds");
        debug_assert_eq!(self.latency_us.len(), before + other.latency_us.len());
        self.ok_count += other.ok_count;
        for (kind, count) in &other.errors {
            *self.errors.entry(*kind).or_insert(0) += count;
        }
    }
}

/// Counters one core bumps on every completion (warmup included) and the progress line reads.
/// Aligned to a cache line so that cores do not share one.
#[derive(Debug, Default)]
#[repr(align(64))]
pub struct LiveCounters {
    ok_count: AtomicU64,
    errors_count: AtomicU64,
}

impl LiveCounters {
    pub fn add_ok(&self) {
        self.ok_count.fetch_add(1, Ordering::Relaxed);
    }

    pub fn add_error(&self) {
        self.errors_count.fetch_add(1, Ordering::Relaxed);
    }

    /// (successes, errors) so far.
    pub fn snapshot(&self) -> (u64, u64) {
        let ok = self.ok_count.load(Ordering::Relaxed);
        let errors = self.errors_count.load(Ordering::Relaxed);
        (ok, errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Merging two cores adds counts, error kinds and histogram samples; quantiles of the
    /// merge reflect both inputs.
    #[test]
    fn merge_adds_everything() {
        let mut a = CoreStats::new();
        let mut b = CoreStats::new();
        for _ in 0..90 {
            a.record_ok(Duration::from_micros(100));
        }
        for _ in 0..10 {
            b.record_ok(Duration::from_millis(10));
        }
        a.record_error(ErrorKind::Status(503));
        b.record_error(ErrorKind::Status(503));
        b.record_error(ErrorKind::Timeout);
        a.merge(&b);
        assert_eq!(a.ok_count, 100);
        assert_eq!(a.latency_us.len(), 100);
        assert_eq!(a.errors[&ErrorKind::Status(503)], 2);
        assert_eq!(a.errors[&ErrorKind::Timeout], 1);
        assert_eq!(a.requests_count(), 103);
        let p50 = a.latency_us.value_at_quantile(0.5);
        let p99 = a.latency_us.value_at_quantile(0.99);
        assert!((99..=101).contains(&p50), "p50 {p50}");
        assert!((9_990..=10_010).contains(&p99), "p99 {p99}");
    }

    /// Latencies beyond the histogram range are clamped, not lost.
    #[test]
    fn huge_latency_is_clamped() {
        let mut stats = CoreStats::new();
        stats.record_ok(Duration::from_secs(3600));
        assert_eq!(stats.latency_us.len(), 1);
        assert!(stats.latency_us.max() >= LATENCY_US_MAX * 999 / 1000);
    }

    /// Error labels are the stable names used in reports.
    #[test]
    fn error_labels() {
        assert_eq!(ErrorKind::Status(404).label(), "status_404");
        assert_eq!(ErrorKind::Nacos.label(), "nacos");
        assert_eq!(ErrorKind::GrpcStatus(12).label(), "grpc_status_12");
        assert_eq!(ErrorKind::MissingPush.label(), "missing_push");
        assert_eq!(ErrorKind::Missing.label(), "missing");
    }
}
