//! `DistroShard`: one core's part of Distro, as a state machine without I/O or clock.
//!
//! It knows the stamp of every record the core holds (its own and replicas), which of them
//! this member answers for (`owned`: it runs their beat expiry), what each peer still has to
//! be sent (bounded outboxes), per-origin bucket digests for verify, and when each origin last
//! renewed its replicas. Instances themselves live in the registry; the shard asks a `Store`
//! for a record's value only when it sends it. Inputs are method calls that carry `now_ms`;
//! outputs are `Change`s for the registry and items to send, which the caller drains.

use hashbrown::HashMap;

use crate::distro::record::{
    BucketDigest, Bucketed, ClientId, MemberIndex, Origin, RecordKey, Stamp, DIGEST_BUCKETS,
};
use crate::distro::responsible::Healthy;

/// Where the shard reads a record's current value when it sends it.
pub trait Store {
    type Value: Clone;
    fn value(&self, key: &RecordKey) -> Option<Self::Value>;
}

/// A change the registry must make.
#[derive(Debug, Clone, PartialEq)]
pub enum Change<V> {
    /// Hold `value` as a replica of the record (its publisher answers elsewhere).
    Put {
        key: RecordKey,
        stamp: Stamp,
        value: V,
    },
    /// Forget the record.
    Remove { key: RecordKey },
    /// This member answers for the record now: run its beat expiry and re-stamp it (the
    /// registry reports it back through `local_put` with a new version).
    Own { key: RecordKey },
    /// Another member answers for the record now: stop its beat expiry here.
    Disown { key: RecordKey },
}

/// An item for a peer: a record's value, or its removal.
#[derive(Debug, Clone, PartialEq)]
pub enum Item<V> {
    Put {
        key: RecordKey,
        stamp: Stamp,
        value: V,
    },
    Delete {
        key: RecordKey,
        stamp: Stamp,
    },
}

impl<V> Item<V> {
    pub fn key(&self) -> &RecordKey {
        match self {
            Item::Put { key, .. } | Item::Delete { key, .. } => key,
        }
    }
}

/// What is still owed to one peer.
#[derive(Debug, Default)]
struct Outbox {
    /// Keys to send; `Some(stamp)` is a removal with its stamp, `None` the current value.
    pending: HashMap<RecordKey, Option<Stamp>>,
    /// Set when the outbox overflowed and was dropped: the peer's verify finds the difference.
    overflowed: bool,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    stamp: Stamp,
    /// This member answers for the record (runs its beat expiry, verifies it to peers).
    owned: bool,
}

/// The digests of one origin's records and how many records they cover.
#[derive(Debug)]
struct OriginDigests {
    records: usize,
    buckets: Vec<BucketDigest>,
}

/// Tunables of the shard (flags and limits, passed in so a simulation can pick its own).
#[derive(Debug, Clone, Copy)]
pub struct ShardSettings {
    /// Replicas of an origin that has not renewed them for this long are dropped.
    pub replica_expiry_ms: u64,
    /// Keys queued for one peer before the outbox is dropped in favour of verify.
    pub outbox_records_max: usize,
}

pub struct DistroShard {
    me: Origin,
    settings: ShardSettings,
    /// Record stamps, by bucket: snapshots and resends read whole buckets.
    buckets: Vec<HashMap<RecordKey, Entry>>,
    /// Bucket digests of the records each origin stamped; an origin with no record left has
    /// no entry (peers can name any origin, so entries must not outlive their records).
    digests: HashMap<Origin, OriginDigests>,
    /// When each origin (not this one) last showed it is alive (sync or verify).
    renewed_ms: HashMap<Origin, u64>,
    /// Outboxes by member index (this member's slot stays empty).
    outboxes: Vec<Outbox>,
    /// Members that get syncs: peers not known to be down.
    targets: Vec<bool>,
    healthy: Healthy,
    /// The newest incarnation seen of each member; connections of older ones are gone.
    incarnations: Vec<u64>,
    records: usize,
}

