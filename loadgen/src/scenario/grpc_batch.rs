//! `grpc-batch-register`: loads a server with the whole keyspace (`--services` ×
//! `--instances-per-service` ephemeral instances at `10.a.b.c:8080`, as every scenario names
//! them) through gRPC `BatchInstanceRequest`s, as fast as it answers, and keeps them alive.
//!
//! `--connections` connections (dealt to the cores, at most `GRPC_SETUPS_IN_FLIGHT_PER_CORE_MAX`
//! setups at a time per core): connection `c` of `C` registers, in every service, the
//! instances `i` with `i % C == c` as one batch (so a batch holds about instances-per-service
//! / C instances, at most `BATCH_INSTANCES_MAX`), starting at service `c % services` so that
//! the connections spread over the services. One batch in flight per connection.
//!
//! Instances registered over gRPC live as long as their connection, so no beats are needed:
//! once every batch is answered the report is printed (and flushed), then the connections are
//! held for `--duration` (answering the server's `ClientDetectionRequest`s) and closed, which
//! releases the instances; killing the process releases them at once. `--warmup` does not
//! apply. `cluster.sh` uses this to load a cluster before restarting one of its members.
//!
//! The report's throughput is batches per second over the wall time from the start (the
//! connection setups included) to the last answer; `instances_per_s` is the same in instances.

use std::io::Write as _;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use glommio::sync::Semaphore;
use serde_json::json;

use crate::cli::{allowed_cpus, pick_cpus, Cli};
use crate::grpc::client::GrpcConnection;
use crate::grpc::messages;
use crate::keyspace::{partition_key, partition_len, Key, Keyspace, INSTANCE_PORT};
use crate::limits::{
    BATCH_INSTANCES_MAX, CONNECTIONS_MAX, COORDINATION_POLL_MS, GRPC_SETUPS_IN_FLIGHT_PER_CORE_MAX,
    PROGRESS_INTERVAL_MS, REQUEST_TIMEOUT_DEFAULT_MS,
};
use crate::report::{self, RunInfo};
use crate::runner::{join_cores, spawn_cores};
use crate::stats::{CoreStats, ErrorKind, LiveCounters};

/// The instances connection `connection` of `connections` registers in one service: those
/// with `index % connections == connection`.
pub fn batch_indexes(
    instances_per_service: u64,
    connections: u64,
    connection: u64,
) -> impl Iterator<Item = u64> {
    assert!(connection < connections);
    (connection..instances_per_service).step_by(connections as usize)
}

/// The order in which connection `connection` visits the services: from `connection %
/// services` on, wrapping around.
pub fn service_order(services: u64, connection: u64) -> impl Iterator<Item = u64> {
    assert!(services > 0);
    let first = connection % services;
    (0..services).map(move |step| (first + step) % services)
}

#[derive(Debug, Clone)]
struct BatchSpec {
    server: std::net::SocketAddr,
    cpus: Vec<usize>,
    connections: u64,
    keyspace: Keyspace,
    timeout: Duration,
}

/// What one core, or all of them, registered.
#[derive(Debug, Clone, Default)]
struct Outcome {
    /// One latency sample per answered batch.
    stats: CoreStats,
    instances_ok: u64,
    connections_ok: u64,
}

impl Outcome {
    fn merge(&mut self, other: &Outcome) {
        self.stats.merge(&other.stats);
        self.instances_ok += other.instances_ok;
        self.connections_ok += other.connections_ok;
    }
}

struct Shared {
    /// Every core's outcome, merged as each core finishes registering.
    merged: Mutex<Outcome>,
    /// Cores done registering (or failed).
    registered: AtomicUsize,
    instances_live: AtomicU64,
    /// Close the connections and return.
    stop: AtomicBool,
    live: Vec<LiveCounters>,
}

/// Counts its core as done registering when dropped (also when the core panics), so that the
/// main thread never waits for a dead core.
struct RegisteredMark(Arc<Shared>);

impl Drop for RegisteredMark {
    fn drop(&mut self) {
        self.0.registered.fetch_add(1, Ordering::AcqRel);
    }
}

