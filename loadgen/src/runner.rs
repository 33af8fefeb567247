//! Running one phase: one pinned glommio executor per core, each driving its share of the
//! connections, closed-loop or on the fixed-rate schedule; the main thread prints progress
//! every second and merges the cores' statistics at the end.

use std::cell::{Cell, RefCell};
use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use glommio::{ExecutorJoinHandle, LocalExecutorBuilder, Placement};

use crate::grpc::client::GrpcConnection;
use crate::grpc::messages::Module;
use crate::http::client::HttpConnection;
use crate::keyspace::{partition_key, partition_len, Key, KeyDist, Keyspace};
use crate::limits::{
    CONNECTIONS_MAX, CONNECTION_WRITE_BUFFER_BYTES, EXECUTOR_IO_MEMORY_BYTES, PROGRESS_INTERVAL_MS,
    RECONNECT_BACKOFF_MS,
};
use crate::rng::SplitMix64;
use crate::scenario::grpc as grpc_scenario;
use crate::scenario::http::{self, Op, RequestBuffers};
use crate::schedule::Schedule;
use crate::stats::{CoreStats, ErrorKind, LiveCounters};

/// Time between spawning the executors and the first request, so that every core has
/// connected before the schedule starts (otherwise the first slots are late by start-up time).
const STARTUP_GRACE_MS: u64 = 200;

/// How often the main thread checks whether the cores are done.
const FINISH_POLL_MS: u64 = 20;

/// Which operations a phase sends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OpMix {
    Single(Op),
    /// A query with probability `read_ratio`, else `write`.
    Mixed {
        read_ratio: f64,
        write: Op,
    },
}

/// How a phase's connections talk to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// HTTP/1.1 keep-alive connections to `PhaseSpec::server`.
    Http,
    /// Nacos gRPC connections (set up per nacos-protocol.md §3.3) to this address. A register
    /// on connection `c` always registers instance `c` of the key's service: a gRPC
    /// connection holds one instance per service, so the keyspace's instance dimension is
    /// the connection.
    Grpc { server: SocketAddr },
}

/// Which keys a phase visits.
#[derive(Debug, Clone)]
pub enum KeyOrder {
    /// Drawn at random per request.
    Random(KeyDist),
    /// Each core walks its round-robin share of the keys in order; `repeat` starts over at the
    /// end (beats), otherwise the phase ends when every key was visited once (pre-registration).
    Sequential { repeat: bool },
    /// Connection `c` always uses key `c % keys` (`config-publish --publish-keys distinct`:
    /// one config per publisher, never two publishers on one config).
    PerConnection,
}

/// Everything one phase needs; cloned into every executor.
#[derive(Debug, Clone)]
pub struct PhaseSpec {
    /// Shown on the progress line (`setup`, `run`).
    pub label: &'static str,
    pub server: SocketAddr,
    pub transport: Transport,
    /// `Host` header value (the `--server` argument as given).
    pub host: String,
    pub keyspace: Keyspace,
    pub mix: OpMix,
    pub order: KeyOrder,
    /// One executor per entry, pinned to that CPU.
    pub cpus: Vec<usize>,
    /// Total connections, dealt round-robin to the cores.
    pub connections: usize,
    /// Fixed total rate (open loop); `None` is closed loop.
    pub rate_total_per_s: Option<f64>,
    pub warmup: Duration,
    /// `None`: until a non-repeating sequential order is exhausted.
    pub duration: Option<Duration>,
    pub timeout: Duration,
    /// Executors busy-poll this long before parking when idle (zero: park at once).
    pub spin_before_park: Duration,
    pub seed: u64,
    /// Print a progress line on stderr every second.
    pub progress: bool,
}

/// The merged outcome of a phase.
#[derive(Debug, Clone)]
pub struct PhaseResult {
    pub stats: CoreStats,
    /// The measured span: `duration`, or the wall time of an open-ended phase.
    pub measured: Duration,
}

/// Runs one phase on all cores and returns the merged statistics.
pub fn run_phase(spec: &PhaseSpec) -> Result<PhaseResult, String> {
    validate(spec)?;
    let cores = spec.cpus.len();
    let spec = Arc::new(spec.clone());
    let live: Arc<Vec<LiveCounters>> =
        Arc::new((0..cores).map(|_| LiveCounters::default()).collect());
    let finished = Arc::new(AtomicUsize::new(0));
    let start = Instant::now() + Duration::from_millis(STARTUP_GRACE_MS);
    let handles = {
        let (spec, live) = (spec.clone(), live.clone());
        spawn_cores(
            &spec.cpus.clone(),
            spec.spin_before_park,
            &finished,
            move |core| run_core(spec.clone(), core, live.clone(), start),
        )?
    };
    let progress = Progress {
        label: spec.label,
        enabled: spec.progress,
        start,
        warmup: spec.warmup,
    };
    watch_progress(&progress, &live, &finished);
    let mut merged = CoreStats::new();
    for stats in join_cores(handles)? {
        merged.merge(&stats);
    }
    let measured = spec.duration.unwrap_or_else(|| start.elapsed());
    Ok(PhaseResult {
        stats: merged,
        measured,
    })
}

