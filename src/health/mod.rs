//! Health of instances: the per-core timing wheel that drives heartbeat expiry.
//! `probe` actively checks persistent instances, which send no beats.

pub mod probe;
pub mod wheel;
