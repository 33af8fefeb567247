//! The gRPC scenarios (Nacos 2.x SDK protocol, nacos-protocol.md §3): the plans of
//! `grpc-register` and `grpc-query` (run by the common runner over gRPC connections), the
//! request each of their operations sends, and the dispatch to `grpc_push`,
//! `grpc_connections` and `grpc_batch`.
//!
//! `grpc-register` keys: a gRPC connection holds at most one instance per service (a second
//! registration replaces the first, §3.5), so connection `c` always registers instance `c`
//! of the service it draws (`10.a.b.c` from the key `service × connections + c`). Every
//! registration after the first of a (connection, service) pair is therefore a re-registration
//! of the same instance, as in `http-register`, and the registered keyspace is
//! `--services × --connections`; `--instances-per-service` does not apply to it.

use std::time::Duration;

use crate::cli::Cli;
use crate::grpc::messages;
use crate::keyspace::{Key, Keyspace, INSTANCE_PORT};
use crate::report::{self, RunInfo};
use crate::runner::{run_phase, KeyOrder, OpMix, PhaseSpec, Transport};
use crate::scenario::http::Op;
use crate::scenario::{
    config_keyspace, grpc_batch, grpc_connections, grpc_push, plan_config, Plan, Scenario,
};

/// Runs a gRPC scenario and returns the process exit status (0 when something succeeded).
pub fn run(cli: &Cli) -> i32 {
    debug_assert!(cli.scenario.is_grpc());
    let result = match cli.scenario {
        Scenario::GrpcSubscribePush => grpc_push::run(cli),
        Scenario::GrpcConfigGet => run_config_scenario(cli),
        Scenario::GrpcConnections => grpc_connections::run(cli),
        Scenario::GrpcBatchRegister => grpc_batch::run(cli),
        _ => run_request_scenario(cli),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("nacore-loadgen: {message}");
            1
        }
    }
}

/// The request of one operation: its type, the reply type it expects, and its JSON body.
pub fn request(op: Op, keyspace: &Keyspace, key: Key) -> (&'static str, &'static str, Vec<u8>) {
    debug_assert!(key.service_index < keyspace.services);
    match op {
        Op::Register { .. } => (
            "InstanceRequest",
            "InstanceResponse",
            messages::register_instance(key.service_index, keyspace.ip(key), INSTANCE_PORT, None),
        ),
        Op::Query => (
            "ServiceQueryRequest",
            "QueryServiceResponse",
            messages::service_query(key.service_index),
        ),
        Op::ConfigGet => (
            "ConfigQueryRequest",
            "ConfigQueryResponse",
            messages::config_query(key.service_index),
        ),
        // No beats over gRPC: a connection keeps its instances alive.
        Op::Beat => unreachable!("gRPC scenarios send no beats"),
        Op::ConfigPublish { .. } => unreachable!("configs are published over HTTP"),
    }
}

/// `grpc-register`: no setup, random services, instance = connection. `grpc-query`: the
/// keyspace pre-registered through HTTP (long-lived, as `http-query` does, so that the
/// instances outlive the setup connections), then random queries over gRPC.
pub fn plan_grpc(scenario: Scenario, base: PhaseSpec, grpc: Transport) -> Result<Plan, String> {
    assert!(matches!(grpc, Transport::Grpc { .. }));
    assert!(matches!(base.transport, Transport::Http));
    let random = KeyOrder::Random(match &base.order {
        KeyOrder::Random(dist) => dist.clone(),
        KeyOrder::Sequential { .. } | KeyOrder::PerConnection => crate::keyspace::KeyDist::Uniform,
    });
    match scenario {
        Scenario::GrpcRegister => {
            let keyspace = Keyspace::new(base.keyspace.services, base.connections as u64)?;
            let run = PhaseSpec {
                keyspace,
                transport: grpc,
                mix: OpMix::Single(Op::Register { long_lived: false }),
                order: random,
                ..base
            };
            Ok(Plan { setup: None, run })
        }
        Scenario::GrpcQuery => {
            let setup = PhaseSpec {
                label: "setup",
                mix: OpMix::Single(Op::Register { long_lived: true }),
                order: KeyOrder::Sequential { repeat: false },
                rate_total_per_s: None,
                warmup: Duration::ZERO,
                duration: None,
                ..base.clone()
            };
            let run = PhaseSpec {
                transport: grpc,
                mix: OpMix::Single(Op::Query),
                order: random,
                ..base
            };
            Ok(Plan {
                setup: Some(setup),
                run,
            })
        }
        _ => Err(format!("{} has no request plan", scenario.name())),
    }
}

fn run_request_scenario(cli: &Cli) -> Result<i32, String> {
    let server = cli.server_addr()?;
    let grpc = Transport::Grpc {
        server: cli.grpc_addr()?,
    };
    let cpus = crate::cli::pick_cpus(&crate::cli::allowed_cpus(), cli.cores)?;
    let mut base = cli.base_phase(server, cpus.clone())?;
    base.order = KeyOrder::Random(cli.key_dist(&base.keyspace)?);
    let plan = plan_grpc(cli.scenario, base, grpc)?;
    let setup = match plan.setup.as_ref().filter(|_| !cli.skip_setup) {
        Some(setup) => Some(crate::run_setup(setup, false, cli.quiet)?),
        None => None,
    };
    let result = run_phase(&plan.run)?;
    let info = RunInfo {
        scenario: cli.scenario.name(),
        server: format!("{} (gRPC {})", cli.server, cli.grpc_addr()?),
        cpus,
        connections: cli.connections,
        services: plan.run.keyspace.services,
        instances_per_service: plan.run.keyspace.instances_per_service,
        keys: format!("{:?}", cli.keys).to_lowercase(),
        rate_total_per_s: plan.run.rate_total_per_s,
        warmup: cli.warmup,
        configs: None,
    };
    Ok(report::print(
        &info,
        &result.stats,
        result.measured,
        setup.as_ref(),
        cli.json,
    ))
}

