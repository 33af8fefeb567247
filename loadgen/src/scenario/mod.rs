//! The scenarios: which requests each sends, over which keys, at what rate, and what it
//! pre-registers first. `http` holds the Nacos HTTP v1 requests; `grpc` the gRPC register and
//! query plans and their requests, `grpc_push` the subscribe/push scenario, `grpc_connections`
//! the held-connections scenario, `grpc_batch` the batch registration that holds its instances,
//! `cluster_replication` the replication lag between two cluster members. The config center:
//! `config` holds its HTTP v1 requests (get, publish, long poll) and their checks,
//! `config_notify` the publish-to-notification scenarios (gRPC pushes and long polls),
//! `config_hold` the held long polls and the server's RSS.

pub mod cluster_replication;
pub mod config;
pub mod config_hold;
pub mod config_memory;
pub mod config_notify;
pub mod grpc;
pub mod grpc_batch;
pub mod grpc_connections;
pub mod grpc_push;
pub mod http;

use std::time::Duration;

use clap::ValueEnum;

use crate::keyspace::KeyDist;
use crate::keyspace::Keyspace;
use crate::limits::BEAT_PERIOD_MS;
use crate::runner::{KeyOrder, OpMix, PhaseSpec, Transport};
use crate::scenario::http::{Content, Op};

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
    /// GET /nacos/v1/cs/configs over --configs configs published at setup.
    ConfigGet,
    /// gRPC ConfigQueryRequest over --configs configs published at setup (over HTTP).
    GrpcConfigGet,
    /// POST /nacos/v1/cs/configs of --content-bytes, one config per connection or one for all
    /// (--publish-keys).
    ConfigPublish,
    /// --listeners gRPC ConfigBatchListenRequest listeners of one config, publishes at --rate;
    /// publish-ack-to-push latency.
    ConfigNotifyGrpc,
    /// --listeners HTTP long polls of one config, re-polling after each answer, publishes at
    /// --rate; publish-ack-to-answer latency.
    ConfigNotifyLongpoll,
    /// Hold --listeners long polls for --duration; the server's RSS per held poll.
    ConfigHold,
    /// Publish --configs configs of --content-bytes; the server's RSS per stored config.
    ConfigMemory,
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
            Scenario::ConfigGet => "config-get",
            Scenario::GrpcConfigGet => "grpc-config-get",
            Scenario::ConfigPublish => "config-publish",
            Scenario::ConfigNotifyGrpc => "config-notify-grpc",
            Scenario::ConfigNotifyLongpoll => "config-notify-longpoll",
            Scenario::ConfigHold => "config-hold",
            Scenario::ConfigMemory => "config-memory",
        }
    }

    /// The scenarios the common runner drives with the config plan (`plan_config`).
    pub fn is_config_request(&self) -> bool {
        matches!(
            self,
            Scenario::ConfigGet | Scenario::GrpcConfigGet | Scenario::ConfigPublish
        )
    }

    pub fn is_grpc(&self) -> bool {
        matches!(
            self,
            Scenario::GrpcRegister
                | Scenario::GrpcQuery
                | Scenario::GrpcSubscribePush
                | Scenario::GrpcConnections
                | Scenario::GrpcBatchRegister
                | Scenario::GrpcConfigGet
        )
    }
}

/// `config-publish`: which configs the publishers write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PublishKeys {
    /// Connection `c` publishes config `lg-cfg-{c}`: no two publishers share a config.
    Distinct,
    /// Every connection publishes `lg-cfg-0`: writes to one config contend.
    Same,
}

/// What the config request scenarios publish and read, from the flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigSettings {
    /// Configs of `config-get` (`lg-cfg-0` ...).
    pub configs: u64,
    pub content_bytes: u32,
    pub publish_keys: PublishKeys,
}

/// The config keyspace of a scenario: one "service" per config, one "instance" each.
pub fn config_keyspace(
    scenario: Scenario,
    settings: &ConfigSettings,
    connections: usize,
) -> Result<Keyspace, String> {
    assert!(scenario.is_config_request());
    match (scenario, settings.publish_keys) {
        (Scenario::ConfigPublish, PublishKeys::Distinct) => Keyspace::new(connections as u64, 1),
        (Scenario::ConfigPublish, PublishKeys::Same) => Keyspace::new(1, 1),
        _ => Keyspace::new(settings.configs, 1),
    }
}

/// The publish of every config of `base.keyspace` once, over HTTP, with the initial content
/// (sequence 0, whose md5 listeners know).
pub fn config_setup_phase(base: PhaseSpec, content_bytes: u32) -> PhaseSpec {
    assert_eq!(base.keyspace.instances_per_service, 1);
    PhaseSpec {
        label: "setup",
        transport: Transport::Http,
        mix: OpMix::Single(Op::ConfigPublish {
            content_bytes,
            content: Content::Initial,
        }),
        order: KeyOrder::Sequential { repeat: false },
        rate_total_per_s: None,
        warmup: Duration::ZERO,
        duration: None,
        ..base
    }
}

