//! `Core`: one executor's share of the server. It owns the `Registry` of the services whose
//! owner it is, and routes every `NamingOp` to the core that owns its service.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::rc::Weak;
use std::time::{Duration, Instant};

use futures::channel::oneshot;
use glommio::channels::channel_mesh::{Receivers, Senders};
use hashbrown::HashMap;

use crate::cluster::members::Members;
use crate::config::store::ConfigStore;
use crate::distro::ops::{DistroOp, DistroReply};
use crate::distro::responsible::ClusterView;
use crate::health::probe::{ProbeSettings, ProbeTarget};
use crate::naming::error::{ErrorKind, NamingError};
use crate::naming::key::ServiceKey;
use crate::naming::op::{DurableCommand, NamingOp, NamingReply, PushOut};
use crate::naming::registry::Registry;
use crate::naming::switches::Switches;
use crate::raft::command::RaftCommand;
use crate::raft::node::{Applied, Proposal, ProposalSender};
use crate::shard::owner::owner_core;
use crate::udp::UdpPusher;
use bytes::Bytes;

/// How often unanswered UDP pushes are checked for their retransmit.
const UDP_RETRANSMIT_TICK_MS: u64 = 500;

/// A message between cores.
// Moved once per hop; boxing the large variants would cost an allocation per op.
#[allow(clippy::large_enum_variant)]
pub enum Envelope {
    /// An op for the receiving core (its owner), and where to send the reply.
    Op {
        op: NamingOp,
        reply: oneshot::Sender<NamingReply>,
    },
    /// A push from a service's owner core for a gRPC connection held by the receiving core.
    Push(Delivery),
    /// A durable command for the Raft core (core 0).
    Propose {
        command: RaftCommand,
        reply: oneshot::Sender<Applied>,
    },
    /// A Distro op for the receiving core's shard (or core 0's membership).
    Distro {
        op: DistroOp,
        reply: oneshot::Sender<DistroReply>,
    },
    /// Raft messages a peer sent to a core other than the Raft core.
    Raft(Vec<raft::prelude::Message>),
    /// A config-center op for the core that owns its key.
    Config {
        op: ConfigOp,
        reply: oneshot::Sender<ConfigReply>,
    },
    /// Changed keys for long polls the receiving core holds, from the keys' owner core.
    PollWakes(Vec<(u64, crate::config::key::ConfigKey)>),
    // --- auth ---
    /// An applied auth write for the receiving core's copy of the auth tables, from the Raft
    /// core (in log order: one channel per sender keeps order).
    Auth {
        command: crate::auth::AuthCommand,
        reply: oneshot::Sender<()>,
    },
    // --- metrics ---
    /// A scrape: the receiving core's metrics snapshot.
    Metrics {
        reply: oneshot::Sender<crate::metrics::CoreSnapshot>,
    },
    // --- dns ---
    /// A DNS lookup for the owner core of its service; the reply holds the chosen hosts.
    Dns {
        lookup: crate::dns::Lookup,
        reply: oneshot::Sender<crate::dns::Answer>,
    },
}

mod config_admin;
mod config_search;
mod configs;
mod metrics;
mod polls;
mod replication;
pub use config_admin::spawn_history_pruner;
pub use configs::{config_owner, ConfigOp, ConfigReply};
pub use metrics::OpenConnection;
pub use polls::{spawn_poll_sweeper, PollOutcome};
pub use replication::DistroState;

/// The core that hosts the Raft group and writes LMDB.
pub const RAFT_CORE: usize = 0;

/// Where pushes for a gRPC connection held by this core go. The sink writes a push at once when
/// it can and otherwise queues it, bounded; the core forgets a sink that refuses a push, and
/// the connection then closes rather than being allowed to grow memory.
pub trait PushSink {
    /// Writes or queues `push`; false when the connection cannot take it (queue full, stream
    /// gone).
    fn offer(&self, push: Delivery, now_ms: u64) -> bool;
    /// The core has forgotten this sink: the connection must close.
    fn close(&self);
}

