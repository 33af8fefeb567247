//! A core's Distro side: its `DistroShard`, the stamping of records its registry changed,
//! the application of what peers sent, and the sync of its changes to each peer, in batches,
//! over this core's own peer links (so no single core carries the cluster's traffic).

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use prost::Message as _;

use super::{Core, Envelope, RAFT_CORE};
use crate::cluster::proto;
use crate::distro::membership::Membership;
use crate::distro::ops::{DistroOp, DistroReply};
use crate::distro::peer::PeerLinks;
use crate::distro::record::{MemberIndex, RecordKey, Stamp};
use crate::distro::shard::{Change, DistroShard, Store};
use crate::distro::wire::{item_to_wire, origin_to_wire, Value};
use crate::limits::{
    DISTRO_RELAYED_BEATS_PER_PEER_MAX, DISTRO_SYNC_ITEMS_PER_MESSAGE_MAX, DISTRO_SYNC_RETRY_MS,
};
use crate::naming::registry::Registry;

/// What a core holds for Distro (cluster mode only).
pub struct DistroState {
    pub(super) shard: RefCell<DistroShard>,
    pub links: Rc<PeerLinks>,
    sync_delay: Duration,
    /// A flush task runs for the peer.
    flushing: Vec<Cell<bool>>,
    /// Core 0 only: the membership view.
    pub membership: Option<RefCell<Membership>>,
    /// HTTP address of every member, by index.
    pub http_addrs: Vec<std::net::SocketAddr>,
    /// Core 0: the membership epoch last sent to every core.
    broadcast_epoch: Cell<u64>,
    /// Beats taken here for HTTP clients another member answers for, by member.
    beats: Vec<RefCell<Vec<proto::DistroBeat>>>,
    beats_flushing: Vec<Cell<bool>>,
    // --- metrics ---
    /// Per peer, while a flush task runs: when (core ms) the oldest record still waiting was
    /// queued, to within one send (the start of the task, then the start of the last
    /// successful send).
    unsent_since_ms: Vec<Cell<u64>>,
}

impl DistroState {
    pub fn new(
        shard: DistroShard,
        links: Rc<PeerLinks>,
        sync_delay: Duration,
        membership: Option<Membership>,
        http_addrs: Vec<std::net::SocketAddr>,
    ) -> DistroState {
        let members = shard.member_count();
        DistroState {
            shard: RefCell::new(shard),
            links,
            sync_delay,
            flushing: (0..members).map(|_| Cell::new(false)).collect(),
            membership: membership.map(RefCell::new),
            http_addrs,
            broadcast_epoch: Cell::new(0),
            beats: (0..members).map(|_| RefCell::new(Vec::new())).collect(),
            beats_flushing: (0..members).map(|_| Cell::new(false)).collect(),
            unsent_since_ms: (0..members).map(|_| Cell::new(0)).collect(),
        }
    }

    // --- metrics ---
    /// How long (ms) the oldest record queued for `peer` has waited; 0 when none waits.
    pub(super) fn unsent_age_ms(&self, peer: usize, now_ms: u64) -> u64 {
        let Some(flushing) = self.flushing.get(peer) else {
            return 0;
        };
        if !flushing.get() {
            return 0;
        }
        now_ms.saturating_sub(self.unsent_since_ms[peer].get())
    }

    /// Lets the sync window pass, so changes within it travel together.
    async fn sync_window(&self) {
        if self.sync_delay.is_zero() {
            glommio::executor().yield_task_queue_now().await;
        } else {
            glommio::timer::sleep(self.sync_delay).await;
        }
    }

    /// Core 0: the view changed since it was last sent to every core.
    pub fn needs_broadcast(&self) -> bool {
        self.membership
            .as_ref()
            .is_some_and(|m| m.borrow().epoch() != self.broadcast_epoch.get())
    }

    pub fn mark_broadcast(&self, epoch: u64) {
        self.broadcast_epoch.set(epoch);
    }
}

/// The registry as the shard reads record values from it.
struct RegistryValues<'a>(&'a Registry);

impl Store for RegistryValues<'_> {
    type Value = Value;
    fn value(&self, key: &RecordKey) -> Option<Value> {
        self.0.publication(key).map(|(_, specs)| specs)
    }
}

impl Core {
    pub fn enable_distro(&self, state: DistroState) {
        let me = state.shard.borrow().me();
        self.registry.borrow_mut().enable_replication(me);
        *self.distro.borrow_mut() = Some(Rc::new(state));
    }

    pub fn distro(&self) -> Option<Rc<DistroState>> {
        self.distro.borrow().clone()
    }

