//! `config-notify-grpc` and `config-notify-longpoll`: how long after a config publish is
//! acknowledged its listeners hear of it. The config `lg-cfg-0` is published once with the
//! initial content (sequence 0) at setup; then `--listeners` listeners (dealt to the cores, at
//! most `GRPC_SETUPS_IN_FLIGHT_PER_CORE_MAX` / `LONG_POLL_SETUPS_IN_FLIGHT_PER_CORE_MAX` setups
//! at a time per core) listen to it:
//!
//! - `config-notify-grpc`: one gRPC connection each (module `config`), one
//!   `ConfigBatchListenRequest` with the initial md5 (nacos-config-protocol.md §4.4); every
//!   `ConfigChangeNotifyRequest` push is answered with a `ConfigChangeNotifyResponse` (§4.5).
//!   The listeners do not re-query or re-listen: the server's listen registration outlives the
//!   push, and the measure is the push fan-out alone.
//! - `config-notify-longpoll`: one HTTP connection each, holding `POST configs/listener` with
//!   `Long-Pulling-Timeout` (§2.5) and polling again after every answer with the md5 of the
//!   newest publish it accounts for (as the Java 1.x client does after reading the content).
//!
//! Once every listener is set up, a publisher on core 0 publishes `lg-cfg-0` over HTTP v1 at
//! `--rate` (default `CONFIG_PUBLISH_RATE_DEFAULT_PER_S`), publish `n` with content sequence
//! `n`. A notification names the config, not the content, so it is attributed by time: it
//! reflects every publish sent before it arrived that its listener had not accounted for yet
//! (a server that coalesces publishes gives one notification for several, and each of them
//! gets its own sample). Each such publish is one sample: the time from the read of its
//! publish's ack off the socket to the read of the notification off the socket (`grpc::stamped`
//! for pushes, `HttpConnection::last_read_at` for answers), so the load core's queue of a
//! thousand other listeners stays out of it. A notification that arrives before its publish's
//! ack was read is a zero sample, and counted. A notification that reflects no new publish
//! (a second push for one publish, or a poll answered while the newest publish was still in
//! flight) is counted as spurious. When notifications lag behind the publish interval, a
//! notification of publish `n` arriving after `n + 1` was sent is attributed to both: keep
//! `--rate` below 1 / latency to keep samples exact. Publishes sent during warmup are not
//! recorded. After the last publish, listeners get `CONFIG_NOTIFY_DRAIN_TIMEOUT_MS` to catch
//! up; every acknowledged measured publish a listener was not notified of is a
//! `missing_push` error.

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use glommio::sync::Semaphore;
use serde_json::json;

use crate::cli::{allowed_cpus, pick_cpus, Cli};
use crate::grpc::client::{GrpcConnection, PushHandler};
use crate::grpc::messages::{self, Module};
use crate::grpc::wire::Incoming;
use crate::http::client::HttpConnection;
use crate::keyspace::{partition_len, Keyspace};
use crate::limits::{
    CHURN_SEQUENCE_RING_LEN, CONFIG_LISTENERS_DEFAULT, CONFIG_NOTIFY_DRAIN_TIMEOUT_MS,
    CONFIG_PUBLISH_RATE_DEFAULT_PER_S, COORDINATION_POLL_MS, GRPC_SETUPS_IN_FLIGHT_PER_CORE_MAX,
    GRPC_SETUP_PHASE_TIMEOUT_MS, LONG_POLL_ANSWER_MARGIN_MS, LONG_POLL_READ_BUFFER_BYTES,
    LONG_POLL_SETUPS_IN_FLIGHT_PER_CORE_MAX, RECONNECT_BACKOFF_MS, REQUEST_TIMEOUT_DEFAULT_MS,
    SUBSCRIBERS_MAX,
};
use crate::report::{self, ConfigShape, Latency, RunInfo};
use crate::runner::{exchange, join_cores, sleep_until, spawn_cores, watch_progress, Progress};
use crate::scenario::config;
use crate::scenario::grpc_push::SequenceRing;
use crate::scenario::http::{Content, Op};
use crate::scenario::{config_setup_phase, Scenario};
use crate::schedule::Schedule;
use crate::stats::{CoreStats, ErrorKind, LiveCounters};

/// The config every listener listens to: `lg-cfg-0`.
const CONFIG_INDEX: u64 = 0;

/// Bits of a ring slot holding a time in µs since the epoch (`SequenceRing`'s).
const RING_US_BITS: u32 = 40;

/// How the listeners listen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listen {
    Grpc,
    LongPoll,
}

