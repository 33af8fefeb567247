//! The config center on a core: its `ConfigStore` (the keys it owns) and the ops other cores
//! and the Raft driver send it over the mesh.

use futures::channel::oneshot;

use crate::config::command::{ConfigCommand, ConfigRecord, Placement};
use crate::config::error::{ConfigError, ConfigResult};
use crate::config::item::ReaderLabels;
use crate::config::key::ConfigKey;
use crate::config::store::{Listener, ServedConfig};
use crate::naming::error::ErrorKind;
use crate::naming::op::NamingReply;
use crate::raft::command::RaftCommand;
use crate::shard::core::config_search::{ConfigQuery, QueryAnswer};
use crate::shard::core::{Core, Delivery, Envelope, PushTopic, RAFT_CORE};
use crate::shard::owner_of_parts;

/// An op for the core that owns a config key (or for every core).
#[derive(Debug, Clone)]
// Moved once per hop; boxing the large variants would cost an allocation per op.
#[allow(clippy::large_enum_variant)]
pub enum ConfigOp {
    /// A committed command at its log index; answers `Committed`.
    Committed { command: ConfigCommand, index: u64 },
    /// A stored record back into memory at start.
    Restore { record: ConfigRecord },
    /// What `labels` reads of `key`.
    Get {
        key: ConfigKey,
        labels: ReaderLabels,
    },
    /// Forget every durable record (a snapshot replaces them).
    ClearDurable,
    /// gRPC (un)listen of `connection` on keys this core owns; answers `Changed`.
    ListenGrpc {
        connection: u64,
        entries: Vec<(ConfigKey, Listener)>,
        labels: ReaderLabels,
        listen: bool,
    },
    /// A closed connection's listens on keys this core owns.
    ReleaseConnection {
        connection: u64,
        keys: Vec<ConfigKey>,
    },
    /// A long poll's md5 comparison on keys this core owns, registering it first when
    /// `register`; answers `Changed`.
    ListenPoll {
        poll: u64,
        entries: Vec<(ConfigKey, Listener)>,
        labels: ReaderLabels,
        register: bool,
    },
    /// A finished long poll listens no more.
    UnlistenPoll { poll: u64, keys: Vec<ConfigKey> },
    // capacity:
    /// How many formal configs this core holds in `tenant` (and `group`); answers `Count`.
    Count {
        tenant: String,
        group: Option<String>,
    },
    // config_search:
    /// A read-only query of this core's share; answers `Query`.
    Query(ConfigQuery),
    // config_admin:
    /// The history rows of `key` (without content), newest first; answers `History`.
    History { key: ConfigKey },
    // config_admin:
    /// The formal configs of `tenant` on this core; answers `Summaries`.
    TenantConfigs { tenant: String },
    // config_admin:
    /// How many formal configs each tenant holds on this core; answers `Counts`.
    CountsByTenant,
    // config_admin:
    /// Core 0: the stored namespaces; answers `Namespaces`.
    Namespaces,
    // config_admin:
    /// Core 0: the content of a history row, read from LMDB; answers `Content`.
    HistoryContent { key: ConfigKey, nid: u64 },
}

#[derive(Debug)]
// Moved once per hop; boxing the large variants would cost an allocation per op.
#[allow(clippy::large_enum_variant)]
pub enum ConfigReply {
    Committed(ConfigResult<()>, Vec<ConfigRecord>),
    Config(Option<ServedConfig>),
    /// Indices (into the op's entries) whose md5 differs.
    Changed(Vec<usize>),
    Done,
    // capacity:
    Count(usize),
    // config_search:
    Query(QueryAnswer),
    // config_admin:
    History(Vec<crate::config::item::HistoryRow>),
    // config_admin:
    Summaries(Vec<crate::config::store::ConfigSummary>),
    // config_admin:
    Counts(Vec<(String, usize)>),
    // config_admin:
    Namespaces(Vec<crate::config::item::Namespace>),
    // config_admin:
    Content(ConfigResult<Option<bytes::Bytes>>),
}

/// The owner core of a config key among `cores`.
pub fn config_owner(key: &ConfigKey, cores: usize) -> usize {
    owner_of_parts(&key.parts(), cores)
}

impl Core {
    /// Runs a config op on this core's store.
    pub fn apply_config_local(&self, op: ConfigOp) -> ConfigReply {
        let reply = self.apply_config_op(op);
        if self.configs.borrow().has_notifications() {
            self.notify_config_listeners();
        }
        reply
    }

