//! `config-hold`: what held long polls cost the server. Publishes `--configs` configs (one by
//! default) with the initial content at setup, then opens `--listeners` long polls (default
//! `CONFIG_HOLDS_DEFAULT`), poll `i` on config `lg-cfg-{i % configs}` with that content's md5
//! and `Long-Pulling-Timeout`, at most `LONG_POLL_SETUPS_IN_FLIGHT_PER_CORE_MAX` connects at a
//! time per core, one HTTP connection each, and holds them for warmup + `--duration`. Nothing
//! is published meanwhile, so a server holds every poll until its timeout; a poll answered
//! empty (timed out) is polled again, and counted with the time it was held; a poll answered
//! as changed is a `nacos` error (the md5 agreed with the server's), polled again after
//! `RECONNECT_BACKOFF_MS`. Reports the polls outstanding (written, not answered), and, for a
//! local server, its RSS after the setup publishes and before the first poll, and while the
//! polls are held, and their difference per held poll.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use glommio::sync::Semaphore;
use serde_json::json;

use crate::cli::{allowed_cpus, pick_cpus, Cli};
use crate::keyspace::{partition_key, partition_len, Keyspace};
use crate::limits::{
    CONFIG_HOLDS_DEFAULT, CONNECTIONS_MAX, COORDINATION_POLL_MS, GRPC_SETUP_PHASE_TIMEOUT_MS,
    LONG_POLL_ANSWER_MARGIN_MS, LONG_POLL_SETUPS_IN_FLIGHT_PER_CORE_MAX, PROGRESS_INTERVAL_MS,
    RECONNECT_BACKOFF_MS, REQUEST_TIMEOUT_DEFAULT_MS, RSS_SETTLE_MS,
};
use crate::report::{self, ConfigShape, RunInfo};
use crate::runner::{join_cores, spawn_cores};
use crate::scenario::config;
use crate::scenario::config_notify::{receive_answer, send_poll};
use crate::scenario::config_setup_phase;
use crate::stats::{CoreStats, ErrorKind, LiveCounters};

/// Configs the polls listen to when `--configs` is not given.
const HOLD_CONFIGS_DEFAULT: u64 = 1;

/// What the cores and the main thread share.
struct Shared {
    /// Polls whose first write ended, successfully or not.
    settled: AtomicUsize,
    /// Polls written and not answered yet.
    outstanding: AtomicUsize,
    /// Answers from now on are recorded (set after warmup).
    measuring: AtomicBool,
    /// Drop every poll and return.
    stop: AtomicBool,
    live: Vec<LiveCounters>,
}

#[derive(Debug, Clone)]
struct HoldSpec {
    server: SocketAddr,
    host: String,
    cpus: Vec<usize>,
    polls: usize,
    configs: u64,
    content_bytes: usize,
    long_poll_timeout_ms: u64,
    /// Bound on a poll's connect and write.
    timeout: Duration,
}

/// The server's memory around the run (bytes), when it could be read.
#[derive(Debug, Clone, Copy, Default)]
struct Rss {
    pid: Option<u32>,
    before_bytes: Option<u64>,
    after_bytes: Option<u64>,
    /// Polls outstanding when `after_bytes` was read.
    outstanding: usize,
}

