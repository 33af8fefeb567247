//! The Prometheus text exposition format 0.0.4: `# HELP` and `# TYPE` once per family, then
//! its samples, label values escaped (`\\`, `\"`, `\n`), histograms as cumulative `_bucket`
//! samples with `le` (seconds) ending at `+Inf`, then `_sum` (seconds) and `_count`.

use std::fmt::Write;

use crate::metrics::histogram::Histogram;
use crate::metrics::labels::{Api, Protocol, STATUS_CLASS_NAMES};
use crate::metrics::recorder::Counters;
use crate::metrics::snapshot::{CoreSnapshot, PeerLag, StateGauges, RAFT_ROLES};

/// The `Content-Type` of an exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// An exposition being written.
#[derive(Debug, Default)]
pub struct Exposition {
    out: String,
}

impl Exposition {
    /// Starts a family; its samples must follow before the next family starts.
    pub fn family(&mut self, name: &str, kind: &str, help: &str) {
        debug_assert!(is_metric_name(name), "bad metric name {name}");
        debug_assert!(matches!(kind, "counter" | "gauge" | "histogram"));
        let _ = writeln!(self.out, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    /// One sample line.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        debug_assert!(is_metric_name(name));
        self.out.push_str(name);
        self.labels(labels, None);
        let _ = writeln!(self.out, " {}", format_value(value));
    }

    /// The samples of one histogram series: cumulative buckets, sum and count.
    pub fn histogram(&mut self, name: &str, labels: &[(&str, &str)], histogram: &Histogram) {
        for (bound_us, cumulative) in histogram.cumulative() {
            let le = match bound_us {
                Some(bound_us) => format_value(bound_us as f64 / 1e6),
                None => "+Inf".to_string(),
            };
            let _ = write!(self.out, "{name}_bucket");
            self.labels(labels, Some(&le));
            let _ = writeln!(self.out, " {cumulative}");
        }
        let _ = write!(self.out, "{name}_sum");
        self.labels(labels, None);
        let _ = writeln!(
            self.out,
            " {}",
            format_value(histogram.sum_us() as f64 / 1e6)
        );
        let _ = write!(self.out, "{name}_count");
        self.labels(labels, None);
        let _ = writeln!(self.out, " {}", histogram.count());
    }

    fn labels(&mut self, labels: &[(&str, &str)], le: Option<&str>) {
        if labels.is_empty() && le.is_none() {
            return;
        }
        self.out.push('{');
        let mut first = true;
        let le = le.map(|le| ("le", le));
        for (key, value) in labels.iter().copied().chain(le) {
            if !first {
                self.out.push(',');
            }
            first = false;
            let _ = write!(self.out, "{key}=\"{}\"", escape_label(value));
        }
        self.out.push('}');
    }

    pub fn finish(self) -> String {
        self.out
    }
}

fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':');
    first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn escape_label(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            '"' => escaped.push_str("\\\""),
            '\n' => escaped.push_str("\\n"),
            c => escaped.push(c),
        }
    }
    escaped
}

fn escape_help(help: &str) -> String {
    help.replace('\\', "\\\\").replace('\n', "\\n")
}

/// Integers without a fraction, the rest as Rust prints floats (both parse as Go floats).
fn format_value(value: f64) -> String {
    if value.is_nan() {
        return "NaN".to_string();
    }
    if value.fract() == 0.0 && value.abs() < 1e15 {
        return format!("{}", value as i64);
    }
    format!("{value}")
}

/// The whole exposition from every core's snapshot.
pub fn render(snapshots: &[CoreSnapshot]) -> String {
    let mut counters = Counters::default();
    let mut state = StateGauges::default();
    let mut connections = [0u64; 2];
    for snapshot in snapshots {
        counters.merge(&snapshot.counters);
        state.merge(&snapshot.state);
        connections[0] += snapshot.connections[0];
        connections[1] += snapshot.connections[1];
    }
    let mut out = Exposition::default();
    state_families(&mut out, &state, connections);
    request_families(&mut out, &counters);
    push_families(&mut out, &counters);
    raft_families(&mut out, snapshots);
    distro_families(&mut out, snapshots);
    core_families(&mut out, snapshots);
    nacos_families(&mut out, &state, &counters, snapshots);
    out.finish()
}

fn state_families(out: &mut Exposition, state: &StateGauges, connections: [u64; 2]) {
    let gauges = [
        ("nacore_services", "Services held.", state.services),
        (
            "nacore_instances",
            "Instances held (all services).",
            state.instances,
        ),
        (
            "nacore_healthy_instances",
            "Healthy instances held.",
            state.healthy_instances,
        ),
        (
            "nacore_subscribers",
            "gRPC and UDP subscriptions to services.",
            state.subscribers,
        ),
        ("nacore_configs", "Formal configs held.", state.configs),
    ];
    for (name, help, value) in gauges {
        out.family(name, "gauge", help);
        out.sample(name, &[], value as f64);
    }
    let name = "nacore_config_listeners";
    out.family(
        name,
        "gauge",
        "Config listens: gRPC (connection, key) pairs and held long polls.",
    );
    out.sample(
        name,
        &[("kind", "grpc")],
        state.config_listeners_grpc as f64,
    );
    out.sample(name, &[("kind", "long_poll")], state.config_polls as f64);
    let name = "nacore_connections";
    out.family(name, "gauge", "Open client connections.");
    for protocol in Protocol::ALL {
        let value = connections[protocol.index()] as f64;
        out.sample(name, &[("protocol", protocol.name())], value);
    }
}