    fn apply_config_op(&self, op: ConfigOp) -> ConfigReply {
        let mut store = self.configs.borrow_mut();
        match op {
            ConfigOp::Committed { command, index } => {
                let (result, records) = store.apply(&command, index);
                ConfigReply::Committed(result, records)
            }
            ConfigOp::ListenGrpc {
                connection,
                entries,
                labels,
                listen,
            } => ConfigReply::Changed(store.listen_grpc(connection, &entries, &labels, listen)),
            ConfigOp::ReleaseConnection { connection, keys } => {
                store.release_connection(connection, &keys);
                ConfigReply::Done
            }
            ConfigOp::ListenPoll {
                poll,
                entries,
                labels,
                register,
            } => ConfigReply::Changed(store.listen_poll(poll, &entries, &labels, register)),
            ConfigOp::UnlistenPoll { poll, keys } => {
                store.unlisten_poll(poll, &keys);
                ConfigReply::Done
            }
            ConfigOp::Count { tenant, group } => {
                ConfigReply::Count(store.count_in(&tenant, group.as_deref()))
            }
            ConfigOp::Restore { record } => {
                store.restore(record);
                ConfigReply::Done
            }
            ConfigOp::Get { key, labels } => ConfigReply::Config(store.get(&key, &labels)),
            ConfigOp::ClearDurable => {
                store.clear_durable();
                ConfigReply::Done
            }
            // config_search:
            ConfigOp::Query(query) => ConfigReply::Query(query.run(&store)),
            // config_admin:
            admin => {
                drop(store);
                self.apply_config_admin(admin)
            }
        }
    }

    /// Runs a config op on core `owner`.
    pub async fn execute_config_on(&self, owner: usize, op: ConfigOp) -> ConfigReply {
        if owner == self.id {
            return self.apply_config_local(op);
        }
        let Some(senders) = &self.senders else {
            unreachable!("a remote owner exists only when the mesh does");
        };
        let (reply, answer) = oneshot::channel();
        if senders
            .send_to(owner, Envelope::Config { op, reply })
            .await
            .is_err()
        {
            return ConfigReply::Committed(
                Err(ConfigError::internal(format!(
                    "core {owner} is not answering"
                ))),
                Vec::new(),
            );
        }
        answer.await.unwrap_or_else(|_| {
            ConfigReply::Committed(
                Err(ConfigError::internal(format!(
                    "core {owner} is not answering"
                ))),
                Vec::new(),
            )
        })
    }

    /// Runs a config op on the owner core of `key`.
    pub async fn execute_config(&self, key: &ConfigKey, op: ConfigOp) -> ConfigReply {
        self.execute_config_on(config_owner(key, self.cores), op)
            .await
    }

    /// The Raft driver applies a committed config command where it belongs.
    pub async fn apply_config(
        &self,
        command: ConfigCommand,
        index: u64,
    ) -> (ConfigResult<()>, Vec<ConfigRecord>) {
        let targets: Vec<usize> = match command.placement() {
            Placement::Key(key) => vec![config_owner(key, self.cores)],
            Placement::First => vec![RAFT_CORE],
            Placement::Everywhere => (0..self.cores).collect(),
        };
        let mut outcome = Ok(());
        let mut records = Vec::new();
        for core in targets {
            let op = ConfigOp::Committed {
                command: command.clone(),
                index,
            };
            match self.execute_config_on(core, op).await {
                ConfigReply::Committed(result, mut changed) => {
                    records.append(&mut changed);
                    if result.is_err() {
                        outcome = result;
                    }
                }
                other => {
                    outcome = Err(ConfigError::internal(format!(
                        "unexpected apply reply {other:?}"
                    )))
                }
            }
        }
        (outcome, records)
    }

    /// Waits until this member has applied every write committed before now (cluster mode;
    /// a single node has nothing to wait for and skips the hop to the Raft core).
    pub async fn read_barrier(&self) {
        if self.cluster_view().is_some() {
            self.propose_applied(RaftCommand::ReadBarrier).await;
        }
    }