pub fn run(cli: &Cli) -> Result<i32, String> {
    let spec = hold_spec(cli)?;
    let setup = match cli.skip_setup {
        true => None,
        false => Some(publish_configs(cli, &spec)?),
    };
    let pid = cli
        .server_pid
        .or_else(|| crate::proc::listener_pid(spec.server.port()));
    let mut rss = Rss {
        pid,
        before_bytes: pid.and_then(crate::proc::rss_bytes),
        ..Rss::default()
    };
    let shared = Arc::new(Shared {
        settled: AtomicUsize::new(0),
        outstanding: AtomicUsize::new(0),
        measuring: AtomicBool::new(false),
        stop: AtomicBool::new(false),
        live: (0..spec.cpus.len())
            .map(|_| LiveCounters::default())
            .collect(),
    });
    let finished = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let handles = {
        let (spec, shared) = (spec.clone(), shared.clone());
        spawn_cores(
            &spec.cpus.clone(),
            cli.spin_before_park,
            &finished,
            move |core| hold_core(spec.clone(), shared.clone(), core),
        )?
    };
    let opened = wait_settled(&shared, spec.polls, cli.quiet);
    std::thread::sleep(Duration::from_millis(RSS_SETTLE_MS));
    std::thread::sleep(cli.warmup);
    shared.measuring.store(true, Ordering::Release);
    hold(&shared, cli.duration, cli.quiet);
    rss.after_bytes = pid.and_then(crate::proc::rss_bytes);
    rss.outstanding = shared.outstanding.load(Ordering::Acquire);
    shared.stop.store(true, Ordering::Release);
    let mut stats = CoreStats::new();
    for core_stats in join_cores(handles)? {
        stats.merge(&core_stats);
    }
    if !cli.quiet {
        eprintln!("[done] {:.1} s in all", started.elapsed().as_secs_f64());
    }
    print_report(cli, &spec, &stats, setup.as_ref(), opened, rss);
    Ok(if rss.outstanding > 0 { 0 } else { 1 })
}

fn hold_spec(cli: &Cli) -> Result<HoldSpec, String> {
    let polls = cli.listeners.unwrap_or(CONFIG_HOLDS_DEFAULT);
    if polls == 0 || polls > CONNECTIONS_MAX {
        return Err(format!(
            "--listeners must be between 1 and {CONNECTIONS_MAX}"
        ));
    }
    let mut settings = cli.config_settings()?;
    settings.configs = cli.configs.unwrap_or(HOLD_CONFIGS_DEFAULT);
    if settings.configs as usize > polls {
        return Err("--configs must not exceed --listeners (polls)".into());
    }
    if cli.duration.is_zero() {
        return Err("--duration must be positive".into());
    }
    Ok(HoldSpec {
        server: cli.server_addr()?,
        host: cli.server.clone(),
        cpus: pick_cpus(&allowed_cpus(), cli.cores)?,
        polls,
        configs: settings.configs,
        content_bytes: settings.content_bytes as usize,
        long_poll_timeout_ms: cli.long_poll_timeout_ms()?,
        timeout: cli
            .timeout
            .unwrap_or(Duration::from_millis(REQUEST_TIMEOUT_DEFAULT_MS)),
    })
}

/// Publishes every config once with the initial content, whose md5 the polls send.
fn publish_configs(cli: &Cli, spec: &HoldSpec) -> Result<CoreStats, String> {
    let mut base = cli.base_phase(spec.server, spec.cpus.clone())?;
    base.keyspace = Keyspace::new(spec.configs, 1)?;
    let setup = config_setup_phase(base, spec.content_bytes as u32);
    crate::run_setup(&setup, true, cli.quiet)
}

/// Waits until every poll is written or failed (bounded); returns how long that took.
fn wait_settled(shared: &Shared, polls: usize, quiet: bool) -> Duration {
    let start = Instant::now();
    let deadline = start + Duration::from_millis(GRPC_SETUP_PHASE_TIMEOUT_MS);
    let mut next_print = start + Duration::from_millis(PROGRESS_INTERVAL_MS);
    while shared.settled.load(Ordering::Acquire) < polls && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(COORDINATION_POLL_MS));
        if !quiet && Instant::now() >= next_print {
            eprintln!(
                "[setup] {:>5.1}s  polls outstanding {}",
                start.elapsed().as_secs_f64(),
                shared.outstanding.load(Ordering::Acquire)
            );
            next_print += Duration::from_millis(PROGRESS_INTERVAL_MS);
        }
    }
    start.elapsed()
}