/// What every core shares: publish times and the progress of setup, publishes and drain.
struct Shared {
    epoch: Instant,
    /// Publish `n`'s send time.
    sent: SequenceRing,
    /// Publish `n`'s ack, when it was read off the socket (only for acknowledged publishes).
    acked: SequenceRing,
    listeners: usize,
    /// Listeners whose setup ended, successfully or not.
    settled: AtomicUsize,
    /// The first publish sent after warmup (0: none yet).
    first_measured: AtomicU64,
    /// The last publish sent, and the last one acknowledged.
    last_sent: AtomicU64,
    last_acked: AtomicU64,
    publisher_done: AtomicBool,
    live: Vec<LiveCounters>,
}

impl Shared {
    fn since_epoch_us(&self, at: Instant) -> u64 {
        let us = at.saturating_duration_since(self.epoch).as_micros();
        u64::try_from(us)
            .unwrap_or(u64::MAX)
            .min((1 << RING_US_BITS) - 1)
    }

    /// The newest publish sent at or before `arrived_us` (0: none). Walks back from the last
    /// publish sent, at most one ring length.
    fn newest_sent_by(&self, arrived_us: u64) -> u64 {
        let mut sequence = self.last_sent.load(Ordering::Acquire);
        for _ in 0..CHURN_SEQUENCE_RING_LEN {
            if sequence == 0 {
                break;
            }
            match self.sent.sent_us(sequence) {
                Some(sent_us) if sent_us > arrived_us => sequence -= 1,
                // Sent in time, or so old that its slot was reused.
                _ => break,
            }
        }
        sequence
    }
}

/// The settings of a run, from the flags.
#[derive(Debug, Clone)]
struct NotifySpec {
    listen: Listen,
    http: SocketAddr,
    grpc: SocketAddr,
    host: String,
    cpus: Vec<usize>,
    rate_per_s: f64,
    warmup: Duration,
    duration: Duration,
    timeout: Duration,
    spin_before_park: Duration,
    content_bytes: usize,
    long_poll_timeout_ms: u64,
}

/// One listener: the newest publish it accounts for.
#[derive(Debug, Default)]
struct Listener {
    seen: Cell<u64>,
}

/// Counts of one core's listeners.
#[derive(Debug, Default)]
struct Tally {
    listening: Cell<u64>,
    notifications: Cell<u64>,
    spurious: Cell<u64>,
    before_ack: Cell<u64>,
    /// Long polls answered empty (their timeout passed without a publish).
    empty_answers: Cell<u64>,
}

fn bump(cell: &Cell<u64>) {
    cell.set(cell.get() + 1);
}

/// What one core's listeners share.
struct CoreState {
    core: usize,
    /// Samples from the publish ack (the measure), and notification errors.
    stats: RefCell<CoreStats>,
    /// The same samples from the publish send (a server that notifies before it acks a
    /// publish gives zero samples from the ack).
    from_send: RefCell<CoreStats>,
    tally: Tally,
    /// The md5 of the last content sequence asked for (long polls ask after every answer).
    md5_cache: RefCell<(u64, String)>,
}

impl CoreState {
    fn md5_of(&self, sequence: u64, content_bytes: usize) -> String {
        let mut cache = self.md5_cache.borrow_mut();
        if cache.0 != sequence || cache.1.is_empty() {
            *cache = (sequence, config::content_md5(sequence, content_bytes));
        }
        debug_assert_eq!(cache.1.len(), 32);
        cache.1.clone()
    }
}

/// The publisher's figures.
#[derive(Debug, Clone, Default)]
struct PublishOutcome {
    ok: u64,
    measured: u64,
    /// Round trips of the measured publishes, and their errors.
    stats: CoreStats,
}

#[derive(Debug, Default)]
struct CoreOutcome {
    stats: CoreStats,
    from_send: CoreStats,
    listening: u64,
    notifications: u64,
    spurious: u64,
    before_ack: u64,
    empty_answers: u64,
    publish: Option<PublishOutcome>,
}

pub fn run(cli: &Cli) -> Result<i32, String> {
    let listen = match cli.scenario {
        Scenario::ConfigNotifyGrpc => Listen::Grpc,
        Scenario::ConfigNotifyLongpoll => Listen::LongPoll,
        other => return Err(format!("{} is not a notify scenario", other.name())),
    };
    let spec = notify_spec(cli, listen)?;
    let listeners = cli.listeners.unwrap_or(CONFIG_LISTENERS_DEFAULT);
    if listeners == 0 || listeners > SUBSCRIBERS_MAX {
        return Err(format!(
            "--listeners must be between 1 and {SUBSCRIBERS_MAX}"
        ));
    }
    let setup = publish_initial(cli, &spec)?;
    let shared = Arc::new(Shared {
        epoch: Instant::now(),
        sent: SequenceRing::new(CHURN_SEQUENCE_RING_LEN),
        acked: SequenceRing::new(CHURN_SEQUENCE_RING_LEN),
        listeners,
        settled: AtomicUsize::new(0),
        first_measured: AtomicU64::new(0),
        last_sent: AtomicU64::new(0),
        last_acked: AtomicU64::new(0),
        publisher_done: AtomicBool::new(false),
        live: (0..spec.cpus.len())
            .map(|_| LiveCounters::default())
            .collect(),
    });
    if !cli.quiet {
        eprintln!(
            "[setup] {listeners} {} listener(s) on lg-cfg-0, publishes at {} /s",
            if listen == Listen::Grpc {
                "gRPC"
            } else {
                "long-poll"
            },
            spec.rate_per_s
        );
    }
    let finished = Arc::new(AtomicUsize::new(0));
    let handles = {
        let (spec, shared) = (spec.clone(), shared.clone());
        spawn_cores(
            &spec.cpus.clone(),
            spec.spin_before_park,
            &finished,
            move |core| run_core(spec.clone(), shared.clone(), core),
        )?
    };
    let progress = Progress {
        label: "notify",
        enabled: !cli.quiet,
        start: Instant::now(),
        warmup: Duration::ZERO,
    };
    watch_progress(&progress, &shared.live, &finished);
    let mut merged = CoreOutcome::default();
    for outcome in join_cores(handles)? {
        merge(&mut merged, outcome);
    }
    print_report(cli, &spec, listeners, &merged, &setup);
    Ok(if merged.notifications > 0 { 0 } else { 1 })
}