impl DistroShard {
    pub fn new(me: Origin, members: usize, settings: ShardSettings) -> DistroShard {
        assert!(
            usize::from(me.member) < members,
            "this member is in the list"
        );
        assert!(settings.outbox_records_max > 0);
        let mut incarnations = vec![0; members];
        incarnations[usize::from(me.member)] = me.incarnation;
        DistroShard {
            me,
            settings,
            buckets: (0..DIGEST_BUCKETS).map(|_| HashMap::new()).collect(),
            digests: HashMap::new(),
            renewed_ms: HashMap::new(),
            outboxes: (0..members).map(|_| Outbox::default()).collect(),
            targets: vec![false; members],
            healthy: Healthy::alone(me.member),
            incarnations,
            records: 0,
        }
    }

    pub fn me(&self) -> Origin {
        self.me
    }

    pub fn record_count(&self) -> usize {
        self.records
    }

    pub fn stamp(&self, key: &RecordKey) -> Option<Stamp> {
        self.entry(key).map(|e| e.stamp)
    }

    pub fn is_owned(&self, key: &RecordKey) -> bool {
        self.entry(key).is_some_and(|e| e.owned)
    }

    fn entry(&self, key: &RecordKey) -> Option<&Entry> {
        self.buckets[usize::from(key.bucket())].get(key)
    }

    /// Stores an entry, keeping digests and counts in step.
    fn set(&mut self, key: RecordKey, entry: Entry) {
        let hash = key.stable_hash();
        let bucket = usize::from(key.bucket());
        let old = self.buckets[bucket].insert(key, entry);
        match old {
            Some(old) => self.digest_remove(old.stamp, hash, bucket),
            None => self.records += 1,
        }
        let digests = self
            .digests
            .entry(entry.stamp.origin)
            .or_insert_with(|| OriginDigests {
                records: 0,
                buckets: vec![BucketDigest::default(); usize::from(DIGEST_BUCKETS)],
            });
        digests.records += 1;
        digests.buckets[bucket].add(entry.stamp.digest(hash));
    }

    fn unset(&mut self, key: &RecordKey) -> Option<Entry> {
        let bucket = usize::from(key.bucket());
        let old = self.buckets[bucket].remove(key)?;
        self.records -= 1;
        self.digest_remove(old.stamp, key.stable_hash(), bucket);
        Some(old)
    }

    /// Takes a record's digest out of its origin's; the origin's entry goes with its last
    /// record.
    fn digest_remove(&mut self, stamp: Stamp, key_hash: u64, bucket: usize) {
        let Some(digests) = self.digests.get_mut(&stamp.origin) else {
            debug_assert!(false, "a held record's origin has digests");
            return;
        };
        digests.buckets[bucket].remove(stamp.digest(key_hash));
        digests.records -= 1;
        if digests.records == 0 {
            self.digests.remove(&stamp.origin);
        }
    }

    /// A record this member changed (registered, updated, expired health): stamped with
    /// `version`, which must be newer than the record's stamp, and queued for every peer.
    pub fn local_put(&mut self, key: RecordKey, version: u64) -> Stamp {
        let stamp = Stamp {
            version,
            origin: self.me,
        };
        let old = self.stamp(&key);
        debug_assert!(
            old.is_none_or(|old| old < stamp),
            "{key:?}: {old:?} !< {stamp:?}"
        );
        self.queue(&key, None);
        self.set(key, Entry { stamp, owned: true });
        stamp
    }

    /// A record this member removed (deregistered, expired, connection gone): queued as a
    /// removal that wins over every stamp up to the record's own. Returns the removal's stamp:
    /// the caller's clock must move past it, so a later put of the key wins over the removal.
    pub fn local_remove(&mut self, key: &RecordKey) -> Option<Stamp> {
        let old = self.unset(key)?;
        let stamp = Stamp {
            version: old.stamp.version + 1,
            origin: self.me,
        };
        self.queue(key, Some(stamp));
        Some(stamp)
    }