/// Holds the polls for `duration`, printing one line per second.
fn hold(shared: &Shared, duration: Duration, quiet: bool) {
    let start = Instant::now();
    let end = start + duration;
    let interval = Duration::from_millis(PROGRESS_INTERVAL_MS);
    while Instant::now() < end {
        std::thread::sleep(interval.min(end.saturating_duration_since(Instant::now())));
        if !quiet {
            let (ok, errors) = shared
                .live
                .iter()
                .map(LiveCounters::snapshot)
                .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
            eprintln!(
                "[hold] {:>5.1}s  polls outstanding {}  answered empty {ok}  errors {errors}",
                start.elapsed().as_secs_f64(),
                shared.outstanding.load(Ordering::Acquire)
            );
        }
    }
}

async fn hold_core(spec: HoldSpec, shared: Arc<Shared>, core: usize) -> CoreStats {
    let cores = spec.cpus.len();
    assert!(core < cores);
    let stats = Rc::new(RefCell::new(CoreStats::new()));
    let permits = Rc::new(Semaphore::new(
        LONG_POLL_SETUPS_IN_FLIGHT_PER_CORE_MAX as u64,
    ));
    let count = partition_len(spec.polls as u64, cores as u64, core as u64);
    let tasks: Vec<_> = (0..count)
        .map(|position| {
            let poll_index = partition_key(cores as u64, core as u64, position);
            let config_index = poll_index % spec.configs;
            let task = hold_poll(
                spec.clone(),
                shared.clone(),
                stats.clone(),
                permits.clone(),
                (core, config_index),
            );
            glommio::spawn_local(task)
        })
        .collect();
    while !shared.stop.load(Ordering::Acquire) {
        glommio::timer::sleep(Duration::from_millis(COORDINATION_POLL_MS)).await;
    }
    // Dropping the tasks cancels them, which closes their connections.
    debug_assert_eq!(tasks.len() as u64, count);
    drop(tasks);
    stats.take()
}

/// One held poll of config `config_index`: written, answered at its timeout, written again,
/// until cancelled.
async fn hold_poll(
    spec: HoldSpec,
    shared: Arc<Shared>,
    stats: Rc<RefCell<CoreStats>>,
    permits: Rc<Semaphore>,
    (core, config_index): (usize, u64),
) {
    let md5 = config::content_md5(0, spec.content_bytes);
    let mut request = Vec::with_capacity(256);
    let timeout_ms = spec.long_poll_timeout_ms;
    config::encode_listen(&mut request, config_index, &md5, timeout_ms, &spec.host);
    let answer_timeout = Duration::from_millis(timeout_ms + LONG_POLL_ANSWER_MARGIN_MS);
    let mut connection = None;
    let mut settled = false;
    // Ends when the core drops this task.
    loop {
        let written = send_poll(
            spec.server,
            &permits,
            &mut connection,
            &request,
            spec.timeout,
        )
        .await;
        let sent_at = Instant::now();
        if written.is_ok() {
            shared.outstanding.fetch_add(1, Ordering::AcqRel);
        }
        if !settled {
            settled = true;
            shared.settled.fetch_add(1, Ordering::AcqRel);
        }
        let outcome = match written {
            Ok(()) => {
                let answer = receive_answer(&mut connection, answer_timeout).await;
                shared.outstanding.fetch_sub(1, Ordering::AcqRel);
                answer.and_then(|(body, _)| unchanged(&body))
            }
            Err(kind) => Err(kind),
        };
        match outcome {
            Ok(()) => shared.live[core].add_ok(),
            Err(_) => shared.live[core].add_error(),
        }
        if shared.measuring.load(Ordering::Acquire) {
            let mut stats = stats.borrow_mut();
            match outcome {
                Ok(()) => stats.record_ok(sent_at.elapsed()),
                Err(kind) => stats.record_error(kind),
            }
        }
        if outcome.is_err() {
            if !matches!(outcome, Err(ErrorKind::Nacos)) {
                connection = None;
            }
            glommio::timer::sleep(Duration::from_millis(RECONNECT_BACKOFF_MS)).await;
        }
    }
}

/// An answer to a held poll must be empty (timed out): nothing was published.
fn unchanged(body: &[u8]) -> Result<(), ErrorKind> {
    // receive_answer accepted the body, so it parses.
    let keys = config::parse_changed_keys(body).unwrap_or_default();
    if keys.is_empty() {
        Ok(())
    } else {
        Err(ErrorKind::Nacos)
    }
}