fn notify_spec(cli: &Cli, listen: Listen) -> Result<NotifySpec, String> {
    let settings = cli.config_settings()?;
    let rate_per_s = cli.rate.unwrap_or(CONFIG_PUBLISH_RATE_DEFAULT_PER_S);
    if !(rate_per_s > 0.0 && rate_per_s.is_finite()) {
        return Err("--rate must be a positive number of publishes per second".into());
    }
    if cli.duration.is_zero() {
        return Err("--duration must be positive".into());
    }
    Ok(NotifySpec {
        listen,
        http: cli.server_addr()?,
        grpc: cli.grpc_addr()?,
        host: cli.server.clone(),
        cpus: pick_cpus(&allowed_cpus(), cli.cores)?,
        rate_per_s,
        warmup: cli.warmup,
        duration: cli.duration,
        timeout: cli
            .timeout
            .unwrap_or(Duration::from_millis(REQUEST_TIMEOUT_DEFAULT_MS)),
        spin_before_park: cli.spin_before_park,
        content_bytes: settings.content_bytes as usize,
        long_poll_timeout_ms: cli.long_poll_timeout_ms()?,
    })
}

/// Publishes `lg-cfg-0` with the initial content, so that every listener starts in step with
/// the server.
fn publish_initial(cli: &Cli, spec: &NotifySpec) -> Result<CoreStats, String> {
    let mut base = cli.base_phase(spec.http, spec.cpus[..1].to_vec())?;
    base.keyspace = Keyspace::new(1, 1)?;
    base.connections = 1;
    let setup = config_setup_phase(base, spec.content_bytes as u32);
    let stats = crate::run_setup(&setup, true, cli.quiet)?;
    if stats.ok_count == 0 {
        return Err("the initial publish of lg-cfg-0 failed".into());
    }
    Ok(stats)
}

fn merge(merged: &mut CoreOutcome, outcome: CoreOutcome) {
    merged.stats.merge(&outcome.stats);
    merged.from_send.merge(&outcome.from_send);
    merged.listening += outcome.listening;
    merged.notifications += outcome.notifications;
    merged.spurious += outcome.spurious;
    merged.before_ack += outcome.before_ack;
    merged.empty_answers += outcome.empty_answers;
    if outcome.publish.is_some() {
        merged.publish = outcome.publish;
    }
}

async fn run_core(spec: NotifySpec, shared: Arc<Shared>, core: usize) -> CoreOutcome {
    let cores = spec.cpus.len();
    assert!(core < cores);
    let state = Rc::new(CoreState {
        core,
        stats: RefCell::new(CoreStats::new()),
        from_send: RefCell::new(CoreStats::new()),
        tally: Tally::default(),
        md5_cache: RefCell::new((0, String::new())),
    });
    let publisher =
        (core == 0).then(|| glommio::spawn_local(publish(spec.clone(), shared.clone())));
    let count = partition_len(shared.listeners as u64, cores as u64, core as u64);
    let listeners: Vec<Rc<Listener>> = (0..count).map(|_| Rc::new(Listener::default())).collect();
    let mut held = Vec::new();
    let mut polls = Vec::new();
    match spec.listen {
        Listen::Grpc => held = listen_grpc(&spec, &shared, &state, &listeners).await,
        Listen::LongPoll => polls = start_polls(&spec, &shared, &state, &listeners),
    }
    while !shared.publisher_done.load(Ordering::Acquire) {
        glommio::timer::sleep(Duration::from_millis(COORDINATION_POLL_MS)).await;
    }
    drain(&shared, &listeners).await;
    count_missing(&shared, &listeners, &mut state.stats.borrow_mut());
    // Dropping them closes the connections (and cancels parked polls).
    drop(held);
    drop(polls);
    let publish = match publisher {
        Some(task) => Some(task.await),
        None => None,
    };
    let tally = &state.tally;
    CoreOutcome {
        stats: state.stats.take(),
        from_send: state.from_send.take(),
        listening: tally.listening.get(),
        notifications: tally.notifications.get(),
        spurious: tally.spurious.get(),
        before_ack: tally.before_ack.get(),
        empty_answers: tally.empty_answers.get(),
        publish,
    }
}