pub fn run(cli: &Cli) -> Result<i32, String> {
    let keyspace = Keyspace::new(cli.services, cli.instances_per_service)?;
    if cli.connections == 0 || cli.connections > CONNECTIONS_MAX {
        return Err(format!(
            "--connections must be between 1 and {CONNECTIONS_MAX}"
        ));
    }
    let connections = cli.connections as u64;
    let batch_max = keyspace.instances_per_service.div_ceil(connections);
    if batch_max > BATCH_INSTANCES_MAX {
        return Err(format!(
            "batches of {batch_max} instances; at most {BATCH_INSTANCES_MAX}: \
             use more --connections"
        ));
    }
    let cpus = pick_cpus(&allowed_cpus(), cli.cores)?;
    let spec = BatchSpec {
        server: cli.grpc_addr()?,
        cpus: cpus.clone(),
        connections,
        keyspace,
        timeout: cli
            .timeout
            .unwrap_or(Duration::from_millis(REQUEST_TIMEOUT_DEFAULT_MS)),
    };
    let shared = Arc::new(Shared {
        merged: Mutex::new(Outcome::default()),
        registered: AtomicUsize::new(0),
        instances_live: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        live: (0..cpus.len()).map(|_| LiveCounters::default()).collect(),
    });
    if !cli.quiet {
        eprintln!(
            "[setup] registering {} instances in {} service(s) over {connections} gRPC \
             connection(s) to {}, batches of up to {batch_max}",
            keyspace.keys_count(),
            keyspace.services,
            spec.server
        );
    }
    let started = Instant::now();
    let finished = Arc::new(AtomicUsize::new(0));
    let handles = {
        let (spec, shared) = (spec.clone(), shared.clone());
        spawn_cores(&cpus, cli.spin_before_park, &finished, move |core| {
            register_core(spec.clone(), shared.clone(), core)
        })?
    };
    wait_registered(&shared, started, cli.quiet);
    let elapsed = started.elapsed();
    let outcome = shared
        .merged
        .lock()
        .map_err(|_| "a core panicked while registering")?
        .clone();
    print_report(cli, &spec, &outcome, elapsed, batch_max);
    let _ = std::io::stdout().flush();
    if !cli.quiet {
        eprintln!(
            "[hold] holding {} instances on {} connection(s) for {:.1} s \
             (killing the process releases them)",
            outcome.instances_ok,
            outcome.connections_ok,
            cli.duration.as_secs_f64()
        );
    }
    std::thread::sleep(cli.duration);
    shared.stop.store(true, Ordering::Release);
    join_cores(handles)?;
    Ok(if outcome.instances_ok > 0 { 0 } else { 1 })
}

/// Waits until every core has registered, printing progress every second.
fn wait_registered(shared: &Shared, started: Instant, quiet: bool) {
    let interval = Duration::from_millis(PROGRESS_INTERVAL_MS);
    let mut next_print = started + interval;
    // Bounded: every batch is bounded by the timeout, and a panicking core counts as done.
    while shared.registered.load(Ordering::Acquire) < shared.live.len() {
        std::thread::sleep(Duration::from_millis(COORDINATION_POLL_MS));
        if quiet || Instant::now() < next_print {
            continue;
        }
        let (ok, errors) = shared
            .live
            .iter()
            .map(LiveCounters::snapshot)
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
        eprintln!(
            "[register] {:>5.1}s  batches ok {ok}  instances {}  errors {errors}",
            started.elapsed().as_secs_f64(),
            shared.instances_live.load(Ordering::Relaxed)
        );
        next_print += interval;
    }
}

async fn register_core(spec: BatchSpec, shared: Arc<Shared>, core: usize) {
    let cores = spec.cpus.len() as u64;
    assert!((core as u64) < cores);
    let mark = RegisteredMark(shared.clone());
    let permits = Rc::new(Semaphore::new(GRPC_SETUPS_IN_FLIGHT_PER_CORE_MAX as u64));
    let tasks: Vec<_> = (0..partition_len(spec.connections, cores, core as u64))
        .map(|index| {
            let connection = partition_key(cores, core as u64, index);
            let task = register_connection(
                spec.clone(),
                shared.clone(),
                permits.clone(),
                core,
                connection,
            );
            glommio::spawn_local(task)
        })
        .collect();
    let mut outcome = Outcome::default();
    let mut held = Vec::with_capacity(tasks.len());
    for task in tasks {
        let (connection, part) = task.await;
        outcome.merge(&part);
        held.extend(connection);
    }
    outcome.connections_ok = held.len() as u64;
    if let Ok(mut merged) = shared.merged.lock() {
        merged.merge(&outcome);
    }
    drop(mark);
    while !shared.stop.load(Ordering::Acquire) {
        glommio::timer::sleep(Duration::from_millis(COORDINATION_POLL_MS)).await;
    }
    // Closing the connections releases their instances.
    drop(held);
}

