//! The final report: a two-column table on stdout, or one JSON object with `--json`.
//! Throughput counts successful requests only; errors are listed by kind beside it.

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::stats::CoreStats;

/// What was run, for the report header.
#[derive(Debug, Clone)]
pub struct RunInfo {
    pub scenario: &'static str,
    pub server: String,
    pub cpus: Vec<usize>,
    pub connections: usize,
    pub services: u64,
    pub instances_per_service: u64,
    pub keys: String,
    /// Fixed total rate, or `None` for closed loop.
    pub rate_total_per_s: Option<f64>,
    pub warmup: Duration,
    /// Config scenarios: the configs, shown instead of services × instances.
    pub configs: Option<ConfigShape>,
}

/// The configs a config scenario works over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigShape {
    pub configs: u64,
    pub content_bytes: u32,
    /// `config-publish`: `distinct` or `same`.
    pub publish_keys: Option<&'static str>,
}

/// Latency quantiles of successful requests, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Latency {
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
}

impl Latency {
    pub fn of(stats: &CoreStats) -> Self {
        let histogram = &stats.latency_us;
        Self {
            p50_us: histogram.value_at_quantile(0.50),
            p90_us: histogram.value_at_quantile(0.90),
            p99_us: histogram.value_at_quantile(0.99),
            p999_us: histogram.value_at_quantile(0.999),
            max_us: histogram.max(),
        }
    }
}

fn per_second(count: u64, span: Duration) -> f64 {
    if span.is_zero() {
        return 0.0;
    }
    count as f64 / span.as_secs_f64()
}

fn errors_map(stats: &CoreStats) -> Map<String, Value> {
    stats
        .errors
        .iter()
        .map(|(kind, count)| (kind.label(), json!(count)))
        .collect()
}

/// Prints the report (JSON or the table) and returns the exit status: 0 when any request
/// succeeded, 1 when none did.
pub fn print(
    info: &RunInfo,
    run: &CoreStats,
    measured: Duration,
    setup: Option<&CoreStats>,
    json: bool,
) -> i32 {
    if json {
        println!("{}", to_json(info, run, measured, setup));
    } else {
        print!("{}", to_table(info, run, measured, setup));
    }
    if run.ok_count > 0 {
        0
    } else {
        1
    }
}

/// The whole report as one JSON object.
pub fn to_json(
    info: &RunInfo,
    run: &CoreStats,
    measured: Duration,
    setup: Option<&CoreStats>,
) -> Value {
    let latency = Latency::of(run);
    let mut value = json!({
        "scenario": info.scenario,
        "server": info.server,
        "cores": info.cpus.len(),
        "cpus": info.cpus,
        "connections": info.connections,
        "services": info.services,
        "instances_per_service": info.instances_per_service,
        "keys": info.keys,
        "mode": if info.rate_total_per_s.is_some() { "fixed-rate" } else { "closed-loop" },
        "rate_target_per_s": info.rate_total_per_s,
        "duration_s": measured.as_secs_f64(),
        "warmup_s": info.warmup.as_secs_f64(),
        "requests_total": run.requests_count(),
        "requests_ok": run.ok_count,
        "errors_total": run.errors_count(),
        "errors": errors_map(run),
        "throughput_ok_per_s": per_second(run.ok_count, measured),
        "throughput_total_per_s": per_second(run.requests_count(), measured),
        "latency_us": {
            "p50": latency.p50_us, "p90": latency.p90_us, "p99": latency.p99_us,
            "p99_9": latency.p999_us, "max": latency.max_us,
        },
        "setup": setup.map(|stats| json!({
            "requests_ok": stats.ok_count,
            "errors_total": stats.errors_count(),
            "errors": errors_map(stats),
        })),
    });
    if let Some(shape) = info.configs {
        value["configs"] = json!(shape.configs);
        value["content_bytes"] = json!(shape.content_bytes);
        value["publish_keys"] = json!(shape.publish_keys);
    }
    value
}

/// The whole report as an aligned two-column table.
pub fn to_table(
    info: &RunInfo,
    run: &CoreStats,
    measured: Duration,
    setup: Option<&CoreStats>,
) -> String {
    let latency = Latency::of(run);
    let ms = |us: u64| format!("{:.3}", us as f64 / 1000.0);
    let mode = match info.rate_total_per_s {
        Some(rate) => format!("fixed-rate {rate:.1} req/s (latency from intended send time)"),
        None => "closed-loop, one request in flight per connection".to_string(),
    };
    let mut rows: Vec<(&str, String)> = vec![
        ("scenario", info.scenario.to_string()),
        ("server", info.server.clone()),
        (
            "cores",
            format!("{} (cpus {:?})", info.cpus.len(), info.cpus),
        ),
        ("connections", info.connections.to_string()),
        ("keyspace", keyspace_line(info)),
        ("mode", mode),
        (
            "duration",
            format!(
                "{:.1} s (after {:.1} s warmup)",
                measured.as_secs_f64(),
                info.warmup.as_secs_f64()
            ),
        ),
        (
            "requests",
            format!(
                "{} (ok {}, errors {})",
                run.requests_count(),
                run.ok_count,
                run.errors_count()
            ),
        ),
        (
            "throughput",
            format!(
                "{:.1} req/s ok ({:.1} req/s total)",
                per_second(run.ok_count, measured),
                per_second(run.requests_count(), measured)
            ),
        ),
        (
            "latency ms",
            format!(
                "p50 {}  p90 {}  p99 {}  p99.9 {}  max {}",
                ms(latency.p50_us),
                ms(latency.p90_us),
                ms(latency.p99_us),
                ms(latency.p999_us),
                ms(latency.max_us)
            ),
        ),
        ("errors", errors_line(run)),
    ];
    if let Some(setup) = setup {
        let done = match info.configs {
            Some(_) => format!("published {} configs", setup.ok_count),
            None => format!("registered {} instances", setup.ok_count),
        };
        rows.push(("setup", format!("{done}, errors: {}", errors_line(setup))));
    }
    let mut out = String::new();
    for (name, value) in rows {
        let _ = writeln!(out, "{name:<12} {value}");
    }
    out
}

