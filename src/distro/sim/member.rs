//! A member's run (`Node`: registry, shard, membership, join) and the glue that drives it.

use std::collections::BTreeMap;

use super::clients::{Cause, Creation};
use super::net::{CallKind, Msg};
use super::{
    bump, Sim, Timer, Value, CHUNK, CHUNKS, REPLICA_EXPIRY_MS, START_MS, SYNC_MAX, SYNC_WINDOW_MS,
};
use crate::distro::membership::{MemberState, Membership, Report};
use crate::distro::record::{Bucketed, MemberIndex, Origin, RecordKey, Stamp};
use crate::distro::shard::{Change, DistroShard, Item, ShardSettings, Store};
use crate::limits::{
    DISTRO_CALL_TIMEOUT_MS, DISTRO_SNAPSHOT_CHUNKS_IN_FLIGHT, DISTRO_SNAPSHOT_PEER_WAIT_MS,
    MEMBER_REPORT_TIMEOUT_MS,
};

/// A member's registry, as far as Distro sees it: one value per record.
#[derive(Debug, Default, Clone, PartialEq)]
pub(super) struct Values(pub(super) BTreeMap<RecordKey, Value>);

impl Store for Values {
    type Value = Value;
    fn value(&self, key: &RecordKey) -> Option<Value> {
        self.0.get(key).copied()
    }
}

pub(super) fn sort_items(items: &mut [Item<Value>]) {
    items.sort_by(|a, b| a.key().cmp(b.key()));
}

fn change_key(change: &Change<Value>) -> &RecordKey {
    match change {
        Change::Put { key, .. }
        | Change::Remove { key }
        | Change::Own { key }
        | Change::Disown { key } => key,
    }
}

/// A joining member's snapshot load.
pub(super) struct Join {
    pub(super) source: Option<MemberIndex>,
    /// The peer that failed last: another UP peer is preferred.
    pub(super) avoid: Option<MemberIndex>,
    /// First buckets of the chunks still to load (popped from the end).
    pub(super) todo: Vec<u16>,
    pub(super) in_flight: usize,
    loaded: usize,
}

impl Join {
    fn new() -> Join {
        Join {
            source: None,
            avoid: None,
            todo: (0..CHUNKS as u16).rev().map(|c| c * CHUNK).collect(),
            in_flight: 0,
            loaded: 0,
        }
    }
}

/// One run of one member: what a crash loses.
pub(super) struct Node {
    pub(super) origin: Origin,
    /// This machine's wall clock minus virtual time.
    offset: i64,
    pub(super) membership: Membership,
    pub(super) shard: DistroShard,
    pub(super) store: Values,
    last_version: u64,
    applied_epoch: u64,
    /// When the armed sync window fires.
    sync_at: Option<u64>,
    started_at: u64,
    pub(super) join: Join,
}

impl Node {
    pub(super) fn new(
        origin: Origin,
        offset: i64,
        addresses: Vec<String>,
        outbox_max: usize,
        now: u64,
    ) -> Node {
        let settings = ShardSettings {
            replica_expiry_ms: REPLICA_EXPIRY_MS,
            outbox_records_max: outbox_max,
        };
        let members = addresses.len();
        Node {
            origin,
            offset,
            membership: Membership::new(origin, addresses),
            shard: DistroShard::new(origin, members, settings),
            store: Values::default(),
            last_version: 0,
            applied_epoch: 0,
            sync_at: None,
            started_at: now,
            join: Join::new(),
        }
    }

    pub(super) fn wall(&self, now: u64) -> u64 {
        now.saturating_add_signed(self.offset)
    }

    pub(super) fn ready(&self) -> bool {
        self.membership.self_state() == MemberState::Up
    }

    pub(super) fn report(&self) -> Report {
        Report {
            origin: self.origin,
            state: self.membership.self_state(),
            raft_leader: 0,
            raft_term: 0,
        }
    }

    /// `max(last + 1, wall)`, and newer than the record's current stamp.
    fn next_version(&mut self, now: u64, key: &RecordKey) -> u64 {
        let above = self.shard.stamp(key).map_or(0, |s| s.version + 1);
        let version = (self.last_version + 1).max(self.wall(now)).max(above);
        self.last_version = version;
        version
    }

    pub(super) fn put(&mut self, now: u64, key: RecordKey, value: Value) -> Stamp {
        self.store.0.insert(key.clone(), value);
        let version = self.next_version(now, &key);
        self.shard.local_put(key, version)
    }

