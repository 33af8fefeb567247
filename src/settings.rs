//! Command-line flags and `NACORE_*` environment variables, resolved into one `Settings`.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::Parser;

/// One day in ms (the unit of `--config-history-retention-days`).
const DAY_MS: u64 = 24 * 3600 * 1000;
/// The longest history retention accepted (a century: beyond it the ms overflow nothing, but
/// nobody means it).
const CONFIG_HISTORY_RETENTION_DAYS_MAX: u64 = 36_500;

/// nacore: a Nacos-compatible service registry, thread-per-core on io_uring.
#[derive(Debug, Clone, Parser)]
#[command(name = "nacore", version, about)]
pub struct Cli {
    /// HTTP port for the Nacos OpenAPI (v1/v2).
    #[arg(long, env = "NACORE_HTTP_PORT", default_value_t = 8848)]
    pub http_port: u16,

    /// gRPC port for Nacos 2.x clients (default: HTTP port + 1000).
    #[arg(long, env = "NACORE_GRPC_PORT")]
    pub grpc_port: Option<u16>,

    /// Directory for durable data.
    #[arg(long, env = "NACORE_DATA_DIR", default_value = "./nacore-data")]
    pub data_dir: PathBuf,

    /// Number of cores (one pinned executor each; default: every CPU this process may use).
    #[arg(long, env = "NACORE_CORES")]
    pub cores: Option<usize>,

    /// Address to listen on.
    #[arg(long, env = "NACORE_BIND", default_value = "0.0.0.0")]
    pub bind: IpAddr,

    /// Cluster members, as `ip:clusterPort,...` (the same members, in any order, on every
    /// member). Without it nacore runs as a single node.
    #[arg(long, env = "NACORE_MEMBERS")]
    pub members: Option<String>,

    /// Port for peer traffic (Raft) (default: HTTP port + 1001).
    #[arg(long, env = "NACORE_CLUSTER_PORT")]
    pub cluster_port: Option<u16>,

    /// Coalescing window of pushes to subscribers, in ms (Nacos waits 500; 0 pushes at once).
    #[arg(long, env = "NACORE_PUSH_DELAY_MS", default_value_t = crate::limits::PUSH_DELAY_DEFAULT_MS)]
    pub push_delay_ms: u64,

    /// Raft log entries past the applied index that trigger a log compaction.
    #[arg(long, env = "NACORE_RAFT_COMPACT_ENTRIES", default_value_t = crate::limits::RAFT_COMPACT_AFTER_ENTRIES_DEFAULT)]
    pub raft_compact_entries: u64,

    /// Interval of the TCP health checks of persistent instances.
    #[arg(long, env = "NACORE_HEALTH_CHECK_INTERVAL_MS", default_value_t = crate::limits::HEALTH_CHECK_INTERVAL_DEFAULT_MS)]
    pub health_check_interval_ms: u64,

    /// Timeout of one health-check connect.
    #[arg(long, env = "NACORE_HEALTH_CHECK_TIMEOUT_MS", default_value_t = crate::limits::HEALTH_CHECK_TIMEOUT_DEFAULT_MS)]
    pub health_check_timeout_ms: u64,

    /// Failed checks in a row that make a persistent instance unhealthy.
    #[arg(long, env = "NACORE_HEALTH_CHECK_FAIL_THRESHOLD", default_value_t = crate::limits::HEALTH_CHECK_FAIL_THRESHOLD_DEFAULT)]
    pub health_check_fail_threshold: u8,

    /// Passed checks in a row that make an unhealthy persistent instance healthy again.
    #[arg(long, env = "NACORE_HEALTH_CHECK_OK_THRESHOLD", default_value_t = crate::limits::HEALTH_CHECK_OK_THRESHOLD_DEFAULT)]
    pub health_check_ok_threshold: u8,

    /// Distro sync window in ms: a core's changes within it go to each peer in one batch
    /// (Nacos waits 1000).
    #[arg(long, env = "NACORE_DISTRO_SYNC_DELAY_MS", default_value_t = crate::limits::DISTRO_SYNC_DELAY_DEFAULT_MS)]
    pub distro_sync_delay_ms: u64,

    /// Distro verify round in ms: members send digests of the data they answer for.
    #[arg(long, env = "NACORE_DISTRO_VERIFY_INTERVAL_MS", default_value_t = crate::limits::DISTRO_VERIFY_INTERVAL_DEFAULT_MS)]
    pub distro_verify_interval_ms: u64,

    /// Replicas of a member not renewed for this long (ms) expire: how a crashed member's
    /// instances leave the cluster (Nacos: 3 min).
    #[arg(long, env = "NACORE_DISTRO_REPLICA_EXPIRY_MS", default_value_t = crate::limits::DISTRO_REPLICA_EXPIRY_DEFAULT_MS)]
    pub distro_replica_expiry_ms: u64,