    fn queue(&mut self, key: &RecordKey, removal: Option<Stamp>) {
        let limit = self.settings.outbox_records_max;
        for (member, outbox) in self.outboxes.iter_mut().enumerate() {
            if !self.targets[member] || outbox.overflowed {
                continue;
            }
            if outbox.pending.len() >= limit && !outbox.pending.contains_key(key) {
                // Verify and resend take over: memory stays bounded whatever the peer does.
                outbox.pending = HashMap::new();
                outbox.overflowed = true;
                continue;
            }
            outbox.pending.insert(key.clone(), removal);
        }
    }

    /// Whether anything waits for any peer.
    pub fn has_outgoing(&self) -> bool {
        self.outboxes.iter().any(|o| !o.pending.is_empty())
    }

    /// Whether anything waits for `peer`.
    pub fn has_outgoing_to(&self, peer: MemberIndex) -> bool {
        self.outboxes
            .get(usize::from(peer))
            .is_some_and(|o| !o.pending.is_empty())
    }

    // --- metrics ---
    /// What is still owed to each other member: (member index, records queued, whether the
    /// outbox overflowed since its last sync).
    pub fn outbox_lag(&self) -> Vec<(usize, usize, bool)> {
        let me = usize::from(self.me.member);
        let lag: Vec<_> = (self.outboxes.iter().enumerate())
            .filter(|(member, _)| *member != me)
            .map(|(member, outbox)| (member, outbox.pending.len(), outbox.overflowed))
            .collect();
        debug_assert!(lag.len() < self.outboxes.len());
        lag
    }

    pub fn member_count(&self) -> usize {
        self.outboxes.len()
    }

    /// Up to `max` items for `peer`, with the current values read from `store`.
    pub fn take_sync<S: Store>(
        &mut self,
        peer: MemberIndex,
        max: usize,
        store: &S,
    ) -> Vec<Item<S::Value>> {
        assert!(max > 0);
        let outbox = &mut self.outboxes[usize::from(peer)];
        outbox.overflowed = false;
        let keys: Vec<(RecordKey, Option<Stamp>)> = {
            let taken: Vec<RecordKey> = outbox.pending.keys().take(max).cloned().collect();
            taken
                .into_iter()
                .filter_map(|k| outbox.pending.remove_entry(&k))
                .collect()
        };
        let mut items = Vec::with_capacity(keys.len());
        for (key, removal) in keys {
            if let Some(stamp) = removal {
                items.push(Item::Delete { key, stamp });
                continue;
            }
            // A record another member stamped since (or one gone since) is not ours to send.
            let Some(entry) = self.entry(&key).copied() else {
                continue;
            };
            if entry.stamp.origin != self.me {
                continue;
            }
            if let Some(value) = store.value(&key) {
                items.push(Item::Put {
                    key,
                    stamp: entry.stamp,
                    value,
                });
            }
        }
        debug_assert!(items.len() <= max);
        items
    }

    /// Items that could not be delivered go back to the peer's outbox (unless newer ones
    /// replaced them meanwhile).
    pub fn requeue<V>(&mut self, peer: MemberIndex, items: Vec<Item<V>>) {
        let limit = self.settings.outbox_records_max;
        if !self.targets[usize::from(peer)] || self.outboxes[usize::from(peer)].overflowed {
            return;
        }
        for item in items {
            let (key, removal) = match item {
                // Gone (or stamped by another member) since: nothing to resend, and queueing
                // it would hide a failed removal requeued after it.
                Item::Put { key, .. } if self.stamp(&key).is_none_or(|s| s.origin != self.me) => {
                    continue;
                }
                Item::Put { key, .. } => (key, None),
                Item::Delete { key, stamp } => (key, Some(stamp)),
            };
            let outbox = &mut self.outboxes[usize::from(peer)];
            if outbox.pending.len() >= limit {
                outbox.pending = HashMap::new();
                outbox.overflowed = true;
                return;
            }
            outbox.pending.entry(key).or_insert(removal);
        }
    }