fn validate(spec: &PhaseSpec) -> Result<(), String> {
    if spec.cpus.is_empty() {
        return Err("at least one core is needed".into());
    }
    if spec.connections < spec.cpus.len() || spec.connections > CONNECTIONS_MAX {
        return Err(format!(
            "--connections must be between --cores ({}) and {CONNECTIONS_MAX}",
            spec.cpus.len()
        ));
    }
    let ends =
        spec.duration.is_some() || matches!(spec.order, KeyOrder::Sequential { repeat: false });
    assert!(
        ends,
        "a phase without duration must walk a finite key sequence"
    );
    Ok(())
}

/// Starts one executor per CPU of `cpus`, pinned to it, running `task(core index)`; each
/// bumps `finished` when it ends (return or panic).
pub fn spawn_cores<T, F, Fut>(
    cpus: &[usize],
    spin_before_park: Duration,
    finished: &Arc<AtomicUsize>,
    task: F,
) -> Result<Vec<ExecutorJoinHandle<T>>, String>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut + Send + Clone + 'static,
    Fut: std::future::Future<Output = T> + 'static,
{
    assert!(!cpus.is_empty());
    let mut handles = Vec::with_capacity(cpus.len());
    for (core, &cpu) in cpus.iter().enumerate() {
        let (task, finished) = (task.clone(), finished.clone());
        let handle = LocalExecutorBuilder::new(Placement::Fixed(cpu))
            .name(&format!("loadgen-{core}"))
            .io_memory(EXECUTOR_IO_MEMORY_BYTES)
            .spin_before_park(spin_before_park)
            .spawn(move || async move {
                // Counts this core as finished even if it panics, so the progress loop ends.
                let _finished = FinishGuard(finished);
                task(core).await
            })
            .map_err(|error| format!("cannot start an executor on cpu {cpu}: {error}"))?;
        handles.push(handle);
    }
    debug_assert_eq!(handles.len(), cpus.len());
    Ok(handles)
}

/// Waits for every executor and returns their results in core order.
pub fn join_cores<T: Send + 'static>(
    handles: Vec<ExecutorJoinHandle<T>>,
) -> Result<Vec<T>, String> {
    handles
        .into_iter()
        .map(|handle| {
            handle
                .join()
                .map_err(|error| format!("an executor failed: {error}"))
        })
        .collect()
}

/// What the progress line shows.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Shown after warmup (`run`, `setup`, `push`).
    pub label: &'static str,
    pub enabled: bool,
    pub start: Instant,
    pub warmup: Duration,
}

/// Bumps the count of finished cores when dropped (on return or on panic).
struct FinishGuard(Arc<AtomicUsize>);

impl Drop for FinishGuard {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Release);
    }
}

/// Prints one progress line per interval until every core has finished.
pub fn watch_progress(progress: &Progress, live: &[LiveCounters], finished: &AtomicUsize) {
    let start = progress.start;
    let interval = Duration::from_millis(PROGRESS_INTERVAL_MS);
    let tty = std::io::stderr().is_terminal();
    let mut next_print = start + interval;
    let mut ok_before = 0u64;
    while finished.load(Ordering::Acquire) < live.len() {
        std::thread::sleep(Duration::from_millis(FINISH_POLL_MS));
        let now = Instant::now();
        if !progress.enabled || now < next_print {
            continue;
        }
        let (ok, errors) = live
            .iter()
            .map(LiveCounters::snapshot)
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
        let elapsed = now.saturating_duration_since(start);
        let label = if elapsed < progress.warmup {
            "warmup"
        } else {
            progress.label
        };
        let rate = (ok - ok_before) as f64 / interval.as_secs_f64();
        let line = format!(
            "[{label}] {:>5.1}s  ok {ok} ({rate:.0}/s)  errors {errors}",
            elapsed.as_secs_f64()
        );
        let mut stderr = std::io::stderr().lock();
        let _ = if tty {
            write!(stderr, "\r\x1b[2K{line}")
        } else {
            writeln!(stderr, "{line}")
        };
        ok_before = ok;
        next_print += interval;
    }
    if progress.enabled && tty {
        eprintln!();
    }
}

