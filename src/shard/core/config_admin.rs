//! The config center's admin reads and upkeep on the cores: history rows (kept in memory on the
//! key's owner core, their contents only in LMDB, which core 0 reads off the executor), the
//! namespaces (core 0) with their config counts (every core), and the Raft leader's periodic
//! history pruning.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures::channel::oneshot;

use crate::config::command::ConfigCommand;
use crate::config::error::{ConfigError, ConfigResult};
use crate::config::item::{HistoryRow, Namespace};
use crate::config::key::ConfigKey;
use crate::config::store::ConfigSummary;
use crate::raft::config_state::{history_content, history_table_keys};
use crate::raft::storage::LmdbStorage;
use crate::shard::core::{Core, CoreHandle, RAFT_CORE};

use super::configs::{ConfigOp, ConfigReply};

impl Core {
    /// The admin reads of `ConfigOp` on this core's store.
    pub(super) fn apply_config_admin(&self, op: ConfigOp) -> ConfigReply {
        let store = self.configs.borrow();
        match op {
            ConfigOp::History { key } => ConfigReply::History(store.history(&key)),
            ConfigOp::TenantConfigs { tenant } => {
                ConfigReply::Summaries(store.tenant_configs(&tenant))
            }
            ConfigOp::CountsByTenant => {
                ConfigReply::Counts(store.counts_by_tenant().into_iter().collect())
            }
            ConfigOp::Namespaces => ConfigReply::Namespaces(store.namespaces()),
            // Only when core 0 asks itself through `execute_config_on`; the mesh path reads
            // off the executor (`serve_config`).
            ConfigOp::HistoryContent { key, nid } => {
                let reader = self.state_reader.borrow().clone();
                ConfigReply::Content(read_content_now(reader, &key, nid))
            }
            other => ConfigReply::Committed(
                Err(ConfigError::internal(format!("not an admin op: {other:?}"))),
                Vec::new(),
            ),
        }
    }

    /// Serves a config op another core sent. An LMDB read runs in its own task on the
    /// blocking thread, so it holds neither this peer's channel nor the executor.
    pub(super) fn serve_config(&self, op: ConfigOp, reply: oneshot::Sender<ConfigReply>) {
        match op {
            ConfigOp::HistoryContent { key, nid } => {
                let reader = self.state_reader.borrow().clone();
                glommio::spawn_local(async move {
                    let content = read_content(reader, key, nid).await;
                    // The asking request may be gone; then nobody wants the content.
                    let _ = reply.send(ConfigReply::Content(content));
                })
                .detach();
            }
            op => {
                let _ = reply.send(self.apply_config_local(op));
            }
        }
    }

    /// Core 0: the storage history contents are read from.
    pub fn set_state_reader(&self, storage: LmdbStorage) {
        debug_assert_eq!(self.id, RAFT_CORE);
        *self.state_reader.borrow_mut() = Some(storage);
    }

    /// The history rows of `key`, newest first, from its owner core.
    pub async fn config_history(&self, key: &ConfigKey) -> Vec<HistoryRow> {
        // In a cluster: see every write acknowledged anywhere before this read.
        self.read_barrier().await;
        let op = ConfigOp::History { key: key.clone() };
        match self.execute_config(key, op).await {
            ConfigReply::History(rows) => rows,
            _ => Vec::new(),
        }
    }

    /// The stored content of history row `nid` of `key` (`None`: no such row in LMDB).
    pub async fn history_content(&self, key: &ConfigKey, nid: u64) -> ConfigResult<Option<Bytes>> {
        // In a cluster: see every write acknowledged anywhere before this read.
        self.read_barrier().await;
        if self.id == RAFT_CORE {
            let reader = self.state_reader.borrow().clone();
            return read_content(reader, key.clone(), nid).await;
        }
        let op = ConfigOp::HistoryContent {
            key: key.clone(),
            nid,
        };
        match self.execute_config_on(RAFT_CORE, op).await {
            ConfigReply::Content(content) => content,
            ConfigReply::Committed(Err(error), _) => Err(error),
            other => Err(ConfigError::internal(format!(
                "unexpected content reply {other:?}"
            ))),
        }
    }

    /// The formal configs of `tenant` on every core, by key.
    pub async fn tenant_configs(&self, tenant: &str) -> Vec<ConfigSummary> {
        // In a cluster: see every write acknowledged anywhere before this read.
        self.read_barrier().await;
        let mut all = Vec::new();
        for core in 0..self.cores {
            let op = ConfigOp::TenantConfigs {
                tenant: tenant.to_string(),
            };
            if let ConfigReply::Summaries(mut part) = self.execute_config_on(core, op).await {
                all.append(&mut part);
            }
        }
        all.sort_by(|a, b| a.key.cmp(&b.key));
        all
    }