/// The plan of `config-get`, `grpc-config-get` and `config-publish`, on top of the `base`
/// phase whose keyspace is already `config_keyspace`: the gets pre-publish every config once
/// (over HTTP, with the initial content) and read random ones over `transport`; publishes
/// have no setup and write fresh content.
pub fn plan_config(
    scenario: Scenario,
    base: PhaseSpec,
    dist: KeyDist,
    settings: &ConfigSettings,
    transport: Transport,
) -> Result<Plan, String> {
    assert!(scenario.is_config_request());
    assert_eq!(base.keyspace.instances_per_service, 1);
    let publish = |content| Op::ConfigPublish {
        content_bytes: settings.content_bytes,
        content,
    };
    if scenario == Scenario::ConfigPublish {
        let order = match settings.publish_keys {
            PublishKeys::Distinct => KeyOrder::PerConnection,
            PublishKeys::Same => KeyOrder::Random(KeyDist::Uniform),
        };
        let run = PhaseSpec {
            mix: OpMix::Single(publish(Content::Fresh)),
            order,
            ..base
        };
        return Ok(Plan { setup: None, run });
    }
    if (scenario == Scenario::GrpcConfigGet) != matches!(transport, Transport::Grpc { .. }) {
        return Err(format!("{} needs its own transport", scenario.name()));
    }
    let setup = config_setup_phase(base.clone(), settings.content_bytes);
    let run = PhaseSpec {
        transport,
        mix: OpMix::Single(Op::ConfigGet),
        order: KeyOrder::Random(dist),
        ..base
    };
    Ok(Plan {
        setup: Some(setup),
        run,
    })
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
    assert!(
        !scenario.is_config_request(),
        "config scenarios use plan_config"
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

    fn settings(publish_keys: PublishKeys) -> ConfigSettings {
        ConfigSettings {
            configs: 10,
            content_bytes: 1024,
            publish_keys,
        }
    }

    /// config-get publishes every config once with the initial content, then gets random
    /// ones; grpc-config-get does the same gets over gRPC.
    #[test]
    fn config_get_plans() {
        let settings = settings(PublishKeys::Distinct);
        let keyspace = config_keyspace(Scenario::ConfigGet, &settings, 4).unwrap();
        assert_eq!(keyspace, Keyspace::new(10, 1).unwrap());
        let base = PhaseSpec { keyspace, ..base() };
        let http = crate::runner::Transport::Http;
        let plan = plan_config(
            Scenario::ConfigGet,
            base.clone(),
            KeyDist::Uniform,
            &settings,
            http,
        )
        .unwrap();
        let setup = plan.setup.unwrap();
        assert!(matches!(
            setup.mix,
            OpMix::Single(Op::ConfigPublish {
                content_bytes: 1024,
                content: Content::Initial
            })
        ));
        assert!(matches!(
            setup.order,
            KeyOrder::Sequential { repeat: false }
        ));
        assert!(matches!(plan.run.mix, OpMix::Single(Op::ConfigGet)));
        let grpc = crate::runner::Transport::Grpc {
            server: "127.0.0.1:9848".parse().unwrap(),
        };
        let plan = plan_config(
            Scenario::GrpcConfigGet,
            base.clone(),
            KeyDist::Uniform,
            &settings,
            grpc,
        )
        .unwrap();
        assert_eq!(plan.run.transport, grpc);
        assert_eq!(plan.setup.unwrap().transport, http);
        assert!(plan_config(
            Scenario::GrpcConfigGet,
            base,
            KeyDist::Uniform,
            &settings,
            http
        )
        .is_err());
    }

    /// config-publish has no setup; distinct keys give one config per connection, same keys
    /// one config for all.
    #[test]
    fn config_publish_plans() {
        let distinct = settings(PublishKeys::Distinct);
        let keyspace = config_keyspace(Scenario::ConfigPublish, &distinct, 64).unwrap();
        assert_eq!(keyspace.keys_count(), 64);
        let base = PhaseSpec { keyspace, ..base() };
        let http = crate::runner::Transport::Http;
        let plan = plan_config(
            Scenario::ConfigPublish,
            base,
            KeyDist::Uniform,
            &distinct,
            http,
        )
        .unwrap();
        assert!(plan.setup.is_none());
        assert!(matches!(plan.run.order, KeyOrder::PerConnection));
        assert!(matches!(
            plan.run.mix,
            OpMix::Single(Op::ConfigPublish {
                content: Content::Fresh,
                ..
            })
        ));
        let same = settings(PublishKeys::Same);
        let keyspace = config_keyspace(Scenario::ConfigPublish, &same, 64).unwrap();
        assert_eq!(keyspace.keys_count(), 1);
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