    /// Config history rows older than this many days are pruned (Nacos
    /// `nacos.config.retention.days`).
    #[arg(long, env = "NACORE_CONFIG_HISTORY_RETENTION_DAYS", default_value_t = crate::limits::CONFIG_HISTORY_RETENTION_DEFAULT_MS / DAY_MS)]
    pub config_history_retention_days: u64,

    /// How often the Raft leader prunes old config history, in ms (Nacos: every 10 min).
    #[arg(long, env = "NACORE_CONFIG_HISTORY_PRUNE_INTERVAL_MS", default_value_t = crate::limits::CONFIG_HISTORY_PRUNE_INTERVAL_MS)]
    pub config_history_prune_interval_ms: u64,

    /// Log level or tracing filter (error, warn, info, debug, trace).
    #[arg(long, env = "NACORE_LOG_LEVEL", default_value = "info")]
    pub log_level: String,

    // --- metrics ---
    /// Access log: one line per HTTP and gRPC request, appended to this file (`-`: standard
    /// output). Off when not given.
    #[arg(long, env = "NACORE_ACCESS_LOG")]
    pub access_log: Option<String>,
    // --- auth ---
    /// Require a login (token, or username+password) on the naming and config APIs.
    #[arg(long, env = "NACORE_AUTH_ENABLED", default_value_t = false)]
    pub auth_enabled: bool,

    /// Key of the access tokens (HS256), at least 32 bytes, raw or base64 (as Nacos's
    /// `nacos.core.auth.plugin.nacos.token.secret.key`). Required with --auth-enabled.
    #[arg(long, env = "NACORE_AUTH_TOKEN_SECRET")]
    pub auth_token_secret: Option<Redacted>,

    /// Lifetime of an access token, in seconds.
    #[arg(long, env = "NACORE_AUTH_TOKEN_TTL_S", default_value_t = crate::limits::AUTH_TOKEN_TTL_DEFAULT_S)]
    pub auth_token_ttl_s: u64,

    /// Secret shared by the members: peers present it on the cluster port, and requests
    /// between members carry it as their server identity.
    #[arg(long, env = "NACORE_AUTH_CLUSTER_SECRET")]
    pub auth_cluster_secret: Option<Redacted>,
    // --- dns ---
    /// Port of the built-in DNS server, UDP and TCP on every core (e.g. 53 or 8853). Off when
    /// not given.
    #[arg(long, env = "NACORE_DNS_PORT")]
    pub dns_port: Option<u16>,

    /// The zone the DNS server answers: `<service>[.<group>[.<namespace>]].<domain>`.
    #[arg(long, env = "NACORE_DNS_DOMAIN", default_value = "nacos.local")]
    pub dns_domain: String,

    /// TTL of DNS answers, in seconds.
    #[arg(long, env = "NACORE_DNS_TTL_S", default_value_t = crate::limits::DNS_TTL_DEFAULT_S)]
    pub dns_ttl_s: u32,

    /// Records per DNS answer, chosen by weighted random selection per query.
    #[arg(long, env = "NACORE_DNS_ANSWER_RECORDS_MAX", default_value_t = crate::limits::DNS_ANSWER_RECORDS_DEFAULT)]
    pub dns_answer_records_max: usize,

    /// Seed of the weighted selection (0: from the clock); tests fix it to replay a run.
    #[arg(long, env = "NACORE_DNS_SEED", default_value_t = 0)]
    pub dns_seed: u64,
}

/// A flag value that is a secret: `Debug` never shows it.
#[derive(Clone)]
pub struct Redacted(pub String);

impl std::fmt::Debug for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl std::str::FromStr for Redacted {
    type Err = std::convert::Infallible;
    fn from_str(value: &str) -> Result<Redacted, Self::Err> {
        Ok(Redacted(value.to_string()))
    }
}

/// The resolved configuration every part of the server reads. Plain data, `Clone + Send`, so
/// each core gets its own copy.
#[derive(Debug, Clone)]
pub struct Settings {
    pub http_port: u16,
    pub grpc_port: u16,
    pub data_dir: PathBuf,
    /// CPU ids the executors are pinned to, one executor per entry.
    pub cpus: Vec<usize>,
    pub bind: IpAddr,
    pub log_level: String,
    pub push_delay_ms: u64,
    pub raft_compact_entries: u64,
    pub probe: crate::health::probe::ProbeSettings,
    pub cluster_port: u16,
    /// Cluster mode when set (more than one member).
    pub members: Option<crate::cluster::members::Members>,
    pub distro: DistroSettings,
    pub config_history: ConfigHistorySettings,
    // --- auth ---
    pub auth: crate::auth::AuthSettings,
    // --- metrics ---
    /// Where the access log goes; `None`: no access log.
    pub access_log: Option<crate::access_log::Target>,
    // --- dns ---
    /// The built-in DNS server; `None`: off.
    pub dns: Option<crate::dns::DnsSettings>,
}

