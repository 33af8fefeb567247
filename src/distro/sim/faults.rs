//! Faults: crashes, partitions, one-way cuts, lossy periods; then healing.

use super::clients::Write;
use super::member::Node;
use super::net::Net;
use super::{bump, Event, Sim};
use crate::distro::record::{ClientId, MemberIndex, RecordKey, Stamp};

/// Faults: crashes, partitions, one-way cuts, lossy periods; then healing.
impl Sim {
    pub(super) fn on_fault(&mut self) {
        if !self.faults {
            return;
        }
        let now = self.now;
        match self.rng.below(100) {
            0..=34 => self.crash(),
            35..=59 if now >= self.net.partition_until => {
                let groups: Vec<u8> = (0..self.members())
                    .map(|_| self.rng.below(2) as u8)
                    .collect();
                self.net.groups = groups;
                self.net.partition_until = now + self.rng.range(1_000, 20_000);
                self.note(|| format!("partition {:?}", self.net.groups));
                bump(&mut self.stats, "partitions");
            }
            60..=74 if now >= self.net.cut_until => {
                let from = self.rng.below(u64::from(self.members())) as MemberIndex;
                let to = (from + 1 + self.rng.below(u64::from(self.members()) - 1) as MemberIndex)
                    % self.members();
                self.net.cut = (from, to);
                self.net.cut_until = now + self.rng.range(1_000, 15_000);
                bump(&mut self.stats, "one-way cuts");
            }
            75..=89 => {
                self.net.lossy_until = now + self.rng.range(1_000, 10_000);
                bump(&mut self.stats, "lossy periods");
            }
            _ => {}
        }
        let next = now + self.rng.range(1_000, 6_000);
        self.schedule(next, Event::Fault);
    }

    fn crash(&mut self) {
        let live: Vec<MemberIndex> = (0..self.members())
            .filter(|&m| self.nodes[usize::from(m)].is_some())
            .collect();
        if live.len() < 2 {
            return;
        }
        let m = self.rng.pick(&live).expect("live members");
        self.mark_exposed(m);
        let origin = self.node(m).origin;
        let gone: Vec<ClientId> = self
            .model
            .conns
            .iter()
            .filter(|c| matches!(c, ClientId::Connection { origin: o, .. } if *o == origin))
            .cloned()
            .collect();
        for client in gone {
            self.model.conns.remove(&client);
            self.model.conn_records.retain(|k, _| k.client != client);
            self.model.dead.insert(client);
        }
        self.nodes[usize::from(m)] = None;
        self.note(|| format!("crash {m}"));
        bump(&mut self.stats, "crashes");
        let back = self.now + self.rng.range(500, 15_000);
        self.schedule(back, Event::Restart(m));
    }

    /// Writes the crashing member holds (or applied) that some other live member does not
    /// have yet may be lost with it: a write is only sure to survive once every live member
    /// has it (replicas of a dead origin expire unless the responsible member holds them).
    fn mark_exposed(&mut self, m: MemberIndex) {
        let node = self.nodes[usize::from(m)].as_ref().expect("a live member");
        let keys: Vec<RecordKey> = self
            .model
            .http
            .iter()
            .filter(|(key, write)| !write.exposed && holds_write(node, key, write))
            .map(|(key, _)| key.clone())
            .collect();
        for key in keys {
            let write = self.model.http[&key];
            let everywhere = self
                .nodes
                .iter()
                .flatten()
                .filter(|n| n.origin.member != m)
                .all(|n| has_write(n.shard.stamp(&key), &write));
            if !everywhere {
                self.model.http.get_mut(&key).expect("a write").exposed = true;
            }
        }
    }

    pub(super) fn heal(&mut self) {
        self.faults = false;
        self.net = Net {
            groups: vec![0; self.nodes.len()],
            calm: true,
            ..Net::default()
        };
        for m in 0..self.members() {
            if self.nodes[usize::from(m)].is_none() {
                self.start_node(m);
            }
        }
        self.note(|| "heal".into());
    }
}

/// Whether `node` applied `write` or holds it (or something newer).
fn holds_write(node: &Node, key: &RecordKey, write: &Write) -> bool {
    let applied = (write.member, write.run) == (node.origin.member, node.origin.incarnation);
    applied || (write.value.is_some() && has_write(node.shard.stamp(key), write))
}

/// Whether a member holding `held` has `write` (or something newer).
fn has_write(held: Option<Stamp>, write: &Write) -> bool {
    match (write.value, write.stamp) {
        (Some(_), Some(stamp)) => held.is_some_and(|held| held >= stamp),
        (None, Some(stamp)) => held.is_none_or(|held| held > stamp),
        _ => true,
    }
}
