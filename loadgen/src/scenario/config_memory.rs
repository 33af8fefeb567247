//! `config-memory`: what stored configs cost the server. Reads a local server's RSS, publishes
//! `--configs` configs (`lg-cfg-0` ..., default `CONFIG_MEMORY_CONFIGS_DEFAULT`) of
//! `--content-bytes` each over `--connections` HTTP connections, waits `RSS_SETTLE_MS` and
//! reads the RSS again. Reports the growth per config and its ratio to the content bytes,
//! with the anonymous and file-backed parts apart: an LMDB store's pages are file-backed
//! (the kernel's page cache, reclaimable under pressure), the in-memory index is anonymous.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::cli::{allowed_cpus, pick_cpus, Cli};
use crate::keyspace::Keyspace;
use crate::limits::RSS_SETTLE_MS;
use crate::proc::{rss_parts, RssParts};
use crate::report::{self, ConfigShape, RunInfo};
use crate::scenario::config_setup_phase;
use crate::stats::CoreStats;

/// Configs published when `--configs` is not given: the 100,000.
const CONFIG_MEMORY_CONFIGS_DEFAULT: u64 = 100_000;

pub fn run(cli: &Cli) -> Result<i32, String> {
    let server = cli.server_addr()?;
    let cpus = pick_cpus(&allowed_cpus(), cli.cores)?;
    let mut settings = cli.config_settings()?;
    settings.configs = cli.configs.unwrap_or(CONFIG_MEMORY_CONFIGS_DEFAULT);
    let pid = cli
        .server_pid
        .or_else(|| crate::proc::listener_pid(server.port()))
        .ok_or("config-memory needs a local server: its pid was not found (--server-pid)")?;
    let before = rss_parts(pid).ok_or("cannot read the server's /proc status")?;
    let mut base = cli.base_phase(server, cpus.clone())?;
    base.keyspace = Keyspace::new(settings.configs, 1)?;
    let setup = config_setup_phase(base, settings.content_bytes);
    let started = Instant::now();
    let stats = crate::run_setup(&setup, true, cli.quiet)?;
    let published_in = started.elapsed();
    std::thread::sleep(Duration::from_millis(RSS_SETTLE_MS));
    let after = rss_parts(pid).ok_or("cannot read the server's /proc status")?;
    let report = MemoryReport {
        configs: settings.configs,
        content_bytes: settings.content_bytes,
        before,
        after,
        published_in,
    };
    print_report(cli, &cpus, &stats, &report);
    Ok(if stats.ok_count > 0 { 0 } else { 1 })
}

struct MemoryReport {
    configs: u64,
    content_bytes: u32,
    before: RssParts,
    after: RssParts,
    published_in: Duration,
}

impl MemoryReport {
    fn content_total(&self) -> f64 {
        self.configs as f64 * self.content_bytes as f64
    }

    /// Growth of one part, per config, and as a multiple of the content bytes.
    fn growth(&self, part: fn(&RssParts) -> u64) -> (f64, f64) {
        let delta = part(&self.after) as f64 - part(&self.before) as f64;
        (delta / self.configs as f64, delta / self.content_total())
    }
}

fn print_report(cli: &Cli, cpus: &[usize], stats: &CoreStats, r: &MemoryReport) {
    let (total_per, total_ratio) = r.growth(|p| p.total_bytes);
    let (anon_per, anon_ratio) = r.growth(|p| p.anon_bytes);
    let (file_per, file_ratio) = r.growth(|p| p.file_bytes);
    if cli.json {
        let info = RunInfo {
            scenario: cli.scenario.name(),
            server: cli.server.clone(),
            cpus: cpus.to_vec(),
            connections: cli.connections,
            services: r.configs,
            instances_per_service: 1,
            keys: "round-robin".to_string(),
            rate_total_per_s: None,
            warmup: Duration::ZERO,
            configs: Some(ConfigShape {
                configs: r.configs,
                content_bytes: r.content_bytes,
                publish_keys: None,
            }),
        };
        let mut value = report::to_json(&info, stats, r.published_in, None);
        value["mode"] = json!("resident memory of stored configs");
        value["server_rss_bytes_before"] = json!(r.before.total_bytes);
        value["server_rss_bytes_after"] = json!(r.after.total_bytes);
        value["server_rss_anon_bytes_before"] = json!(r.before.anon_bytes);
        value["server_rss_anon_bytes_after"] = json!(r.after.anon_bytes);
        value["server_rss_bytes_per_config"] = json!(total_per);
        value["server_rss_per_content_byte"] = json!(total_ratio);
        value["server_rss_anon_per_content_byte"] = json!(anon_ratio);
        value["server_rss_file_per_content_byte"] = json!(file_ratio);
        println!("{value}");
        return;
    }
    let mib = |bytes: u64| format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0));
    let rows = [
        ("scenario", cli.scenario.name().to_string()),
        ("server", cli.server.clone()),
        (
            "published",
            format!(
                "{} of {} configs of {} B in {:.1} s, errors: {}",
                stats.ok_count,
                r.configs,
                r.content_bytes,
                r.published_in.as_secs_f64(),
                report::errors_line(stats)
            ),
        ),
        (
            "server rss",
            format!(
                "{} → {} ({} → {} anonymous)",
                mib(r.before.total_bytes),
                mib(r.after.total_bytes),
                mib(r.before.anon_bytes),
                mib(r.after.anon_bytes)
            ),
        ),
        (
            "per config",
            format!(
                "{total_per:.0} B = {total_ratio:.2}× the content \
                 (anonymous {anon_per:.0} B = {anon_ratio:.2}×, file {file_per:.0} B = {file_ratio:.2}×)"
            ),
        ),
    ];
    print!("{}", report::rows_table(&rows));
}
