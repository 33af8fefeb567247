//! Command-line flags, and turning them into a run: target address, CPUs, keyspace and plan.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, ValueEnum};

use crate::keyspace::{KeyDist, Keyspace, ZipfTable};
use crate::limits::{
    CONFIGS_DEFAULT, CONFIG_CONTENT_BYTES_DEFAULT, CONFIG_CONTENT_BYTES_MAX,
    CONFIG_CONTENT_BYTES_MIN, CORES_MAX, LONG_POLL_TIMEOUT_MAX_MS, REQUEST_TIMEOUT_DEFAULT_MS,
    SERVICES_MAX,
};
use crate::runner::{KeyOrder, OpMix, PhaseSpec, Transport};
use crate::scenario::http::Op;
use crate::scenario::{BeatMode, ConfigSettings, PublishKeys, Scenario};

/// Load generator for Nacos-compatible naming and config servers (nacore, r-nacos, Java Nacos).
#[derive(Debug, Clone, Parser)]
#[command(name = "nacore-loadgen", version)]
pub struct Cli {
    /// What to run.
    #[arg(value_enum)]
    pub scenario: Scenario,
    /// Server HTTP address (host:port).
    #[arg(long, default_value = "127.0.0.1:8848")]
    pub server: String,
    /// Server gRPC port for the `grpc-*` scenarios [default: the HTTP port + 1000, as Nacos].
    #[arg(long)]
    pub grpc_port: Option<u16>,
    /// `cluster-replication`: HTTP address (host:port) of the member observed; writes go to
    /// `--server`. Give `--server`'s own address to measure the local push path.
    #[arg(long, visible_alias = "peer-addr")]
    pub peer_server: Option<String>,
    /// `cluster-replication`: gRPC port of the observed member [default: its HTTP port + 1000].
    #[arg(long)]
    pub peer_grpc_port: Option<u16>,
    /// `cluster-replication`: after the last registration, how long registrations may take to
    /// show up on the peer before they count as missing.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub grace: Duration,
    /// `grpc-subscribe-push`: subscriber connections, each subscribed to one service
    /// (subscriber `i` to `lg-svc-{i % services}`). `cluster-replication`: observer
    /// connections on the peer (at most one per service; service `s` on observer
    /// `s % subscribers`).
    #[arg(long, default_value_t = 100)]
    pub subscribers: usize,
    /// `grpc-connections`, `config-hold`: the server's process id, for its RSS (default: the
    /// process listening on the gRPC port, or on the HTTP port for `config-hold`, found through
    /// /proc when it is local).
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// `grpc-connections`: spread the connections over this many loopback addresses
    /// (127.0.0.1, 127.0.0.2, ...) of a server on 127.0.0.1 listening on all addresses; one
    /// address pair has only ~28k ephemeral ports, so 100,000 connections need at least 4.
    #[arg(long, default_value_t = 1)]
    pub loopback_spread: u8,
    /// `grpc-connections`: services each held connection subscribes to after its setup
    /// (`SubscribeServiceRequest` for `lg-svc-0` ... `lg-svc-{N-1}`), as an idle application
    /// holding a few subscriptions does.
    #[arg(long, default_value_t = 0)]
    pub subscriptions_per_connection: u64,
    /// `config-get`, `grpc-config-get`: configs published at setup and read (`lg-cfg-0` ...).
    /// `config-memory`: configs published [default: 100000].
    /// `config-hold`: configs the polls listen to, poll `i` to `lg-cfg-{i % configs}`
    /// [default: 1000 for the gets, 1 for config-hold].
    #[arg(long)]
    pub configs: Option<u64>,
    /// Config scenarios: bytes of each published content (at least its `lg.seq=N` line).
    #[arg(long, default_value_t = CONFIG_CONTENT_BYTES_DEFAULT)]
    pub content_bytes: usize,
    /// `config-publish`: config `lg-cfg-{c}` for connection `c` (distinct), or `lg-cfg-0` for
    /// all (same).
    #[arg(long, value_enum, default_value_t = PublishKeys::Distinct)]
    pub publish_keys: PublishKeys,
    /// `config-notify-grpc`, `config-notify-longpoll`: listeners of the shared config.
    /// `config-hold`: long polls held [default: 1000 for config-notify-*, 10000 for
    /// config-hold].
    #[arg(long)]
    pub listeners: Option<usize>,
    /// Long polls (`config-notify-longpoll`, `config-hold`): the `Long-Pulling-Timeout` sent,
    /// how long the server holds a poll whose config did not change.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub long_poll_timeout: Duration,
    /// Executors, one pinned per CPU of the affinity mask (default: every allowed CPU).
    #[arg(long)]
    pub cores: Option<usize>,
    /// Total connections, spread over the cores.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Services in the keyspace (`lg-svc-0` ...).
    #[arg(long, default_value_t = 100)]
    pub services: u64,
    /// Instances per service (IPs `10.a.b.c`, port 8080).
    #[arg(long, default_value_t = 10)]
    pub instances_per_service: u64,
    /// Measured time, after warmup (e.g. 10s, 500ms, 2m).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Unrecorded time before measuring.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Fixed total rate in requests/s across all cores (open loop); default closed loop.
    #[arg(long)]
    pub rate: Option<f64>,
    /// How keys are drawn: the service by this distribution, the instance uniformly.
    #[arg(long, value_enum, default_value_t = KeysArg::Uniform)]
    pub keys: KeysArg,
    /// Zipf exponent for `--keys zipf`.
    #[arg(long, default_value_t = 1.0)]
    pub zipf_exponent: f64,
    /// Share of reads in `http-mixed`.
    #[arg(long, default_value_t = 0.9)]
    pub read_ratio: f64,
    /// `http-beat`: one beat per instance per 5 s (steady), or as fast as possible (max).
    #[arg(long, value_enum, default_value_t = BeatMode::Steady)]
    pub beat_mode: BeatMode,
    /// Per-request timeout [default: 5s].
    #[arg(long, value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// Busy-poll this long before an idle executor parks. Waking a parked CPU costs tens of
    /// microseconds (more in VMs), which would otherwise show up in the measured latency.
    #[arg(long, default_value = "5ms", value_parser = parse_duration)]
    pub spin_before_park: Duration,
    /// Seed of the key sequence.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Skip pre-registration (the instances are already there from an earlier run).
    #[arg(long)]
    pub skip_setup: bool,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
    /// No progress lines on stderr.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeysArg {
    Uniform,
    Zipf,
}

