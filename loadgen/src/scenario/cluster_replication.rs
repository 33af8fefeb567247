//! `cluster-replication`: how long a registration on one cluster member takes to become
//! visible on another.
//!
//! Writes: `--connections` HTTP connections (dealt to the cores) register NEW ephemeral
//! instances on `--server` (`POST /nacos/v1/ns/instance`) at the fixed `--rate`, open loop.
//! Registration `n` (the global slot of the schedule, so numbered in order of intended send
//! time across the cores) is instance `10.a.b.c` (the 24 low bits of `n`) on the run's port in
//! `lg-svc-{n % services}`. The port is picked per run from `REPLICATION_PORT_FIRST ..
//! + REPLICATION_PORT_COUNT`, so every `ip:port` is a client the server has not seen, even
//! right after another run. The time its `ok` answer was read is its *ack*.
//!
//! Observation: before the first write, `--subscribers` gRPC connections (at most one per
//! service) on the peer (`--peer-server`, gRPC port = its HTTP port + 1000 or
//! `--peer-grpc-port`) subscribe to every service, service `s` on observer `s % observers`.
//! Every pushed `serviceInfo` (and every subscribe reply) is scanned for its hosts; an
//! `ip:port` of this run seen for the first time gets the push's arrival time (when its
//! connection read it off the socket, `grpc::stamped`). Push-based observation costs one scan
//! per push, so one load core resolves 10,000 registrations/s.
//!
//! Replication lag = arrival on the peer − ack on `--server`, one sample per registration sent
//! after warmup that was acknowledged and seen (a registration seen before its ack was read
//! counts as 0 and is counted as `visible_before_ack`). Writes landing on a member that is not
//! responsible for the client are forwarded by the server: that is part of the lag. After the
//! last write, registrations get `--grace` to show up; every acknowledged measured
//! registration still not seen then is *missing* (reported, and counted as an error).
//!
//! Beats: none. Ephemeral HTTP instances turn unhealthy 15 s after their last beat, so the
//! write phase (warmup + duration) is limited to `REPLICATION_WRITE_PHASE_MAX_MS` (15 s) and
//! runs stay short; the instances expire 30 s after the run. Pointing `--peer-server` at
//! `--server` itself measures the local push path (register → push of the same member).
//!
//! Pushes carry every instance of their service, so use many services (e.g. `--services
//! 10000` at 10,000/s for 12 s: 12 instances per service at the end).

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use glommio::sync::Semaphore;
use serde_json::json;

use crate::cli::{allowed_cpus, pick_cpus, Cli};
use crate::grpc::client::{GrpcConnection, PushHandler};
use crate::grpc::messages::{self, for_each_host};
use crate::http::client::HttpConnection;
use crate::http::request::write_request;
use crate::keyspace::{partition_key, partition_len, SERVICE_NAME_PREFIX};
use crate::limits::{
    CONNECTIONS_MAX, CONNECTION_WRITE_BUFFER_BYTES, COORDINATION_POLL_MS,
    GRPC_SETUPS_IN_FLIGHT_PER_CORE_MAX, GRPC_SETUP_PHASE_TIMEOUT_MS, RECONNECT_BACKOFF_MS,
    REPLICATION_INSTANCES_PER_SERVICE_WARN, REPLICATION_PORT_COUNT, REPLICATION_PORT_FIRST,
    REPLICATION_REGISTRATIONS_MAX, REPLICATION_WRITE_PHASE_MAX_MS, REQUEST_TIMEOUT_DEFAULT_MS,
    SERVICES_MAX,
};
use crate::report::{self, Latency, RunInfo};
use crate::runner::{exchange, join_cores, sleep_until, spawn_cores, watch_progress, Progress};
use crate::scenario::http::Op;
use crate::schedule::{slots_before, Schedule};
use crate::stats::{CoreStats, ErrorKind, LiveCounters};

/// Time between the observers being set up and the first write, so that every core's writers
/// are waiting when the schedule starts.
const START_DELAY_MS: u64 = 200;

/// The instance of registration `sequence`: `10.a.b.c` from its 24 low bits, on `port`.
pub fn instance_of(sequence: u64, port: u16) -> ([u8; 4], u16) {
    assert!(sequence < REPLICATION_REGISTRATIONS_MAX);
    let ip = [
        10,
        (sequence >> 16) as u8,
        (sequence >> 8) as u8,
        sequence as u8,
    ];
    (ip, port)
}

