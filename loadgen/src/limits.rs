//! Every explicit limit of the load generator, in one place, each with its unit last.
//!
//! The load generator talks to servers under test, which may be broken; these bounds keep a
//! misbehaving server from making it buffer without bound or wait forever.

/// Largest response head (status line + headers) we buffer before calling the response
/// malformed. Nacos servers answer with a few hundred bytes of headers.
pub const RESPONSE_HEAD_BYTES_MAX: usize = 16 * 1024;

/// Most headers parsed in one response; more is a protocol error.
pub const RESPONSE_HEADERS_COUNT_MAX: usize = 32;

/// Largest response body. An `instance/list` of 10 000 instances is about 4 MiB.
pub const RESPONSE_BODY_BYTES_MAX: usize = 8 * 1024 * 1024;

/// Read buffer allocated per connection up front; it grows up to head + body limits on demand.
pub const CONNECTION_READ_BUFFER_BYTES: usize = 16 * 1024;

/// Request buffer allocated per connection up front. Our requests are well under 1 KiB.
pub const CONNECTION_WRITE_BUFFER_BYTES: usize = 2 * 1024;

/// Total connections across all cores.
pub const CONNECTIONS_MAX: usize = 200_000;

/// Executors (cores) the load generator runs.
pub const CORES_MAX: usize = 256;

/// Services in the keyspace. The zipf sampler keeps one `f64` per service (8 MiB at the max).
pub const SERVICES_MAX: u64 = 1_000_000;

/// Keys (service × instance) in the keyspace: instance IPs are `10.a.b.c`, 24 bits of key.
pub const KEYS_MAX: u64 = 1 << 24;

/// After a failed connect, a connection waits this long before trying again, so that a
/// server that is down produces a bounded stream of connect errors instead of a busy loop.
pub const RECONNECT_BACKOFF_MS: u64 = 100;

/// Default per-request timeout; a request slower than this is counted as a timeout and its
/// connection is replaced.
pub const REQUEST_TIMEOUT_DEFAULT_MS: u64 = 5_000;

/// Connect timeout for every new connection.
pub const CONNECT_TIMEOUT_MS: u64 = 3_000;

/// Highest latency the histograms hold (60 s, in µs); slower values are clamped to it.
pub const LATENCY_US_MAX: u64 = 60_000_000;

/// Significant decimal digits of the latency histograms (0.1 % resolution).
pub const LATENCY_SIGNIFICANT_DIGITS: u8 = 3;

/// io_uring registered-buffer memory per executor; the load generator needs no DMA buffers,
/// and a small figure keeps it within default memlock limits (8 MiB on many distributions).
pub const EXECUTOR_IO_MEMORY_BYTES: usize = 512 * 1024;

/// Interval between live progress lines on stderr.
pub const PROGRESS_INTERVAL_MS: u64 = 1_000;

/// The Nacos default beat period (`preserved.heart.beat.interval`); steady-state beat load
/// sends one beat per instance per period.
pub const BEAT_PERIOD_MS: u64 = 5_000;

const _: () = assert!(CONNECTION_READ_BUFFER_BYTES <= RESPONSE_HEAD_BYTES_MAX);
const _: () = assert!(SERVICES_MAX <= KEYS_MAX);
const _: () = assert!(CONNECT_TIMEOUT_MS <= REQUEST_TIMEOUT_DEFAULT_MS);
const _: () = assert!(REQUEST_TIMEOUT_DEFAULT_MS * 1000 <= LATENCY_US_MAX);

/// Largest gRPC message accepted (Nacos's 10 MiB inbound limit on both sides,
/// nacos-protocol.md §3.1); a larger declared length is a protocol error.
pub const GRPC_MESSAGE_BYTES_MAX: usize = 10 * 1024 * 1024;

/// HTTP/2 stream receive window advertised per stream. Replies and pushes are a few KiB; a
/// 1 MiB window lets a large `serviceInfo` arrive without a window update round trip.
pub const H2_STREAM_WINDOW_BYTES: u32 = 1024 * 1024;

/// HTTP/2 connection receive window (all streams of one connection together).
pub const H2_CONNECTION_WINDOW_BYTES: u32 = 4 * 1024 * 1024;

/// Largest HTTP/2 frame we accept (the RFC 9113 minimum of the maximum, which is h2's default).
pub const H2_FRAME_BYTES_MAX: u32 = 16 * 1024;