/// Nacos's gRPC port is its HTTP port + 1000 (nacos-protocol.md §0.1).
pub const GRPC_PORT_OFFSET: u16 = 1000;

/// Parses `10s`, `250ms`, `2m`, `1.5s` or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, scale_s) = if let Some(number) = text.strip_suffix("ms") {
        (number, 0.001)
    } else if let Some(number) = text.strip_suffix('s') {
        (number, 1.0)
    } else if let Some(number) = text.strip_suffix('m') {
        (number, 60.0)
    } else {
        (text, 1.0)
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("bad duration {text:?}"))?;
    if !(0.0..=86_400.0 * 365.0).contains(&(value * scale_s)) {
        return Err(format!("duration {text:?} out of range"));
    }
    Ok(Duration::from_secs_f64(value * scale_s))
}

/// CPUs this process may run on (its affinity mask, e.g. from `taskset`).
pub fn allowed_cpus() -> Vec<usize> {
    // SAFETY: cpu_set_t is plain data; sched_getaffinity fills it for this thread (pid 0).
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let rc =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    let mut cpus = Vec::new();
    if rc == 0 {
        for cpu in 0..libc::CPU_SETSIZE as usize {
            // SAFETY: cpu < CPU_SETSIZE and the set was filled above.
            if unsafe { libc::CPU_ISSET(cpu, &set) } {
                cpus.push(cpu);
            }
        }
    }
    if cpus.is_empty() {
        let count = std::thread::available_parallelism().map_or(1, |n| n.get());
        cpus = (0..count).collect();
    }
    cpus
}

/// The first `cores` allowed CPUs (wrapping around when more cores than CPUs are asked for).
pub fn pick_cpus(allowed: &[usize], cores: Option<usize>) -> Result<Vec<usize>, String> {
    assert!(!allowed.is_empty());
    let cores = cores.unwrap_or(allowed.len());
    if cores == 0 || cores > CORES_MAX {
        return Err(format!("--cores must be between 1 and {CORES_MAX}"));
    }
    Ok((0..cores)
        .map(|index| allowed[index % allowed.len()])
        .collect())
}

