//! `grpc-connections` (alias `connections`): opens `--connections` Nacos gRPC connections
//! (`ServerCheckRequest`, bi-stream setup, `SetupAckRequest`), at most
//! `GRPC_SETUPS_IN_FLIGHT_PER_CORE_MAX` setups at a time per core, and holds them for warmup +
//! `--duration`, each sending `HealthCheckRequest` after `GRPC_HEALTH_CHECK_IDLE_MS` of
//! idleness as the Java client does and answering `ClientDetectionRequest`. Reports the
//! connections established, the health-check latency (after warmup) and, for a local server,
//! its RSS before the first connection and while all are held, and their difference per
//! connection.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use glommio::sync::Semaphore;
use serde_json::json;

use crate::cli::{allowed_cpus, pick_cpus, Cli};
use crate::grpc::client::GrpcConnection;
use crate::grpc::messages;
use crate::keyspace::partition_len;
use crate::limits::{
    CONNECTIONS_MAX, COORDINATION_POLL_MS, GRPC_HEALTH_CHECK_IDLE_MS,
    GRPC_SETUPS_IN_FLIGHT_PER_CORE_MAX, GRPC_SETUP_PHASE_TIMEOUT_MS, PROGRESS_INTERVAL_MS,
    REQUEST_TIMEOUT_DEFAULT_MS, RSS_SETTLE_MS,
};
use crate::report::{self, RunInfo};
use crate::runner::{join_cores, spawn_cores};
use crate::stats::{CoreStats, ErrorKind, LiveCounters};

/// What the cores and the main thread share.
struct Shared {
    /// Connections whose setup ended, successfully or not.
    settled: AtomicUsize,
    established: AtomicUsize,
    /// Health checks sent from now on are recorded (set after warmup).
    measuring: AtomicBool,
    /// Close every connection and return.
    stop: AtomicBool,
    live: Vec<LiveCounters>,
}

#[derive(Debug, Clone)]
struct HoldSpec {
    server: std::net::SocketAddr,
    cpus: Vec<usize>,
    connections: usize,
    timeout: Duration,
    loopback_spread: u8,
    subscriptions_per_connection: u64,
}

/// The server's memory around the run (bytes), when it could be read.
#[derive(Debug, Clone, Copy, Default)]
struct Rss {
    pid: Option<u32>,
    before_bytes: Option<u64>,
    after_bytes: Option<u64>,
}

pub fn run(cli: &Cli) -> Result<i32, String> {
    if cli.connections == 0 || cli.connections > CONNECTIONS_MAX {
        return Err(format!(
            "--connections must be between 1 and {CONNECTIONS_MAX}"
        ));
    }
    let cpus = pick_cpus(&allowed_cpus(), cli.cores)?;
    let spec = HoldSpec {
        server: cli.grpc_addr()?,
        cpus: cpus.clone(),
        connections: cli.connections,
        timeout: cli
            .timeout
            .unwrap_or(Duration::from_millis(REQUEST_TIMEOUT_DEFAULT_MS)),
        loopback_spread: cli.loopback_spread.max(1),
        subscriptions_per_connection: cli.subscriptions_per_connection,
    };
    if spec.loopback_spread > 1 && spec.server.ip() != std::net::Ipv4Addr::LOCALHOST {
        return Err("--loopback-spread needs a server on 127.0.0.1".into());
    }
    let pid = cli
        .server_pid
        .or_else(|| crate::proc::listener_pid(spec.server.port()));
    let mut rss = Rss {
        pid,
        before_bytes: pid.and_then(crate::proc::rss_bytes),
        after_bytes: None,
    };
    let shared = Arc::new(Shared {
        settled: AtomicUsize::new(0),
        established: AtomicUsize::new(0),
        measuring: AtomicBool::new(false),
        stop: AtomicBool::new(false),
        live: (0..cpus.len()).map(|_| LiveCounters::default()).collect(),
    });
    let finished = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let handles = {
        let (spec, shared) = (spec.clone(), shared.clone());
        spawn_cores(&cpus, cli.spin_before_park, &finished, move |core| {
            hold_core(spec.clone(), shared.clone(), core)
        })?
    };
    let setup = wait_settled(&shared, spec.connections, cli.quiet);
    std::thread::sleep(Duration::from_millis(RSS_SETTLE_MS));
    std::thread::sleep(cli.warmup);
    shared.measuring.store(true, Ordering::Release);
    hold(&shared, cli.duration, cli.quiet);
    rss.after_bytes = pid.and_then(crate::proc::rss_bytes);
    shared.stop.store(true, Ordering::Release);
    let mut stats = CoreStats::new();
    for core_stats in join_cores(handles)? {
        stats.merge(&core_stats);
    }
    let established = shared.established.load(Ordering::Acquire);
    if !cli.quiet {
        eprintln!("[done] {:.1} s in all", started.elapsed().as_secs_f64());
    }
    print_report(cli, &spec, &stats, established, setup, rss);
    Ok(if established > 0 { 0 } else { 1 })
}

