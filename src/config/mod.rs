//! The config center: configs keyed by (tenant, group, dataId) with their gray variants,
//! history, namespaces and listeners. It knows nothing of naming, HTTP or gRPC: `api/` maps
//! requests onto it, Raft carries its commands, and each core's `ConfigStore` holds the keys
//! it owns.
//!
//! - `key`: identity, default-namespace normalisation, name validation.
//! - `item`: stored versions, gray rules, history rows, namespaces.
//! - `command`: Raft commands and the durable records they produce.
//! - `store`: one core's configs, history and listeners.
//! - `listen`: the long-polling wire format and md5.
//! - `polls`: the long polls one core holds, and their deadlines.
//! - `archive`: Nacos's export/import zip format.
//! - `error`: error kinds the edges render.

pub mod archive;
pub mod command;
pub mod error;
pub mod item;
pub mod key;
pub mod listen;
pub mod polls;
pub mod store;