/// A push ready for the wire: the framed `NotifySubscriberRequest` is encoded once per change
/// and selection and shared (`Bytes`) by every connection that gets the same data; its request
/// id is unique per push, so acks still match per connection.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub connection: u64,
    pub topic: PushTopic,
    pub request_id: u64,
    pub frame: Bytes,
    // --- metrics ---
    /// When (µs on the cores' shared clock) the change this push carries was made: the
    /// holding core counts the push latency from it.
    pub changed_us: u64,
}

/// What a push is about: a newer push on the same topic supersedes an unanswered older one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushTopic {
    Service(ServiceKey),
    Config(crate::config::key::ConfigKey),
}

/// Push request ids made by owner cores carry the top bit, so they never meet the ids a
/// connection numbers its own requests (detections) with.
const PUSH_REQUEST_ID_BIT: u64 = 1 << 63;

/// Shared within one core only (`Rc`, never `Arc`): tasks on this executor borrow it briefly
/// and never across an `.await`.
pub type CoreHandle = Rc<Core>;

pub struct Core {
    pub id: usize,
    pub cores: usize,
    registry: RefCell<Registry>,
    /// The config keys this core owns.
    configs: RefCell<ConfigStore>,
    /// The HTTP long polls this core holds (whatever keys they watch).
    polls: RefCell<crate::config::polls::PollTable<polls::PollWaiter>>,
    senders: Option<Senders<Envelope>>,
    clock_origin: Instant,
    /// Push sinks of the gRPC connections this core holds, by connection id.
    push_sinks: RefCell<HashMap<u64, Rc<dyn PushSink>>>,
    /// A push flush is scheduled (coalescing window running).
    flush_scheduled: Cell<bool>,
    push_delay: Duration,
    connection_counter: Cell<u64>,
    push_counter: Cell<u64>,
    udp: RefCell<Option<Rc<UdpPusher>>>,
    ready: Cell<bool>,
    raft_status: Cell<(u64, u64)>,
    members: RefCell<Option<Members>>,
    /// Core 0 only: the Raft driver's proposal queue.
    raft: RefCell<Option<Rc<ProposalSender>>>,
    /// This core's own handle, for tasks it spawns.
    me: RefCell<Weak<Core>>,
    /// Cluster mode: the members and who answers for which HTTP client, as core 0 last saw.
    cluster_view: RefCell<Option<Rc<ClusterView>>>,
    /// Cluster mode: this core's Distro shard and peer links.
    distro: RefCell<Option<Rc<DistroState>>>,
    /// Core 0, cluster mode: where peers' Raft messages go.
    raft_inbox: RefCell<Option<crate::cluster::server::RaftInbox>>,
    /// Core 0: the LMDB storage, for reads of what memory does not keep (history contents).
    state_reader: RefCell<Option<crate::raft::storage::LmdbStorage>>,
    // --- auth ---
    /// This core's auth settings, copy of the auth tables, login throttle and cache.
    auth: RefCell<Rc<crate::auth::AuthState>>,
    // --- metrics ---
    /// This core's counters (touched by this core only).
    metrics: crate::metrics::CoreMetrics,
    /// Core 0: the Raft progress the driver last saw.
    raft_gauges: Cell<crate::metrics::RaftGauges>,
    /// When (µs on the shared clock) the pending pushes' coalescing window opened.
    push_window_opened_us: Cell<u64>,
    /// Set at start when `--access-log` is given.
    access_log: std::cell::OnceCell<crate::access_log::AccessLog>,
}

impl Core {
    pub fn new(
        id: usize,
        cores: usize,
        senders: Option<Senders<Envelope>>,
        origin: Instant,
        push_delay: Duration,
    ) -> CoreHandle {
        assert!(id < cores);
        assert_eq!(
            senders.is_some(),
            cores > 1,
            "the mesh exists exactly when cores > 1"
        );
        let now_ms = origin.elapsed().as_millis() as u64;
        let core = Rc::new(Core {
            id,
            cores,
            registry: RefCell::new(Registry::new(now_ms)),
            configs: RefCell::new(ConfigStore::new()),
            polls: RefCell::new(polls::new_poll_table(id)),
            senders,
            clock_origin: origin,
            push_sinks: RefCell::new(HashMap::new()),
            flush_scheduled: Cell::new(false),
            push_delay,
            connection_counter: Cell::new(0),
            push_counter: Cell::new(0),
            udp: RefCell::new(None),
            ready: Cell::new(false),
            raft_status: Cell::new((0, 0)),
            members: RefCell::new(None),
            raft: RefCell::new(None),
            me: RefCell::new(Weak::new()),
            cluster_view: RefCell::new(None),
            distro: RefCell::new(None),
            raft_inbox: RefCell::new(None),
            state_reader: RefCell::new(None),
            auth: RefCell::new(Rc::new(crate::auth::AuthState::new(
                crate::auth::AuthSettings::disabled(),
            ))),
            metrics: crate::metrics::CoreMetrics::default(),
            raft_gauges: Cell::new(crate::metrics::RaftGauges::default()),
            push_window_opened_us: Cell::new(0),
            access_log: std::cell::OnceCell::new(),
        });
        *core.me.borrow_mut() = Rc::downgrade(&core);
        core
    }

