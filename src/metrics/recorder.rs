//! `CoreMetrics`: what one core counts as it serves. It lives in the core's state and is
//! touched only by that core's tasks (`Cell`/`RefCell`, no atomics, no locks): a request costs
//! one borrow, two adds into its counters and a short bucket scan. A scrape copies it into a
//! `Counters` value that crosses the mesh.

use std::cell::{Cell, RefCell};

use crate::metrics::histogram::Histogram;
use crate::metrics::labels::{status_class, Api, Protocol};
use crate::metrics::labels::{API_COUNT, PROTOCOL_COUNT, STATUS_CLASS_COUNT};

/// Which push a push latency is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushKind {
    /// A naming push on a gRPC bi-stream (`NotifySubscriberRequest`).
    NamingGrpc,
    /// A naming push to a v1 UDP subscriber.
    NamingUdp,
    /// A config change notify on a gRPC bi-stream (`ConfigChangeNotifyRequest`).
    ConfigGrpc,
    /// A config change answering a held HTTP long poll.
    ConfigPoll,
}

/// The request and push counters of one core (or their sum over cores).
#[derive(Debug, Clone)]
pub struct Counters {
    /// Requests by api, protocol and status class.
    pub requests: [[[u64; STATUS_CLASS_COUNT]; PROTOCOL_COUNT]; API_COUNT],
    /// Latency (parsed request to response ready) by api and protocol.
    pub latency: [[Histogram; PROTOCOL_COUNT]; API_COUNT],
    /// Naming push latency (change to push handed to the connection): gRPC, UDP.
    pub push: [Histogram; 2],
    /// Config notify latency (change applied to notify handed to the connection or poll):
    /// gRPC, HTTP long poll.
    pub notify: [Histogram; 2],
    /// Access log lines dropped because the writer fell behind.
    pub access_log_dropped: u64,
}

impl Default for Counters {
    fn default() -> Counters {
        Counters {
            requests: [[[0; STATUS_CLASS_COUNT]; PROTOCOL_COUNT]; API_COUNT],
            latency: [[Histogram::default(); PROTOCOL_COUNT]; API_COUNT],
            push: [Histogram::default(); 2],
            notify: [Histogram::default(); 2],
            access_log_dropped: 0,
        }
    }
}

impl Counters {
    /// Adds another core's counters to these.
    pub fn merge(&mut self, other: &Counters) {
        for api in 0..API_COUNT {
            for protocol in 0..PROTOCOL_COUNT {
                for class in 0..STATUS_CLASS_COUNT {
                    self.requests[api][protocol][class] += other.requests[api][protocol][class];
                }
                self.latency[api][protocol].merge(&other.latency[api][protocol]);
            }
        }
        for (mine, theirs) in self.push.iter_mut().zip(other.push.iter()) {
            mine.merge(theirs);
        }
        for (mine, theirs) in self.notify.iter_mut().zip(other.notify.iter()) {
            mine.merge(theirs);
        }
        self.access_log_dropped += other.access_log_dropped;
    }

    /// Every request counted, whatever its api, protocol or status.
    pub fn request_total(&self) -> u64 {
        self.requests.iter().flatten().flatten().sum()
    }
}

/// One core's live metrics. Not `Sync`, not `Send`: it belongs to its core.
#[derive(Debug, Default)]
pub struct CoreMetrics {
    /// Boxed: a few KiB that the core's struct need not carry inline.
    counters: RefCell<Box<Counters>>,
    http_connections: Cell<u64>,
    grpc_connections: Cell<u64>,
}

impl CoreMetrics {
    /// Counts a served request and its latency.
    pub fn record_request(&self, api: Api, protocol: Protocol, status: u16, latency_us: u64) {
        let mut counters = self.counters.borrow_mut();
        counters.requests[api.index()][protocol.index()][status_class(status)] += 1;
        counters.latency[api.index()][protocol.index()].record(latency_us);
    }

    /// Counts a push (or notify) handed to its connection `latency_us` after its change.
    pub fn record_push(&self, kind: PushKind, latency_us: u64) {
        let mut counters = self.counters.borrow_mut();
        match kind {
            PushKind::NamingGrpc => counters.push[0].record(latency_us),
            PushKind::NamingUdp => counters.push[1].record(latency_us),
            PushKind::ConfigGrpc => counters.notify[0].record(latency_us),
            PushKind::ConfigPoll => counters.notify[1].record(latency_us),
        }
    }

    pub fn record_access_log_dropped(&self, lines: u64) {
        self.counters.borrow_mut().access_log_dropped += lines;
    }

    pub fn connection_opened(&self, protocol: Protocol) {
        let gauge = self.gauge(protocol);
        gauge.set(gauge.get() + 1);
    }

    pub fn connection_closed(&self, protocol: Protocol) {
        let gauge = self.gauge(protocol);
        debug_assert!(gauge.get() > 0, "a connection closed that never opened");
        gauge.set(gauge.get().saturating_sub(1));
    }

    fn gauge(&self, protocol: Protocol) -> &Cell<u64> {
        match protocol {
            Protocol::Http => &self.http_connections,
            Protocol::Grpc => &self.grpc_connections,
        }
    }

    /// Open connections: HTTP, gRPC.
    pub fn connections(&self) -> [u64; PROTOCOL_COUNT] {
        [self.http_connections.get(), self.grpc_connections.get()]
    }

    /// A copy of the counters, for a scrape.
    pub fn counters(&self) -> Box<Counters> {
        self.counters.borrow().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request lands in its api, protocol and class; merging adds two cores' counters.
    #[test]
    fn record_and_merge() {
        let metrics = CoreMetrics::default();
        metrics.record_request(Api::Register, Protocol::Http, 200, 80);
        metrics.record_request(Api::Register, Protocol::Grpc, 500, 80);
        metrics.record_push(PushKind::NamingUdp, 10);
        let mut total = metrics.counters();
        assert_eq!(total.requests[Api::Register.index()][0][1], 1);
        assert_eq!(total.requests[Api::Register.index()][1][4], 1);
        total.merge(&metrics.counters());
        assert_eq!(total.request_total(), 4);
        assert_eq!(total.push[1].count(), 2);
        metrics.connection_opened(Protocol::Grpc);
        assert_eq!(metrics.connections(), [0, 1]);
        metrics.connection_closed(Protocol::Grpc);
        assert_eq!(metrics.connections(), [0, 0]);
    }
}