/// A notification for `listener` arrived: record every publish it reflects for the first time.
fn on_notified(shared: &Shared, state: &CoreState, listener: &Listener, arrived: Instant) {
    let tally = &state.tally;
    bump(&tally.notifications);
    shared.live[state.core].add_ok();
    let arrived_us = shared.since_epoch_us(arrived);
    let newest = shared.newest_sent_by(arrived_us);
    let seen = listener.seen.get();
    if newest <= seen {
        bump(&tally.spurious);
        return;
    }
    listener.seen.set(newest);
    let first_measured = shared.first_measured.load(Ordering::Acquire);
    if first_measured == 0 {
        return;
    }
    // Older publishes have left the rings; a listener that far behind records the newest only.
    let ring_len = CHURN_SEQUENCE_RING_LEN as u64;
    let after = seen
        .max(newest.saturating_sub(ring_len))
        .max(first_measured - 1);
    let mut stats = state.stats.borrow_mut();
    let mut from_send = state.from_send.borrow_mut();
    for sequence in after + 1..=newest {
        if let Some(sent_us) = shared.sent.sent_us(sequence) {
            let since_send_us = arrived_us.saturating_sub(sent_us);
            from_send.record_ok(Duration::from_micros(since_send_us));
        }
        match shared.acked.sent_us(sequence) {
            Some(acked_us) if acked_us <= arrived_us => {
                stats.record_ok(Duration::from_micros(arrived_us - acked_us));
            }
            // Notified before the ack was read (or the publish failed after the server took it).
            _ => {
                bump(&tally.before_ack);
                stats.record_ok(Duration::ZERO);
            }
        }
    }
}

/// Sets up this core's gRPC listeners, at most `GRPC_SETUPS_IN_FLIGHT_PER_CORE_MAX` at a time;
/// returns the connections that listen.
async fn listen_grpc(
    spec: &NotifySpec,
    shared: &Arc<Shared>,
    state: &Rc<CoreState>,
    listeners: &[Rc<Listener>],
) -> Vec<GrpcConnection> {
    let permits = Rc::new(Semaphore::new(GRPC_SETUPS_IN_FLIGHT_PER_CORE_MAX as u64));
    let setups: Vec<_> = listeners
        .iter()
        .map(|listener| {
            let task = listen_one_grpc(
                spec.clone(),
                shared.clone(),
                state.clone(),
                listener.clone(),
                permits.clone(),
            );
            glommio::spawn_local(task)
        })
        .collect();
    let mut held = Vec::with_capacity(setups.len());
    for setup in setups {
        if let Some(connection) = setup.await {
            held.push(connection);
        }
    }
    debug_assert!(held.len() <= listeners.len());
    held
}

/// One gRPC listener: connection of module `config`, then `ConfigBatchListenRequest` with the
/// initial md5; pushes go to `on_notified`.
async fn listen_one_grpc(
    spec: NotifySpec,
    shared: Arc<Shared>,
    state: Rc<CoreState>,
    listener: Rc<Listener>,
    permits: Rc<Semaphore>,
) -> Option<GrpcConnection> {
    let handler: PushHandler = {
        let (shared, state, listener) = (shared.clone(), state.clone(), listener.clone());
        Rc::new(move |arrived: Instant, push: &Incoming| {
            if push.kind == "ConfigChangeNotifyRequest"
                && messages::notifies_config(&push.body, CONFIG_INDEX)
            {
                on_notified(&shared, &state, &listener, arrived);
            }
        })
    };
    let result = async {
        let _permit = permits
            .acquire_static_permit(1)
            .await
            .map_err(|_| ErrorKind::Io)?;
        let mut connection =
            GrpcConnection::open_module(spec.grpc, spec.timeout, Some(handler), Module::Config)
                .await?;
        let md5 = state.md5_of(0, spec.content_bytes);
        let body = messages::config_batch_listen(CONFIG_INDEX, &md5);
        connection
            .call(
                "ConfigBatchListenRequest",
                "ConfigChangeBatchListenResponse",
                body,
                spec.timeout,
            )
            .await?;
        Ok::<_, ErrorKind>(connection)
    }
    .await;
    shared.settled.fetch_add(1, Ordering::AcqRel);
    match result {
        Ok(connection) => {
            bump(&state.tally.listening);
            Some(connection)
        }
        Err(kind) => {
            state.stats.borrow_mut().record_error(kind);
            shared.live[state.core].add_error();
            None
        }
    }
}

