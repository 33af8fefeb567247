//! Raft over LMDB: durable data (persistent instances, service metadata, instance overlays,
//! switches) goes through one raft-rs group hosted on core 0. `storage` is the raft log, hard
//! state and state tables in LMDB; `state` maps durable records to table keys; `node` drives
//! the group; `recovery` rebuilds memory from the tables; `config_state` maps the config
//! center's records to their own table keys; `auth_state` the auth tables' rows.

pub mod auth_state;
pub mod command;
pub mod config_state;
pub mod node;
pub mod recovery;
pub mod state;
pub mod storage;