/// One core's share of the phase, shared by its connection tasks.
struct CoreRun {
    spec: Arc<PhaseSpec>,
    core: usize,
    start: Instant,
    warmup_end: Instant,
    end: Option<Instant>,
    schedule: Option<Schedule>,
    /// Next position in this core's key partition (sequential orders).
    cursor: Cell<u64>,
    stats: RefCell<CoreStats>,
    live: Arc<Vec<LiveCounters>>,
}

async fn run_core(
    spec: Arc<PhaseSpec>,
    core: usize,
    live: Arc<Vec<LiveCounters>>,
    start: Instant,
) -> CoreStats {
    let cores = spec.cpus.len();
    assert!(core < cores);
    let warmup_end = start + spec.warmup;
    let run = Rc::new(CoreRun {
        schedule: spec
            .rate_total_per_s
            .map(|rate| Schedule::new(start, rate, cores as u64, core as u64)),
        end: spec.duration.map(|duration| warmup_end + duration),
        spec: spec.clone(),
        core,
        start,
        warmup_end,
        cursor: Cell::new(0),
        stats: RefCell::new(CoreStats::new()),
        live,
    });
    let connections = partition_len(spec.connections as u64, cores as u64, core as u64);
    let tasks: Vec<_> = (0..connections)
        .map(|index| match spec.transport {
            Transport::Http => glommio::spawn_local(run_connection(run.clone(), index)),
            Transport::Grpc { server } => {
                glommio::spawn_local(run_grpc_connection(run.clone(), server, index))
            }
        })
        .collect();
    for task in tasks {
        task.await;
    }
    run.stats.take()
}

/// One connection: connect, wait for the start, then send requests until the phase ends,
/// replacing the connection after any transport failure.
async fn run_connection(run: Rc<CoreRun>, index: u64) {
    let spec = run.spec.clone();
    let stream = (run.core as u64) * CONNECTIONS_MAX as u64 + index;
    let mut rng = SplitMix64::new(spec.seed, stream);
    let connection_index = partition_key(spec.cpus.len() as u64, run.core as u64, index);
    let mut buffers = RequestBuffers::for_stream(CONNECTION_WRITE_BUFFER_BYTES, stream);
    // A failed first connect is retried (and counted) when the first request needs it.
    let mut connection = HttpConnection::connect(spec.server).await.ok();
    sleep_until(run.start).await;
    loop {
        let Some(intended) = run.next_send_time().await else {
            break;
        };
        let Some((op, key)) = run.next_op(&mut rng, connection_index) else {
            break;
        };
        if connection.is_none() {
            match HttpConnection::connect(spec.server).await {
                Ok(fresh) => connection = Some(fresh),
                Err(kind) => {
                    run.record(intended, Err(kind));
                    glommio::timer::sleep(Duration::from_millis(RECONNECT_BACKOFF_MS)).await;
                    continue;
                }
            }
        }
        let Some(open) = connection.as_mut() else {
            continue;
        };
        // Closed loop measures from the actual send; open loop from the intended time.
        let sent_at = if run.schedule.is_some() {
            intended
        } else {
            Instant::now()
        };
        http::encode(op, &spec.keyspace, key, &spec.host, &mut buffers);
        let (outcome, keep) = exchange(open, &buffers.request, op, spec.timeout).await;
        if !keep {
            connection = None;
        }
        run.record(sent_at, outcome);
    }
}