/// Starts this core's long-poll listeners; each runs until its task is dropped.
fn start_polls(
    spec: &NotifySpec,
    shared: &Arc<Shared>,
    state: &Rc<CoreState>,
    listeners: &[Rc<Listener>],
) -> Vec<glommio::Task<()>> {
    let permits = Rc::new(Semaphore::new(
        LONG_POLL_SETUPS_IN_FLIGHT_PER_CORE_MAX as u64,
    ));
    listeners
        .iter()
        .map(|listener| {
            let task = poll_loop(
                spec.clone(),
                shared.clone(),
                state.clone(),
                listener.clone(),
                permits.clone(),
            );
            glommio::spawn_local(task)
        })
        .collect()
}

/// One long-poll listener: connect, poll with the md5 of the newest publish it accounts for,
/// and poll again after every answer, replacing the connection after a failure. Ends when its
/// task is dropped.
async fn poll_loop(
    spec: NotifySpec,
    shared: Arc<Shared>,
    state: Rc<CoreState>,
    listener: Rc<Listener>,
    permits: Rc<Semaphore>,
) {
    let mut connection = None;
    let mut settled = false;
    let answer_timeout =
        Duration::from_millis(spec.long_poll_timeout_ms + LONG_POLL_ANSWER_MARGIN_MS);
    let mut request = Vec::with_capacity(256);
    // Ends when the core drops this task after the drain.
    loop {
        let md5 = state.md5_of(listener.seen.get(), spec.content_bytes);
        config::encode_listen(
            &mut request,
            CONFIG_INDEX,
            &md5,
            spec.long_poll_timeout_ms,
            &spec.host,
        );
        let sent = send_poll(spec.http, &permits, &mut connection, &request, spec.timeout).await;
        if !settled {
            settled = true;
            shared.settled.fetch_add(1, Ordering::AcqRel);
            if sent.is_ok() {
                bump(&state.tally.listening);
            }
        }
        let outcome = match sent {
            Ok(()) => receive_answer(&mut connection, answer_timeout).await,
            Err(kind) => Err(kind),
        };
        match outcome {
            Ok((body, arrived)) => on_answer(&shared, &state, &listener, &body, arrived),
            Err(kind) => {
                connection = None;
                state.stats.borrow_mut().record_error(kind);
                shared.live[state.core].add_error();
                glommio::timer::sleep(Duration::from_millis(RECONNECT_BACKOFF_MS)).await;
            }
        }
    }
}

/// Writes a poll within `timeout`, connecting first when needed (under a setup permit, waited
/// for outside the timeout).
pub async fn send_poll(
    server: SocketAddr,
    permits: &Semaphore,
    connection: &mut Option<HttpConnection>,
    request: &[u8],
    timeout: Duration,
) -> Result<(), ErrorKind> {
    let _permit = match connection {
        Some(_) => None,
        None => Some(permits.acquire_permit(1).await.map_err(|_| ErrorKind::Io)?),
    };
    let write = async {
        let written = async {
            if connection.is_none() {
                let fresh =
                    HttpConnection::connect_with_buffer(server, LONG_POLL_READ_BUFFER_BYTES)
                        .await?;
                *connection = Some(fresh);
            }
            let open = connection.as_mut().ok_or(ErrorKind::Io)?;
            open.send(request).await
        };
        Ok::<_, glommio::GlommioError<()>>(written.await)
    };
    let written = match glommio::timer::timeout(timeout, write).await {
        Ok(written) => written,
        Err(_) => Err(ErrorKind::Timeout),
    };
    if written.is_err() {
        *connection = None;
    }
    written
}

/// Reads a poll's answer: its body and when it came off the socket. A connection the server
/// closes after the answer is dropped.
pub async fn receive_answer(
    connection: &mut Option<HttpConnection>,
    answer_timeout: Duration,
) -> Result<(Vec<u8>, Instant), ErrorKind> {
    let open = connection.as_mut().ok_or(ErrorKind::Io)?;
    let mut body = Vec::new();
    let receive = async {
        let exchange = open
            .receive(|status, answer| {
                config::check_listen(status, answer)?;
                body.extend_from_slice(answer);
                Ok(())
            })
            .await;
        Ok::<_, glommio::GlommioError<()>>(exchange)
    };
    let exchange = match glommio::timer::timeout(answer_timeout, receive).await {
        Ok(exchange) => exchange?,
        Err(_) => return Err(ErrorKind::Timeout),
    };
    let arrived = open.last_read_at();
    if !exchange.keep_alive {
        *connection = None;
    }
    exchange.outcome.map(|()| (body, arrived))
}

