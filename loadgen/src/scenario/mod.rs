//! The scenarios: which requests each sends, over which keys, at what rate, and what it
//! pre-registers first. `http` holds the Nacos HTTP v1 requests; `grpc` the gRPC register and
//! query plans and their requests, `grpc_push` the subscribe/push scenario, `grpc_connections`
//! the held-connections scenario, `grpc_batch` the batch registration that holds its instances,
//! `cluster_replication` the replication lag between two cluster members.

pub mod cluster_replication;
pub mod grpc;
pub mod grpc_batch;
pub mod grpc_connections;
pub mod grpc_push;
pub mod http;

use std::time::Duration;

use clap::ValueEnum;

use crate::keyspace::KeyDist;
use crate::limits::BEAT_PERIOD_MS;
use crate::runner::{KeyOrder, OpMix, PhaseSpec};
use crate::scenario::http::Op;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// POST /nacos/v1/ns/instance over the keyspace (re-registrations are updates).
    HttpRegister,
    /// PUT /nacos/v1/ns/instance/beat for every pre-registered instance.
    HttpBeat,
    /// GET /nacos/v1/ns/instance/list over the pre-registered services.
    HttpQuery,
    /// instance/list and register mixed by --read-ratio.
    HttpMixed,
    /// gRPC InstanceRequest register: connection c re-registers its instance in a random service.
    GrpcRegister,
    /// gRPC ServiceQueryRequest over the services pre-registered through HTTP.
    GrpcQuery,
    /// --subscribers gRPC subscribers, churn at --rate, change-to-push latency.
    GrpcSubscribePush,
    /// Hold --connections idle gRPC connections with health checks; the server's RSS.
    #[value(alias = "connections")]
    GrpcConnections,
    /// gRPC BatchInstanceRequest of the whole keyspace over --connections connections, then
    /// hold them (and so the instances) for --duration.
    GrpcBatchRegister,
    /// New HTTP registrations at --rate on --server; time until each is pushed by --peer-server.
    ClusterReplication,
}

impl Scenario {
    pub fn name(&self) -> &'static str {
        match self {
            Scenario::HttpRegister => "http-register",
            Scenario::HttpBeat => "http-beat",
            Scenario::HttpQuery => "http-query",
            Scenario::HttpMixed => "http-mixed",
            Scenario::GrpcRegister => "grpc-register",
            Scenario::GrpcQuery => "grpc-query",
            Scenario::GrpcSubscribePush => "grpc-subscribe-push",
            Scenario::GrpcConnections => "grpc-connections",
            Scenario::GrpcBatchRegister => "grpc-batch-register",
            Scenario::ClusterReplication => "cluster-replication",
        }
    }

    pub fn is_grpc(&self) -> bool {
        matches!(
            self,
            Scenario::GrpcRegister
                | Scenario::GrpcQuery
                | Scenario::GrpcSubscribePush
                | Scenario::GrpcConnections
                | Scenario::GrpcBatchRegister
        )
    }
}

/// `http-beat` load: one beat per instance per Nacos period, or as fast as possible.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BeatMode {
    /// Each instance beats once per 5 s: a fixed rate of instances / 5 per second.
    Steady,
    /// Closed loop (or --rate): beats cycle over the instances as fast as the server answers.
    Max,
}

/// What a scenario runs: an optional pre-registration phase, then the measured phase.
#[derive(Debug, Clone)]
pub struct Plan {
    pub setup: Option<PhaseSpec>,
    pub run: PhaseSpec,
}