/// The registration an instance address belongs to, when it is one of this run's: `10.a.b.c`
/// on `run_port`, numbered below `planned`.
pub fn sequence_of(ip: &str, port: u16, run_port: u16, planned: u64) -> Option<u64> {
    if port != run_port {
        return None;
    }
    let mut octets = [0u64; 4];
    let mut parts = ip.split('.');
    for octet in &mut octets {
        *octet = u64::from(parts.next()?.parse::<u8>().ok()?);
    }
    if parts.next().is_some() || octets[0] != 10 {
        return None;
    }
    let sequence = (octets[1] << 16) | (octets[2] << 8) | octets[3];
    (sequence < planned).then_some(sequence)
}

/// The register request of registration `sequence` (form body, as `http-register` sends it).
pub fn encode_register(
    sequence: u64,
    services: u64,
    port: u16,
    host: &str,
    body: &mut Vec<u8>,
    request: &mut Vec<u8>,
) {
    use std::io::Write as _;
    debug_assert!(services > 0);
    let ([a, b, c, d], port) = instance_of(sequence, port);
    let service = sequence % services;
    body.clear();
    let _ = write!(
        body,
        "serviceName={SERVICE_NAME_PREFIX}{service}&ip={a}.{b}.{c}.{d}&port={port}\
         &weight=1.0&healthy=true&enabled=true&ephemeral=true"
    );
    write_request(request, "POST", "/nacos/v1/ns/instance", host, body);
}

/// What the acks and arrivals of the measured registrations add up to. Times are stamps (µs
/// since the run's epoch, plus one; 0 = none).
#[derive(Debug, Clone, Default)]
pub struct Tally {
    /// One lag sample per acknowledged registration seen on the peer.
    pub lag: CoreStats,
    pub acked: u64,
    pub visible: u64,
    /// Acknowledged, never seen.
    pub missing: u64,
    /// Seen on the peer before the ack was read (lag recorded as 0).
    pub visible_before_ack: u64,
    /// Seen on the peer although the register failed or timed out.
    pub visible_unacked: u64,
}

/// Tallies registrations whose ack stamps are `acks` and arrival stamps `seen` (same order).
pub fn tally(acks: &[u64], seen: &[u64]) -> Tally {
    assert_eq!(acks.len(), seen.len());
    let mut tally = Tally::default();
    for (&ack, &arrived) in acks.iter().zip(seen) {
        match (ack, arrived) {
            (0, 0) => {}
            (0, _) => tally.visible_unacked += 1,
            (_, 0) => {
                tally.acked += 1;
                tally.missing += 1;
            }
            (ack, arrived) => {
                tally.acked += 1;
                tally.visible += 1;
                if arrived < ack {
                    tally.visible_before_ack += 1;
                }
                tally
                    .lag
                    .record_ok(Duration::from_micros(arrived.saturating_sub(ack)));
            }
        }
    }
    debug_assert_eq!(tally.acked, tally.visible + tally.missing);
    tally
}

/// The per-run instance port, from the wall clock and the process id.
fn run_port() -> u16 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            elapsed.subsec_nanos() as u64 ^ elapsed.as_secs()
        });
    let mixed = nanos ^ (u64::from(std::process::id()) << 7);
    REPLICATION_PORT_FIRST + (mixed % u64::from(REPLICATION_PORT_COUNT)) as u16
}

/// The settings of a run, from the flags.
#[derive(Debug, Clone)]
struct ReplicationSpec {
    server: SocketAddr,
    host: String,
    peer_grpc: SocketAddr,
    cpus: Vec<usize>,
    connections: usize,
    rate_per_s: f64,
    warmup: Duration,
    duration: Duration,
    grace: Duration,
    timeout: Duration,
    spin_before_park: Duration,
}

/// What every core shares.
struct Shared {
    epoch: Instant,
    services: u64,
    port: u16,
    /// Registrations of the run: sequences `0..planned` (warmup included).
    planned: u64,
    /// The first registration intended after warmup.
    measured_from: u64,
    acks: Vec<AtomicU64>,
    seen: Vec<AtomicU64>,
    observers: u64,
    /// Observers whose setup ended, successfully or not.
    settled: AtomicUsize,
    observers_ok: AtomicU64,
    /// No observer could be set up: the writers send nothing.
    abort: AtomicBool,
    subscribed: AtomicU64,
    pushes: AtomicU64,
    /// Stamp of the schedule start (0 until core 0 sets it).
    start: AtomicU64,
    writers_done: AtomicUsize,
    /// Time from the last write to the last acknowledged registration seen (or the grace), µs.
    drain_us: AtomicU64,
    observe_done: AtomicBool,
    live: Vec<LiveCounters>,
}