    /// Monotonic ms since the process started; the same origin on every core.
    pub fn now_ms(&self) -> u64 {
        self.clock_origin.elapsed().as_millis() as u64
    }

    /// Whether this core serves clients (durable state rebuilt).
    pub fn is_ready(&self) -> bool {
        self.ready.get()
    }

    /// Sends a durable command to the Raft core (core 0) and waits until it is committed and
    /// applied.
    pub async fn propose(&self, command: DurableCommand) -> NamingReply {
        self.propose_applied(RaftCommand::Naming(command))
            .await
            .reply
    }

    /// Proposes on the Raft core (this one) and returns the outcome with its log index.
    pub async fn propose_indexed(&self, command: RaftCommand) -> Applied {
        debug_assert_eq!(self.id, RAFT_CORE);
        let (reply, answer) = oneshot::channel();
        self.hand_to_raft(Proposal { command, reply }).await;
        answer.await.unwrap_or_else(|_| Applied {
            reply: core_down(RAFT_CORE),
            index: 0,
            config_error: None,
        })
    }

    /// Queues a proposal for the Raft driver of this core; fails it if there is none.
    async fn hand_to_raft(&self, proposal: Proposal) {
        let sender = self.raft.borrow().clone();
        match sender {
            Some(sender) => {
                if let Err(error) = sender.send(proposal).await {
                    tracing::error!(%error, "the raft driver is gone");
                }
            }
            None => {
                let error = NamingError::new(ErrorKind::Unavailable, "raft is not running");
                let _ = proposal.reply.send(Applied {
                    reply: NamingReply::Error(error),
                    index: 0,
                    config_error: None,
                });
            }
        }
    }

    /// Core 0, cluster mode: where Raft messages from peers go.
    pub fn set_raft_inbox(&self, inbox: crate::cluster::server::RaftInbox) {
        debug_assert_eq!(self.id, RAFT_CORE);
        *self.raft_inbox.borrow_mut() = Some(inbox);
    }

    /// Hands peers' Raft messages to the Raft driver: here on core 0, over the mesh from
    /// the others (the cluster port is served on every core).
    pub async fn route_raft_messages(&self, messages: Vec<raft::prelude::Message>) {
        if self.id == RAFT_CORE {
            return self.take_raft_messages(messages);
        }
        if let Some(senders) = &self.senders {
            let _ = senders.send_to(RAFT_CORE, Envelope::Raft(messages)).await;
        }
    }

    fn take_raft_messages(&self, messages: Vec<raft::prelude::Message>) {
        let inbox = self.raft_inbox.borrow().clone();
        let Some(inbox) = inbox else {
            return;
        };
        for message in messages {
            if inbox.try_send(message).is_err() {
                tracing::debug!("raft inbox full; dropping a peer message");
            }
        }
    }

    /// Proposes from any core and returns the outcome with its log index.
    pub async fn propose_applied(&self, command: RaftCommand) -> Applied {
        if self.id == RAFT_CORE {
            return self.propose_indexed(command).await;
        }
        let Some(senders) = &self.senders else {
            unreachable!("a remote Raft core exists only when the mesh does");
        };
        let (reply, answer) = oneshot::channel();
        if senders
            .send_to(RAFT_CORE, Envelope::Propose { command, reply })
            .await
            .is_err()
        {
            return Applied {
                reply: core_down(RAFT_CORE),
                index: 0,
                config_error: None,
            };
        }
        answer.await.unwrap_or_else(|_| Applied {
            reply: core_down(RAFT_CORE),
            index: 0,
            config_error: None,
        })
    }