    /// How many formal configs each tenant holds, over every core.
    pub async fn config_counts(&self) -> HashMap<String, usize> {
        // In a cluster: see every write acknowledged anywhere before this read.
        self.read_barrier().await;
        let mut counts = HashMap::new();
        for core in 0..self.cores {
            let reply = self.execute_config_on(core, ConfigOp::CountsByTenant).await;
            if let ConfigReply::Counts(part) = reply {
                for (tenant, count) in part {
                    *counts.entry(tenant).or_insert(0) += count;
                }
            }
        }
        counts
    }

    /// The stored namespaces (the default one is implicit), from core 0, by id.
    pub async fn namespaces(&self) -> Vec<Namespace> {
        // In a cluster: see every write acknowledged anywhere before this read.
        self.read_barrier().await;
        match self
            .execute_config_on(RAFT_CORE, ConfigOp::Namespaces)
            .await
        {
            ConfigReply::Namespaces(namespaces) => namespaces,
            _ => Vec::new(),
        }
    }
}

/// Reads one history content on the executor's blocking thread.
async fn read_content(
    reader: Option<LmdbStorage>,
    key: ConfigKey,
    nid: u64,
) -> ConfigResult<Option<Bytes>> {
    let Some(storage) = reader else {
        return Err(ConfigError::unavailable("the storage is not open"));
    };
    let value = glommio::executor()
        .spawn_blocking(move || history_value(&storage, &key, nid))
        .await;
    decode_content(value)
}

fn read_content_now(
    reader: Option<LmdbStorage>,
    key: &ConfigKey,
    nid: u64,
) -> ConfigResult<Option<Bytes>> {
    let Some(storage) = reader else {
        return Err(ConfigError::unavailable("the storage is not open"));
    };
    decode_content(history_value(&storage, key, nid))
}

/// A history row's stored value, under this version's key or an older one's.
fn history_value(
    storage: &LmdbStorage,
    key: &ConfigKey,
    nid: u64,
) -> Result<Option<Vec<u8>>, crate::raft::storage::StoreError> {
    for table_key in history_table_keys(key, nid) {
        if let Some(value) = storage.state_value(&table_key)? {
            return Ok(Some(value));
        }
    }
    Ok(None)
}

fn decode_content(
    value: Result<Option<Vec<u8>>, crate::raft::storage::StoreError>,
) -> ConfigResult<Option<Bytes>> {
    match value {
        Ok(Some(value)) => history_content(&value)
            .map(Some)
            .ok_or_else(|| ConfigError::internal("an unreadable history row")),
        Ok(None) => Ok(None),
        Err(error) => Err(ConfigError::internal(format!("storage: {error}"))),
    }
}

/// The `before_ms` of a prune this node should propose now: only the Raft leader prunes, so
/// one `PruneHistory` per interval enters the log whatever the cluster size.
pub fn prune_before_ms(leader: u64, node_id: u64, wall_ms: u64, retention_ms: u64) -> Option<u64> {
    if leader == 0 || leader != node_id {
        return None;
    }
    Some(wall_ms.saturating_sub(retention_ms))
}

/// Core 0: every `interval_ms`, the leader proposes dropping history older than
/// `retention_ms` (Nacos `DefaultHistoryConfigCleaner`: every 10 min, 30 days).
pub fn spawn_history_pruner(core: &CoreHandle, node_id: u64, retention_ms: u64, interval_ms: u64) {
    assert_eq!(core.id, RAFT_CORE, "the Raft status is known on core 0");
    assert!(interval_ms > 0, "a zero interval would spin");
    let core = core.clone();
    glommio::spawn_local(async move {
        loop {
            glommio::timer::sleep(Duration::from_millis(interval_ms)).await;
            let (leader, _) = core.local_raft_status();
            let Some(before_ms) = prune_before_ms(leader, node_id, wall_ms(), retention_ms) else {
                continue;
            };
            let command = ConfigCommand::PruneHistory { before_ms };
            if let Err(error) = core.propose_config(command).await {
                tracing::warn!(%error, "history pruning failed; retried next interval");
            }
        }
    })
    .detach();
}

fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_leader_prunes() {
        assert_eq!(prune_before_ms(1, 1, 1_000, 400), Some(600));
        assert_eq!(prune_before_ms(2, 1, 1_000, 400), None);
        assert_eq!(prune_before_ms(0, 0, 1_000, 400), None);
        assert_eq!(prune_before_ms(1, 1, 100, 400), Some(0));
    }
}