fn print_report(
    cli: &Cli,
    spec: &HoldSpec,
    stats: &CoreStats,
    setup: Option<&CoreStats>,
    opened: Duration,
    rss: Rss,
) {
    let delta = match (rss.before_bytes, rss.after_bytes) {
        (Some(before), Some(after)) => Some(after as i64 - before as i64),
        _ => None,
    };
    let per_poll = delta
        .filter(|_| rss.outstanding > 0)
        .map(|delta| delta as f64 / rss.outstanding as f64);
    if cli.json {
        let info = RunInfo {
            scenario: cli.scenario.name(),
            server: cli.server.clone(),
            cpus: spec.cpus.clone(),
            connections: spec.polls,
            services: spec.configs,
            instances_per_service: 1,
            keys: "round-robin".to_string(),
            rate_total_per_s: None,
            warmup: cli.warmup,
            configs: Some(ConfigShape {
                configs: spec.configs,
                content_bytes: spec.content_bytes as u32,
                publish_keys: None,
            }),
        };
        let mut value = report::to_json(&info, stats, cli.duration, setup);
        value["mode"] = json!("held long polls");
        value["polls"] = json!(spec.polls);
        value["polls_outstanding"] = json!(rss.outstanding);
        value["long_poll_timeout_ms"] = json!(spec.long_poll_timeout_ms);
        value["setup_s"] = json!(opened.as_secs_f64());
        value["server_pid"] = json!(rss.pid);
        value["server_rss_bytes_before"] = json!(rss.before_bytes);
        value["server_rss_bytes_after"] = json!(rss.after_bytes);
        value["server_rss_bytes_per_poll"] = json!(per_poll);
        value["latency_kind"] = json!("long poll written to its empty answer (held time)");
        println!("{value}");
        return;
    }
    let mib = |bytes: Option<u64>| {
        bytes.map_or("n/a".to_string(), |b| {
            format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0))
        })
    };
    let setup_line = match setup {
        Some(setup) => format!(
            "published {} config(s), errors: {}",
            setup.ok_count,
            report::errors_line(setup)
        ),
        None => "skipped".to_string(),
    };
    let rows = [
        ("scenario", cli.scenario.name().to_string()),
        ("server", cli.server.clone()),
        (
            "cores",
            format!("{} (cpus {:?})", spec.cpus.len(), spec.cpus),
        ),
        ("setup", setup_line),
        (
            "held",
            format!(
                "{} of {} long polls outstanding at the end (written in {:.1} s), on {} \
                 config(s), Long-Pulling-Timeout {} ms, held {:.1} s after {:.1} s warmup",
                rss.outstanding,
                spec.polls,
                opened.as_secs_f64(),
                spec.configs,
                spec.long_poll_timeout_ms,
                cli.duration.as_secs_f64(),
                cli.warmup.as_secs_f64()
            ),
        ),
        (
            "answers",
            format!("{} empty (timed out) after warmup", stats.ok_count),
        ),
        ("latency ms", report::latency_line(stats)),
        ("errors", report::errors_line(stats)),
        (
            "server rss",
            format!(
                "pid {}: before {}, after {}, per held poll {}",
                rss.pid.map_or("n/a".to_string(), |pid| pid.to_string()),
                mib(rss.before_bytes),
                mib(rss.after_bytes),
                per_poll.map_or("n/a".to_string(), |b| format!("{b:.0} B"))
            ),
        ),
    ];
    print!("{}", report::rows_table(&rows));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A held poll's answer must name nothing; naming the config means the md5 disagreed.
    #[test]
    fn answers_to_held_polls() {
        assert_eq!(unchanged(b""), Ok(()));
        assert_eq!(unchanged(b"\n"), Ok(()));
        assert_eq!(
            unchanged(b"lg-cfg-0%02DEFAULT_GROUP%01\n"),
            Err(ErrorKind::Nacos)
        );
    }
}