    /// Core 0: the Raft leader (0 when unknown) and term, as the driver last saw them.
    pub fn set_raft_status(&self, leader: u64, term: u64) {
        self.raft_status.set((leader, term));
    }

    /// The Raft leader id and term, read from the Raft core.
    pub async fn raft_status(&self) -> (u64, u64) {
        match self.execute_everywhere_first(NamingOp::RaftStatus).await {
            NamingReply::RaftStatus { leader, term } => (leader, term),
            _ => (0, 0),
        }
    }

    async fn execute_everywhere_first(&self, op: NamingOp) -> NamingReply {
        if self.id == RAFT_CORE {
            return self.apply_local(op);
        }
        self.execute_on(RAFT_CORE, op).await
    }

    /// The cluster's members, in cluster mode.
    pub fn members(&self) -> Option<Members> {
        self.members.borrow().clone()
    }

    pub fn set_members(&self, members: Option<Members>) {
        *self.members.borrow_mut() = members;
    }

    /// Wall-clock ms at this core's monotonic 0: versions of publications follow it.
    pub fn set_wall_origin(&self, wall_at_zero_ms: u64) {
        self.registry.borrow_mut().set_wall_origin(wall_at_zero_ms);
    }

    /// This core's own handle, for tasks it spawns.
    pub fn handle(&self) -> Option<CoreHandle> {
        self.me.borrow().upgrade()
    }

    /// Core 0: the Raft leader and term as the driver last saw them.
    pub fn local_raft_status(&self) -> (u64, u64) {
        self.raft_status.get()
    }

    /// Cluster mode: the membership view every core routes HTTP writes by.
    pub fn cluster_view(&self) -> Option<Rc<ClusterView>> {
        self.cluster_view.borrow().clone()
    }

    pub fn set_cluster_view(&self, view: ClusterView) {
        *self.cluster_view.borrow_mut() = Some(Rc::new(view));
    }

    pub fn set_raft(&self, sender: Rc<ProposalSender>) {
        debug_assert_eq!(self.id, RAFT_CORE);
        *self.raft.borrow_mut() = Some(sender);
    }

    /// Runs `op` on this core's registry. Only for ops this core owns (or fan-out ops).
    pub fn apply_local(&self, op: NamingOp) -> NamingReply {
        if matches!(op, NamingOp::MarkReady) {
            self.ready.set(true);
        }
        if matches!(op, NamingOp::RaftStatus) {
            let (leader, term) = self.raft_status.get();
            return NamingReply::RaftStatus { leader, term };
        }
        debug_assert!(op
            .service_key()
            .is_none_or(|k| owner_core(k, self.cores) == self.id));
        let now_ms = self.now_ms();
        let reply = self.registry.borrow_mut().apply(op, now_ms);
        self.stamp_changes();
        self.schedule_pushes();
        reply
    }

    /// Runs `op` on the owner core of its service and returns the reply.
    pub async fn execute(&self, op: NamingOp) -> NamingReply {
        let Some(key) = op.service_key() else {
            unreachable!("fan-out ops go through execute_everywhere");
        };
        let owner = owner_core(key, self.cores);
        if owner == self.id {
            return self.apply_local(op);
        }
        self.execute_on(owner, op).await
    }

    async fn execute_on(&self, owner: usize, op: NamingOp) -> NamingReply {
        debug_assert_ne!(owner, self.id);
        let Some(senders) = &self.senders else {
            unreachable!("a remote owner exists only when the mesh does");
        };
        let (reply_tx, reply_rx) = oneshot::channel();
        let envelope = Envelope::Op {
            op,
            reply: reply_tx,
        };
        if senders.send_to(owner, envelope).await.is_err() {
            return core_down(owner);
        }
        reply_rx.await.unwrap_or_else(|_| core_down(owner))
    }