    /// Items a peer sent: each is kept when its stamp is newer than what this shard holds.
    pub fn on_items<V>(
        &mut self,
        from: MemberIndex,
        items: Vec<Item<V>>,
        now_ms: u64,
    ) -> Vec<Change<V>> {
        let mut changes = Vec::new();
        for item in items {
            let origin = match &item {
                Item::Put { stamp, .. } | Item::Delete { stamp, .. } => stamp.origin,
            };
            if origin.member == from && origin.incarnation >= self.incarnation_of(from) {
                self.renew(origin, now_ms);
            }
            match item {
                Item::Put { key, stamp, value } => {
                    if let Some(change) = self.on_put(key, stamp, value, now_ms) {
                        changes.push(change);
                    }
                }
                Item::Delete { key, stamp } => {
                    let held = self.stamp(&key);
                    if held.is_some_and(|held| held <= stamp) {
                        self.unset(&key);
                        changes.push(Change::Remove { key });
                    }
                }
            }
        }
        changes
    }

    fn on_put<V>(
        &mut self,
        key: RecordKey,
        stamp: Stamp,
        value: V,
        now_ms: u64,
    ) -> Option<Change<V>> {
        if self.is_stale_connection(&key.client) {
            return None;
        }
        if self.stamp(&key).is_some_and(|held| held >= stamp) {
            return None;
        }
        // Replicas of an origin never heard before count as renewed now, or a snapshot's
        // third-party records would expire at once.
        self.renewed_ms.entry(stamp.origin).or_insert(now_ms);
        self.set(
            key.clone(),
            Entry {
                stamp,
                owned: false,
            },
        );
        Some(Change::Put { key, stamp, value })
    }

    /// A connection of a member run that has since restarted: it died with that run.
    fn is_stale_connection(&self, client: &ClientId) -> bool {
        match client {
            ClientId::Connection { origin, .. } => {
                origin.incarnation < self.incarnation_of(origin.member)
            }
            ClientId::Http { .. } => false,
        }
    }

    fn incarnation_of(&self, member: MemberIndex) -> u64 {
        self.incarnations
            .get(usize::from(member))
            .copied()
            .unwrap_or(0)
    }

    /// `origin` is alive: its replicas here are renewed.
    pub fn renew(&mut self, origin: Origin, now_ms: u64) {
        if origin != self.me {
            self.renewed_ms.insert(origin, now_ms);
        }
    }

    /// The digests of the records this member stamped, for verify.
    pub fn own_digests(&self) -> Vec<BucketDigest> {
        self.digests_of(self.me)
    }

    /// The digests of the records `origin` stamped, as this shard holds them.
    pub fn digests_of(&self, origin: Origin) -> Vec<BucketDigest> {
        self.digests
            .get(&origin)
            .map(|d| d.buckets.clone())
            .unwrap_or_else(|| vec![BucketDigest::default(); usize::from(DIGEST_BUCKETS)])
    }

    /// This member's records in `buckets`, with values, for a peer whose digests differ.
    pub fn own_bucket_items<S: Store>(&self, buckets: &[u16], store: &S) -> Vec<Item<S::Value>> {
        self.items_in(buckets.iter().copied(), Some(self.me), store)
    }

    /// The records in `buckets` (only those `origin` stamped, if given), with their values.
    fn items_in<S: Store>(
        &self,
        buckets: impl Iterator<Item = u16>,
        origin: Option<Origin>,
        store: &S,
    ) -> Vec<Item<S::Value>> {
        let mut items = Vec::new();
        for bucket in buckets {
            let Some(map) = self.buckets.get(usize::from(bucket)) else {
                continue;
            };
            for (key, entry) in map {
                if origin.is_some_and(|o| o != entry.stamp.origin) {
                    continue;
                }
                if let Some(value) = store.value(key) {
                    items.push(Item::Put {
                        key: key.clone(),
                        stamp: entry.stamp,
                        value,
                    });
                }
            }
        }
        items
    }