    /// Removes the record; returns the stamp of the removal (if there was a record).
    pub(super) fn remove(&mut self, key: &RecordKey) -> Option<Stamp> {
        let held = self.shard.stamp(key);
        self.store.0.remove(key);
        self.shard.local_remove(key);
        held.map(|held| Stamp {
            version: held.version + 1,
            origin: self.origin,
        })
    }

    /// An adopted record: re-stamped by this member's clock, as the server does.
    fn restamp(&mut self, now: u64, key: RecordKey) -> Stamp {
        let version = self.next_version(now, &key);
        self.shard.local_put(key, version)
    }
}

/// The member glue: what the server does with the state machines' outputs and timers.
impl Sim {
    /// Applies shard changes to the member's store (sorted: the shard's order is hash order).
    pub(super) fn apply(&mut self, m: MemberIndex, mut changes: Vec<Change<Value>>) {
        changes.sort_by(|a, b| change_key(a).cmp(change_key(b)));
        let now = self.now;
        for change in changes {
            let node = self.node(m);
            let (key, code) = match change {
                Change::Put { key, value, stamp } => {
                    node.store.0.insert(key.clone(), value);
                    self.note(|| format!("{m} put {key:?} {stamp:?} = {value}"));
                    (key, 1)
                }
                Change::Remove { key } => {
                    node.store.0.remove(&key);
                    self.note(|| format!("{m} remove {key:?}"));
                    (key, 2)
                }
                Change::Own { key } => {
                    let stamp = node.restamp(now, key.clone());
                    let value = node.store.0.get(&key).copied();
                    debug_assert!(value.is_some(), "an owned record has a value");
                    let cause = Cause::Adopt {
                        ready: node.ready(),
                    };
                    let creation = Creation {
                        stamp,
                        value,
                        cause,
                    };
                    self.note(|| format!("{m} adopts {key:?} {stamp:?} = {value:?}"));
                    self.model.created(key.clone(), creation);
                    bump(&mut self.stats, "adoptions");
                    (key, 3)
                }
                Change::Disown { key } => (key, 4),
            };
            self.mix(&[u64::from(m), key.stable_hash(), code]);
        }
        self.arm_if_outgoing(m);
    }

    pub(super) fn arm_if_outgoing(&mut self, m: MemberIndex) {
        if self.node(m).shard.has_outgoing() {
            self.arm_sync(m, SYNC_WINDOW_MS);
        }
    }

    pub(super) fn arm_sync(&mut self, m: MemberIndex, delay: u64) {
        let at = self.now + delay;
        let node = self.node(m);
        if node.sync_at.is_some_and(|armed| armed <= at) {
            return;
        }
        node.sync_at = Some(at);
        self.timer(m, at, Timer::Sync);
    }

    pub(super) fn sync_window(&mut self, m: MemberIndex) {
        let now = self.now;
        let node = self.node(m);
        if node.sync_at != Some(now) {
            return; // superseded by an earlier window
        }
        node.sync_at = None;
        let targets = node.membership.sync_targets();
        let mut batches = Vec::new();
        for (peer, _) in targets.iter().enumerate().filter(|(_, &t)| t) {
            let peer = peer as MemberIndex;
            let mut items = node.shard.take_sync(peer, SYNC_MAX, &node.store);
            assert!(
                items.len() < SYNC_MAX,
                "the sim keeps outboxes below one message"
            );
            if !items.is_empty() {
                sort_items(&mut items);
                batches.push((peer, items));
            }
        }
        let outgoing = node.shard.has_outgoing();
        for (peer, items) in batches {
            let msg = Msg::Sync(items.clone());
            self.call(m, peer, msg, CallKind::Sync(items), DISTRO_CALL_TIMEOUT_MS);
        }
        if outgoing {
            self.arm_sync(m, SYNC_WINDOW_MS);
        }
    }

    pub(super) fn report_round(&mut self, m: MemberIndex) {
        let node = self.node(m);
        let report = node.report();
        let peers: Vec<MemberIndex> = node.membership.peer_indices().collect();
        for peer in peers {
            let msg = Msg::Report(report);
            self.call(m, peer, msg, CallKind::Report, MEMBER_REPORT_TIMEOUT_MS);
        }
    }

    pub(super) fn tick(&mut self, m: MemberIndex) {
        let now = self.now;
        let node = self.node(m);
        let wall = node.wall(now);
        node.membership.tick(wall);
        self.refresh(m);
        self.join_step(m);
    }

    /// A new membership epoch reaches the shard.
    fn refresh(&mut self, m: MemberIndex) {
        let node = self.node(m);
        let epoch = node.membership.epoch();
        if epoch == node.applied_epoch {
            return;
        }
        node.applied_epoch = epoch;
        let targets = node.membership.sync_targets();
        let healthy = node.membership.healthy();
        let incarnations = node.membership.incarnations();
        let changes = node.shard.on_membership(&targets, healthy, &incarnations);
        self.apply(m, changes);
    }