/// Waits until every connection is set up or failed (bounded); returns how long that took.
fn wait_settled(shared: &Shared, connections: usize, quiet: bool) -> Duration {
    let start = Instant::now();
    let deadline = start + Duration::from_millis(GRPC_SETUP_PHASE_TIMEOUT_MS);
    let mut next_print = start + Duration::from_millis(PROGRESS_INTERVAL_MS);
    while shared.settled.load(Ordering::Acquire) < connections && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(COORDINATION_POLL_MS));
        if !quiet && Instant::now() >= next_print {
            eprintln!(
                "[setup] {:>5.1}s  established {}",
                start.elapsed().as_secs_f64(),
                shared.established.load(Ordering::Acquire)
            );
            next_print += Duration::from_millis(PROGRESS_INTERVAL_MS);
        }
    }
    start.elapsed()
}

/// Holds the connections for `duration`, printing one line per second.
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
                "[hold] {:>5.1}s  established {}  health checks ok {ok}  errors {errors}",
                start.elapsed().as_secs_f64(),
                shared.established.load(Ordering::Acquire)
            );
        }
    }
}

async fn hold_core(spec: HoldSpec, shared: Arc<Shared>, core: usize) -> CoreStats {
    let cores = spec.cpus.len();
    assert!(core < cores);
    let stats = Rc::new(RefCell::new(CoreStats::new()));
    let permits = Rc::new(Semaphore::new(GRPC_SETUPS_IN_FLIGHT_PER_CORE_MAX as u64));
    let count = partition_len(spec.connections as u64, cores as u64, core as u64);
    let tasks: Vec<_> = (0..count)
        .map(|index| {
            let task = hold_connection(
                spec.clone(),
                spread_target(&spec, core as u64 + index * cores as u64),
                shared.clone(),
                stats.clone(),
                permits.clone(),
                core,
            );
            glommio::spawn_local(task)
        })
        .collect();
    while !shared.stop.load(Ordering::Acquire) {
        glommio::timer::sleep(Duration::from_millis(COORDINATION_POLL_MS)).await;
    }
    // Dropping the tasks cancels them, which drops and closes their connections.
    debug_assert_eq!(tasks.len() as u64, count);
    drop(tasks);
    stats.take()
}

/// One held connection: set up, then a health check after every idle period until cancelled.
async fn hold_connection(
    spec: HoldSpec,
    target: std::net::SocketAddr,
    shared: Arc<Shared>,
    stats: Rc<RefCell<CoreStats>>,
    permits: Rc<Semaphore>,
    core: usize,
) {
    let opened = async {
        let _permit = permits
            .acquire_static_permit(1)
            .await
            .map_err(|_| ErrorKind::Io)?;
        let mut connection = GrpcConnection::open(target, spec.timeout, None).await?;
        for service in 0..spec.subscriptions_per_connection {
            let body = messages::subscribe_service(service);
            let reply = "SubscribeServiceResponse";
            connection
                .call("SubscribeServiceRequest", reply, body, spec.timeout)
                .await?;
        }
        Ok::<_, ErrorKind>(connection)
    }
    .await;
    shared.settled.fetch_add(1, Ordering::AcqRel);
    let mut connection = match opened {
        Ok(connection) => connection,
        Err(kind) => {
            stats.borrow_mut().record_error(kind);
            shared.live[core].add_error();
            return;
        }
    };
    shared.established.fetch_add(1, Ordering::AcqRel);
    // Ends when the core cancels this task, or when the connection fails.
    loop {
        glommio::timer::sleep(Duration::from_millis(GRPC_HEALTH_CHECK_IDLE_MS)).await;
        let sent = Instant::now();
        let body = messages::internal_request();
        let outcome = connection
            .call(
                "HealthCheckRequest",
                "HealthCheckResponse",
                body,
                spec.timeout,
            )
            .await;
        match outcome {
            Ok(_) => shared.live[core].add_ok(),
            Err(_) => shared.live[core].add_error(),
        }
        if shared.measuring.load(Ordering::Acquire) {
            let mut stats = stats.borrow_mut();
            match outcome {
                Ok(_) => stats.record_ok(sent.elapsed()),
                Err(kind) => stats.record_error(kind),
            }
        }
        if outcome.is_err() {
            shared.established.fetch_sub(1, Ordering::AcqRel);
            return;
        }
    }
}