    /// Runs a fan-out op on every core (this one inline) and returns the replies.
    pub async fn execute_everywhere(&self, op: NamingOp) -> Vec<NamingReply> {
        debug_assert!(op.service_key().is_none());
        let mut replies = Vec::with_capacity(self.cores);
        for core in 0..self.cores {
            let reply = if core == self.id {
                self.apply_local(op.clone())
            } else {
                self.execute_on(core, op.clone()).await
            };
            replies.push(reply);
        }
        replies
    }

    /// Persistent instances of this core's services, to probe.
    pub fn probe_targets(&self) -> Vec<ProbeTarget> {
        self.registry.borrow().probe_targets()
    }

    /// Counts a probe result on this core's registry; a health flip is pushed.
    pub fn record_probe(&self, target: &ProbeTarget, ok: bool, settings: ProbeSettings) {
        debug_assert_eq!(owner_core(&target.key, self.cores), self.id);
        let (fail, pass) = (settings.fail_threshold, settings.ok_threshold);
        let flipped = self
            .registry
            .borrow_mut()
            .record_probe(target, ok, fail, pass);
        if flipped {
            tracing::info!(service = %target.key.grouped_name(), ip = %target.ip, port = target.port, ok, "health check changed an instance");
            self.schedule_pushes();
        }
    }

    /// Reads this core's copy of the switches.
    pub fn with_switches<R>(&self, read: impl FnOnce(&Switches) -> R) -> R {
        read(&self.registry.borrow().switches)
    }

    /// Advances this core's timing wheel to now.
    pub fn advance_timers(&self) -> usize {
        let now_ms = self.now_ms();
        let changed = self.registry.borrow_mut().advance(now_ms);
        self.stamp_changes();
        self.schedule_pushes();
        changed
    }

    /// Starts the coalescing window if changes wait and no flush is scheduled: every change
    /// inside the window goes out in one push per subscriber.
    fn schedule_pushes(&self) {
        if self.flush_scheduled.get() || !self.registry.borrow().has_pending_pushes() {
            return;
        }
        self.flush_scheduled.set(true);
        self.push_window_opened_us.set(self.now_us());
        let Some(core) = self.me.borrow().upgrade() else {
            return;
        };
        let delay = self.push_delay;
        glommio::spawn_local(async move {
            if delay.is_zero() {
                glommio::executor().yield_task_queue_now().await;
            } else {
                glommio::timer::sleep(delay).await;
            }
            core.flush_scheduled.set(false);
            core.flush_pushes().await;
        })
        .detach();
    }

    async fn flush_pushes(&self) {
        let (now_ms, wall_ms) = (self.now_ms(), wall_clock_ms());
        let pushes = self.registry.borrow_mut().take_pushes(now_ms, wall_ms);
        let changed_us = self.push_window_opened_us.get();
        let udp = self.udp.borrow().clone();
        if let Some(udp) = udp {
            for push in pushes.udp {
                let Ok(ip) = push.ip.parse::<std::net::IpAddr>() else {
                    continue;
                };
                let target = std::net::SocketAddr::new(ip, push.udp_port);
                udp.push(target, &push.service_info_json, now_ms).await;
                let latency_us = self.now_us().saturating_sub(changed_us);
                (self.metrics)
                    .record_push(crate::metrics::recorder::PushKind::NamingUdp, latency_us);
            }
        }
        for delivery in self.frame_pushes(pushes.grpc, changed_us) {
            let holder = connection_core(delivery.connection);
            if holder == self.id {
                self.deliver_push(delivery);
            } else if let Some(senders) = &self.senders {
                // A full channel waits: pushes keep their order and are not dropped.
                let _ = senders.send_to(holder, Envelope::Push(delivery)).await;
            }
        }
    }

    /// Encodes each distinct `ServiceInfo` once into a framed push with its own request id.
    fn frame_pushes(&self, pushes: Vec<PushOut>, changed_us: u64) -> Vec<Delivery> {
        let mut framed: Option<(*const u8, u64, Bytes)> = None;
        let mut deliveries = Vec::with_capacity(pushes.len());
        for push in pushes {
            let same = framed
                .as_ref()
                .is_some_and(|(ptr, _, _)| *ptr == push.service_info_json.as_ptr());
            if !same {
                let request_id = self.next_push_request_id();
                let frame = crate::grpc::stream::notify_frame(request_id, &push.service_info_json);
                framed = Some((push.service_info_json.as_ptr(), request_id, frame));
            }
            let Some((_, request_id, frame)) = &framed else {
                continue;
            };
            deliveries.push(Delivery {
                connection: push.connection,
                topic: PushTopic::Service(push.key),
                request_id: *request_id,
                frame: frame.clone(),
                changed_us,
            });
        }
        deliveries
    }