fn request_families(out: &mut Exposition, counters: &Counters) {
    let name = "nacore_requests_total";
    out.family(
        name,
        "counter",
        "Requests served, by endpoint, protocol and status class.",
    );
    for api in Api::ALL {
        for protocol in Protocol::ALL {
            let classes = &counters.requests[api.index()][protocol.index()];
            for (class, &n) in classes.iter().enumerate() {
                if n == 0 {
                    continue;
                }
                let labels = [
                    ("api", api.name()),
                    ("protocol", protocol.name()),
                    ("status", STATUS_CLASS_NAMES[class]),
                ];
                out.sample(name, &labels, n as f64);
            }
        }
    }
    let name = "nacore_request_duration_seconds";
    out.family(
        name,
        "histogram",
        "Request latency, parsed request to response ready.",
    );
    for api in Api::ALL {
        for protocol in Protocol::ALL {
            let histogram = &counters.latency[api.index()][protocol.index()];
            if histogram.count() == 0 {
                continue;
            }
            let labels = [("api", api.name()), ("protocol", protocol.name())];
            out.histogram(name, &labels, histogram);
        }
    }
}

fn push_families(out: &mut Exposition, counters: &Counters) {
    let name = "nacore_push_duration_seconds";
    let help = "Naming push latency: service change to push handed to the connection.";
    out.family(name, "histogram", help);
    out.histogram(name, &[("protocol", "grpc")], &counters.push[0]);
    out.histogram(name, &[("protocol", "udp")], &counters.push[1]);
    let name = "nacore_config_notify_duration_seconds";
    let help = "Config notify latency: change applied to notify handed to the listener.";
    out.family(name, "histogram", help);
    out.histogram(name, &[("protocol", "grpc")], &counters.notify[0]);
    out.histogram(name, &[("protocol", "http")], &counters.notify[1]);
    let name = "nacore_access_log_dropped_lines_total";
    out.family(
        name,
        "counter",
        "Access log lines dropped because the writer fell behind.",
    );
    out.sample(name, &[], counters.access_log_dropped as f64);
}

fn raft_families(out: &mut Exposition, snapshots: &[CoreSnapshot]) {
    let Some(raft) = snapshots.iter().find_map(|s| s.raft) else {
        return;
    };
    debug_assert!(raft.role < RAFT_ROLES.len());
    let gauges = [
        ("nacore_raft_term", "Current Raft term.", raft.term),
        (
            "nacore_raft_leader_id",
            "Raft leader's node id (0: unknown).",
            raft.leader,
        ),
        (
            "nacore_raft_commit_index",
            "Raft commit index.",
            raft.commit_index,
        ),
        (
            "nacore_raft_applied_index",
            "Raft applied index.",
            raft.applied_index,
        ),
        (
            "nacore_raft_apply_lag",
            "Committed Raft entries not applied yet.",
            raft.commit_index.saturating_sub(raft.applied_index),
        ),
    ];
    for (name, help, value) in gauges {
        out.family(name, "gauge", help);
        out.sample(name, &[], value as f64);
    }
    let name = "nacore_raft_role";
    out.family(
        name,
        "gauge",
        "1 for this node's Raft role, 0 for the others.",
    );
    for (index, role) in RAFT_ROLES.iter().enumerate() {
        out.sample(
            name,
            &[("role", role)],
            f64::from(u8::from(index == raft.role)),
        );
    }
}

fn distro_families(out: &mut Exposition, snapshots: &[CoreSnapshot]) {
    // Summed over cores per peer; the oldest wait is the largest any core has.
    let mut peers: Vec<PeerLag> = Vec::new();
    for lag in snapshots.iter().flat_map(|s| s.distro.iter()) {
        match peers.iter_mut().find(|entry| entry.peer == lag.peer) {
            Some(entry) => {
                entry.pending_records += lag.pending_records;
                entry.overflowed |= lag.overflowed;
                entry.oldest_unsent_ms = entry.oldest_unsent_ms.max(lag.oldest_unsent_ms);
            }
            None => peers.push(lag.clone()),
        }
    }
    if peers.is_empty() {
        return;
    }
    let name = "nacore_distro_pending_records";
    out.family(
        name,
        "gauge",
        "Distro records queued for a peer and not sent yet.",
    );
    for lag in &peers {
        out.sample(name, &[("peer", &lag.peer)], lag.pending_records as f64);
    }
    let name = "nacore_distro_oldest_unsent_seconds";
    out.family(
        name,
        "gauge",
        "How long the oldest record queued for a peer has waited.",
    );
    for lag in &peers {
        out.sample(
            name,
            &[("peer", &lag.peer)],
            lag.oldest_unsent_ms as f64 / 1e3,
        );
    }
    let name = "nacore_distro_outbox_overflowed";
    out.family(
        name,
        "gauge",
        "1 when a peer's outbox overflowed (verify catches it up).",
    );
    for lag in &peers {
        out.sample(
            name,
            &[("peer", &lag.peer)],
            f64::from(u8::from(lag.overflowed)),
        );
    }
}

