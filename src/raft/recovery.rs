//! Rebuilding memory from the state tables: at start (before the node reports ready) and after
//! a snapshot from the leader replaced them. Each record goes to its owner core.

use crate::naming::op::NamingOp;
use crate::raft::state::restore_order;
use crate::raft::storage::LmdbStorage;
use crate::shard::CoreHandle;

/// Loads every stored record into the owner cores' registries. Returns how many.
pub async fn restore(core: &CoreHandle, storage: &LmdbStorage) -> Result<usize, String> {
    let entries = storage.state_entries().map_err(|e| e.to_string())?;
    let records = restore_order(entries);
    let count = records.len();
    for record in records {
        let op = NamingOp::Restore { record };
        if op.service_key().is_some() {
            core.execute(op).await;
        } else {
            core.execute_everywhere(op).await;
        }
    }
    Ok(count)
}

/// Replaces the durable part of memory with the tables' content (after a snapshot install).
pub async fn reload(core: &CoreHandle, storage: &LmdbStorage) {
    core.execute_everywhere(NamingOp::ClearDurable).await;
    if let Err(error) = restore(core, storage).await {
        tracing::error!(%error, "cannot reload state after a snapshot");
    }
}