    /// A resend of `origin`'s records in `buckets`: what this shard holds of `origin` there and
    /// the resend does not list is gone at the origin; the listed items apply as usual.
    pub fn on_resend<V>(
        &mut self,
        origin: Origin,
        buckets: &[u16],
        items: Vec<Item<V>>,
        now_ms: u64,
    ) -> Vec<Change<V>> {
        debug_assert_ne!(origin, self.me, "a member never resends to itself");
        let mut gone = Vec::new();
        let listed: hashbrown::HashSet<&RecordKey> = items.iter().map(Item::key).collect();
        for &bucket in buckets {
            let Some(map) = self.buckets.get(usize::from(bucket)) else {
                continue;
            };
            for (key, entry) in map {
                if entry.stamp.origin == origin && !listed.contains(key) {
                    gone.push(key.clone());
                }
            }
        }
        drop(listed);
        let mut changes = Vec::with_capacity(gone.len());
        for key in gone {
            self.unset(&key);
            changes.push(Change::Remove { key });
        }
        changes.extend(self.on_items(origin.member, items, now_ms));
        changes
    }

    /// Every record in `buckets` whatever its origin, for a joining member's snapshot.
    pub fn snapshot_items<S: Store>(
        &self,
        buckets: std::ops::Range<u16>,
        store: &S,
    ) -> Vec<Item<S::Value>> {
        self.items_in(buckets, None, store)
    }

    /// New membership: which peers get syncs, who is healthy, each member's newest run.
    /// Returns what changes here (connections of restarted members, adoption).
    pub fn on_membership<V>(
        &mut self,
        targets: &[bool],
        healthy: Healthy,
        incarnations: &[u64],
    ) -> Vec<Change<V>> {
        assert_eq!(targets.len(), self.outboxes.len());
        assert_eq!(incarnations.len(), self.incarnations.len());
        for (member, &target) in targets.iter().enumerate() {
            let is_me = member == usize::from(self.me.member);
            if !target || is_me {
                self.outboxes[member] = Outbox::default();
            }
            self.targets[member] = target && !is_me;
        }
        // A flap that leaves the healthy list as it was (UP <-> SUSPICIOUS) moves nothing:
        // skip the scan of every record.
        let moved = self.healthy != healthy;
        self.healthy = healthy;
        let mut changes = Vec::new();
        for (member, &incarnation) in incarnations.iter().enumerate() {
            if incarnation > self.incarnations[member] && member != usize::from(self.me.member) {
                self.incarnations[member] = incarnation;
                changes.extend(self.drop_stale_connections(member as MemberIndex));
            }
        }
        if moved {
            changes.extend(self.rebalance());
        }
        changes
    }

    fn drop_stale_connections<V>(&mut self, member: MemberIndex) -> Vec<Change<V>> {
        let mut stale = Vec::new();
        for map in &self.buckets {
            for key in map.keys() {
                if matches!(&key.client, ClientId::Connection { origin, .. } if origin.member == member)
                    && self.is_stale_connection(&key.client)
                {
                    stale.push(key.clone());
                }
            }
        }
        stale
            .into_iter()
            .map(|key| {
                self.unset(&key);
                Change::Remove { key }
            })
            .collect()
    }