/// One connection: set up, then one batch per service. Returns the connection (unless it
/// failed) and what it registered.
async fn register_connection(
    spec: BatchSpec,
    shared: Arc<Shared>,
    permits: Rc<Semaphore>,
    core: usize,
    connection_index: u64,
) -> (Option<GrpcConnection>, Outcome) {
    let mut outcome = Outcome::default();
    let live = &shared.live[core];
    let opened = async {
        let _permit = permits
            .acquire_static_permit(1)
            .await
            .map_err(|_| ErrorKind::Io)?;
        GrpcConnection::open(spec.server, spec.timeout, None).await
    }
    .await;
    let mut connection = match opened {
        Ok(connection) => connection,
        Err(kind) => {
            outcome.stats.record_error(kind);
            live.add_error();
            return (None, outcome);
        }
    };
    let keyspace = spec.keyspace;
    let mut batch = Vec::new();
    for service in service_order(keyspace.services, connection_index) {
        batch.clear();
        for instance in batch_indexes(
            keyspace.instances_per_service,
            spec.connections,
            connection_index,
        ) {
            let key = Key {
                service_index: service,
                instance_index: instance,
            };
            batch.push((keyspace.ip(key), INSTANCE_PORT));
        }
        if batch.is_empty() {
            break;
        }
        let body = messages::batch_register_instances(service, &batch);
        let sent = Instant::now();
        let reply = connection
            .call(
                "BatchInstanceRequest",
                "BatchInstanceResponse",
                body,
                spec.timeout,
            )
            .await;
        match reply {
            Ok(_) => {
                outcome.stats.record_ok(sent.elapsed());
                outcome.instances_ok += batch.len() as u64;
                shared
                    .instances_live
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                live.add_ok();
            }
            Err(kind) => {
                outcome.stats.record_error(kind);
                live.add_error();
                if matches!(
                    kind,
                    ErrorKind::Io | ErrorKind::Timeout | ErrorKind::Protocol
                ) {
                    // The connection is gone, and the instances it held with it.
                    return (None, outcome);
                }
            }
        }
    }
    (Some(connection), outcome)
}

fn print_report(cli: &Cli, spec: &BatchSpec, outcome: &Outcome, elapsed: Duration, batch_max: u64) {
    let stats = &outcome.stats;
    let instances_per_s = outcome.instances_ok as f64 / elapsed.as_secs_f64().max(1e-9);
    let server = format!("{} (gRPC {})", cli.server, spec.server);
    if cli.json {
        let info = RunInfo {
            scenario: cli.scenario.name(),
            server,
            cpus: spec.cpus.clone(),
            connections: spec.connections as usize,
            services: spec.keyspace.services,
            instances_per_service: spec.keyspace.instances_per_service,
            keys: "batch".to_string(),
            rate_total_per_s: None,
            warmup: Duration::ZERO,
            configs: None,
        };
        let mut value = report::to_json(&info, stats, elapsed, None);
        value["mode"] = json!("batch register, then hold");
        value["instances_requested"] = json!(spec.keyspace.keys_count());
        value["instances_ok"] = json!(outcome.instances_ok);
        value["instances_per_s"] = json!(instances_per_s);
        value["batch_instances_max"] = json!(batch_max);
        value["connections_ok"] = json!(outcome.connections_ok);
        value["hold_s"] = json!(cli.duration.as_secs_f64());
        println!("{value}");
        return;
    }
    let rows = [
        ("scenario", cli.scenario.name().to_string()),
        ("server", server),
        (
            "cores",
            format!("{} (cpus {:?})", spec.cpus.len(), spec.cpus),
        ),
        (
            "connections",
            format!("{} of {} set up", outcome.connections_ok, spec.connections),
        ),
        (
            "instances",
            format!(
                "{} of {} registered ({} services, batches of up to {batch_max}) in {:.3} s: \
                 {instances_per_s:.0} instances/s",
                outcome.instances_ok,
                spec.keyspace.keys_count(),
                spec.keyspace.services,
                elapsed.as_secs_f64()
            ),
        ),
        (
            "batches",
            format!(
                "{} ok, {:.1}/s",
                stats.ok_count,
                stats.ok_count as f64 / elapsed.as_secs_f64().max(1e-9)
            ),
        ),
        ("latency ms", report::latency_line(stats)),
        ("errors", report::errors_line(stats)),
        ("hold", format!("{:.1} s", cli.duration.as_secs_f64())),
    ];
    print!("{}", report::rows_table(&rows));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The connections' batches cover every instance of a service exactly once.
    #[test]
    fn batches_cover_a_service_once() {
        for (instances, connections) in [(1000u64, 100u64), (10, 3), (2, 5), (1, 1)] {
            let mut seen = vec![0u32; instances as usize];
            for connection in 0..connections {
                let batch: Vec<u64> = batch_indexes(instances, connections, connection).collect();
                assert!(batch.len() as u64 <= instances.div_ceil(connections));
                for index in batch {
                    seen[index as usize] += 1;
                }
            }
            assert!(
                seen.iter().all(|&count| count == 1),
                "{instances}/{connections}"
            );
        }
    }

    /// Each connection visits every service once, from its own starting point.
    #[test]
    fn services_in_rotated_order() {
        let order: Vec<u64> = service_order(4, 6).collect();
        assert_eq!(order, vec![2, 3, 0, 1]);
        assert_eq!(service_order(1, 9).collect::<Vec<_>>(), vec![0]);
    }
}