    /// Stamps the records the registry changed since the last call and queues them for the
    /// peers. Runs after every op and timer round on this core.
    pub(super) fn stamp_changes(&self) {
        let Some(distro) = self.distro() else {
            return;
        };
        let now_ms = self.now_ms();
        let mut registry = self.registry.borrow_mut();
        let keys = registry.take_changed();
        if keys.is_empty() {
            return;
        }
        let mut shard = distro.shard.borrow_mut();
        for key in keys {
            let Some(version) = registry.publication_version(&key) else {
                if let Some(removal) = shard.local_remove(&key) {
                    registry.observe_version(removal.version);
                }
                continue;
            };
            let mine = Stamp {
                version,
                origin: shard.me(),
            };
            match shard.stamp(&key) {
                Some(held) if held == mine => {}
                // Stamped elsewhere with a clock ahead of ours: ours must be newer still.
                Some(held) if held > mine => {
                    let raised = registry.raise_version(&key, held.version, now_ms);
                    shard.local_put(key, raised.unwrap_or(held.version + 1));
                }
                _ => {
                    shard.local_put(key, version);
                }
            }
        }
        drop(shard);
        drop(registry);
        self.schedule_sync(&distro);
    }

    /// Applies what the shard decided to the registry.
    fn apply_changes(&self, changes: Vec<Change<Value>>) {
        if changes.is_empty() {
            return;
        }
        let now_ms = self.now_ms();
        {
            let mut registry = self.registry.borrow_mut();
            for change in changes {
                match change {
                    Change::Put { key, stamp, value } => {
                        registry.put_replica(&key, stamp.version, value, now_ms)
                    }
                    Change::Remove { key } => registry.remove_replica(&key, now_ms),
                    Change::Own { key } => registry.own_record(&key, now_ms),
                    Change::Disown { key } => registry.disown_record(&key),
                }
            }
        }
        // Adopted records come back as changes of ours: stamp and send them.
        self.stamp_changes();
        self.schedule_pushes();
    }

    /// Runs a Distro op on this core, at once.
    pub fn distro_apply(&self, op: DistroOp) -> DistroReply {
        let Some(distro) = self.distro() else {
            return DistroReply::Done;
        };
        let now_ms = self.now_ms();
        let values = |core: &Core| -> Vec<_> {
            let registry = core.registry.borrow();
            let shard = distro.shard.borrow();
            match &op {
                DistroOp::OwnBucketItems { buckets } => {
                    shard.own_bucket_items(buckets, &RegistryValues(&registry))
                }
                DistroOp::Snapshot { from, to } => {
                    shard.snapshot_items(*from..*to, &RegistryValues(&registry))
                }
                _ => Vec::new(),
            }
        };
        let changes = match op {
            DistroOp::Items { from, items } => {
                distro.shard.borrow_mut().on_items(from, items, now_ms)
            }
            DistroOp::Resend {
                origin,
                ref buckets,
                items,
            } => distro
                .shard
                .borrow_mut()
                .on_resend(origin, buckets, items, now_ms),
            DistroOp::OwnDigests => {
                return DistroReply::Digests(distro.shard.borrow().own_digests())
            }
            DistroOp::DigestsOf { origin } => {
                let mut shard = distro.shard.borrow_mut();
                shard.renew(origin, now_ms);
                return DistroReply::Digests(shard.digests_of(origin));
            }
            DistroOp::OwnBucketItems { .. } | DistroOp::Snapshot { .. } => {
                return DistroReply::Items(values(self))
            }
            DistroOp::Membership {
                targets,
                incarnations,
                view,
            } => {
                let healthy = view.healthy.clone();
                self.set_cluster_view(view);
                distro
                    .shard
                    .borrow_mut()
                    .on_membership(&targets, healthy, &incarnations)
            }
            DistroOp::Rebalance => distro.shard.borrow_mut().rebalance(),
            DistroOp::Expire => distro.shard.borrow_mut().expire(now_ms),
            DistroOp::MemberViews => {
                let views = distro.membership.as_ref().map(|m| m.borrow().views());
                return DistroReply::Members(views.unwrap_or_default());
            }
            DistroOp::Report(report) => {
                return DistroReply::Report(crate::distro::driver::on_peer_report(self, report))
            }
        };
        self.apply_changes(changes);
        DistroReply::Done
    }

    /// Runs a Distro op on `core` (this one inline) and returns its answer.
    pub async fn distro_on(&self, core: usize, op: DistroOp) -> DistroReply {
        if core == self.id {
            return self.distro_apply(op);
        }
        let Some(senders) = &self.senders else {
            return DistroReply::Done;
        };
        let (reply, answer) = futures::channel::oneshot::channel();
        if senders
            .send_to(core, Envelope::Distro { op, reply })
            .await
            .is_err()
        {
            return DistroReply::Done;
        }
        answer.await.unwrap_or(DistroReply::Done)
    }