    /// HTTP clients go to the member the hash picks among the healthy: this member adopts
    /// the ones that became its own and lets go of the ones that moved away. Run on every
    /// membership change and every verify round (a record may arrive after the change).
    pub fn rebalance<V>(&mut self) -> Vec<Change<V>> {
        let mut changes = Vec::new();
        for map in &mut self.buckets {
            for (key, entry) in map.iter_mut() {
                let ClientId::Http { ip, port } = &key.client else {
                    continue;
                };
                let mine = self.healthy.responsible_for(ip, *port) == self.me.member;
                if mine && !entry.owned {
                    entry.owned = true;
                    changes.push(Change::Own { key: key.clone() });
                } else if !mine && entry.owned {
                    entry.owned = false;
                    changes.push(Change::Disown { key: key.clone() });
                }
            }
        }
        changes
    }

    /// Drops the replicas of origins silent for longer than the expiry (a crashed member's
    /// gRPC clients; its HTTP clients were adopted by then).
    pub fn expire<V>(&mut self, now_ms: u64) -> Vec<Change<V>> {
        let expiry_ms = self.settings.replica_expiry_ms;
        let silent: Vec<Origin> = self
            .renewed_ms
            .iter()
            .filter(|(_, &at)| now_ms.saturating_sub(at) > expiry_ms)
            .map(|(&origin, _)| origin)
            .collect();
        let mut changes = Vec::new();
        for origin in silent {
            self.renewed_ms.remove(&origin);
            let mut gone = Vec::new();
            for map in &self.buckets {
                for (key, entry) in map {
                    if entry.stamp.origin == origin && !entry.owned {
                        gone.push(key.clone());
                    }
                }
            }
            for key in gone {
                self.unset(&key);
                changes.push(Change::Remove { key });
            }
        }
        changes
    }

    /// (key, stamp) of every record, for tests and the simulation's invariant.
    pub fn stamps(&self) -> Vec<(RecordKey, Stamp, bool)> {
        let mut all: Vec<(RecordKey, Stamp, bool)> = self
            .buckets
            .iter()
            .flat_map(|m| m.iter().map(|(k, e)| (k.clone(), e.stamp, e.owned)))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }
}

/// The buckets whose digests differ.
pub fn mismatched(ours: &[BucketDigest], theirs: &[BucketDigest]) -> Vec<u16> {
    let mut buckets = Vec::new();
    for (index, (a, b)) in ours.iter().zip(theirs.iter()).enumerate() {
        if a != b {
            buckets.push(index as u16);
        }
    }
    if ours.len() != theirs.len() {
        // A malformed digest list: everything it does not cover counts as different.
        let covered = ours.len().min(theirs.len());
        buckets.extend((covered..usize::from(DIGEST_BUCKETS)).map(|b| b as u16));
    }
    buckets
}

