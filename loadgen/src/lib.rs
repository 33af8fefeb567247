//! nacore-loadgen: a thread-per-core load generator for Nacos-compatible naming servers.
//!
//! # Layout
//!
//! - `cli`: flags, CPU choice, and the phase settings they describe.
//! - `scenario`: what each scenario sends (`http`: Nacos HTTP v1 requests and their checks;
//!   `grpc`: gRPC register/query plans; `grpc_push`: subscribers, churn and push latency;
//!   `grpc_connections`: held connections and the server's RSS; `grpc_batch`: batch
//!   registration of the keyspace, held; `cluster_replication`: new HTTP registrations on one
//!   member, observed through gRPC pushes of another; `config`: config-center HTTP v1
//!   requests, contents and md5; `config_notify`: publishes at a fixed rate, observed by gRPC
//!   listeners or long polls; `config_hold`: held long polls and the server's RSS).
//! - `runner`: one pinned glommio executor per core, connections in closed loop or on the
//!   fixed-rate schedule, progress lines, merged statistics.
//! - `grpc`: the Nacos gRPC client (proto and framing, request bodies and checks, one h2
//!   connection with its lifecycle and bi-stream).
//! - `proc`: the server's RSS from /proc (`grpc-connections`, `config-hold`).
//! - `http`: the minimal HTTP/1.1 client (request encoding, httparse response parsing, one
//!   keep-alive connection).
//! - `keyspace`, `schedule`, `stats`, `rng`: keys and their distributions, intended send times,
//!   histograms and error counts, the deterministic random source.
//! - `report`: the table and the JSON object.
//! - `limits`: every bound, with its unit.

pub mod cli;
pub mod grpc;
pub mod http;
pub mod keyspace;
pub mod limits;
pub mod proc;
pub mod report;
pub mod rng;
pub mod runner;
pub mod scenario;
pub mod schedule;
pub mod stats;

use cli::Cli;
use report::{ConfigShape, RunInfo};
use runner::{run_phase, PhaseSpec, Transport};
use stats::CoreStats;

/// Runs the scenario the flags describe and returns the process exit status: 0 when it ran
/// and at least one request succeeded, 1 when nothing succeeded or it could not start.
pub fn run(cli: &Cli) -> i32 {
    if cli.scenario.is_grpc() {
        return scenario::grpc::run(cli);
    }
    let result = match cli.scenario {
        scenario::Scenario::ClusterReplication => scenario::cluster_replication::run(cli),
        scenario::Scenario::ConfigNotifyGrpc | scenario::Scenario::ConfigNotifyLongpoll => {
            scenario::config_notify::run(cli)
        }
        scenario::Scenario::ConfigHold => scenario::config_hold::run(cli),
        scenario::Scenario::ConfigMemory => scenario::config_memory::run(cli),
        _ => run_http(cli),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("nacore-loadgen: {message}");
            1
        }
    }
}

fn run_http(cli: &Cli) -> Result<i32, String> {
    let server = cli.server_addr()?;
    let cpus = cli::pick_cpus(&cli::allowed_cpus(), cli.cores)?;
    let mut base = cli.base_phase(server, cpus.clone())?;
    let mut configs = None;
    let plan = if cli.scenario.is_config_request() {
        let settings = cli.config_settings()?;
        base.keyspace = scenario::config_keyspace(cli.scenario, &settings, cli.connections)?;
        let dist = cli.key_dist(&base.keyspace)?;
        configs = Some(config_shape(cli, &settings, &base));
        scenario::plan_config(cli.scenario, base, dist, &settings, Transport::Http)?
    } else {
        let dist = cli.key_dist(&base.keyspace)?;
        scenario::plan_http(cli.scenario, base, dist, cli.read_ratio, cli.beat_mode)
    };
    let setup = match plan.setup.as_ref().filter(|_| !cli.skip_setup) {
        Some(setup) => Some(run_setup(setup, configs.is_some(), cli.quiet)?),
        None => None,
    };
    let result = run_phase(&plan.run)?;
    let info = RunInfo {
        scenario: cli.scenario.name(),
        server: cli.server.clone(),
        cpus,
        connections: cli.connections,
        services: plan.run.keyspace.services,
        instances_per_service: plan.run.keyspace.instances_per_service,
        keys: format!("{:?}", cli.keys).to_lowercase(),
        rate_total_per_s: plan.run.rate_total_per_s,
        warmup: cli.warmup,
        configs,
    };
    Ok(report::print(
        &info,
        &result.stats,
        result.measured,
        setup.as_ref(),
        cli.json,
    ))
}

/// The setup phase (pre-registration, or the publish of every config), with its failures told.
pub fn run_setup(setup: &PhaseSpec, configs: bool, quiet: bool) -> Result<CoreStats, String> {
    let keys = setup.keyspace.keys_count();
    let (doing, failed) = match configs {
        true => (
            format!("publishing {keys} config(s) over HTTP"),
            "publishes",
        ),
        false => (
            format!("registering {keys} instances over HTTP"),
            "registrations",
        ),
    };
    if !quiet {
        eprintln!("[setup] {doing}");
    }
    let result = run_phase(setup)?;
    if result.stats.errors_count() > 0 {
        eprintln!("[setup] {} {failed} failed", result.stats.errors_count());
    }
    Ok(result.stats)
}

/// The report's view of a config request scenario's configs.
pub fn config_shape(
    cli: &Cli,
    settings: &scenario::ConfigSettings,
    run: &PhaseSpec,
) -> ConfigShape {
    debug_assert!(cli.scenario.is_config_request());
    let publish_keys = match settings.publish_keys {
        scenario::PublishKeys::Distinct => "distinct",
        scenario::PublishKeys::Same => "same",
    };
    let publish_keys = (cli.scenario == scenario::Scenario::ConfigPublish).then_some(publish_keys);
    ConfigShape {
        configs: run.keyspace.keys_count(),
        content_bytes: settings.content_bytes,
        publish_keys,
    }
}