/// `grpc-config-get`: every config published over HTTP, then random `ConfigQueryRequest`s
/// over gRPC connections of module `config`.
fn run_config_scenario(cli: &Cli) -> Result<i32, String> {
    let server = cli.server_addr()?;
    let grpc = Transport::Grpc {
        server: cli.grpc_addr()?,
    };
    let cpus = crate::cli::pick_cpus(&crate::cli::allowed_cpus(), cli.cores)?;
    let settings = cli.config_settings()?;
    let mut base = cli.base_phase(server, cpus.clone())?;
    base.keyspace = config_keyspace(cli.scenario, &settings, cli.connections)?;
    let dist = cli.key_dist(&base.keyspace)?;
    let configs = crate::config_shape(cli, &settings, &base);
    let plan = plan_config(cli.scenario, base, dist, &settings, grpc)?;
    let setup = match plan.setup.as_ref().filter(|_| !cli.skip_setup) {
        Some(setup) => Some(crate::run_setup(setup, true, cli.quiet)?),
        None => None,
    };
    let result = run_phase(&plan.run)?;
    let info = RunInfo {
        scenario: cli.scenario.name(),
        server: format!("{} (gRPC {})", cli.server, cli.grpc_addr()?),
        cpus,
        connections: cli.connections,
        services: plan.run.keyspace.services,
        instances_per_service: 1,
        keys: format!("{:?}", cli.keys).to_lowercase(),
        rate_total_per_s: plan.run.rate_total_per_s,
        warmup: cli.warmup,
        configs: Some(configs),
    };
    Ok(report::print(
        &info,
        &result.stats,
        result.measured,
        setup.as_ref(),
        cli.json,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::KeyDist;

    fn base() -> PhaseSpec {
        PhaseSpec {
            label: "run",
            server: "127.0.0.1:8848".parse().unwrap(),
            transport: Transport::Http,
            host: "127.0.0.1:8848".to_string(),
            keyspace: Keyspace::new(10, 100).unwrap(),
            mix: OpMix::Single(Op::Query),
            order: KeyOrder::Random(KeyDist::Uniform),
            cpus: vec![0],
            connections: 4,
            rate_total_per_s: None,
            warmup: Duration::from_secs(1),
            duration: Some(Duration::from_secs(2)),
            timeout: Duration::from_secs(5),
            spin_before_park: Duration::ZERO,
            seed: 1,
            progress: false,
        }
    }

    fn grpc() -> Transport {
        Transport::Grpc {
            server: "127.0.0.1:9848".parse().unwrap(),
        }
    }

    /// grpc-register has no setup and a keyspace of services × connections over gRPC.
    #[test]
    fn register_plan() {
        let plan = plan_grpc(Scenario::GrpcRegister, base(), grpc()).unwrap();
        assert!(plan.setup.is_none());
        assert_eq!(plan.run.keyspace, Keyspace::new(10, 4).unwrap());
        assert_eq!(plan.run.transport, grpc());
        assert!(matches!(plan.run.mix, OpMix::Single(Op::Register { .. })));
    }

    /// grpc-query pre-registers the whole keyspace over HTTP, then queries over gRPC.
    #[test]
    fn query_plan() {
        let plan = plan_grpc(Scenario::GrpcQuery, base(), grpc()).unwrap();
        let setup = plan.setup.unwrap();
        assert_eq!(setup.transport, Transport::Http);
        assert_eq!(setup.keyspace.keys_count(), 1000);
        assert!(matches!(
            setup.order,
            KeyOrder::Sequential { repeat: false }
        ));
        assert_eq!(plan.run.transport, grpc());
        assert!(matches!(plan.run.mix, OpMix::Single(Op::Query)));
        assert!(plan_grpc(Scenario::GrpcConnections, base(), grpc()).is_err());
    }

    /// Operations map to the Nacos request and reply types.
    #[test]
    fn requests() {
        let keyspace = Keyspace::new(10, 4).unwrap();
        let key = Key {
            service_index: 3,
            instance_index: 2,
        };
        let (kind, expected, json) = request(Op::Register { long_lived: false }, &keyspace, key);
        assert_eq!((kind, expected), ("InstanceRequest", "InstanceResponse"));
        let value: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(value["instance"]["ip"], "10.0.0.14");
        let (kind, expected, _) = request(Op::Query, &keyspace, key);
        assert_eq!(
            (kind, expected),
            ("ServiceQueryRequest", "QueryServiceResponse")
        );
        let config_keyspace = Keyspace::new(10, 1).unwrap();
        let (kind, expected, json) =
            request(Op::ConfigGet, &config_keyspace, config_keyspace.key(3));
        assert_eq!(
            (kind, expected),
            ("ConfigQueryRequest", "ConfigQueryResponse")
        );
        let value: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(value["dataId"], "lg-cfg-3");
    }
}