fn core_families(out: &mut Exposition, snapshots: &[CoreSnapshot]) {
    let cores: Vec<String> = snapshots.iter().map(|s| s.core.to_string()).collect();
    let name = "nacore_core_busy_seconds_total";
    out.family(
        name,
        "counter",
        "Time each core's executor spent running tasks.",
    );
    for (snapshot, core) in snapshots.iter().zip(&cores) {
        out.sample(name, &[("core", core)], snapshot.busy_us as f64 / 1e6);
    }
    let name = "nacore_core_tasks_total";
    out.family(name, "counter", "Tasks each core's executor ran.");
    for (snapshot, core) in snapshots.iter().zip(&cores) {
        out.sample(name, &[("core", core)], snapshot.tasks_executed as f64);
    }
    let name = "nacore_core_requests_total";
    out.family(
        name,
        "counter",
        "Requests each core served (HTTP and gRPC).",
    );
    for (snapshot, core) in snapshots.iter().zip(&cores) {
        out.sample(
            name,
            &[("core", core)],
            snapshot.counters.request_total() as f64,
        );
    }
}

/// Nacos's own gauge names (`MetricsMonitor`), for dashboards built for Nacos.
fn nacos_families(
    out: &mut Exposition,
    state: &StateGauges,
    counters: &Counters,
    snapshots: &[CoreSnapshot],
) {
    let requests = |api: Api| -> u64 { counters.requests[api.index()].iter().flatten().sum() };
    let leader = snapshots
        .iter()
        .find_map(|s| s.raft)
        .is_some_and(|raft| RAFT_ROLES[raft.role] == "leader");
    let samples = [
        ("naming", "serviceCount", state.services),
        ("naming", "ipCount", state.instances),
        ("naming", "subscriberCount", state.subscribers),
        ("naming", "leaderStatus", u64::from(leader)),
        ("config", "configCount", state.configs),
        ("config", "longPolling", state.config_polls),
        ("config", "getConfig", requests(Api::ConfigGet)),
        ("config", "publish", requests(Api::ConfigPublish)),
    ];
    let name = "nacos_monitor";
    out.family(name, "gauge", "Nacos MetricsMonitor gauges.");
    for (module, key, value) in samples {
        out.sample(name, &[("module", module), ("name", key)], value as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::recorder::CoreMetrics;
    use crate::metrics::snapshot::RaftGauges;

    /// Families have HELP and TYPE, label values are escaped, histogram buckets are
    /// cumulative and end at `+Inf` equal to `_count`, and two cores sum.
    #[test]
    fn encodes_the_exposition() {
        let mut out = Exposition::default();
        out.family("x_total", "counter", "a\nb");
        out.sample("x_total", &[("peer", "a\"b\\c\nd")], 3.0);
        let text = out.finish();
        assert_eq!(
            text,
            "# HELP x_total a\\nb\n# TYPE x_total counter\nx_total{peer=\"a\\\"b\\\\c\\nd\"} 3\n"
        );
        let metrics = CoreMetrics::default();
        metrics.record_request(Api::Beat, Protocol::Http, 200, 70);
        metrics.record_request(Api::Beat, Protocol::Http, 200, 40_000_000);
        let snapshot = |core| CoreSnapshot {
            core,
            counters: metrics.counters(),
            state: StateGauges {
                instances: 2,
                ..StateGauges::default()
            },
            connections: [1, 0],
            busy_us: 1_500_000,
            tasks_executed: 9,
            raft: (core == 0).then_some(RaftGauges {
                role: 2,
                term: 3,
                ..RaftGauges::default()
            }),
            distro: Vec::new(),
        };
        let text = render(&[snapshot(0), snapshot(1)]);
        assert!(text.contains("\nnacore_instances 4\n"), "{text}");
        assert!(text.contains("nacos_monitor{module=\"naming\",name=\"ipCount\"} 4\n"));
        assert!(text
            .contains("nacore_requests_total{api=\"beat\",protocol=\"http\",status=\"2xx\"} 4\n"));
        let beat = "nacore_request_duration_seconds_bucket{api=\"beat\",protocol=\"http\",";
        assert!(text.contains(&format!("{beat}le=\"0.00005\"}} 0\n")));
        assert!(text.contains(&format!("{beat}le=\"0.0001\"}} 2\n")));
        assert!(text.contains(&format!("{beat}le=\"30\"}} 2\n")));
        assert!(text.contains(&format!("{beat}le=\"+Inf\"}} 4\n")));
        assert!(text.contains("nacore_raft_role{role=\"leader\"} 1\n"));
        assert!(text.contains("nacore_core_busy_seconds_total{core=\"1\"} 1.5\n"));
        assert_eq!(
            text.matches("# TYPE nacore_requests_total counter").count(),
            1
        );
    }
}
