//! Rebuilding memory from the state tables: at start (before the node reports ready) and after
//! a snapshot from the leader replaced them. Each record goes to its owner core: naming records
//! to their service's, config records to their key's (namespaces to core 0).

use crate::naming::op::NamingOp;
use crate::raft::config_state;
use crate::raft::state::restore_order;
use crate::raft::storage::LmdbStorage;
use crate::shard::core::{config_owner, ConfigOp, RAFT_CORE};
use crate::shard::CoreHandle;

fn is_config_kind(key: &[u8]) -> bool {
    matches!(
        key.first(),
        Some(
            &config_state::CONFIG
                | &config_state::HISTORY
                | &config_state::HISTORY_BY_NID
                | &config_state::NAMESPACE
        )
    )
}

/// Loads every stored record into the owner cores. Returns how many.
pub async fn restore(core: &CoreHandle, storage: &LmdbStorage) -> Result<usize, String> {
    let entries = storage.state_entries().map_err(|e| e.to_string())?;
    // --- auth ---
    let (auth_entries, entries): (Vec<_>, Vec<_>) = entries
        .into_iter()
        .partition(|(k, _)| crate::raft::auth_state::is_auth_kind(k));
    let auth_records: Vec<_> = auth_entries
        .iter()
        .filter_map(|(k, v)| crate::raft::auth_state::record_of(k, v))
        .collect();
    let auth_count = auth_records.len();
    let _ = core
        .apply_auth_everywhere(crate::auth::AuthCommand::Load(auth_records))
        .await;
    let (config_entries, naming_entries): (Vec<_>, Vec<_>) =
        entries.into_iter().partition(|(k, _)| is_config_kind(k));
    let records = restore_order(naming_entries);
    let mut count = records.len() + auth_count;
    for record in records {
        let op = NamingOp::Restore { record };
        if op.service_key().is_some() {
            core.execute(op).await;
        } else {
            core.execute_everywhere(op).await;
        }
    }
    for (key, value) in config_entries {
        let Some(record) = config_state::record_of(&key, &value) else {
            let key = String::from_utf8_lossy(&key);
            tracing::warn!(%key, "skipping an unreadable stored config record");
            continue;
        };
        let owner = record
            .key()
            .map_or(RAFT_CORE, |k| config_owner(k, core.cores));
        core.execute_config_on(owner, ConfigOp::Restore { record })
            .await;
        count += 1;
    }
    Ok(count)
}

/// Replaces the durable part of memory with the tables' content (after a snapshot install).
pub async fn reload(core: &CoreHandle, storage: &LmdbStorage) {
    core.execute_everywhere(NamingOp::ClearDurable).await;
    let _ = core
        .apply_auth_everywhere(crate::auth::AuthCommand::Clear)
        .await;
    for owner in 0..core.cores {
        core.execute_config_on(owner, ConfigOp::ClearDurable).await;
    }
    if let Err(error) = restore(core, storage).await {
        tracing::error!(%error, "cannot reload state after a snapshot");
    }
}