/// A long-poll answer: a notification when it names the config, else an empty answer (the poll
/// timed out) or a spurious one.
fn on_answer(shared: &Shared, state: &CoreState, listener: &Listener, body: &[u8], at: Instant) {
    // check_listen accepted the body, so it parses.
    let keys = config::parse_changed_keys(body).unwrap_or_default();
    if keys.iter().any(|key| config::is_config(key, CONFIG_INDEX)) {
        on_notified(shared, state, listener, at);
    } else if keys.is_empty() {
        bump(&state.tally.empty_answers);
    } else {
        bump(&state.tally.notifications);
        bump(&state.tally.spurious);
    }
}

/// Waits until every listener of this core accounts for the last acknowledged publish, or the
/// drain time is over.
async fn drain(shared: &Shared, listeners: &[Rc<Listener>]) {
    let deadline = Instant::now() + Duration::from_millis(CONFIG_NOTIFY_DRAIN_TIMEOUT_MS);
    let last = shared.last_acked.load(Ordering::Acquire);
    // Bounded by the deadline.
    while Instant::now() < deadline {
        if listeners.iter().all(|listener| listener.seen.get() >= last) {
            return;
        }
        glommio::timer::sleep(Duration::from_millis(COORDINATION_POLL_MS)).await;
    }
}

/// Every acknowledged measured publish a listener was not notified of is a missing push.
fn count_missing(shared: &Shared, listeners: &[Rc<Listener>], stats: &mut CoreStats) {
    let first_measured = shared.first_measured.load(Ordering::Acquire);
    if first_measured == 0 {
        return;
    }
    let last = shared.last_sent.load(Ordering::Acquire);
    for listener in listeners {
        let after = listener.seen.get().max(first_measured - 1);
        // Bounded by the ring: older publishes cannot be told acknowledged or not.
        let from = after.max(last.saturating_sub(CHURN_SEQUENCE_RING_LEN as u64)) + 1;
        let missing = (from..=last)
            .filter(|&sequence| shared.acked.sent_us(sequence).is_some())
            .count();
        stats.record_errors(ErrorKind::MissingPush, missing as u64);
    }
}

/// The publisher on core 0: waits for the listeners, then publishes `lg-cfg-0` at the fixed
/// rate until warmup + duration are over.
async fn publish(spec: NotifySpec, shared: Arc<Shared>) -> PublishOutcome {
    let setup_deadline = Instant::now() + Duration::from_millis(GRPC_SETUP_PHASE_TIMEOUT_MS);
    while shared.settled.load(Ordering::Acquire) < shared.listeners {
        if Instant::now() >= setup_deadline {
            break;
        }
        glommio::timer::sleep(Duration::from_millis(COORDINATION_POLL_MS)).await;
    }
    let outcome = publish_at_rate(&spec, &shared).await;
    // Listeners wait for this flag even when nothing could be published.
    shared.publisher_done.store(true, Ordering::Release);
    outcome
}

async fn publish_at_rate(spec: &NotifySpec, shared: &Shared) -> PublishOutcome {
    let mut outcome = PublishOutcome {
        stats: CoreStats::new(),
        ..PublishOutcome::default()
    };
    let start = Instant::now();
    let warmup_end = start + spec.warmup;
    let end = warmup_end + spec.duration;
    let schedule = Schedule::new(start, spec.rate_per_s, 1, 0);
    let (mut request, mut body, mut content) = (Vec::new(), Vec::new(), Vec::new());
    let op = Op::ConfigPublish {
        content_bytes: spec.content_bytes as u32,
        content: Content::Fresh,
    };
    let mut connection: Option<HttpConnection> = None;
    for sequence in 1.. {
        let at = schedule.claim();
        if at >= end {
            break;
        }
        sleep_until(at).await;
        if connection.is_none() {
            match HttpConnection::connect(spec.http).await {
                Ok(fresh) => connection = Some(fresh),
                Err(kind) => {
                    outcome.stats.record_error(kind);
                    continue;
                }
            }
        }
        let Some(open) = connection.as_mut() else {
            continue;
        };
        config::write_content(&mut content, sequence, spec.content_bytes);
        config::encode_publish(&mut request, CONFIG_INDEX, &content, &spec.host, &mut body);
        let sent = Instant::now();
        let measured = sent >= warmup_end;
        record_sent(shared, sequence, sent, measured);
        let (result, keep) = exchange(open, &request, op, spec.timeout).await;
        let acked = open.last_read_at();
        if !keep {
            connection = None;
        }
        outcome.measured += u64::from(measured);
        match result {
            Ok(()) => {
                shared.acked.record(sequence, shared.since_epoch_us(acked));
                shared.last_acked.store(sequence, Ordering::Release);
                outcome.ok += 1;
                if measured {
                    outcome
                        .stats
                        .record_ok(acked.saturating_duration_since(sent));
                }
            }
            Err(kind) => outcome.stats.record_error(kind),
        }
    }
    outcome
}