impl Cli {
    pub fn server_addr(&self) -> Result<SocketAddr, String> {
        let mut addrs = self
            .server
            .to_socket_addrs()
            .map_err(|error| format!("cannot resolve --server {}: {error}", self.server))?;
        addrs
            .next()
            .ok_or_else(|| format!("--server {} has no address", self.server))
    }

    /// The gRPC address: the `--server` host with `--grpc-port` (default HTTP port + 1000).
    pub fn grpc_addr(&self) -> Result<SocketAddr, String> {
        let mut addr = self.server_addr()?;
        let port = match self.grpc_port {
            Some(port) => port,
            None => addr
                .port()
                .checked_add(GRPC_PORT_OFFSET)
                .ok_or("the HTTP port + 1000 is not a port: give --grpc-port")?,
        };
        addr.set_port(port);
        Ok(addr)
    }

    /// `--peer-server` resolved, and its gRPC address (`--peer-grpc-port`, default HTTP
    /// port + 1000).
    pub fn peer_addrs(&self) -> Result<(SocketAddr, SocketAddr), String> {
        let peer = self.peer_server.as_deref().ok_or(
            "cluster-replication needs --peer-server host:port (the member to observe; \
             --server's own address measures the local push path)",
        )?;
        let http = peer
            .to_socket_addrs()
            .map_err(|error| format!("cannot resolve --peer-server {peer}: {error}"))?
            .next()
            .ok_or_else(|| format!("--peer-server {peer} has no address"))?;
        let port = match self.peer_grpc_port {
            Some(port) => port,
            None => http
                .port()
                .checked_add(GRPC_PORT_OFFSET)
                .ok_or("the peer's HTTP port + 1000 is not a port: give --peer-grpc-port")?,
        };
        Ok((http, SocketAddr::new(http.ip(), port)))
    }

    /// The config request scenarios' settings, checked.
    pub fn config_settings(&self) -> Result<ConfigSettings, String> {
        let configs = self.configs.unwrap_or(CONFIGS_DEFAULT);
        if configs == 0 || configs > SERVICES_MAX {
            return Err(format!("--configs must be between 1 and {SERVICES_MAX}"));
        }
        let bytes = CONFIG_CONTENT_BYTES_MIN..=CONFIG_CONTENT_BYTES_MAX;
        if !bytes.contains(&self.content_bytes) {
            return Err(format!(
                "--content-bytes must be between {CONFIG_CONTENT_BYTES_MIN} and \
                 {CONFIG_CONTENT_BYTES_MAX}"
            ));
        }
        Ok(ConfigSettings {
            configs,
            content_bytes: self.content_bytes as u32,
            publish_keys: self.publish_keys,
        })
    }

    /// `--long-poll-timeout` in ms, checked.
    pub fn long_poll_timeout_ms(&self) -> Result<u64, String> {
        let ms = self.long_poll_timeout.as_millis();
        if ms == 0 || ms > LONG_POLL_TIMEOUT_MAX_MS as u128 {
            return Err(format!(
                "--long-poll-timeout must be between 1 ms and {LONG_POLL_TIMEOUT_MAX_MS} ms"
            ));
        }
        Ok(ms as u64)
    }

    pub fn key_dist(&self, keyspace: &Keyspace) -> Result<KeyDist, String> {
        match self.keys {
            KeysArg::Uniform => Ok(KeyDist::Uniform),
            KeysArg::Zipf if self.zipf_exponent > 0.0 && self.zipf_exponent <= 10.0 => {
                Ok(KeyDist::Zipf(Arc::new(ZipfTable::new(
                    keyspace.services,
                    self.zipf_exponent,
                ))))
            }
            KeysArg::Zipf => Err("--zipf-exponent must be in (0, 10]".into()),
        }
    }