/// The address connection `global_index` goes to: the server's, or with `--loopback-spread`
/// one of 127.0.0.1..=127.0.0.N in turn (the same listener, other address pairs).
fn spread_target(spec: &HoldSpec, global_index: u64) -> std::net::SocketAddr {
    let mut target = spec.server;
    if spec.loopback_spread > 1 {
        let last_octet = 1 + (global_index % spec.loopback_spread as u64) as u8;
        target.set_ip(std::net::Ipv4Addr::new(127, 0, 0, last_octet).into());
    }
    target
}

fn print_report(
    cli: &Cli,
    spec: &HoldSpec,
    stats: &CoreStats,
    established: usize,
    setup: Duration,
    rss: Rss,
) {
    let delta = match (rss.before_bytes, rss.after_bytes) {
        (Some(before), Some(after)) => Some(after as i64 - before as i64),
        _ => None,
    };
    let per_connection = delta
        .filter(|_| established > 0)
        .map(|delta| delta as f64 / established as f64);
    let server = format!("{} (gRPC {})", cli.server, spec.server);
    if cli.json {
        let info = RunInfo {
            scenario: cli.scenario.name(),
            server,
            cpus: spec.cpus.clone(),
            connections: spec.connections,
            services: 0,
            instances_per_service: 0,
            keys: "none".to_string(),
            rate_total_per_s: None,
            warmup: cli.warmup,
            configs: None,
        };
        let mut value = report::to_json(&info, stats, cli.duration, None);
        value["mode"] = json!("held connections");
        value["connections_established"] = json!(established);
        value["setup_s"] = json!(setup.as_secs_f64());
        value["server_pid"] = json!(rss.pid);
        value["server_rss_bytes_before"] = json!(rss.before_bytes);
        value["server_rss_bytes_after"] = json!(rss.after_bytes);
        value["server_rss_bytes_per_connection"] = json!(per_connection);
        value["latency_kind"] = json!("HealthCheckRequest round trip");
        println!("{value}");
        return;
    }
    let mib = |bytes: Option<u64>| {
        bytes.map_or("n/a".to_string(), |b| {
            format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0))
        })
    };
    let rows = [
        ("scenario", cli.scenario.name().to_string()),
        ("server", server),
        (
            "cores",
            format!("{} (cpus {:?})", spec.cpus.len(), spec.cpus),
        ),
        (
            "held",
            format!(
                "{established} of {} established in {:.1} s, held {:.1} s after {:.1} s warmup",
                spec.connections,
                setup.as_secs_f64(),
                cli.duration.as_secs_f64(),
                cli.warmup.as_secs_f64()
            ),
        ),
        (
            "checks",
            format!("{} HealthCheckRequest ok", stats.ok_count),
        ),
        ("latency ms", report::latency_line(stats)),
        ("errors", report::errors_line(stats)),
        (
            "server rss",
            format!(
                "pid {}: before {}, after {}, per connection {}",
                rss.pid.map_or("n/a".to_string(), |pid| pid.to_string()),
                mib(rss.before_bytes),
                mib(rss.after_bytes),
                per_connection.map_or("n/a".to_string(), |b| format!("{b:.0} B"))
            ),
        ),
    ];
    print!("{}", report::rows_table(&rows));
}