impl Shared {
    fn stamp(&self, at: Instant) -> u64 {
        let us = at.saturating_duration_since(self.epoch).as_micros();
        u64::try_from(us).unwrap_or(u64::MAX - 1) + 1
    }

    fn instant(&self, stamp: u64) -> Instant {
        debug_assert!(stamp > 0);
        self.epoch + Duration::from_micros(stamp - 1)
    }

    /// A `serviceInfo` arrived at `arrived`: first sightings of this run's instances.
    fn on_service_info(&self, arrived: u64, body: &[u8]) {
        for_each_host(body, |ip, port| {
            if let Some(sequence) = sequence_of(ip, port, self.port, self.planned) {
                let slot = &self.seen[sequence as usize];
                let _ = slot.compare_exchange(0, arrived, Ordering::Relaxed, Ordering::Relaxed);
            }
        });
    }
}

/// One core's outcome.
#[derive(Debug, Clone, Default)]
struct CoreOutcome {
    /// Register latency (intended send to `ok` read) and errors, after warmup.
    register: CoreStats,
    /// Observer connection and subscribe failures.
    observer_errors: CoreStats,
    sent: u64,
    observers_ok: u64,
}

pub fn run(cli: &Cli) -> Result<i32, String> {
    if cli.services == 0 || cli.services > SERVICES_MAX {
        return Err(format!("--services must be between 1 and {SERVICES_MAX}"));
    }
    let rate_per_s = cli
        .rate
        .ok_or("cluster-replication needs --rate (registrations per second)")?;
    if !(rate_per_s > 0.0 && rate_per_s.is_finite()) {
        return Err("--rate must be a positive number of registrations per second".into());
    }
    let write_phase = cli.warmup + cli.duration;
    if cli.duration.is_zero() || write_phase > Duration::from_millis(REPLICATION_WRITE_PHASE_MAX_MS)
    {
        return Err(format!(
            "cluster-replication sends no beats: --warmup + --duration must be positive and at \
             most {} s (the heartbeat timeout of the first instances)",
            REPLICATION_WRITE_PHASE_MAX_MS / 1000
        ));
    }
    if cli.subscribers == 0 {
        return Err("--subscribers (observer connections) must be at least 1".into());
    }
    let planned = slots_before(write_phase, rate_per_s);
    let measured_from = slots_before(cli.warmup, rate_per_s);
    if planned > REPLICATION_REGISTRATIONS_MAX {
        return Err(format!(
            "{planned} registrations planned; at most {REPLICATION_REGISTRATIONS_MAX}: \
             lower --rate or --duration"
        ));
    }
    if planned <= measured_from {
        return Err("no registration falls after warmup: raise --rate or --duration".into());
    }
    let cpus = pick_cpus(&allowed_cpus(), cli.cores)?;
    if cli.connections < cpus.len() || cli.connections > CONNECTIONS_MAX {
        return Err(format!(
            "--connections must be between --cores ({}) and {CONNECTIONS_MAX}",
            cpus.len()
        ));
    }
    let (_, peer_grpc) = cli.peer_addrs()?;
    let spec = ReplicationSpec {
        server: cli.server_addr()?,
        host: cli.server.clone(),
        peer_grpc,
        cpus: cpus.clone(),
        connections: cli.connections,
        rate_per_s,
        warmup: cli.warmup,
        duration: cli.duration,
        grace: cli.grace,
        timeout: cli
            .timeout
            .unwrap_or(Duration::from_millis(REQUEST_TIMEOUT_DEFAULT_MS)),
        spin_before_park: cli.spin_before_park,
    };
    let observers = (cli.subscribers as u64).min(cli.services);
    let shared = Arc::new(Shared {
        epoch: Instant::now(),
        services: cli.services,
        port: run_port(),
        planned,
        measured_from,
        acks: (0..planned).map(|_| AtomicU64::new(0)).collect(),
        seen: (0..planned).map(|_| AtomicU64::new(0)).collect(),
        observers,
        settled: AtomicUsize::new(0),
        observers_ok: AtomicU64::new(0),
        abort: AtomicBool::new(false),
        subscribed: AtomicU64::new(0),
        pushes: AtomicU64::new(0),
        start: AtomicU64::new(0),
        writers_done: AtomicUsize::new(0),
        drain_us: AtomicU64::new(0),
        observe_done: AtomicBool::new(false),
        live: (0..cpus.len()).map(|_| LiveCounters::default()).collect(),
    });
    let per_service = planned.div_ceil(cli.services);
    if !cli.quiet {
        eprintln!(
            "[setup] {observers} observer(s) on {peer_grpc} subscribing to {} service(s); \
             then {planned} registrations at {rate_per_s}/s on {} (instance port {})",
            cli.services, cli.server, shared.port
        );
        if per_service > REPLICATION_INSTANCES_PER_SERVICE_WARN {
            eprintln!(
                "[setup] warning: up to {per_service} new instances per service, and every push \
                 carries them all: pushes, not replication, will dominate; use more --services"
            );
        }
    }
    let finished = Arc::new(AtomicUsize::new(0));
    let handles = {
        let (spec, shared) = (spec.clone(), shared.clone());
        spawn_cores(&cpus, spec.spin_before_park, &finished, move |core| {
            run_core(spec.clone(), shared.clone(), core)
        })?
    };
    let progress = Progress {
        label: "register",
        enabled: !cli.quiet,
        start: Instant::now(),
        warmup: Duration::ZERO,
    };
    watch_progress(&progress, &shared.live, &finished);
    let mut merged = CoreOutcome::default();
    for outcome in join_cores(handles)? {
        merged.register.merge(&outcome.register);
        merged.observer_errors.merge(&outcome.observer_errors);
        merged.sent += outcome.sent;
        merged.observers_ok += outcome.observers_ok;
    }
    let measured = measured_from as usize..planned as usize;
    let load = |slots: &[AtomicU64]| -> Vec<u64> {
        slots[measured.clone()]
            .iter()
            .map(|slot| slot.load(Ordering::Relaxed))
            .collect()
    };
    let tally = tally(&load(&shared.acks), &load(&shared.seen));
    print_report(cli, &spec, &shared, &merged, &tally);
    Ok(if tally.visible > 0 { 0 } else { 1 })
}