    /// Runs `make()` on every core; answers in core order.
    pub async fn distro_everywhere(&self, make: impl Fn() -> DistroOp) -> Vec<DistroReply> {
        let mut replies = Vec::with_capacity(self.cores);
        for core in 0..self.cores {
            replies.push(self.distro_on(core, make()).await);
        }
        replies
    }

    /// Core 0 runs the membership; other cores reach it here.
    pub fn is_membership_core(&self) -> bool {
        self.id == RAFT_CORE
    }

    /// Queues a beat for `member`, which answers for the client; false when its queue is full
    /// (the caller then proxies the beat as it came).
    pub fn relay_beat(&self, member: MemberIndex, beat: proto::DistroBeat) -> bool {
        let Some(distro) = self.distro() else {
            return false;
        };
        let Some(queue) = distro.beats.get(usize::from(member)) else {
            return false;
        };
        if queue.borrow().len() >= DISTRO_RELAYED_BEATS_PER_PEER_MAX {
            return false;
        }
        queue.borrow_mut().push(beat);
        let flushing = &distro.beats_flushing[usize::from(member)];
        if !flushing.get() {
            flushing.set(true);
            let Some(core) = self.handle() else {
                return true;
            };
            glommio::spawn_local(async move {
                relay_beats_to(&core, &distro, member).await;
                distro.beats_flushing[usize::from(member)].set(false);
            })
            .detach();
        }
        true
    }

    /// Starts a flush task for every peer something waits for (one task per peer at most).
    fn schedule_sync(&self, distro: &Rc<DistroState>) {
        let Some(core) = self.me.borrow().upgrade() else {
            return;
        };
        let members = distro.flushing.len();
        for peer in 0..members as MemberIndex {
            let waiting = distro.shard.borrow().has_outgoing_to(peer);
            let flushing = &distro.flushing[usize::from(peer)];
            if !waiting || flushing.get() {
                continue;
            }
            flushing.set(true);
            distro.unsent_since_ms[usize::from(peer)].set(core.now_ms());
            let (core, distro) = (core.clone(), distro.clone());
            glommio::spawn_local(async move {
                flush_to(&core, &distro, peer).await;
                distro.flushing[usize::from(peer)].set(false);
            })
            .detach();
        }
    }
}

/// Waits the sync window, then sends `member` the beats queued for it. A batch that fails is
/// dropped: clients beat again within seconds, and the record expires only after many.
async fn relay_beats_to(core: &Core, distro: &DistroState, member: MemberIndex) {
    distro.sync_window().await;
    loop {
        let beats: Vec<proto::DistroBeat> = {
            let mut queue = distro.beats[usize::from(member)].borrow_mut();
            let take = queue.len().min(DISTRO_SYNC_ITEMS_PER_MESSAGE_MAX);
            queue.drain(..take).collect()
        };
        if beats.is_empty() {
            return;
        }
        let me = distro.shard.borrow().me();
        let message = proto::DistroBeats {
            from: Some(origin_to_wire(me)),
            beats,
        };
        let sent = distro
            .links
            .call(member, "/Cluster/DistroBeats", message.encode_to_vec())
            .await;
        if let Err(error) = sent {
            tracing::debug!(core = core.id, member, %error, "relayed beats lost");
        }
    }
}

/// Waits the sync window, then sends `peer` everything queued for it, in messages of at most
/// `DISTRO_SYNC_ITEMS_PER_MESSAGE_MAX` items; a failed send is queued again and retried.
async fn flush_to(core: &Core, distro: &DistroState, peer: MemberIndex) {
    distro.sync_window().await;
    loop {
        let taken_ms = core.now_ms();
        let items = {
            let registry = core.registry.borrow();
            let mut shard = distro.shard.borrow_mut();
            let values = RegistryValues(&registry);
            shard.take_sync(peer, DISTRO_SYNC_ITEMS_PER_MESSAGE_MAX, &values)
        };
        if items.is_empty() {
            return;
        }
        let me = distro.shard.borrow().me();
        let message = proto::DistroSync {
            from: Some(origin_to_wire(me)),
            items: items.iter().map(item_to_wire).collect(),
        };
        let sent = distro
            .links
            .call(peer, "/Cluster/DistroSync", message.encode_to_vec())
            .await;
        if sent.is_ok() {
            // What is still queued was queued after this batch was taken (or did not fit it).
            distro.unsent_since_ms[usize::from(peer)].set(taken_ms);
        }
        if let Err(error) = sent {
            tracing::debug!(peer, %error, "distro sync failed; retrying");
            distro.shard.borrow_mut().requeue(peer, items);
            glommio::timer::sleep(Duration::from_millis(DISTRO_SYNC_RETRY_MS)).await;
        }
    }
}