    /// The phase settings every scenario shares; the scenario fills in mix and order.
    pub fn base_phase(&self, server: SocketAddr, cpus: Vec<usize>) -> Result<PhaseSpec, String> {
        let keyspace = Keyspace::new(self.services, self.instances_per_service)?;
        if self
            .rate
            .is_some_and(|rate| !(rate > 0.0 && rate.is_finite()))
        {
            return Err("--rate must be a positive number of requests per second".into());
        }
        if !(0.0..=1.0).contains(&self.read_ratio) {
            return Err("--read-ratio must be between 0 and 1".into());
        }
        let timeout = self
            .timeout
            .unwrap_or(Duration::from_millis(REQUEST_TIMEOUT_DEFAULT_MS));
        if self.duration.is_zero() || timeout.is_zero() {
            return Err("--duration and --timeout must be positive".into());
        }
        Ok(PhaseSpec {
            label: "run",
            server,
            transport: Transport::Http,
            host: self.server.clone(),
            keyspace,
            mix: OpMix::Single(Op::Query),
            order: KeyOrder::Sequential { repeat: false },
            cpus,
            connections: self.connections,
            rate_total_per_s: self.rate,
            warmup: self.warmup,
            duration: Some(self.duration),
            timeout,
            spin_before_park: self.spin_before_park,
            seed: self.seed,
            progress: !self.quiet,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Durations with and without units.
    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    /// CPU choice follows the affinity mask and wraps.
    #[test]
    fn cpu_choice() {
        assert_eq!(pick_cpus(&[1], None), Ok(vec![1]));
        assert_eq!(pick_cpus(&[2, 3], Some(3)), Ok(vec![2, 3, 2]));
        assert!(pick_cpus(&[0], Some(0)).is_err());
    }

    /// The scenario is positional and flags parse with units.
    #[test]
    fn parses_flags() {
        let cli = Cli::try_parse_from([
            "nacore-loadgen",
            "http-query",
            "--keys",
            "zipf",
            "--duration",
            "3s",
            "--rate",
            "100",
        ])
        .unwrap();
        assert_eq!(cli.scenario, Scenario::HttpQuery);
        assert_eq!(cli.keys, KeysArg::Zipf);
        assert_eq!(cli.duration, Duration::from_secs(3));
        assert_eq!(cli.rate, Some(100.0));
        assert!(Cli::try_parse_from(["nacore-loadgen", "http-nothing"]).is_err());
    }

    /// Config flags have per-scenario defaults and bounds.
    #[test]
    fn config_flags() {
        let cli =
            Cli::try_parse_from(["nacore-loadgen", "config-publish", "--publish-keys", "same"])
                .unwrap();
        assert_eq!(cli.scenario, Scenario::ConfigPublish);
        let settings = cli.config_settings().unwrap();
        assert_eq!(settings.publish_keys, PublishKeys::Same);
        assert_eq!(settings.configs, CONFIGS_DEFAULT);
        assert_eq!(
            settings.content_bytes as usize,
            CONFIG_CONTENT_BYTES_DEFAULT
        );
        assert_eq!(cli.long_poll_timeout_ms(), Ok(30_000));
        assert_eq!(cli.listeners, None);
        let mut other = cli.clone();
        other.content_bytes = CONFIG_CONTENT_BYTES_MAX + 1;
        assert!(other.config_settings().is_err());
        other.content_bytes = 1;
        other.configs = Some(0);
        assert!(other.config_settings().is_err());
        other.long_poll_timeout = Duration::ZERO;
        assert!(other.long_poll_timeout_ms().is_err());
        let hold = Cli::try_parse_from([
            "nacore-loadgen",
            "config-hold",
            "--listeners",
            "500",
            "--long-poll-timeout",
            "20s",
        ])
        .unwrap();
        assert_eq!(hold.listeners, Some(500));
        assert_eq!(hold.long_poll_timeout_ms(), Ok(20_000));
    }

    /// The peer flag (and its `--peer-addr` alias) gives the peer's HTTP and gRPC addresses.
    #[test]
    fn peer_flags() {
        let cli = Cli::try_parse_from([
            "nacore-loadgen",
            "cluster-replication",
            "--peer-addr",
            "127.0.0.1:8858",
            "--grace",
            "2s",
        ])
        .unwrap();
        assert_eq!(cli.scenario, Scenario::ClusterReplication);
        assert_eq!(cli.grace, Duration::from_secs(2));
        let (http, grpc) = cli.peer_addrs().unwrap();
        assert_eq!(http, "127.0.0.1:8858".parse::<SocketAddr>().unwrap());
        assert_eq!(grpc, "127.0.0.1:9858".parse::<SocketAddr>().unwrap());
        let mut other = cli.clone();
        other.peer_grpc_port = Some(7000);
        assert_eq!(other.peer_addrs().unwrap().1.port(), 7000);
        other.peer_server = None;
        assert!(other.peer_addrs().is_err());
    }
}