/// Scenario-specific choices, on top of the common `base` phase (target, cores, keyspace,
/// connections, duration, rate) the CLI built.
pub fn plan_http(
    scenario: Scenario,
    base: PhaseSpec,
    dist: KeyDist,
    read_ratio: f64,
    beat_mode: BeatMode,
) -> Plan {
    assert!(!scenario.is_grpc(), "gRPC scenarios have no HTTP plan");
    assert!(
        scenario != Scenario::ClusterReplication,
        "cluster-replication has its own runner"
    );
    assert!((0.0..=1.0).contains(&read_ratio));
    let random = KeyOrder::Random(dist);
    let (setup_op, mix, order) = match scenario {
        Scenario::HttpRegister => (
            None,
            OpMix::Single(Op::Register { long_lived: false }),
            random,
        ),
        Scenario::HttpBeat => (
            Some(Op::Register { long_lived: false }),
            OpMix::Single(Op::Beat),
            KeyOrder::Sequential { repeat: true },
        ),
        Scenario::HttpQuery => (
            Some(Op::Register { long_lived: true }),
            OpMix::Single(Op::Query),
            random,
        ),
        _ => (
            Some(Op::Register { long_lived: true }),
            OpMix::Mixed {
                read_ratio,
                write: Op::Register { long_lived: true },
            },
            random,
        ),
    };
    let mut run = PhaseSpec {
        label: "run",
        mix,
        order,
        ..base.clone()
    };
    if scenario == Scenario::HttpBeat
        && beat_mode == BeatMode::Steady
        && run.rate_total_per_s.is_none()
    {
        let keys = base.keyspace.keys_count() as f64;
        run.rate_total_per_s = Some(keys * 1000.0 / BEAT_PERIOD_MS as f64);
    }
    let setup = setup_op.map(|op| PhaseSpec {
        label: "setup",
        mix: OpMix::Single(op),
        order: KeyOrder::Sequential { repeat: false },
        rate_total_per_s: None,
        warmup: Duration::ZERO,
        duration: None,
        ..base
    });
    Plan { setup, run }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::Keyspace;

    fn base() -> PhaseSpec {
        PhaseSpec {
            label: "base",
            server: "127.0.0.1:8848".parse().unwrap(),
            transport: crate::runner::Transport::Http,
            host: "127.0.0.1:8848".to_string(),
            keyspace: Keyspace::new(10, 100).unwrap(),
            mix: OpMix::Single(Op::Query),
            order: KeyOrder::Sequential { repeat: false },
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

    /// Steady beats run at instances / 5 s; max-rate beats stay closed-loop; both
    /// pre-register every instance once.
    #[test]
    fn beat_plans() {
        let steady = plan_http(
            Scenario::HttpBeat,
            base(),
            KeyDist::Uniform,
            0.9,
            BeatMode::Steady,
        );
        assert_eq!(steady.run.rate_total_per_s, Some(200.0));
        let setup = steady.setup.unwrap();
        assert_eq!(setup.duration, None);
        assert!(matches!(
            setup.order,
            KeyOrder::Sequential { repeat: false }
        ));
        let max = plan_http(
            Scenario::HttpBeat,
            base(),
            KeyDist::Uniform,
            0.9,
            BeatMode::Max,
        );
        assert_eq!(max.run.rate_total_per_s, None);
    }

    /// Register has no setup; query and mixed pre-register long-lived instances.
    #[test]
    fn setup_only_where_needed() {
        let register = plan_http(
            Scenario::HttpRegister,
            base(),
            KeyDist::Uniform,
            0.9,
            BeatMode::Steady,
        );
        assert!(register.setup.is_none());
        let query = plan_http(
            Scenario::HttpQuery,
            base(),
            KeyDist::Uniform,
            0.9,
            BeatMode::Steady,
        );
        let setup = query.setup.unwrap();
        assert!(matches!(
            setup.mix,
            OpMix::Single(Op::Register { long_lived: true })
        ));
        let mixed = plan_http(
            Scenario::HttpMixed,
            base(),
            KeyDist::Uniform,
            0.5,
            BeatMode::Steady,
        );
        assert!(matches!(mixed.run.mix, OpMix::Mixed { read_ratio, .. } if read_ratio == 0.5));
    }
}
