//! `grpc-subscribe-push`: change-to-push latency. `--subscribers` gRPC connections (dealt to
//! the cores) each subscribe to one service, subscriber `i` to `lg-svc-{i % services}`. Once
//! all are set up, one churn connection on core 0 makes changes at `--rate` (default
//! `CHURN_RATE_DEFAULT_PER_S`): change `n` re-registers the churn connection's instance in
//! `lg-svc-{n % services}` with a new port and metadata `lg.seq = n`. Re-registering replaces
//! the connection's instance (nacos-protocol.md §3.5), so every change removes one instance and
//! adds another.
//!
//! A push reflects change `n` when its highest `lg.seq` is at least `n`. When a subscriber's
//! push first reflects changes of its service, each of them is recorded once into the
//! histogram, as the time from that change's send to the push's arrival (coalesced changes
//! each get their own sample). A push arrives when its connection reads it off the socket
//! (`grpc::stamped`): a thousand subscribers share one load core, and the time that core
//! takes to decode and ack the pushes ahead of a subscriber's is the client's queue, not the
//! server's latency. Changes sent during warmup are not recorded. After the churn
//! stops, subscribers get `PUSH_DRAIN_TIMEOUT_MS` to catch up; every measured change of its
//! service a subscriber has still not seen is a `missing_push` error.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use glommio::sync::Semaphore;
use serde_json::json;

use crate::cli::{allowed_cpus, pick_cpus, Cli};
use crate::grpc::client::{GrpcConnection, PushHandler};
use crate::grpc::messages::{self, churn_sequence_max};
use crate::grpc::wire::Incoming;
use crate::keyspace::partition_len;
use crate::limits::{
    CHURN_RATE_DEFAULT_PER_S, CHURN_SEQUENCE_RING_LEN, COORDINATION_POLL_MS,
    GRPC_SETUPS_IN_FLIGHT_PER_CORE_MAX, GRPC_SETUP_PHASE_TIMEOUT_MS, PUSH_DRAIN_TIMEOUT_MS,
    REQUEST_TIMEOUT_DEFAULT_MS, SERVICES_MAX, SUBSCRIBERS_MAX,
};
use crate::report::{self, RunInfo};
use crate::runner::{join_cores, sleep_until, spawn_cores, watch_progress, Progress};
use crate::schedule::Schedule;
use crate::stats::{CoreStats, ErrorKind, LiveCounters};

/// The churn instance's IP (TEST-NET-1, outside the `10.x` keyspace) and its first port; the
/// port of change `n` is `CHURN_PORT_BASE + n % CHURN_PORT_SPAN`.
const CHURN_IP: [u8; 4] = [192, 0, 2, 1];
const CHURN_PORT_BASE: u64 = 20_000;
const CHURN_PORT_SPAN: u64 = 40_000;

/// Bits of a ring slot holding the send time in µs since the epoch (2^40 µs ≈ 12.7 days).
const SENT_US_BITS: u32 = 40;

const _: () = assert!(CHURN_PORT_BASE + CHURN_PORT_SPAN <= u16::MAX as u64);

/// Send times of the most recent churn changes, shared by every core. Slot `n % len` holds
/// `(tag(n) << 40) | sent_us` in one atomic word, so a reader never sees the time of one
/// change with the tag of another.
#[derive(Debug)]
pub struct SequenceRing {
    slots: Vec<AtomicU64>,
}