    pub(super) fn verify_round(&mut self, m: MemberIndex) {
        let changes = self.node(m).shard.rebalance();
        self.apply(m, changes);
        let node = self.node(m);
        let origin = node.origin;
        let digests = node.shard.own_digests();
        let targets = node.membership.sync_targets();
        for (peer, _) in targets.iter().enumerate().filter(|(_, &t)| t) {
            let msg = Msg::Verify {
                origin,
                digests: digests.clone(),
            };
            let peer = peer as MemberIndex;
            self.call(m, peer, msg, CallKind::Verify, DISTRO_CALL_TIMEOUT_MS);
        }
    }

    pub(super) fn resend(&mut self, m: MemberIndex, peer: MemberIndex, buckets: Vec<u16>) {
        let node = self.node(m);
        let origin = node.origin;
        let mut items = node.shard.own_bucket_items(&buckets, &node.store);
        sort_items(&mut items);
        for _ in &buckets {
            bump(&mut self.stats, "buckets resent");
        }
        let msg = Msg::Resend {
            origin,
            buckets,
            items,
        };
        self.call(m, peer, msg, CallKind::Resend, DISTRO_CALL_TIMEOUT_MS);
    }

    /// A starting member: find an UP peer and load its snapshot, or start empty when every
    /// peer answered and none is UP, or when the wait is over.
    fn join_step(&mut self, m: MemberIndex) {
        let now = self.now;
        let node = self.node(m);
        if node.ready() {
            return;
        }
        if node.join.source.is_none() {
            let ups = node.membership.up_peers();
            let avoid = node.join.avoid;
            let pick = ups.iter().copied().find(|&p| Some(p) != avoid);
            node.join.source = pick.or(ups.first().copied());
            if node.join.source.is_none() && node.join.in_flight == 0 {
                let waited = now - node.started_at >= DISTRO_SNAPSHOT_PEER_WAIT_MS;
                if waited || node.membership.all_peers_heard() {
                    self.start_unloaded(m, waited);
                }
                return;
            }
        }
        self.pump(m);
    }

    /// Ready without a (whole) snapshot: after the wait, or in a new cluster. A new cluster
    /// means every peer is STARTING: a peer UP or SUSPICIOUS holds records this member lacks.
    fn start_unloaded(&mut self, m: MemberIndex, waited: bool) {
        let node = self.node(m);
        let states: Vec<MemberState> = node
            .membership
            .peer_indices()
            .map(|p| node.membership.state_of(p))
            .collect();
        let loaded = node.join.loaded;
        node.membership.set_ready();
        let fresh = states.iter().all(|&s| s == MemberState::Starting);
        if !waited && !fresh {
            let at = self.now - START_MS;
            let why = format!("member {m} started as a new cluster at {at} ms seeing {states:?}");
            self.violations.push(why);
        }
        self.note(|| format!("{m} ready ({loaded} chunks, waited {waited}) sees {states:?}"));
        let how = if waited {
            "ready after wait"
        } else {
            "ready fresh"
        };
        bump(&mut self.stats, how);
    }

    fn pump(&mut self, m: MemberIndex) {
        let node = self.node(m);
        let Some(source) = node.join.source else {
            return;
        };
        let mut chunks = Vec::new();
        while node.join.in_flight < DISTRO_SNAPSHOT_CHUNKS_IN_FLIGHT {
            let Some(first) = node.join.todo.pop() else {
                break;
            };
            node.join.in_flight += 1;
            chunks.push(first);
        }
        for first in chunks {
            let msg = Msg::Snapshot(first);
            self.call(
                m,
                source,
                msg,
                CallKind::Snapshot(first),
                DISTRO_CALL_TIMEOUT_MS,
            );
        }
    }

    pub(super) fn on_chunk(&mut self, m: MemberIndex, peer: MemberIndex, items: Vec<Item<Value>>) {
        let now = self.now;
        let node = self.node(m);
        let wall = node.wall(now);
        let changes = node.shard.on_items(peer, items, wall);
        node.join.in_flight -= 1;
        node.join.loaded += 1;
        let (done, ready) = (node.join.loaded == CHUNKS, node.ready());
        self.apply(m, changes);
        if ready {
            return;
        }
        if done {
            self.node(m).membership.set_ready();
            self.note(|| format!("{m} ready (snapshot from {peer})"));
            bump(&mut self.stats, "ready by snapshot");
        } else {
            self.pump(m);
        }
    }
}
