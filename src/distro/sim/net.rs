//! The seeded RNG and the network: messages, RPCs with deadlines, faults in force.

use super::member::sort_items;
use super::{bump, Event, Sim, Value, CHUNK};
use crate::distro::membership::Report;
use crate::distro::record::{BucketDigest, MemberIndex, Origin};
use crate::distro::shard::{mismatched, Item};
use crate::limits::{DISTRO_RESEND_BUCKETS_PER_ROUND_MAX, DISTRO_SYNC_RETRY_MS};

/// splitmix64: tiny, seedable, good enough to pick faults.
pub(super) struct Rng(pub(super) u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub(super) fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0);
        self.next() % n
    }

    pub(super) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    pub(super) fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1_000) < per_mille
    }

    pub(super) fn pick<T: Copy>(&mut self, items: &[T]) -> Option<T> {
        if items.is_empty() {
            return None;
        }
        Some(items[self.below(items.len() as u64) as usize])
    }
}

#[derive(Debug, Clone)]
pub(super) enum Msg {
    Sync(Vec<Item<Value>>),
    Report(Report),
    Verify {
        origin: Origin,
        digests: Vec<BucketDigest>,
    },
    Resend {
        origin: Origin,
        buckets: Vec<u16>,
        items: Vec<Item<Value>>,
    },
    Snapshot(u16),
}

#[derive(Debug, Clone)]
pub(super) enum Answer {
    Done,
    Report(Report),
    Buckets(Vec<u16>),
    Items(Vec<Item<Value>>),
    Refused,
}

#[derive(Debug)]
pub(super) enum CallKind {
    Sync(Vec<Item<Value>>),
    Report,
    Verify,
    Resend,
    Snapshot(u16),
}

/// An RPC waiting for its answer or its deadline.
#[derive(Debug)]
pub(super) struct Call {
    member: MemberIndex,
    run: u64,
    peer: MemberIndex,
    kind: CallKind,
}

/// Network faults in force.
#[derive(Default)]
pub(super) struct Net {
    /// Partition group of each member while `now < partition_until`.
    pub(super) groups: Vec<u8>,
    pub(super) partition_until: u64,
    /// A one-way cut (from, to) while `now < cut_until`.
    pub(super) cut: (MemberIndex, MemberIndex),
    pub(super) cut_until: u64,
    pub(super) lossy_until: u64,
    /// After healing: no loss, no duplicates, short delays.
    pub(super) calm: bool,
}

impl Net {
    pub(super) fn reachable(&self, now: u64, from: MemberIndex, to: MemberIndex) -> bool {
        let (f, t) = (usize::from(from), usize::from(to));
        if now < self.partition_until && self.groups[f] != self.groups[t] {
            return false;
        }
        !(now < self.cut_until && self.cut == (from, to))
    }
}

/// The network: RPCs with deadlines, whose requests and answers may be late, lost or doubled.
impl Sim {
    pub(super) fn call(
        &mut self,
        from: MemberIndex,
        to: MemberIndex,
        msg: Msg,
        kind: CallKind,
        timeout: u64,
    ) {
        let id = self.next_call;
        self.next_call += 1;
        let run = self.run_of(from).expect("a live caller");
        let call = Call {
            member: from,
            run,
            peer: to,
            kind,
        };
        self.calls.insert(id, call);
        self.schedule(self.now + timeout, Event::Timeout { call: id });
        bump(&mut self.stats, "calls");
        self.mix(&[u64::from(from), u64::from(to), id]);
        let Some(to_run) = self.run_of(to) else {
            return;
        };
        for at in self.fates(from, to) {
            let event = Event::Request {
                to,
                run: to_run,
                from,
                call: id,
                msg: msg.clone(),
            };
            self.schedule(at, event);
        }
    }

    /// When a message from `from` to `to` arrives: never, once, or twice.
    fn fates(&mut self, from: MemberIndex, to: MemberIndex) -> Vec<u64> {
        if !self.net.reachable(self.now, from, to) {
            return Vec::new();
        }
        let (drop, twice) = match (self.net.calm, self.now < self.net.lossy_until) {
            (true, _) => (0, 0),
            (false, true) => (300, 20),
            (false, false) => (10, 10),
        };
        if self.rng.chance(drop) {
            bump(&mut self.stats, "dropped");
            return Vec::new();
        }
        let mut times = vec![self.now + self.delay()];
        if self.rng.chance(twice) {
            bump(&mut self.stats, "duplicated");
            times.push(self.now + self.delay());
        }
        times
    }