/// Config history retention (flags), resolved.
#[derive(Debug, Clone, Copy)]
pub struct ConfigHistorySettings {
    pub retention_ms: u64,
    pub prune_interval_ms: u64,
}

/// Distro timings (flags), resolved.
#[derive(Debug, Clone, Copy)]
pub struct DistroSettings {
    pub sync_delay_ms: u64,
    pub verify_interval_ms: u64,
    pub replica_expiry_ms: u64,
}

impl Settings {
    pub fn from_cli(cli: Cli) -> Result<Settings, String> {
        let grpc_port = match cli.grpc_port {
            Some(port) => port,
            None => cli.http_port.checked_add(1000).ok_or_else(|| {
                format!(
                    "--http-port {} leaves no room for gRPC at +1000",
                    cli.http_port
                )
            })?,
        };
        let cluster_port = match cli.cluster_port {
            Some(port) => port,
            None => cli.http_port.checked_add(1001).ok_or_else(|| {
                format!(
                    "--http-port {} leaves no room for the cluster port at +1001",
                    cli.http_port
                )
            })?,
        };
        let members = match &cli.members {
            Some(list) => Some(crate::cluster::members::Members::parse(
                list,
                cli.bind,
                cluster_port,
            )?),
            None => None,
        };
        if grpc_port == cli.http_port {
            return Err("--grpc-port must differ from --http-port".to_string());
        }
        let allowed = allowed_cpus();
        let cores = cli.cores.unwrap_or(allowed.len());
        if cli.distro_sync_delay_ms > 10_000 {
            return Err("--distro-sync-delay-ms must be at most 10000".to_string());
        }
        if !(100..=600_000).contains(&cli.distro_verify_interval_ms) {
            return Err("--distro-verify-interval-ms must be 100..=600000".to_string());
        }
        if cli.distro_replica_expiry_ms < 2 * cli.distro_verify_interval_ms {
            return Err(
                "--distro-replica-expiry-ms must be at least twice --distro-verify-interval-ms"
                    .to_string(),
            );
        }
        if cli.push_delay_ms > 10_000 {
            return Err("--push-delay-ms must be at most 10000".to_string());
        }
        if cli.config_history_retention_days > CONFIG_HISTORY_RETENTION_DAYS_MAX {
            return Err(format!(
                "--config-history-retention-days must be at most {CONFIG_HISTORY_RETENTION_DAYS_MAX}"
            ));
        }
        if !(100..=DAY_MS).contains(&cli.config_history_prune_interval_ms) {
            return Err(format!(
                "--config-history-prune-interval-ms must be 100..={DAY_MS}"
            ));
        }
        if cores == 0 || cores > 1024 {
            return Err(format!("--cores must be 1..=1024, got {cores}"));
        }
        let auth = auth_settings(&cli)?;
        let dns = crate::dns::DnsSettings::from_flags(
            cli.dns_port,
            &cli.dns_domain,
            cli.dns_ttl_s,
            cli.dns_answer_records_max,
            cli.dns_seed,
        )?;
        // More executors than CPUs is allowed (useful in tests); they share CPUs round-robin.
        let cpus = (0..cores).map(|i| allowed[i % allowed.len()]).collect();
        Ok(Settings {
            http_port: cli.http_port,
            grpc_port,
            data_dir: cli.data_dir,
            cpus,
            bind: cli.bind,
            log_level: cli.log_level,
            push_delay_ms: cli.push_delay_ms,
            raft_compact_entries: cli.raft_compact_entries.max(2),
            cluster_port,
            members,
            distro: DistroSettings {
                sync_delay_ms: cli.distro_sync_delay_ms,
                verify_interval_ms: cli.distro_verify_interval_ms,
                replica_expiry_ms: cli.distro_replica_expiry_ms,
            },
            config_history: ConfigHistorySettings {
                retention_ms: cli.config_history_retention_days * DAY_MS,
                prune_interval_ms: cli.config_history_prune_interval_ms,
            },
            probe: crate::health::probe::ProbeSettings {
                interval_ms: cli.health_check_interval_ms.max(100),
                timeout_ms: cli.health_check_timeout_ms.max(10),
                fail_threshold: cli.health_check_fail_threshold.max(1),
                ok_threshold: cli.health_check_ok_threshold.max(1),
            },
            auth,
            access_log: cli
                .access_log
                .as_deref()
                .filter(|text| !text.is_empty())
                .map(crate::access_log::Target::parse),
            dns,
        })
    }