async fn run_core(spec: ReplicationSpec, shared: Arc<Shared>, core: usize) -> CoreOutcome {
    let cores = spec.cpus.len();
    assert!(core < cores);
    let observer_errors = Rc::new(RefCell::new(CoreStats::new()));
    let permits = Rc::new(Semaphore::new(GRPC_SETUPS_IN_FLIGHT_PER_CORE_MAX as u64));
    let setups: Vec<_> = (0..partition_len(shared.observers, cores as u64, core as u64))
        .map(|index| {
            let observer = partition_key(cores as u64, core as u64, index);
            let task = observe(
                spec.clone(),
                shared.clone(),
                observer_errors.clone(),
                permits.clone(),
                observer,
            );
            glommio::spawn_local(task)
        })
        .collect();
    let writer_count = partition_len(spec.connections as u64, cores as u64, core as u64);
    let mut connections = Vec::with_capacity(writer_count as usize);
    for _ in 0..writer_count {
        // A failed connect is retried (and counted) by the writer.
        connections.push(HttpConnection::connect(spec.server).await.ok());
    }
    let mut held = Vec::with_capacity(setups.len());
    for setup in setups {
        if let Some(connection) = setup.await {
            held.push(connection);
        }
    }
    let start = schedule_start(&shared, core).await;
    let schedule = Rc::new(Schedule::new(
        start,
        spec.rate_per_s,
        cores as u64,
        core as u64,
    ));
    let register = Rc::new(RefCell::new(CoreStats::new()));
    let writers: Vec<_> = connections
        .into_iter()
        .map(|connection| {
            let task = write(
                spec.clone(),
                shared.clone(),
                schedule.clone(),
                register.clone(),
                core,
                connection,
                start,
            );
            glommio::spawn_local(task)
        })
        .collect();
    let mut sent = 0;
    for writer in writers {
        sent += writer.await;
    }
    shared.writers_done.fetch_add(1, Ordering::AcqRel);
    if core == 0 {
        drain(&shared, cores, spec.grace).await;
        shared.observe_done.store(true, Ordering::Release);
    } else {
        // Bounded: core 0 drains for at most --grace once every core's writers are done.
        while !shared.observe_done.load(Ordering::Acquire) {
            glommio::timer::sleep(Duration::from_millis(COORDINATION_POLL_MS)).await;
        }
    }
    let observers_ok = held.len() as u64;
    drop(held);
    CoreOutcome {
        register: register.take(),
        observer_errors: observer_errors.take(),
        sent,
        observers_ok,
    }
}