    /// Proposes a config command and waits until it is applied (and durable) here.
    pub async fn propose_config(&self, command: ConfigCommand) -> ConfigResult<()> {
        let applied = self.propose_applied(RaftCommand::Config(command)).await;
        if let Some(error) = applied.config_error {
            return Err(error);
        }
        match applied.reply {
            NamingReply::Error(error) if error.kind == ErrorKind::Unavailable => {
                Err(ConfigError::unavailable(error.message))
            }
            NamingReply::Error(error) => Err(ConfigError::internal(error.message)),
            _ => Ok(()),
        }
    }

    /// Tells the listeners of changed keys: a wake to each held long poll, and a
    /// `ConfigChangeNotifyRequest` to each listening connection (on the core that holds it),
    /// with the tenant as it spelled it.
    fn notify_config_listeners(&self) {
        let notifications = self.configs.borrow_mut().take_notifications();
        let mut deliveries = Vec::new();
        for notification in notifications {
            if !notification.polls.is_empty() {
                self.route_poll_wakes(&notification.key, notification.polls);
            }
            for (connection, tenant) in notification.grpc {
                let request_id = self.next_push_request_id();
                let mut body = serde_json::json!({
                    "headers": {},
                    "requestId": request_id.to_string(),
                    "module": "config",
                    "dataId": notification.key.data_id(),
                    "group": notification.key.group(),
                });
                if !tenant.is_empty() {
                    body["tenant"] = serde_json::Value::String(tenant);
                }
                let frame = crate::grpc::stream::request_frame(
                    "ConfigChangeNotifyRequest",
                    body.to_string().into_bytes(),
                );
                let delivery = Delivery {
                    connection,
                    topic: PushTopic::Config(notification.key.clone()),
                    request_id,
                    frame,
                    changed_us: self.now_us(),
                };
                deliveries.push(delivery);
            }
        }
        self.route_pushes(deliveries);
    }

    /// gRPC `ConfigBatchListenRequest`: (un)registers `connection` on each key's owner core;
    /// returns the indices of `entries` whose md5 differs.
    pub async fn listen_grpc(
        &self,
        connection: &crate::grpc::conn::Connection,
        entries: Vec<(ConfigKey, Listener)>,
        labels: ReaderLabels,
        listen: bool,
    ) -> ConfigResult<Vec<usize>> {
        for (key, _) in &entries {
            if !connection.track_config(key, listen) {
                return Err(ConfigError::new(
                    crate::config::error::ConfigErrorKind::LimitReached,
                    format!(
                        "a connection listens to at most {} configs",
                        crate::limits::CONFIG_LISTEN_KEYS_PER_CONNECTION_MAX
                    ),
                ));
            }
        }
        let changed = self
            .on_owners(&entries, |part| ConfigOp::ListenGrpc {
                connection: connection.uid,
                entries: part,
                labels: labels.clone(),
                listen,
            })
            .await;
        Ok(changed)
    }

    /// A closed connection listens no more.
    pub async fn release_config_listens(&self, connection: u64, keys: Vec<ConfigKey>) {
        let mut by_owner: Vec<Vec<ConfigKey>> = vec![Vec::new(); self.cores];
        for key in keys {
            by_owner[config_owner(&key, self.cores)].push(key);
        }
        for (owner, keys) in by_owner.into_iter().enumerate() {
            if !keys.is_empty() {
                let op = ConfigOp::ReleaseConnection { connection, keys };
                self.execute_config_on(owner, op).await;
            }
        }
    }

    /// How many formal configs `tenant` (and `group`) holds, over every core.
    pub async fn count_configs(&self, tenant: &str, group: Option<&str>) -> usize {
        self.read_barrier().await;
        let mut total = 0;
        for core in 0..self.cores {
            let op = ConfigOp::Count {
                tenant: tenant.to_string(),
                group: group.map(str::to_string),
            };
            if let ConfigReply::Count(count) = self.execute_config_on(core, op).await {
                total += count;
            }
        }
        total
    }

    /// What `labels` reads of `key`, from its owner core. In a cluster the read first waits
    /// for a read barrier, so it sees every write acknowledged anywhere before it.
    pub async fn get_config(&self, key: &ConfigKey, labels: ReaderLabels) -> Option<ServedConfig> {
        self.read_barrier().await;
        let op = ConfigOp::Get {
            key: key.clone(),
            labels,
        };
        match self.execute_config(key, op).await {
            ConfigReply::Config(served) => served,
            _ => None,
        }
    }
}