    pub fn cores(&self) -> usize {
        self.cpus.len()
    }
}

// --- auth ---
fn random_secret() -> crate::auth::Secret {
    let mut bytes = [0u8; 32];
    if let Ok(mut file) = std::fs::File::open("/dev/urandom") {
        let _ = std::io::Read::read_exact(&mut file, &mut bytes);
    }
    let text: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    crate::auth::Secret::raw(&text)
}

fn auth_settings(cli: &Cli) -> Result<crate::auth::AuthSettings, String> {
    use crate::auth::Secret;
    let min = crate::limits::AUTH_TOKEN_SECRET_BYTES_MIN;
    let token_secret = match &cli.auth_token_secret {
        Some(value) => Some(Secret::token_key(&value.0, min)?),
        None if cli.auth_enabled => {
            return Err(format!(
                "--auth-enabled needs --auth-token-secret (NACORE_AUTH_TOKEN_SECRET) of at least {min} bytes"
            ))
        }
        // Login still works with auth off (as in Nacos); its tokens are then signed with a key
        // of this process only, and nothing checks them.
        None => Some(random_secret()),
    };
    if cli.auth_token_ttl_s == 0 || cli.auth_token_ttl_s > 365 * 24 * 3600 {
        return Err("--auth-token-ttl-s must be 1..=31536000".to_string());
    }
    let cluster_secret = match &cli.auth_cluster_secret {
        Some(value) if value.0.is_empty() => {
            return Err("--auth-cluster-secret must not be empty".to_string())
        }
        Some(value) => Some(Secret::raw(&value.0)),
        None => None,
    };
    Ok(crate::auth::AuthSettings {
        enabled: cli.auth_enabled,
        token_secret,
        token_ttl_s: cli.auth_token_ttl_s,
        cluster_secret,
    })
}

/// The CPUs this process may run on (its affinity mask), never empty.
pub fn allowed_cpus() -> Vec<usize> {
    // SAFETY: cpu_set_t is plain data; sched_getaffinity fills it for pid 0 (this thread).
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::cpu_set_t>();
    let rc = unsafe { libc::sched_getaffinity(0, size, &mut set) };
    let mut cpus = Vec::new();
    if rc == 0 {
        for cpu in 0..libc::CPU_SETSIZE as usize {
            // SAFETY: cpu < CPU_SETSIZE, the set was initialised above.
            if unsafe { libc::CPU_ISSET(cpu, &set) } {
                cpus.push(cpu);
            }
        }
    }
    if cpus.is_empty() {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        cpus = (0..n).collect();
    }
    debug_assert!(!cpus.is_empty());
    cpus
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(args: &[&str]) -> Result<Settings, String> {
        let mut argv = vec!["nacore", "--cores", "1"];
        argv.extend_from_slice(args);
        Settings::from_cli(Cli::parse_from(argv))
    }

    #[test]
    fn config_history_retention() {
        let default = settings(&[]).unwrap().config_history;
        assert_eq!(
            default.retention_ms,
            crate::limits::CONFIG_HISTORY_RETENTION_DEFAULT_MS
        );
        assert_eq!(
            default.prune_interval_ms,
            crate::limits::CONFIG_HISTORY_PRUNE_INTERVAL_MS
        );
        let set = settings(&["--config-history-retention-days", "2"]).unwrap();
        assert_eq!(set.config_history.retention_ms, 2 * DAY_MS);
        assert!(settings(&["--config-history-retention-days", "36501"]).is_err());
        assert!(settings(&["--config-history-prune-interval-ms", "99"]).is_err());
    }

    // --- auth ---
    #[test]
    fn auth_needs_a_long_secret_and_never_prints_it() {
        assert!(!settings(&[]).unwrap().auth.enabled);
        let missing = settings(&["--auth-enabled"]).unwrap_err();
        assert!(missing.contains("--auth-token-secret"), "{missing}");
        assert!(settings(&["--auth-enabled", "--auth-token-secret", "short"]).is_err());
        let secret = "averyveryverylongsecretthatisatleast32bytes";
        let argv = [
            "--auth-enabled",
            "--auth-token-secret",
            secret,
            "--auth-cluster-secret",
            "peerpass",
        ];
        let on = settings(&argv).unwrap();
        assert!(on.auth.enabled);
        let mut full = vec!["nacore"];
        full.extend_from_slice(&argv);
        let cli = Cli::parse_from(full);
        for shown in [format!("{cli:?}"), format!("{on:?}")] {
            assert!(!shown.contains(secret), "{shown}");
            assert!(!shown.contains("peerpass"), "{shown}");
        }
    }
}