/// Core 0 waits for the observers (bounded) and sets the schedule start for every core; the
/// others wait for it.
async fn schedule_start(shared: &Shared, core: usize) -> Instant {
    if core == 0 {
        let deadline = Instant::now() + Duration::from_millis(GRPC_SETUP_PHASE_TIMEOUT_MS);
        while (shared.settled.load(Ordering::Acquire) as u64) < shared.observers
            && Instant::now() < deadline
        {
            glommio::timer::sleep(Duration::from_millis(COORDINATION_POLL_MS)).await;
        }
        if shared.observers_ok.load(Ordering::Acquire) == 0 {
            eprintln!("nacore-loadgen: no observer could be set up on the peer: nothing sent");
            shared.abort.store(true, Ordering::Release);
        }
        let stamp = shared.stamp(Instant::now() + Duration::from_millis(START_DELAY_MS));
        shared.start.store(stamp, Ordering::Release);
        // The same µs-rounded instant the other cores read.
        return shared.instant(stamp);
    }
    // Bounded by core 0's setup deadline.
    loop {
        let stamp = shared.start.load(Ordering::Acquire);
        if stamp != 0 {
            return shared.instant(stamp);
        }
        glommio::timer::sleep(Duration::from_millis(COORDINATION_POLL_MS)).await;
    }
}

/// One observer connection on the peer: set up, then subscribe to its services; its pushes
/// are scanned by `Shared::on_service_info` until the connection is dropped.
async fn observe(
    spec: ReplicationSpec,
    shared: Arc<Shared>,
    errors: Rc<RefCell<CoreStats>>,
    permits: Rc<Semaphore>,
    observer: u64,
) -> Option<GrpcConnection> {
    debug_assert!(observer < shared.observers);
    let handler: PushHandler = {
        let shared = shared.clone();
        Rc::new(move |arrived, push| {
            shared.pushes.fetch_add(1, Ordering::Relaxed);
            shared.on_service_info(shared.stamp(arrived), &push.body);
        })
    };
    let result = async {
        let _permit = permits
            .acquire_static_permit(1)
            .await
            .map_err(|_| ErrorKind::Io)?;
        let mut connection =
            GrpcConnection::open(spec.peer_grpc, spec.timeout, Some(handler)).await?;
        let step = shared.observers as usize;
        for service in (observer..shared.services).step_by(step) {
            let body = messages::subscribe_service(service);
            let reply = connection
                .call(
                    "SubscribeServiceRequest",
                    "SubscribeServiceResponse",
                    body,
                    spec.timeout,
                )
                .await?;
            shared.on_service_info(shared.stamp(Instant::now()), &reply.body);
            shared.subscribed.fetch_add(1, Ordering::Relaxed);
        }
        Ok::<_, ErrorKind>(connection)
    }
    .await;
    if result.is_ok() {
        shared.observers_ok.fetch_add(1, Ordering::AcqRel);
    }
    shared.settled.fetch_add(1, Ordering::AcqRel);
    match result {
        Ok(connection) => Some(connection),
        Err(kind) => {
            errors.borrow_mut().record_error(kind);
            None
        }
    }
}