/// One gRPC connection: set up, wait for the start, then send requests until the phase ends,
/// replacing the connection after a transport failure or timeout.
async fn run_grpc_connection(run: Rc<CoreRun>, server: SocketAddr, index: u64) {
    let spec = run.spec.clone();
    let cores = spec.cpus.len() as u64;
    let connection_index = partition_key(cores, run.core as u64, index);
    debug_assert!(connection_index < spec.connections as u64);
    let stream = (run.core as u64) * CONNECTIONS_MAX as u64 + index;
    let mut rng = SplitMix64::new(spec.seed, stream);
    let module = grpc_module(spec.mix);
    let mut connection = GrpcConnection::open_module(server, spec.timeout, None, module)
        .await
        .ok();
    sleep_until(run.start).await;
    loop {
        let Some(intended) = run.next_send_time().await else {
            break;
        };
        let Some((op, mut key)) = run.next_op(&mut rng, connection_index) else {
            break;
        };
        if connection.is_none() {
            match GrpcConnection::open_module(server, spec.timeout, None, module).await {
                Ok(fresh) => connection = Some(fresh),
                Err(kind) => {
                    run.record(intended, Err(kind));
                    glommio::timer::sleep(Duration::from_millis(RECONNECT_BACKOFF_MS)).await;
                    continue;
                }
            }
        }
        let Some(open) = connection.as_mut() else {
            continue;
        };
        if matches!(op, Op::Register { .. }) {
            key.instance_index = connection_index;
        }
        let sent_at = if run.schedule.is_some() {
            intended
        } else {
            Instant::now()
        };
        let (kind, expected_kind, json) = grpc_scenario::request(op, &spec.keyspace, key);
        let outcome = open.call(kind, expected_kind, json, spec.timeout).await;
        if matches!(
            outcome,
            Err(ErrorKind::Io | ErrorKind::Timeout | ErrorKind::Protocol)
        ) {
            connection = None;
        }
        run.record(sent_at, outcome.map(|_| ()));
    }
}

/// The module a phase's gRPC connections announce at setup: `config` for config operations, as
/// the Java config client does, else `naming`.
fn grpc_module(mix: OpMix) -> Module {
    match mix {
        OpMix::Single(Op::ConfigGet | Op::ConfigPublish { .. }) => Module::Config,
        OpMix::Single(_) | OpMix::Mixed { .. } => Module::Naming,
    }
}

/// One request with the per-request timeout. Returns the outcome and whether the connection
/// can be reused.
pub async fn exchange(
    connection: &mut HttpConnection,
    request: &[u8],
    op: Op,
    timeout: Duration,
) -> (Result<(), ErrorKind>, bool) {
    let round_trip = async {
        let result = connection
            .round_trip(request, |status, body| http::check(op, status, body))
            .await;
        Ok::<_, glommio::GlommioError<()>>(result)
    };
    match glommio::timer::timeout(timeout, round_trip).await {
        Ok(Ok(exchange)) => (exchange.outcome, exchange.keep_alive),
        Ok(Err(kind)) => (Err(kind), false),
        // The response may still arrive later: the connection cannot be reused.
        Err(_) => (Err(ErrorKind::Timeout), false),
    }
}

impl CoreRun {
    /// The send time of the next request (waiting for it in fixed-rate mode), or `None` once
    /// the phase is over.
    async fn next_send_time(&self) -> Option<Instant> {
        let at = match &self.schedule {
            Some(schedule) => schedule.claim(),
            None => Instant::now(),
        };
        if self.end.is_some_and(|end| at >= end) {
            return None;
        }
        sleep_until(at).await;
        Some(at)
    }

    fn next_op(&self, rng: &mut SplitMix64, connection_index: u64) -> Option<(Op, Key)> {
        let keyspace = &self.spec.keyspace;
        let key = match &self.spec.order {
            KeyOrder::Random(dist) => dist.sample_key(keyspace, rng),
            KeyOrder::PerConnection => keyspace.key(connection_index % keyspace.keys_count()),
            KeyOrder::Sequential { repeat } => {
                let cores = self.spec.cpus.len() as u64;
                let length = partition_len(keyspace.keys_count(), cores, self.core as u64);
                let position = self.cursor.get();
                if length == 0 || (!repeat && position >= length) {
                    return None;
                }
                self.cursor.set(position + 1);
                keyspace.key(partition_key(cores, self.core as u64, position % length))
            }
        };
        let op = match self.spec.mix {
            OpMix::Single(op) => op,
            OpMix::Mixed { read_ratio, write } => {
                if rng.next_f64() < read_ratio {
                    Op::Query
                } else {
                    write
                }
            }
        };
        Some((op, key))
    }

    /// Counts a completion on the live counters, and in the statistics unless it was sent
    /// during warmup.
    fn record(&self, sent_at: Instant, outcome: Result<(), ErrorKind>) {
        let done_at = Instant::now();
        let live = &self.live[self.core];
        match outcome {
            Ok(()) => live.add_ok(),
            Err(_) => live.add_error(),
        }
        if sent_at < self.warmup_end {
            return;
        }
        let mut stats = self.stats.borrow_mut();
        match outcome {
            Ok(()) => stats.record_ok(done_at.saturating_duration_since(sent_at)),
            Err(kind) => stats.record_error(kind),
        }
    }
}

pub async fn sleep_until(at: Instant) {
    let now = Instant::now();
    if at > now {
        glommio::timer::sleep(at - now).await;
    }
}