/// Publish `sequence` is about to be written: its send time goes into the ring before the
/// server can notify anyone of it.
fn record_sent(shared: &Shared, sequence: u64, sent: Instant, measured: bool) {
    assert!(sequence > 0);
    shared.sent.record(sequence, shared.since_epoch_us(sent));
    if measured {
        let _ = shared.first_measured.compare_exchange(
            0,
            sequence,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
    }
    shared.last_sent.store(sequence, Ordering::Release);
}

fn print_report(
    cli: &Cli,
    spec: &NotifySpec,
    listeners: usize,
    outcome: &CoreOutcome,
    setup: &CoreStats,
) {
    let stats = &outcome.stats;
    let publish = outcome.publish.clone().unwrap_or_default();
    let publish_latency = Latency::of(&publish.stats);
    let (server, how) = match spec.listen {
        Listen::Grpc => (
            format!("{} (gRPC {})", cli.server, spec.grpc),
            "ConfigBatchListenRequest, pushes acked with ConfigChangeNotifyResponse".to_string(),
        ),
        Listen::LongPoll => (
            cli.server.clone(),
            format!(
                "long polls, Long-Pulling-Timeout {} ms, polled again after every answer",
                spec.long_poll_timeout_ms
            ),
        ),
    };
    let latency_kind = "publish ack read off the socket to notification read off the socket, \
                        one sample per listener and publish";
    if cli.json {
        let info = RunInfo {
            scenario: cli.scenario.name(),
            server,
            cpus: spec.cpus.clone(),
            connections: listeners + 1,
            services: 1,
            instances_per_service: 1,
            keys: "shared".to_string(),
            rate_total_per_s: Some(spec.rate_per_s),
            warmup: spec.warmup,
            configs: Some(ConfigShape {
                configs: 1,
                content_bytes: spec.content_bytes as u32,
                publish_keys: None,
            }),
        };
        let mut value = report::to_json(&info, stats, spec.duration, Some(setup));
        value["mode"] = json!("publishes at a fixed rate");
        value["listen"] = json!(how);
        value["listeners"] = json!(listeners);
        value["listeners_ok"] = json!(outcome.listening);
        value["pushes_received"] = json!(outcome.notifications);
        value["notifications_spurious"] = json!(outcome.spurious);
        value["notifications_before_ack"] = json!(outcome.before_ack);
        value["poll_answers_empty"] = json!(outcome.empty_answers);
        value["publishes_ok"] = json!(publish.ok);
        value["publishes_measured"] = json!(publish.measured);
        value["publish_errors"] = json!(report::errors_line(&publish.stats));
        value["publish_latency_us"] = json!({
            "p50": publish_latency.p50_us, "p99": publish_latency.p99_us,
            "max": publish_latency.max_us,
        });
        value["latency_kind"] = json!(latency_kind);
        let from_send = Latency::of(&outcome.from_send);
        value["latency_from_send_us"] = json!({
            "p50": from_send.p50_us, "p90": from_send.p90_us, "p99": from_send.p99_us,
            "p99_9": from_send.p999_us, "max": from_send.max_us,
        });
        println!("{value}");
        return;
    }
    let ms = |us: u64| format!("{:.3}", us as f64 / 1000.0);
    let empty = match spec.listen {
        Listen::LongPoll => format!(", {} empty poll answers", outcome.empty_answers),
        Listen::Grpc => String::new(),
    };
    let rows = [
        ("scenario", cli.scenario.name().to_string()),
        ("server", server),
        (
            "cores",
            format!("{} (cpus {:?})", spec.cpus.len(), spec.cpus),
        ),
        (
            "listeners",
            format!("{} of {listeners} on lg-cfg-0 ({how})", outcome.listening),
        ),
        (
            "publishes",
            format!(
                "{:.1}/s of {} bytes for {:.1} s after {:.1} s warmup: {} acknowledged, {} \
                 measured, round trip p50 {} p99 {} max {} ms, errors: {}",
                spec.rate_per_s,
                spec.content_bytes,
                spec.duration.as_secs_f64(),
                spec.warmup.as_secs_f64(),
                publish.ok,
                publish.measured,
                ms(publish_latency.p50_us),
                ms(publish_latency.p99_us),
                ms(publish_latency.max_us),
                report::errors_line(&publish.stats)
            ),
        ),
        (
            "notified",
            format!(
                "{} notifications: {} reflected no new publish, {} before the publish ack{empty}",
                outcome.notifications, outcome.spurious, outcome.before_ack
            ),
        ),
        ("samples", format!("{} ({latency_kind})", stats.ok_count)),
        ("latency ms", report::latency_line(stats)),
        ("from send", report::latency_line(&outcome.from_send)),
        ("errors", report::errors_line(stats)),
    ];
    print!("{}", report::rows_table(&rows));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared() -> Shared {
        Shared {
            epoch: Instant::now(),
            sent: SequenceRing::new(16),
            acked: SequenceRing::new(16),
            listeners: 1,
            settled: AtomicUsize::new(0),
            first_measured: AtomicU64::new(0),
            last_sent: AtomicU64::new(0),
            last_acked: AtomicU64::new(0),
            publisher_done: AtomicBool::new(false),
            live: vec![LiveCounters::default()],
        }
    }

    fn state() -> CoreState {
        CoreState {
            core: 0,
            stats: RefCell::new(CoreStats::new()),
            from_send: RefCell::new(CoreStats::new()),
            tally: Tally::default(),
            md5_cache: RefCell::new((0, String::new())),
        }
    }

    /// The newest publish sent by a time walks back over publishes sent later.
    #[test]
    fn newest_sent_by_time() {
        let shared = shared();
        assert_eq!(shared.newest_sent_by(1_000), 0);
        for (sequence, sent_us) in [(1, 100), (2, 200), (3, 300)] {
            shared.sent.record(sequence, sent_us);
            shared.last_sent.store(sequence, Ordering::Release);
        }
        assert_eq!(shared.newest_sent_by(1_000), 3);
        assert_eq!(shared.newest_sent_by(250), 2);
        assert_eq!(shared.newest_sent_by(100), 1);
        assert_eq!(shared.newest_sent_by(50), 0);
    }

    /// A notification records every new publish from its ack; one before the ack is a zero
    /// sample; a repeat is spurious; warmup publishes are not recorded.
    #[test]
    fn notifications_are_attributed() {
        let (shared, state, listener) = (shared(), state(), Listener::default());
        let at = |us| shared.epoch + Duration::from_micros(us);
        // Publish 1 in warmup, 2 and 3 measured; 3 not acked yet.
        for (sequence, sent_us) in [(1, 100), (2, 1_000), (3, 2_000)] {
            shared.sent.record(sequence, sent_us);
            shared.last_sent.store(sequence, Ordering::Release);
        }
        shared.first_measured.store(2, Ordering::Release);
        shared.acked.record(1, 150);
        shared.acked.record(2, 1_200);
        on_notified(&shared, &state, &listener, at(500));
        assert_eq!(listener.seen.get(), 1);
        assert_eq!(state.stats.borrow().ok_count, 0, "warmup publish");
        on_notified(&shared, &state, &listener, at(2_500));
        assert_eq!(listener.seen.get(), 3);
        let stats = state.stats.borrow();
        assert_eq!(stats.ok_count, 2, "publishes 2 and 3, coalesced");
        assert_eq!(
            stats.latency_us.max(),
            1_300,
            "2: acked at 1200, notified at 2500"
        );
        drop(stats);
        assert_eq!(state.tally.before_ack.get(), 1, "3 was not acked");
        on_notified(&shared, &state, &listener, at(2_600));
        assert_eq!(state.tally.spurious.get(), 1);
        assert_eq!(state.tally.notifications.get(), 3);
    }

    /// Acknowledged measured publishes a listener never saw are missing; unacknowledged ones
    /// are not.
    #[test]
    fn missing_publishes() {
        let shared = shared();
        for sequence in 1..=5 {
            shared.sent.record(sequence, sequence * 100);
            if sequence != 4 {
                shared.acked.record(sequence, sequence * 100 + 10);
            }
        }
        shared.last_sent.store(5, Ordering::Release);
        shared.first_measured.store(2, Ordering::Release);
        let behind = Rc::new(Listener::default());
        behind.seen.set(2);
        let current = Rc::new(Listener::default());
        current.seen.set(5);
        let mut stats = CoreStats::new();
        count_missing(&shared, &[behind, current], &mut stats);
        assert_eq!(stats.errors[&ErrorKind::MissingPush], 2, "3 and 5");
    }

    /// Long-poll answers: naming the config notifies, empty is a timeout, another key is
    /// spurious.
    #[test]
    fn long_poll_answers() {
        let (shared, state, listener) = (shared(), state(), Listener::default());
        shared.sent.record(1, 10);
        shared.last_sent.store(1, Ordering::Release);
        let at = shared.epoch + Duration::from_micros(20);
        on_answer(
            &shared,
            &state,
            &listener,
            b"lg-cfg-0%02DEFAULT_GROUP%01\n",
            at,
        );
        assert_eq!(listener.seen.get(), 1);
        on_answer(&shared, &state, &listener, b"", at);
        assert_eq!(state.tally.empty_answers.get(), 1);
        on_answer(
            &shared,
            &state,
            &listener,
            b"other%02DEFAULT_GROUP%01\n",
            at,
        );
        assert_eq!(state.tally.spurious.get(), 1);
        assert_eq!(state.tally.notifications.get(), 2);
    }

    /// The md5 cache answers the content's md5 and follows the sequence.
    #[test]
    fn md5_cache() {
        let state = state();
        assert_eq!(state.md5_of(0, 64), config::content_md5(0, 64));
        assert_eq!(state.md5_of(3, 64), config::content_md5(3, 64));
        assert_eq!(state.md5_of(3, 64), config::content_md5(3, 64));
    }
}