/// One writer connection: claims the core's next slot, registers its instance at the
/// intended time, records the ack. Returns the registrations it sent.
async fn write(
    spec: ReplicationSpec,
    shared: Arc<Shared>,
    schedule: Rc<Schedule>,
    stats: Rc<RefCell<CoreStats>>,
    core: usize,
    mut connection: Option<HttpConnection>,
    start: Instant,
) -> u64 {
    let warmup_end = start + spec.warmup;
    // Slots are claimed by intended time, which ends at warmup + duration; a server that
    // falls far behind must not keep the run going for long after that.
    let give_up = warmup_end + spec.duration + spec.timeout;
    let mut body = Vec::with_capacity(CONNECTION_WRITE_BUFFER_BYTES / 2);
    let mut request = Vec::with_capacity(CONNECTION_WRITE_BUFFER_BYTES);
    let op = Op::Register { long_lived: false };
    let live = &shared.live[core];
    let mut sent = 0;
    loop {
        let (sequence, intended) = schedule.claim_global();
        if sequence >= shared.planned
            || Instant::now() >= give_up
            || shared.abort.load(Ordering::Relaxed)
        {
            break;
        }
        sleep_until(intended).await;
        let measured = intended >= warmup_end;
        debug_assert_eq!(measured, sequence >= shared.measured_from);
        if connection.is_none() {
            match HttpConnection::connect(spec.server).await {
                Ok(fresh) => connection = Some(fresh),
                Err(kind) => {
                    live.add_error();
                    if measured {
                        stats.borrow_mut().record_error(kind);
                    }
                    glommio::timer::sleep(Duration::from_millis(RECONNECT_BACKOFF_MS)).await;
                    continue;
                }
            }
        }
        let Some(open) = connection.as_mut() else {
            continue;
        };
        encode_register(
            sequence,
            shared.services,
            shared.port,
            &spec.host,
            &mut body,
            &mut request,
        );
        let (outcome, keep) = exchange(open, &request, op, spec.timeout).await;
        let done = Instant::now();
        sent += 1;
        if !keep {
            connection = None;
        }
        match outcome {
            Ok(()) => {
                shared.acks[sequence as usize].store(shared.stamp(done), Ordering::Relaxed);
                live.add_ok();
                if measured {
                    stats
                        .borrow_mut()
                        .record_ok(done.saturating_duration_since(intended));
                }
            }
            Err(kind) => {
                live.add_error();
                if measured {
                    stats.borrow_mut().record_error(kind);
                }
            }
        }
    }
    sent
}

/// On core 0, once every core's writers are done: waits until every acknowledged measured
/// registration was seen on the peer, or `grace` is over; records how long that took.
async fn drain(shared: &Shared, cores: usize, grace: Duration) {
    // Bounded: each writer stops by warmup + duration + timeout.
    while shared.writers_done.load(Ordering::Acquire) < cores {
        glommio::timer::sleep(Duration::from_millis(COORDINATION_POLL_MS)).await;
    }
    let started = Instant::now();
    let deadline = started + grace;
    let mut cursor = shared.measured_from as usize;
    let planned = shared.planned as usize;
    loop {
        // Registrations before the cursor are seen or were never acknowledged.
        while cursor < planned
            && (shared.acks[cursor].load(Ordering::Relaxed) == 0
                || shared.seen[cursor].load(Ordering::Relaxed) != 0)
        {
            cursor += 1;
        }
        if cursor == planned || Instant::now() >= deadline {
            break;
        }
        glommio::timer::sleep(Duration::from_millis(COORDINATION_POLL_MS)).await;
    }
    let waited_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    shared.drain_us.store(waited_us, Ordering::Release);
}

fn latency_json(latency: Latency) -> serde_json::Value {
    json!({
        "p50": latency.p50_us, "p90": latency.p90_us, "p99": latency.p99_us,
        "p99_9": latency.p999_us, "max": latency.max_us,
    })
}