    /// A fresh push request id (unique per core, never a connection's own).
    pub(crate) fn next_push_request_id(&self) -> u64 {
        let n = self.push_counter.get() + 1;
        self.push_counter.set(n);
        PUSH_REQUEST_ID_BIT | ((self.id as u64) << 48) | n
    }

    /// Delivers pushes here or sends them to the cores holding their connections, without
    /// waiting: one task per holder core keeps their order and their number small.
    pub(crate) fn route_pushes(&self, deliveries: Vec<Delivery>) {
        let mut by_holder: Vec<Vec<Delivery>> = vec![Vec::new(); self.cores];
        for delivery in deliveries {
            let holder = connection_core(delivery.connection);
            if holder == self.id {
                self.deliver_push(delivery);
            } else if holder < self.cores {
                by_holder[holder].push(delivery);
            }
        }
        for (holder, batch) in by_holder.into_iter().enumerate() {
            if batch.is_empty() {
                continue;
            }
            let Some(core) = self.handle() else {
                return;
            };
            glommio::spawn_local(async move {
                let Some(senders) = &core.senders else {
                    return;
                };
                for delivery in batch {
                    // A full channel waits: pushes keep their order and are not dropped.
                    let _ = senders.send_to(holder, Envelope::Push(delivery)).await;
                }
            })
            .detach();
        }
    }

    /// Hands a push to the connection's sink; a connection that refuses it is dropped from the
    /// table and told to close.
    pub fn deliver_push(&self, push: Delivery) {
        debug_assert_eq!(connection_core(push.connection), self.id);
        let connection = push.connection;
        let Some(sink) = self.push_sinks.borrow().get(&connection).cloned() else {
            return;
        };
        let (changed_us, config) = (push.changed_us, matches!(push.topic, PushTopic::Config(_)));
        if sink.offer(push, self.now_ms()) {
            self.record_push_latency(changed_us, config);
            return;
        }
        tracing::warn!(
            core = self.id,
            connection,
            "push queue full or stream gone: disconnecting the client"
        );
        self.push_sinks.borrow_mut().remove(&connection);
        sink.close();
    }

    /// Installs this core's UDP pusher and its retransmit timer.
    pub fn set_udp_pusher(&self, pusher: Rc<UdpPusher>) {
        *self.udp.borrow_mut() = Some(pusher.clone());
        let Some(core) = self.me.borrow().upgrade() else {
            return;
        };
        glommio::spawn_local(async move {
            loop {
                glommio::timer::sleep(Duration::from_millis(UDP_RETRANSMIT_TICK_MS)).await;
                pusher.retransmit_due(core.now_ms()).await;
            }
        })
        .detach();
    }

    pub fn add_push_sink(&self, connection: u64, sink: Rc<dyn PushSink>) {
        debug_assert_eq!(connection_core(connection), self.id);
        self.push_sinks.borrow_mut().insert(connection, sink);
    }

    pub fn remove_push_sink(&self, connection: u64) {
        self.push_sinks.borrow_mut().remove(&connection);
    }

    /// A new connection id: the holding core in the top 16 bits, a per-core counter below.
    pub fn next_connection_id(&self) -> u64 {
        let n = self.connection_counter.get() + 1;
        self.connection_counter.set(n);
        debug_assert!(n < 1 << 48);
        ((self.id as u64) << 48) | n
    }
}

/// The core that holds a gRPC connection, from its id.
pub fn connection_core(connection: u64) -> usize {
    (connection >> 48) as usize
}

fn wall_clock_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn core_down(core: usize) -> NamingReply {
    NamingReply::Error(NamingError::new(
        ErrorKind::Internal,
        format!("core {core} is not answering"),
    ))
}

// --- auth ---
impl Core {
    /// This core's auth state (settings, tables, throttle, cache).
    pub fn auth(&self) -> Rc<crate::auth::AuthState> {
        self.auth.borrow().clone()
    }

