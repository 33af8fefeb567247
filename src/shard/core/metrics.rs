//! A core's metrics: its `CoreMetrics`, the snapshot it reports at a scrape (counters plus the
//! sizes of the state it owns, read then and never counted on the data path), and the scrape
//! itself, which asks every core over the mesh and returns their snapshots.

use futures::channel::oneshot;

use super::{Core, Envelope};
use crate::access_log::{AccessLog, ChunkSender};
use crate::limits::ACCESS_LOG_FLUSH_MS;
use crate::metrics::recorder::PushKind;
use crate::metrics::{CoreMetrics, CoreSnapshot, PeerLag, Protocol, RaftGauges, StateGauges};
use crate::naming::op::Counts;

impl Core {
    /// This core's counters.
    pub fn metrics(&self) -> &CoreMetrics {
        &self.metrics
    }

    /// µs since the process started, on the clock every core shares (push latencies are
    /// measured across cores with it).
    pub fn now_us(&self) -> u64 {
        self.clock_origin.elapsed().as_micros() as u64
    }

    /// Core 0: the Raft driver's latest progress.
    pub fn set_raft_gauges(&self, gauges: RaftGauges) {
        debug_assert_eq!(self.id, super::RAFT_CORE);
        debug_assert!(gauges.applied_index <= gauges.commit_index);
        self.raft_gauges.set(gauges);
    }

    /// A push the holding core handed to its connection: naming or config.
    pub(super) fn record_push_latency(&self, changed_us: u64, config: bool) {
        let kind = if config {
            PushKind::ConfigGrpc
        } else {
            PushKind::NamingGrpc
        };
        let latency_us = self.now_us().saturating_sub(changed_us);
        self.metrics.record_push(kind, latency_us);
    }

    /// `woken` long polls were handed their wake.
    pub(super) fn record_poll_notify_latency(&self, changed_us: u64, woken: usize) {
        let latency_us = self.now_us().saturating_sub(changed_us);
        for _ in 0..woken {
            self.metrics.record_push(PushKind::ConfigPoll, latency_us);
        }
    }

    /// The access log, when `--access-log` is on.
    pub fn access_log(&self) -> Option<&AccessLog> {
        self.access_log.get()
    }

    /// Turns the access log on for this core, with its periodic hand-over to the writer.
    pub fn set_access_log(&self, sender: ChunkSender) {
        if self.access_log.set(AccessLog::new(sender)).is_err() {
            tracing::warn!(core = self.id, "the access log was already set");
            return;
        }
        let Some(core) = self.handle() else {
            return;
        };
        let tick = std::time::Duration::from_millis(ACCESS_LOG_FLUSH_MS);
        glommio::spawn_local(async move {
            loop {
                glommio::timer::sleep(tick).await;
                if let Some(log) = core.access_log() {
                    log.flush();
                    core.metrics.record_access_log_dropped(log.take_dropped());
                }
            }
        })
        .detach();
    }

    /// This core's report for a scrape.
    pub fn metrics_snapshot(&self) -> CoreSnapshot {
        if let Some(log) = self.access_log() {
            self.metrics.record_access_log_dropped(log.take_dropped());
        }
        let stats = glommio::executor().executor_stats();
        let snapshot = CoreSnapshot {
            core: self.id,
            counters: self.metrics.counters(),
            state: self.state_gauges(),
            connections: self.metrics.connections(),
            busy_us: stats.total_runtime().as_micros() as u64,
            tasks_executed: stats.tasks_executed(),
            raft: (self.id == super::RAFT_CORE).then(|| self.raft_gauges.get()),
            distro: self.distro_lag(),
        };
        debug_assert_eq!(snapshot.core, self.id);
        snapshot
    }

    fn state_gauges(&self) -> StateGauges {
        let now_ms = self.now_ms();
        let counts: Counts = self.registry.borrow_mut().counts(now_ms);
        let (configs, config_listeners_grpc) = self.configs.borrow().gauges();
        StateGauges {
            services: counts.services as u64,
            instances: counts.instances as u64,
            healthy_instances: counts.healthy_instances as u64,
            subscribers: (counts.subscribers + counts.grpc_subscribers) as u64,
            configs,
            config_listeners_grpc,
            config_polls: self.held_polls() as u64,
        }
    }

    fn distro_lag(&self) -> Vec<PeerLag> {
        let Some(distro) = self.distro() else {
            return Vec::new();
        };
        let lag = distro.shard.borrow().outbox_lag();
        let now_ms = self.now_ms();
        lag.into_iter()
            .map(|(member, pending, overflowed)| PeerLag {
                oldest_unsent_ms: distro.unsent_age_ms(member, now_ms),
                peer: distro
                    .http_addrs
                    .get(member)
                    .map_or_else(|| member.to_string(), |addr| addr.to_string()),
                pending_records: pending as u64,
                overflowed,
            })
            .collect()
    }

    /// Every core's snapshot, this one's taken inline, in core order. A core that does not
    /// answer is left out (the scrape still shows the others).
    pub async fn collect_metrics(&self) -> Vec<CoreSnapshot> {
        let mut snapshots = Vec::with_capacity(self.cores);
        for core in 0..self.cores {
            if core == self.id {
                snapshots.push(self.metrics_snapshot());
                continue;
            }
            let Some(senders) = &self.senders else {
                continue;
            };
            let (reply, answer) = oneshot::channel();
            if senders
                .send_to(core, Envelope::Metrics { reply })
                .await
                .is_err()
            {
                continue;
            }
            if let Ok(snapshot) = answer.await {
                snapshots.push(snapshot);
            }
        }
        debug_assert!(snapshots.len() <= self.cores);
        snapshots
    }
}

/// Counts a connection open in its core's gauge for as long as it lives (dropped with the
/// task, however it ends).
pub struct OpenConnection {
    core: super::CoreHandle,
    protocol: Protocol,
}

impl OpenConnection {
    pub fn new(core: &super::CoreHandle, protocol: Protocol) -> OpenConnection {
        core.metrics().connection_opened(protocol);
        OpenConnection {
            core: core.clone(),
            protocol,
        }
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.core.metrics().connection_closed(self.protocol);
    }
}