fn print_report(
    cli: &Cli,
    spec: &ReplicationSpec,
    shared: &Shared,
    outcome: &CoreOutcome,
    tally: &Tally,
) {
    let register = &outcome.register;
    // The lag histogram, with the registrations' throughput and errors plus the missing ones.
    let mut combined = tally.lag.clone();
    combined.ok_count = register.ok_count;
    combined.errors = register.errors.clone();
    combined.record_errors(ErrorKind::Missing, tally.missing);
    let peer = format!(
        "{} (gRPC {})",
        cli.peer_server.as_deref().unwrap_or(""),
        spec.peer_grpc
    );
    let latency_kind = "replication lag: register ok read from --server to the first push \
                        read off the socket on the peer that lists the instance";
    let drain_s = shared.drain_us.load(Ordering::Acquire) as f64 / 1e6;
    let subscribed = shared.subscribed.load(Ordering::Relaxed);
    let pushes = shared.pushes.load(Ordering::Relaxed);
    if cli.json {
        let info = RunInfo {
            scenario: cli.scenario.name(),
            server: cli.server.clone(),
            cpus: spec.cpus.clone(),
            connections: spec.connections,
            services: shared.services,
            instances_per_service: shared.planned.div_ceil(shared.services),
            keys: "new".to_string(),
            rate_total_per_s: Some(spec.rate_per_s),
            warmup: spec.warmup,
            configs: None,
        };
        let mut value = report::to_json(&info, &combined, spec.duration, None);
        value["peer"] = json!(peer);
        value["latency_kind"] = json!(latency_kind);
        // No sample, no quantiles: an empty histogram's zeros would read as no lag.
        let lag = (tally.visible > 0).then(|| latency_json(Latency::of(&tally.lag)));
        if lag.is_none() {
            value["latency_us"] = json!(null);
        }
        value["replication_lag_us"] = json!(lag);
        value["lag_samples"] = json!(tally.visible);
        value["register_latency_us"] = latency_json(Latency::of(register));
        value["registrations_sent"] = json!(outcome.sent);
        value["registrations_planned"] = json!(shared.planned);
        value["registrations_measured"] = json!(shared.planned - shared.measured_from);
        value["registrations_measured_ok"] = json!(tally.acked);
        value["visible"] = json!(tally.visible);
        value["missing"] = json!(tally.missing);
        value["visible_before_ack"] = json!(tally.visible_before_ack);
        value["visible_unacked"] = json!(tally.visible_unacked);
        value["grace_s"] = json!(spec.grace.as_secs_f64());
        value["drain_s"] = json!(drain_s);
        value["observers"] = json!(shared.observers);
        value["observers_ok"] = json!(outcome.observers_ok);
        value["services_subscribed"] = json!(subscribed);
        value["pushes_received"] = json!(pushes);
        value["observer_errors"] = json!(report::errors_line(&outcome.observer_errors));
        value["instance_port"] = json!(shared.port);
        println!("{value}");
        return;
    }
    let rows = [
        ("scenario", cli.scenario.name().to_string()),
        ("server", format!("{} (writes)", cli.server)),
        ("peer", format!("{peer} (observed)")),
        (
            "cores",
            format!("{} (cpus {:?})", spec.cpus.len(), spec.cpus),
        ),
        (
            "observers",
            format!(
                "{} of {} set up, {} of {} services subscribed, {} pushes, errors: {}",
                outcome.observers_ok,
                shared.observers,
                subscribed,
                shared.services,
                pushes,
                report::errors_line(&outcome.observer_errors)
            ),
        ),
        (
            "writes",
            format!(
                "{:.1} registrations/s for {:.1} s after {:.1} s warmup, {} connections, \
                 instance port {}: {} sent, {} measured, {} ok",
                spec.rate_per_s,
                spec.duration.as_secs_f64(),
                spec.warmup.as_secs_f64(),
                spec.connections,
                shared.port,
                outcome.sent,
                shared.planned - shared.measured_from,
                register.ok_count
            ),
        ),
        (
            "throughput",
            format!(
                "{:.1} registrations/s ok",
                register.ok_count as f64 / spec.duration.as_secs_f64()
            ),
        ),
        ("register ms", report::latency_line(register)),
        ("errors", report::errors_line(register)),
        (
            "visible",
            format!(
                "{} of {} acknowledged on the peer ({} before their ack was read, {} not \
                 acknowledged but seen)",
                tally.visible, tally.acked, tally.visible_before_ack, tally.visible_unacked
            ),
        ),
        (
            "missing",
            format!(
                "{} (not seen within the run + {:.1} s grace; waited {drain_s:.3} s)",
                tally.missing,
                spec.grace.as_secs_f64()
            ),
        ),
        (
            "lag ms",
            if tally.visible > 0 {
                report::latency_line(&tally.lag)
            } else {
                "n/a (no registration seen on the peer)".to_string()
            },
        ),
        ("lag kind", latency_kind.to_string()),
    ];
    print!("{}", report::rows_table(&rows));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Registration numbers map to unique `10.x` addresses and back; other ports, other
    /// networks and numbers past the plan are not this run's.
    #[test]
    fn instances_round_trip() {
        for sequence in [0u64, 1, 255, 256, 65_535, 65_536, 1_234_567] {
            let ([a, b, c, d], port) = instance_of(sequence, 31_000);
            assert_eq!(port, 31_000);
            let ip = format!("{a}.{b}.{c}.{d}");
            assert_eq!(sequence_of(&ip, 31_000, 31_000, 2_000_000), Some(sequence));
        }
        assert_eq!(instance_of(0x01_02_03, 1).0, [10, 1, 2, 3]);
        assert_eq!(sequence_of("10.0.0.5", 31_001, 31_000, 100), None);
        assert_eq!(sequence_of("10.0.0.5", 31_000, 31_000, 5), None);
        assert_eq!(sequence_of("11.0.0.5", 31_000, 31_000, 100), None);
        assert_eq!(sequence_of("10.0.5", 31_000, 31_000, 100), None);
        assert_eq!(sequence_of("10.0.0.0.5", 31_000, 31_000, 100), None);
        assert_eq!(sequence_of("10.0.0.256", 31_000, 31_000, 1000), None);
        assert_eq!(sequence_of("10.0.1.0", 31_000, 31_000, 1000), Some(256));
    }

    /// The register request names the service of the registration and its address.
    #[test]
    fn register_request() {
        let (mut body, mut request) = (Vec::new(), Vec::new());
        encode_register(258, 10, 31_000, "h:1", &mut body, &mut request);
        let text = String::from_utf8(request).unwrap();
        assert!(text.starts_with("POST /nacos/v1/ns/instance HTTP/1.1\r\nHost: h:1\r\n"));
        assert!(text.ends_with(
            "\r\n\r\nserviceName=lg-svc-8&ip=10.0.1.2&port=31000\
             &weight=1.0&healthy=true&enabled=true&ephemeral=true"
        ));
    }

    /// Lags are arrival − ack; unseen acknowledged registrations are missing; early arrivals
    /// count as zero lag; unacknowledged ones are no sample.
    #[test]
    fn tally_of_acks_and_arrivals() {
        let acks = [1_000, 2_000, 3_000, 0, 0, 5_000];
        let seen = [1_500, 0, 2_900, 4_200, 0, 25_000];
        let tally = tally(&acks, &seen);
        assert_eq!(tally.acked, 4);
        assert_eq!(tally.visible, 3);
        assert_eq!(tally.missing, 1);
        assert_eq!(tally.visible_before_ack, 1);
        assert_eq!(tally.visible_unacked, 1);
        assert_eq!(tally.lag.ok_count, 3);
        assert_eq!(tally.lag.latency_us.len(), 3);
        assert_eq!(tally.lag.latency_us.min(), 0);
        let max = tally.lag.latency_us.max();
        assert!((19_980..=20_020).contains(&max), "max {max}");
        let empty = super::tally(&[], &[]);
        assert_eq!((empty.acked, empty.missing), (0, 0));
    }

    /// Pushes record the first arrival of this run's instances only.
    #[test]
    fn first_sightings() {
        let planned = 4u64;
        let shared = Shared {
            epoch: Instant::now(),
            services: 2,
            port: 31_000,
            planned,
            measured_from: 0,
            acks: (0..planned).map(|_| AtomicU64::new(0)).collect(),
            seen: (0..planned).map(|_| AtomicU64::new(0)).collect(),
            observers: 1,
            settled: AtomicUsize::new(0),
            observers_ok: AtomicU64::new(0),
            abort: AtomicBool::new(false),
            subscribed: AtomicU64::new(0),
            pushes: AtomicU64::new(0),
            start: AtomicU64::new(0),
            writers_done: AtomicUsize::new(0),
            drain_us: AtomicU64::new(0),
            observe_done: AtomicBool::new(false),
            live: Vec::new(),
        };
        let first = br#"{"hosts":[{"ip":"10.0.0.1","port":31000},{"ip":"10.0.0.1","port":8080},
            {"ip":"10.0.0.9","port":31000}]}"#;
        shared.on_service_info(100, first);
        let second =
            br#"{"hosts":[{"ip":"10.0.0.1","port":31000},{"ip":"10.0.0.3","port":31000}]}"#;
        shared.on_service_info(200, second);
        let seen: Vec<u64> = shared
            .seen
            .iter()
            .map(|slot| slot.load(Ordering::Relaxed))
            .collect();
        assert_eq!(seen, vec![0, 100, 0, 200]);
        let at = shared.epoch + Duration::from_micros(42);
        assert_eq!(shared.stamp(at), 43);
        assert_eq!(shared.instant(43), at);
    }

    /// Run ports stay inside their range.
    #[test]
    fn run_ports() {
        for _ in 0..100 {
            let port = run_port();
            assert!(
                (REPLICATION_PORT_FIRST..REPLICATION_PORT_FIRST + REPLICATION_PORT_COUNT)
                    .contains(&port)
            );
        }
    }
}
