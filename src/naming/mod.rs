//! The naming model: services, instances, selection, encodings and the per-core registry.
//! Nothing here knows HTTP or gRPC; the edges (api/) translate requests into `NamingOp`s.

pub mod client;
pub mod encode;
pub mod error;
pub mod instance;
pub mod key;
pub mod op;
pub mod registry;
pub mod select;
pub mod service;
pub mod switches;
