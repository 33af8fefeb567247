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
pub const CONNECTIONS_MAX: usize = 65_536;

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