/// The keyspace row: services × instances, or the configs of a config scenario.
fn keyspace_line(info: &RunInfo) -> String {
    let Some(shape) = info.configs else {
        return format!(
            "{} services × {} instances, {} keys",
            info.services, info.instances_per_service, info.keys
        );
    };
    let keys = match shape.publish_keys {
        Some("distinct") => "one per connection".to_string(),
        Some(_) => "one for all connections".to_string(),
        None => format!("{} keys", info.keys),
    };
    format!(
        "{} config(s) lg-cfg-* in DEFAULT_GROUP, {}-byte contents, {keys}",
        shape.configs, shape.content_bytes
    )
}

/// Rows of name and value as the aligned table `to_table` prints.
pub fn rows_table(rows: &[(&str, String)]) -> String {
    let mut out = String::new();
    for (name, value) in rows {
        let _ = writeln!(out, "{name:<12} {value}");
    }
    out
}

/// The latency quantiles of `stats` in ms, as the table shows them.
pub fn latency_line(stats: &CoreStats) -> String {
    let latency = Latency::of(stats);
    let ms = |us: u64| format!("{:.3}", us as f64 / 1000.0);
    format!(
        "p50 {}  p90 {}  p99 {}  p99.9 {}  max {}",
        ms(latency.p50_us),
        ms(latency.p90_us),
        ms(latency.p99_us),
        ms(latency.p999_us),
        ms(latency.max_us)
    )
}

pub fn errors_line(stats: &CoreStats) -> String {
    if stats.errors.is_empty() {
        return "none".to_string();
    }
    let parts: Vec<String> = stats
        .errors
        .iter()
        .map(|(kind, count)| format!("{} {count}", kind.label()))
        .collect();
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::ErrorKind;

    fn info() -> RunInfo {
        RunInfo {
            scenario: "http-query",
            server: "127.0.0.1:8848".into(),
            cpus: vec![1],
            connections: 8,
            services: 10,
            instances_per_service: 2,
            keys: "uniform".into(),
            rate_total_per_s: None,
            warmup: Duration::from_secs(1),
            configs: None,
        }
    }

    /// JSON carries throughput of successes, totals and errors by kind.
    #[test]
    fn json_report() {
        let mut stats = CoreStats::new();
        for _ in 0..100 {
            stats.record_ok(Duration::from_micros(250));
        }
        stats.record_error(ErrorKind::Status(503));
        let value = to_json(&info(), &stats, Duration::from_secs(2), None);
        assert_eq!(value["throughput_ok_per_s"], json!(50.0));
        assert_eq!(value["requests_total"], json!(101));
        assert_eq!(value["errors"]["status_503"], json!(1));
        assert_eq!(value["mode"], json!("closed-loop"));
        let p50 = value["latency_us"]["p50"].as_u64().unwrap();
        assert!((249..=251).contains(&p50));
    }

    /// The table names errors, or says none.
    #[test]
    fn table_report() {
        let stats = CoreStats::new();
        let table = to_table(&info(), &stats, Duration::from_secs(1), Some(&stats));
        assert!(table.contains("errors       none"));
        assert!(table.contains("throughput   0.0 req/s ok"));
        assert!(table.contains("registered 0 instances"));
    }

    /// A config scenario shows its configs and content size instead of services.
    #[test]
    fn config_report() {
        let mut info = info();
        info.configs = Some(ConfigShape {
            configs: 64,
            content_bytes: 1024,
            publish_keys: Some("distinct"),
        });
        let stats = CoreStats::new();
        let table = to_table(&info, &stats, Duration::from_secs(1), Some(&stats));
        assert!(
            table.contains("64 config(s) lg-cfg-* in DEFAULT_GROUP, 1024-byte contents, one per")
        );
        assert!(table.contains("published 0 configs"));
        let value = to_json(&info, &stats, Duration::from_secs(1), None);
        assert_eq!(value["content_bytes"], json!(1024));
        assert_eq!(value["publish_keys"], json!("distinct"));
    }
}
