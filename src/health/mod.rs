//! Health of instances: the per-core timing wheel that drives heartbeat expiry.
//! (Active checks of persistent instances arrive with the Raft issue.)

pub mod wheel;