/// Concurrent streams we let the server open towards us (it opens none in Nacos gRPC).
pub const H2_PUSHED_STREAMS_MAX: u32 = 0;

/// How long a connection waits for `SetupAckRequest` after `ConnectionSetupRequest` when the
/// server announced ability negotiation (the Java client's 5 s, nacos-protocol.md §3.3).
pub const GRPC_SETUP_ACK_TIMEOUT_MS: u64 = 5_000;

/// Pause after `ConnectionSetupRequest` when the server does not negotiate abilities: the Java
/// client sleeps 100 ms so that the server registers the connection before the first request.
pub const GRPC_SETUP_WITHOUT_ACK_DELAY_MS: u64 = 100;

/// An idle connection sends `HealthCheckRequest` after this long (the Java client's
/// `connectionKeepAlive`, nacos-protocol.md §3.3 step 6).
pub const GRPC_HEALTH_CHECK_IDLE_MS: u64 = 5_000;

/// Connections a core sets up at the same time. Opening thousands at once would overflow the
/// server's accept backlog and turn a setup burst into connect timeouts.
pub const GRPC_SETUPS_IN_FLIGHT_PER_CORE_MAX: usize = 64;

/// How long the subscribers and held connections may take to set up, in total, before the
/// scenario starts without the stragglers.
pub const GRPC_SETUP_PHASE_TIMEOUT_MS: u64 = 120_000;

/// Churn changes whose send time is remembered, by sequence number modulo this length. A
/// subscriber more than this many changes behind records latencies only for the newest ones.
pub const CHURN_SEQUENCE_RING_LEN: usize = 1 << 16;

/// `grpc-subscribe-push` churn rate when `--rate` is not given.
pub const CHURN_RATE_DEFAULT_PER_S: f64 = 10.0;

/// After the churn stops, how long subscribers may take to receive the last change before the
/// changes they have not seen count as missing pushes: the server's 5 s ack timeout plus its
/// 1 s retry delay, plus a margin.
pub const PUSH_DRAIN_TIMEOUT_MS: u64 = 7_000;

/// Subscriber connections of `grpc-subscribe-push`.
pub const SUBSCRIBERS_MAX: usize = CONNECTIONS_MAX;

/// How long after the last connection is set up the server's RSS is read, so that lazily
/// allocated per-connection state is counted.
pub const RSS_SETTLE_MS: u64 = 1_000;

/// How often a waiting core checks shared progress flags (start, stop, catch-up).
pub const COORDINATION_POLL_MS: u64 = 10;

/// `cluster-replication`: most registrations in one run. Registration `n` is instance
/// `10.a.b.c` (the 24 low bits of `n`) on the run's port, and each has two 8-byte time slots
/// (64 MiB at the max).
pub const REPLICATION_REGISTRATIONS_MAX: u64 = 1 << 22;

/// `cluster-replication`: longest write phase (warmup + duration). The run sends no beats, so
/// it must end before the first instances pass Nacos's 15 s heartbeat timeout and turn
/// unhealthy (that change, and their removal at 30 s, would add pushes of their own).
pub const REPLICATION_WRITE_PHASE_MAX_MS: u64 = 15_000;

/// `cluster-replication`: the ports a run picks its instance port from (one per run, so that a
/// run registers new instances even right after another one).
pub const REPLICATION_PORT_FIRST: u16 = 30_000;
pub const REPLICATION_PORT_COUNT: u16 = 30_000;

/// `cluster-replication`: above this many instances per service at the end of the run, the
/// load generator warns that pushes (each carrying every instance of its service) dominate.
pub const REPLICATION_INSTANCES_PER_SERVICE_WARN: u64 = 1_000;

/// `grpc-batch-register`: most instances in one `BatchInstanceRequest` (about 160 bytes of JSON
/// each, so a batch stays far below `GRPC_MESSAGE_BYTES_MAX`).
pub const BATCH_INSTANCES_MAX: u64 = 10_000;

/// Config scenarios: the smallest `--content-bytes`. Every content starts with its
/// `lg.seq=N` line, so a size below that line's length gives the line alone.
pub const CONFIG_CONTENT_BYTES_MIN: usize = 1;

/// Config scenarios: the largest `--content-bytes` (Nacos accepts 10 Mi characters; a get of
/// the content must also fit `RESPONSE_BODY_BYTES_MAX`).
pub const CONFIG_CONTENT_BYTES_MAX: usize = 1024 * 1024;