/// Sums per-core digests into one member-wide list.
pub fn merge_digests(total: &mut Vec<BucketDigest>, part: &[BucketDigest]) {
    if total.is_empty() {
        *total = vec![BucketDigest::default(); usize::from(DIGEST_BUCKETS)];
    }
    for (sum, digest) in total.iter_mut().zip(part) {
        sum.merge(*digest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::naming::key::ServiceKey;

    struct Values(HashMap<RecordKey, u32>);

    impl Store for Values {
        type Value = u32;
        fn value(&self, key: &RecordKey) -> Option<u32> {
            self.0.get(key).copied()
        }
    }

    fn origin(member: MemberIndex) -> Origin {
        Origin {
            member,
            incarnation: 1,
        }
    }

    fn http(port: u16) -> RecordKey {
        RecordKey {
            service: ServiceKey::from_parts("public", "DEFAULT_GROUP", "svc"),
            client: ClientId::Http {
                ip: "10.0.0.1".into(),
                port,
            },
        }
    }

    fn settings() -> ShardSettings {
        ShardSettings {
            replica_expiry_ms: 1_000,
            outbox_records_max: 4,
        }
    }

    fn shard(member: MemberIndex) -> DistroShard {
        let mut shard = DistroShard::new(origin(member), 2, settings());
        let healthy = Healthy::new(vec![("a".into(), 0), ("b".into(), 1)]);
        let _: Vec<Change<u32>> = shard.on_membership(&[true, true], healthy, &[1, 1]);
        shard
    }

    /// A put travels to the peer, a newer stamp wins there, an older or equal one does not,
    /// and a removal beats the stamp it was made from.
    #[test]
    fn sync_keeps_the_newest_stamp() {
        let (mut a, mut b) = (shard(0), shard(1));
        let mut store = Values(HashMap::new());
        store.0.insert(http(1), 7);
        a.local_put(http(1), 10);
        let items = a.take_sync(1, 100, &store);
        assert_eq!(items.len(), 1);
        let changes = b.on_items(0, items.clone(), 0);
        assert!(matches!(changes[..], [Change::Put { value: 7, .. }]));
        assert!(
            b.on_items(0, items, 0).is_empty(),
            "a duplicate changes nothing"
        );
        assert_eq!(a.own_digests(), b.digests_of(origin(0)));
        a.local_remove(&http(1));
        let removal = a.take_sync(1, 100, &store);
        assert!(matches!(removal[..], [Item::Delete { .. }]));
        assert!(matches!(
            b.on_items(0, removal, 0)[..],
            [Change::Remove { .. }]
        ));
        assert_eq!(b.record_count(), 0);
        assert!(b.digests.is_empty(), "no digests outlive their records");
    }

    /// An outbox past its limit is dropped and marked; verify finds the difference and a
    /// bucket resend repairs it, including records the peer holds that the origin dropped.
    #[test]
    fn overflow_falls_back_to_verify() {
        let (mut a, mut b) = (shard(0), shard(1));
        let mut store = Values(HashMap::new());
        for port in 1..=6 {
            store.0.insert(http(port), u32::from(port));
            a.local_put(http(port), u64::from(port));
        }
        assert!(
            a.take_sync(1, 100, &store).is_empty(),
            "overflowed outbox holds nothing"
        );
        let zombie = RecordKey {
            client: ClientId::Http {
                ip: "10.9.9.9".into(),
                port: 9,
            },
            ..http(0)
        };
        let put = Item::Put {
            key: zombie.clone(),
            stamp: Stamp {
                version: 1,
                origin: origin(0),
            },
            value: 0,
        };
        b.on_items(0, vec![put], 0);
        let buckets = mismatched(&a.own_digests(), &b.digests_of(origin(0)));
        assert!(!buckets.is_empty());
        let items = a.own_bucket_items(&buckets, &store);
        b.on_resend(origin(0), &buckets, items, 0);
        assert_eq!(a.own_digests(), b.digests_of(origin(0)));
        assert!(b.stamp(&zombie).is_none());
    }

    /// Replicas of a silent origin expire; the adopting member owns HTTP clients it is now
    /// responsible for and disowns those that moved away.
    #[test]
    fn expiry_and_rebalance() {
        let (mut a, mut b) = (shard(0), shard(1));
        let store = Values((1..=4).map(|p| (http(p), 1)).collect());
        for port in 1..=4 {
            a.local_put(http(port), 5);
        }
        let synced = a.take_sync(1, 100, &store);
        b.on_items(0, synced, 0);
        // Member 0 goes down: member 1 answers for everything.
        let changes: Vec<Change<u32>> = b.on_membership(&[false, true], Healthy::alone(1), &[1, 1]);
        let owned = changes
            .iter()
            .filter(|c| matches!(c, Change::Own { .. }))
            .count();
        let held = b.stamps().len();
        assert_eq!(held, 4);
        assert_eq!(owned, 4, "alone, member 1 answers for every HTTP client");
        let disowned: Vec<Change<u32>> = a.on_membership(&[true, true], Healthy::alone(0), &[1, 1]);
        assert!(disowned.iter().all(|c| !matches!(c, Change::Disown { .. })));
        // Not renewed past the expiry: replicas (not owned ones) go.
        let expired: Vec<Change<u32>> = b.expire(5_000);
        assert_eq!(expired.len(), held - owned);
    }
}