    fn delay(&mut self) -> u64 {
        let roll = self.rng.below(1_000);
        if self.net.calm || roll < 930 {
            self.rng.below(51)
        } else if roll < 990 {
            self.rng.range(50, 500)
        } else {
            // Past every deadline: the caller gives up, the callee still acts on it.
            bump(&mut self.stats, "very late");
            self.rng.range(1_000, 5_000)
        }
    }

    pub(super) fn on_request(
        &mut self,
        to: MemberIndex,
        run: u64,
        from: MemberIndex,
        call: u64,
        msg: Msg,
    ) {
        if !self.is_run(to, run) || !self.net.reachable(self.now, from, to) {
            return;
        }
        let answer = self.serve(to, from, msg);
        for at in self.fates(to, from) {
            let answer = answer.clone();
            self.schedule(at, Event::Reply { call, answer });
        }
    }

    pub(super) fn on_reply(&mut self, id: u64, answer: Answer) {
        let Some(call) = self.calls.remove(&id) else {
            return;
        };
        if !self.is_run(call.member, call.run) {
            return;
        }
        match answer {
            Answer::Refused => self.on_failed(call),
            answer => self.on_answer(call, answer),
        }
    }

    /// The callee's side of every RPC.
    fn serve(&mut self, to: MemberIndex, from: MemberIndex, msg: Msg) -> Answer {
        let now = self.now;
        let node = self.node(to);
        let wall = node.wall(now);
        match msg {
            Msg::Sync(items) => {
                let changes = node.shard.on_items(from, items, wall);
                self.apply(to, changes);
                Answer::Done
            }
            Msg::Report(report) => {
                node.membership.on_report(report, wall);
                Answer::Report(node.report())
            }
            Msg::Verify { origin, digests } => {
                node.shard.renew(origin, wall);
                let mut buckets = mismatched(&node.shard.digests_of(origin), &digests);
                buckets.truncate(DISTRO_RESEND_BUCKETS_PER_ROUND_MAX);
                Answer::Buckets(buckets)
            }
            Msg::Resend {
                origin,
                buckets,
                items,
            } => {
                let changes = node.shard.on_resend(origin, &buckets, items, wall);
                self.apply(to, changes);
                Answer::Done
            }
            Msg::Snapshot(first) => {
                if !node.ready() {
                    return Answer::Refused;
                }
                let mut items = node.shard.snapshot_items(first..first + CHUNK, &node.store);
                sort_items(&mut items);
                Answer::Items(items)
            }
        }
    }

    fn on_answer(&mut self, call: Call, answer: Answer) {
        let now = self.now;
        match (call.kind, answer) {
            (CallKind::Report, Answer::Report(report)) => {
                let node = self.node(call.member);
                let wall = node.wall(now);
                node.membership.on_report(report, wall);
            }
            (CallKind::Verify, Answer::Buckets(buckets)) if !buckets.is_empty() => {
                self.resend(call.member, call.peer, buckets);
            }
            (CallKind::Snapshot(_), Answer::Items(items)) => {
                self.on_chunk(call.member, call.peer, items);
            }
            _ => {}
        }
    }

    pub(super) fn on_failed(&mut self, call: Call) {
        if !self.is_run(call.member, call.run) {
            return;
        }
        let now = self.now;
        let node = self.node(call.member);
        let wall = node.wall(now);
        match call.kind {
            CallKind::Sync(items) => {
                node.shard.requeue(call.peer, items);
                bump(&mut self.stats, "requeues");
                self.arm_sync(call.member, DISTRO_SYNC_RETRY_MS);
            }
            CallKind::Report => {
                node.membership.on_report_failed(call.peer, wall);
            }
            CallKind::Snapshot(first) => {
                let join = &mut node.join;
                join.in_flight -= 1;
                join.todo.push(first);
                if join.source == Some(call.peer) {
                    join.source = None;
                    join.avoid = Some(call.peer);
                }
            }
            CallKind::Verify | CallKind::Resend => {}
        }
    }
}