    /// Sets the auth settings (at start, before serving); the tables start empty.
    pub fn set_auth_settings(&self, settings: crate::auth::AuthSettings) {
        *self.auth.borrow_mut() = Rc::new(crate::auth::AuthState::new(settings));
    }

    /// Applies an auth write to this core's tables, then to every other core's (waiting for
    /// each, so a login right after the write's answer sees it on any core). Returns this
    /// core's outcome: the rows to store, or the refusal.
    pub async fn apply_auth_everywhere(
        &self,
        command: crate::auth::AuthCommand,
    ) -> Result<Vec<crate::auth::AuthRecord>, crate::auth::command::AuthRefusal> {
        let records = self.auth().tables.borrow_mut().apply(&command)?;
        if let Some(senders) = &self.senders {
            for other in (0..self.cores).filter(|c| *c != self.id) {
                let (reply, replied) = oneshot::channel();
                let envelope = Envelope::Auth {
                    command: command.clone(),
                    reply,
                };
                if senders.send_to(other, envelope).await.is_ok() {
                    let _ = replied.await;
                }
            }
        }
        Ok(records)
    }
}

// --- dns ---
impl Core {
    /// Reads this core's registry (the DNS edge builds its record sets from it).
    pub fn with_registry<R>(&self, read: impl FnOnce(&Registry) -> R) -> R {
        read(&self.registry.borrow())
    }

    /// Answers a DNS lookup on the owner core of its service (inline when that is this
    /// one); `None` when the owner does not answer.
    pub async fn dns_lookup(&self, lookup: crate::dns::Lookup) -> Option<crate::dns::Answer> {
        let owner = owner_core(&lookup.key, self.cores);
        if owner == self.id {
            return Some(crate::dns::answer_on_owner(self, lookup));
        }
        let senders = self.senders.as_ref()?;
        let (reply, answer) = oneshot::channel();
        let envelope = Envelope::Dns { lookup, reply };
        senders.send_to(owner, envelope).await.ok()?;
        answer.await.ok()
    }
}

/// Serves ops sent to this core by the others: one task per peer channel, so a busy peer
/// cannot starve another.
pub fn spawn_mesh_servers(core: &CoreHandle, mut receivers: Receivers<Envelope>) {
    for (peer, receiver) in receivers.streams() {
        let core = core.clone();
        glommio::spawn_local(async move {
            while let Some(envelope) = receiver.recv().await {
                match envelope {
                    Envelope::Op { op, reply } => {
                        // The asking connection may be gone; then nobody wants the reply.
                        let _ = reply.send(core.apply_local(op));
                    }
                    Envelope::Push(push) => core.deliver_push(push),
                    Envelope::Propose { command, reply } => {
                        core.hand_to_raft(Proposal { command, reply }).await;
                    }
                    Envelope::Distro { op, reply } => {
                        let _ = reply.send(core.distro_apply(op));
                    }
                    Envelope::Raft(messages) => core.take_raft_messages(messages),
                    Envelope::Config { op, reply } => core.serve_config(op, reply),
                    Envelope::PollWakes(wakes) => core.wake_polls(wakes),
                    Envelope::Auth { command, reply } => {
                        let _ = core.auth().tables.borrow_mut().apply(&command);
                        let _ = reply.send(());
                    }
                    // --- metrics ---
                    Envelope::Metrics { reply } => {
                        let _ = reply.send(core.metrics_snapshot());
                    }
                    // --- dns ---
                    Envelope::Dns { lookup, reply } => {
                        let _ = reply.send(crate::dns::answer_on_owner(&core, lookup));
                    }
                }
            }
            tracing::debug!(core = core.id, peer, "mesh channel closed");
        })
        .detach();
    }
}

/// Drives heartbeat expiry: advances the wheel every `tick`.
pub fn spawn_timer_driver(core: &CoreHandle, tick: Duration) {
    let core = core.clone();
    glommio::spawn_local(async move {
        loop {
            glommio::timer::sleep(tick).await;
            let changed = core.advance_timers();
            if changed > 0 {
                tracing::debug!(core = core.id, changed, "heartbeat expiry changed services");
            }
        }
    })
    .detach();
}