impl SequenceRing {
    pub fn new(len: usize) -> Self {
        assert!(len.is_power_of_two());
        Self {
            slots: (0..len).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// The tag of change `sequence`: which lap of the ring it is on, plus one (0 = empty).
    fn tag(&self, sequence: u64) -> u64 {
        ((sequence / self.slots.len() as u64) + 1) & ((1 << (64 - SENT_US_BITS)) - 1)
    }

    pub fn record(&self, sequence: u64, sent_us: u64) {
        assert!(sent_us < 1 << SENT_US_BITS);
        let slot = &self.slots[(sequence as usize) & (self.slots.len() - 1)];
        slot.store(
            (self.tag(sequence) << SENT_US_BITS) | sent_us,
            Ordering::Release,
        );
    }

    /// The send time of change `sequence`, unless a later change took its slot.
    pub fn sent_us(&self, sequence: u64) -> Option<u64> {
        let slot = &self.slots[(sequence as usize) & (self.slots.len() - 1)];
        let word = slot.load(Ordering::Acquire);
        (word >> SENT_US_BITS == self.tag(sequence)).then_some(word & ((1 << SENT_US_BITS) - 1))
    }
}

/// The first change to `service` after `after`, when change `n` goes to `n % services`.
fn first_change_after(after: u64, service: u64, services: u64) -> u64 {
    debug_assert!(service < services);
    let next = after + 1;
    next + (service + services - next % services) % services
}

/// The changes to `service` in `(after, upto]`, in order.
pub fn service_changes(
    after: u64,
    upto: u64,
    service: u64,
    services: u64,
) -> impl Iterator<Item = u64> {
    let first = first_change_after(after, service, services);
    (first..=upto).step_by(services as usize)
}

/// How many changes to `service` lie in `(after, upto]`.
pub fn service_changes_count(after: u64, upto: u64, service: u64, services: u64) -> u64 {
    let first = first_change_after(after, service, services);
    if first > upto {
        0
    } else {
        (upto - first) / services + 1
    }
}

/// What every core shares: the send times, progress of the setup and of the churn.
struct Shared {
    epoch: Instant,
    ring: SequenceRing,
    services: u64,
    subscribers: usize,
    /// Subscribers whose setup ended, successfully or not.
    settled: AtomicUsize,
    /// Cores done waiting for the last pushes; the churn connection stays open until all are,
    /// because closing it removes its instances, and that change would hide the last ones.
    drained: AtomicUsize,
    /// The first change sent after warmup (0: none yet).
    first_measured: AtomicU64,
    /// The last change sent.
    last_sent: AtomicU64,
    churn_done: AtomicBool,
    live: Vec<LiveCounters>,
}

impl Shared {
    fn since_epoch_us(&self, at: Instant) -> u64 {
        let us = at.saturating_duration_since(self.epoch).as_micros();
        u64::try_from(us)
            .unwrap_or(u64::MAX)
            .min((1 << SENT_US_BITS) - 1)
    }
}

/// The settings of a run, from the flags.
#[derive(Debug, Clone)]
struct PushSpec {
    server: std::net::SocketAddr,
    cpus: Vec<usize>,
    rate_per_s: f64,
    warmup: Duration,
    duration: Duration,
    timeout: Duration,
    spin_before_park: Duration,
}

/// One subscriber's view: its service, the newest change it has seen, pushes received.
struct Subscriber {
    service: u64,
    seen: Cell<u64>,
    pushes: Cell<u64>,
}

/// One core's outcome.
#[derive(Debug, Clone, Default)]
struct CoreOutcome {
    stats: CoreStats,
    pushes: u64,
    subscribed: u64,
    changes_ok: u64,
    changes_measured: u64,
}

pub fn run(cli: &Cli) -> Result<i32, String> {
    if cli.subscribers == 0 || cli.subscribers > SUBSCRIBERS_MAX {
        return Err(format!(
            "--subscribers must be between 1 and {SUBSCRIBERS_MAX}"
        ));
    }
    if cli.services == 0 || cli.services > SERVICES_MAX {
        return Err(format!("--services must be between 1 and {SERVICES_MAX}"));
    }
    let rate_per_s = cli.rate.unwrap_or(CHURN_RATE_DEFAULT_PER_S);
    if !(rate_per_s > 0.0 && rate_per_s.is_finite()) {
        return Err("--rate must be a positive number of changes per second".into());
    }
    let cpus = pick_cpus(&allowed_cpus(), cli.cores)?;
    let spec = PushSpec {
        server: cli.grpc_addr()?,
        cpus: cpus.clone(),
        rate_per_s,
        warmup: cli.warmup,
        duration: cli.duration,
        timeout: cli
            .timeout
            .unwrap_or(Duration::from_millis(REQUEST_TIMEOUT_DEFAULT_MS)),
        spin_before_park: cli.spin_before_park,
    };
    let shared = Arc::new(Shared {
        epoch: Instant::now(),
        ring: SequenceRing::new(CHURN_SEQUENCE_RING_LEN),
        services: cli.services,
        subscribers: cli.subscribers,
        settled: AtomicUsize::new(0),
        drained: AtomicUsize::new(0),
        first_measured: AtomicU64::new(0),
        last_sent: AtomicU64::new(0),
        churn_done: AtomicBool::new(false),
        live: (0..cpus.len()).map(|_| LiveCounters::default()).collect(),
    });
    if !cli.quiet {
        eprintln!(
            "[setup] {} subscribers on {} service(s), churn at {rate_per_s} changes/s",
            cli.subscribers, cli.services
        );
    }
    let finished = Arc::new(AtomicUsize::new(0));
    let handles = {
        let (spec, shared) = (spec.clone(), shared.clone());
        spawn_cores(&cpus, spec.spin_before_park, &finished, move |core| {
            run_core(spec.clone(), shared.clone(), core)
        })?
    };
    let progress = Progress {
        label: "push",
        enabled: !cli.quiet,
        start: Instant::now(),
        warmup: Duration::ZERO,
    };
    watch_progress(&progress, &shared.live, &finished);
    let mut merged = CoreOutcome::default();
    for outcome in join_cores(handles)? {
        merged.stats.merge(&outcome.stats);
        merged.pushes += outcome.pushes;
        merged.subscribed += outcome.subscribed;
        merged.changes_ok += outcome.changes_ok;
        merged.changes_measured += outcome.changes_measured;
    }
    print_report(cli, &spec, &merged);
    Ok(if merged.pushes > 0 { 0 } else { 1 })
}

async fn run_core(spec: PushSpec, shared: Arc<Shared>, core: usize) -> CoreOutcome {
    let cores = spec.cpus.len();
    assert!(core < cores);
    let stats = Rc::new(RefCell::new(CoreStats::new()));
    let churn = (core == 0).then(|| glommio::spawn_local(churn(spec.clone(), shared.clone())));
    let count = partition_len(shared.subscribers as u64, cores as u64, core as u64);
    let permits = Rc::new(Semaphore::new(GRPC_SETUPS_IN_FLIGHT_PER_CORE_MAX as u64));
    let setups: Vec<_> = (0..count)
        .map(|index| {
            let subscriber_index = core as u64 + cores as u64 * index;
            let service = subscriber_index % shared.services;
            let task = subscribe(
                spec.clone(),
                shared.clone(),
                stats.clone(),
                permits.clone(),
                core,
                service,
            );
            glommio::spawn_local(task)
        })
        .collect();
    let mut held = Vec::with_capacity(setups.len());
    for setup in setups {
        if let Some(subscriber) = setup.await {
            held.push(subscriber);
        }
    }
    let subscribed = held.len() as u64;
    while !shared.churn_done.load(Ordering::Acquire) {
        glommio::timer::sleep(Duration::from_millis(COORDINATION_POLL_MS)).await;
    }
    drain(&shared, &held).await;
    shared.drained.fetch_add(1, Ordering::AcqRel);
    let mut outcome = CoreOutcome {
        subscribed,
        ..CoreOutcome::default()
    };
    if let Some(churn) = churn {
        let (changes_ok, changes_measured, churn_stats) = churn.await;
        outcome.changes_ok = changes_ok;
        outcome.changes_measured = changes_measured;
        stats.borrow_mut().merge(&churn_stats);
    }
    count_missing(&shared, &held, &mut stats.borrow_mut());
    outcome.pushes = held.iter().map(|(_, state)| state.pushes.get()).sum();
    drop(held);
    outcome.stats = stats.take();
    outcome
}

/// Sets up one subscriber: connection, then `SubscribeServiceRequest` for its service.
async fn subscribe(
    spec: PushSpec,
    shared: Arc<Shared>,
    stats: Rc<RefCell<CoreStats>>,
    permits: Rc<Semaphore>,
    core: usize,
    service: u64,
) -> Option<(GrpcConnection, Rc<Subscriber>)> {
    let state = Rc::new(Subscriber {
        service,
        seen: Cell::new(0),
        pushes: Cell::new(0),
    });
    let handler: PushHandler = {
        let (shared, state, stats) = (shared.clone(), state.clone(), stats.clone());
        Rc::new(move |arrived: Instant, push: &Incoming| {
            on_push(
                &shared,
                core,
                &state,
                &mut stats.borrow_mut(),
                arrived,
                push,
            );
        })
    };
    let result = async {
        let _permit = permits
            .acquire_static_permit(1)
            .await
            .map_err(|_| ErrorKind::Io)?;
        let mut connection = GrpcConnection::open(spec.server, spec.timeout, Some(handler)).await?;
        let body = messages::subscribe_service(service);
        let reply = connection
            .call(
                "SubscribeServiceRequest",
                "SubscribeServiceResponse",
                body,
                spec.timeout,
            )
            .await?;
        let seen = churn_sequence_max(&reply.body).unwrap_or(0);
        state.seen.set(state.seen.get().max(seen));
        Ok::<_, ErrorKind>(connection)
    }
    .await;
    shared.settled.fetch_add(1, Ordering::AcqRel);
    match result {
        Ok(connection) => Some((connection, state)),
        Err(kind) => {
            stats.borrow_mut().record_error(kind);
            shared.live[core].add_error();
            None
        }
    }
}

/// A push arrived at a subscriber: record every change of its service it reflects for the
/// first time.
fn on_push(
    shared: &Shared,
    core: usize,
    state: &Subscriber,
    stats: &mut CoreStats,
    arrived: Instant,
    push: &Incoming,
) {
    state.pushes.set(state.pushes.get() + 1);
    shared.live[core].add_ok();
    let Some(newest) = churn_sequence_max(&push.body) else {
        return;
    };
    let seen = state.seen.get();
    if newest <= seen {
        return;
    }
    state.seen.set(newest);
    let first_measured = shared.first_measured.load(Ordering::Acquire);
    if first_measured == 0 {
        return;
    }
    // Older changes have left the ring; a subscriber that far behind records the newest only.
    let ring_len = CHURN_SEQUENCE_RING_LEN as u64;
    let after = seen
        .max(newest.saturating_sub(ring_len))
        .max(first_measured - 1);
    let arrived_us = shared.since_epoch_us(arrived);
    for change in service_changes(after, newest, state.service, shared.services) {
        if let Some(sent_us) = shared.ring.sent_us(change) {
            stats.record_ok(Duration::from_micros(arrived_us.saturating_sub(sent_us)));
        }
    }
}

/// Waits until every subscriber of this core has seen the last change of its service, or
/// the drain time is over.
async fn drain(shared: &Shared, held: &[(GrpcConnection, Rc<Subscriber>)]) {
    let deadline = Instant::now() + Duration::from_millis(PUSH_DRAIN_TIMEOUT_MS);
    let last = shared.last_sent.load(Ordering::Acquire);
    // Bounded by the deadline.
    while Instant::now() < deadline {
        let behind = held.iter().any(|(_, state)| {
            service_changes_count(state.seen.get(), last, state.service, shared.services) > 0
        });
        if !behind {
            return;
        }
        glommio::timer::sleep(Duration::from_millis(COORDINATION_POLL_MS)).await;
    }
}

/// Every measured change a subscriber never saw is a missing push.
fn count_missing(
    shared: &Shared,
    held: &[(GrpcConnection, Rc<Subscriber>)],
    stats: &mut CoreStats,
) {
    let first_measured = shared.first_measured.load(Ordering::Acquire);
    if first_measured == 0 {
        return;
    }
    let last = shared.last_sent.load(Ordering::Acquire);
    for (_, state) in held {
        let after = state.seen.get().max(first_measured - 1);
        let missing = service_changes_count(after, last, state.service, shared.services);
        stats.record_errors(ErrorKind::MissingPush, missing);
    }
}

/// The churn loop on core 0: waits for the subscribers, then re-registers its instance at the
/// fixed rate until warmup + duration are over. Returns (changes acknowledged, changes sent
/// after warmup, churn errors).
async fn churn(spec: PushSpec, shared: Arc<Shared>) -> (u64, u64, CoreStats) {
    let mut stats = CoreStats::new();
    let mut connection = None;
    let result = churn_changes(&spec, &shared, &mut stats, &mut connection).await;
    // Subscribers wait for this flag even when the churn could not start.
    shared.churn_done.store(true, Ordering::Release);
    // Bounded: every core drains for at most PUSH_DRAIN_TIMEOUT_MS after this flag.
    while shared.drained.load(Ordering::Acquire) < spec.cpus.len() {
        glommio::timer::sleep(Duration::from_millis(COORDINATION_POLL_MS)).await;
    }
    drop(connection);
    match result {
        Ok((changes_ok, changes_measured)) => (changes_ok, changes_measured, stats),
        Err(kind) => {
            stats.record_error(kind);
            (0, 0, stats)
        }
    }
}

async fn churn_changes(
    spec: &PushSpec,
    shared: &Shared,
    stats: &mut CoreStats,
    slot: &mut Option<GrpcConnection>,
) -> Result<(u64, u64), ErrorKind> {
    let setup_deadline = Instant::now() + Duration::from_millis(GRPC_SETUP_PHASE_TIMEOUT_MS);
    while shared.settled.load(Ordering::Acquire) < shared.subscribers {
        if Instant::now() >= setup_deadline {
            break;
        }
        glommio::timer::sleep(Duration::from_millis(COORDINATION_POLL_MS)).await;
    }
    let connection = slot.insert(GrpcConnection::open(spec.server, spec.timeout, None).await?);
    let start = Instant::now();
    let warmup_end = start + spec.warmup;
    let end = warmup_end + spec.duration;
    let schedule = Schedule::new(start, spec.rate_per_s, 1, 0);
    let (mut changes_ok, mut changes_measured) = (0u64, 0u64);
    for sequence in 1.. {
        let at = schedule.claim();
        if at >= end {
            break;
        }
        sleep_until(at).await;
        let sent = Instant::now();
        shared.ring.record(sequence, shared.since_epoch_us(sent));
        if sent >= warmup_end {
            changes_measured += 1;
            let _ = shared.first_measured.compare_exchange(
                0,
                sequence,
                Ordering::AcqRel,
                Ordering::Acquire,
            );
        }
        shared.last_sent.store(sequence, Ordering::Release);
        let service = sequence % shared.services;
        let port = (CHURN_PORT_BASE + sequence % CHURN_PORT_SPAN) as u16;
        let body = messages::register_instance(service, CHURN_IP, port, Some(sequence));
        let reply = connection
            .call("InstanceRequest", "InstanceResponse", body, spec.timeout)
            .await;
        match reply {
            Ok(_) => changes_ok += 1,
            Err(kind) => {
                stats.record_error(kind);
                if matches!(kind, ErrorKind::Io | ErrorKind::Timeout) {
                    *connection = GrpcConnection::open(spec.server, spec.timeout, None).await?;
                }
            }
        }
    }
    Ok((changes_ok, changes_measured))
}

fn print_report(cli: &Cli, spec: &PushSpec, outcome: &CoreOutcome) {
    let stats = &outcome.stats;
    let latency_kind =
        "change send to push read off the socket, one sample per subscriber and change";
    if cli.json {
        let info = RunInfo {
            scenario: cli.scenario.name(),
            server: format!("{} (gRPC {})", cli.server, spec.server),
            cpus: spec.cpus.clone(),
            connections: cli.subscribers + 1,
            services: cli.services,
            instances_per_service: 1,
            keys: "churn".to_string(),
            rate_total_per_s: Some(spec.rate_per_s),
            warmup: spec.warmup,
            configs: None,
        };
        let mut value = report::to_json(&info, stats, spec.duration, None);
        value["mode"] = json!("churn at a fixed rate");
        value["subscribers"] = json!(cli.subscribers);
        value["subscribers_ok"] = json!(outcome.subscribed);
        value["pushes_received"] = json!(outcome.pushes);
        value["changes_ok"] = json!(outcome.changes_ok);
        value["changes_measured"] = json!(outcome.changes_measured);
        value["latency_kind"] = json!(latency_kind);
        println!("{value}");
        return;
    }
    let rows = [
        ("scenario", cli.scenario.name().to_string()),
        ("server", format!("{} (gRPC {})", cli.server, spec.server)),
        (
            "cores",
            format!("{} (cpus {:?})", spec.cpus.len(), spec.cpus),
        ),
        (
            "subscribers",
            format!(
                "{} of {} set up, over {} service(s)",
                outcome.subscribed, cli.subscribers, cli.services
            ),
        ),
        (
            "churn",
            format!(
                "{:.1} changes/s for {:.1} s after {:.1} s warmup: {} acknowledged, {} measured",
                spec.rate_per_s,
                spec.duration.as_secs_f64(),
                spec.warmup.as_secs_f64(),
                outcome.changes_ok,
                outcome.changes_measured
            ),
        ),
        ("pushes", format!("{} received", outcome.pushes)),
        ("samples", format!("{} ({latency_kind})", stats.ok_count)),
        ("latency ms", report::latency_line(stats)),
        ("errors", report::errors_line(stats)),
    ];
    print!("{}", report::rows_table(&rows));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ring returns a change's send time until a change one lap later takes its slot.
    #[test]
    fn ring_keeps_recent_changes() {
        let ring = SequenceRing::new(8);
        assert_eq!(ring.sent_us(1), None);
        ring.record(1, 100);
        ring.record(2, 250);
        assert_eq!(ring.sent_us(1), Some(100));
        assert_eq!(ring.sent_us(2), Some(250));
        assert_eq!(ring.sent_us(9), None, "same slot, other lap");
        ring.record(9, 900);
        assert_eq!(ring.sent_us(9), Some(900));
        assert_eq!(ring.sent_us(1), None, "overwritten");
    }

    /// Changes of one service among three: change n goes to service n % 3.
    #[test]
    fn changes_of_a_service() {
        let changes: Vec<u64> = service_changes(0, 10, 1, 3).collect();
        assert_eq!(changes, vec![1, 4, 7, 10]);
        let changes: Vec<u64> = service_changes(4, 10, 0, 3).collect();
        assert_eq!(changes, vec![6, 9]);
        assert_eq!(service_changes(9, 10, 0, 3).count(), 0);
        for (after, upto, service) in [(0, 10, 1), (4, 10, 0), (9, 10, 0), (10, 10, 2), (3, 3, 0)] {
            assert_eq!(
                service_changes_count(after, upto, service, 3),
                service_changes(after, upto, service, 3).count() as u64
            );
        }
        // One service: every change.
        assert_eq!(service_changes_count(5, 12, 0, 1), 7);
    }
}