/// Config scenarios: `--content-bytes` when not given.
pub const CONFIG_CONTENT_BYTES_DEFAULT: usize = 1024;

/// `config-get`, `grpc-config-get`: configs published at setup when `--configs` is not given.
pub const CONFIGS_DEFAULT: u64 = 1_000;

/// `config-notify-*`: listeners when `--listeners` is not given.
pub const CONFIG_LISTENERS_DEFAULT: usize = 1_000;

/// `config-hold`: held long polls when `--listeners` is not given.
pub const CONFIG_HOLDS_DEFAULT: usize = 10_000;

/// `config-notify-*`: publishes per second when `--rate` is not given.
pub const CONFIG_PUBLISH_RATE_DEFAULT_PER_S: f64 = 10.0;

/// Longest `--long-poll-timeout` (the `Long-Pulling-Timeout` header; servers clamp it, Nacos
/// to at least 10 s, r-nacos to 10–120 s): a held poll's time, plus the answer margin, must fit
/// the latency histogram.
pub const LONG_POLL_TIMEOUT_MAX_MS: u64 = 45_000;

/// A long poll's answer may come this long after its `Long-Pulling-Timeout` before the poll
/// counts as timed out (the Java client reads with 1.5 × 30 s; a server holds 29.5 s).
pub const LONG_POLL_ANSWER_MARGIN_MS: u64 = 10_000;

/// Read buffer a long-poll connection starts with: answers are a status line, a few headers
/// and at most a few keys (it grows on demand).
pub const LONG_POLL_READ_BUFFER_BYTES: usize = 1024;

/// Long polls a core opens at the same time (connect and write; the permit is released once
/// the poll is written), for the same reason as `GRPC_SETUPS_IN_FLIGHT_PER_CORE_MAX`.
pub const LONG_POLL_SETUPS_IN_FLIGHT_PER_CORE_MAX: usize = 64;

/// `config-notify-*`: after the last publish, how long listeners may take to be notified of it
/// before the publishes they missed count as missing (a long poll re-polls at once; a gRPC
/// push is retried by Nacos 3 s after an unanswered one).
pub const CONFIG_NOTIFY_DRAIN_TIMEOUT_MS: u64 = 7_000;

const _: () = assert!(CONFIG_CONTENT_BYTES_MIN <= CONFIG_CONTENT_BYTES_DEFAULT);
const _: () = assert!(CONFIG_CONTENT_BYTES_DEFAULT <= CONFIG_CONTENT_BYTES_MAX);
// A get's reply holds the content and a few hundred bytes of head.
const _: () = assert!(CONFIG_CONTENT_BYTES_MAX * 2 <= RESPONSE_BODY_BYTES_MAX);
const _: () = assert!(CONFIGS_DEFAULT <= SERVICES_MAX);
const _: () = assert!(CONFIG_HOLDS_DEFAULT <= CONNECTIONS_MAX);
const _: () = assert!(LONG_POLL_READ_BUFFER_BYTES <= RESPONSE_HEAD_BYTES_MAX);
const _: () =
    assert!((LONG_POLL_TIMEOUT_MAX_MS + LONG_POLL_ANSWER_MARGIN_MS) * 1000 <= LATENCY_US_MAX);

const _: () = assert!(REPLICATION_REGISTRATIONS_MAX <= KEYS_MAX);
const _: () = assert!(REPLICATION_PORT_FIRST as u32 + REPLICATION_PORT_COUNT as u32 <= 65_535);
const _: () = assert!(BATCH_INSTANCES_MAX * 256 < GRPC_MESSAGE_BYTES_MAX as u64);

const _: () = assert!(GRPC_SETUP_WITHOUT_ACK_DELAY_MS < GRPC_SETUP_ACK_TIMEOUT_MS);
const _: () = assert!(H2_STREAM_WINDOW_BYTES <= H2_CONNECTION_WINDOW_BYTES);
const _: () = assert!(CHURN_SEQUENCE_RING_LEN.is_power_of_two());
const _: () = assert!(SUBSCRIBERS_MAX <= CONNECTIONS_MAX);
const _: () = assert!(GRPC_HEALTH_CHECK_IDLE_MS <= REQUEST_TIMEOUT_DEFAULT_MS * 2);
