//! The invariant checked once the cluster is quiet, and why a client's write was lost.

use std::collections::BTreeMap;

use super::clients::{Cause, Creation, Write};
use super::member::Node;
use super::{bump, Sim, Value};
use crate::distro::membership::MemberState;
use crate::distro::record::{ClientId, MemberIndex, RecordKey, Stamp};

/// The invariant, checked once the cluster is quiet.
impl Sim {
    pub(super) fn check(&mut self) -> Result<(), String> {
        if let Some(violation) = self.violations.first() {
            return Err(violation.clone());
        }
        self.check_membership()?;
        self.check_converged()?;
        self.check_owners()?;
        self.check_connections()?;
        self.check_http_writes()
    }

    fn live(&self) -> impl Iterator<Item = (MemberIndex, &Node)> {
        self.nodes
            .iter()
            .enumerate()
            .filter_map(|(m, n)| n.as_ref().map(|n| (m as MemberIndex, n)))
    }

    fn reference(&self) -> &Node {
        self.nodes[0]
            .as_ref()
            .expect("every member is up at the end")
    }

    /// Every member is up and sees every other one UP.
    fn check_membership(&self) -> Result<(), String> {
        if self.live().count() != self.nodes.len() {
            return Err("a member is still down at the end".into());
        }
        for (m, node) in self.live() {
            for peer in 0..self.members() {
                let state = node.membership.state_of(peer);
                if state != MemberState::Up {
                    return Err(format!("member {m} sees member {peer} {}", state.name()));
                }
            }
        }
        Ok(())
    }

    /// Every member holds the same (key, stamp) set and the same values, and its store and
    /// shard hold the same keys.
    fn check_converged(&self) -> Result<(), String> {
        let reference = self.reference();
        let expected: BTreeMap<RecordKey, Stamp> = reference
            .shard
            .stamps()
            .into_iter()
            .map(|(k, s, _)| (k, s))
            .collect();
        for (m, node) in self.live() {
            let held: BTreeMap<RecordKey, Stamp> = node
                .shard
                .stamps()
                .into_iter()
                .map(|(k, s, _)| (k, s))
                .collect();
            if let Some(key) = first_difference(&expected, &held) {
                let (a, b) = (expected.get(key), held.get(key));
                return Err(format!(
                    "members 0 and {m} differ on {key:?}: {a:?} vs {b:?}"
                ));
            }
            if let Some(key) = first_difference(&reference.store.0, &node.store.0) {
                let (a, b) = (reference.store.0.get(key), node.store.0.get(key));
                return Err(format!(
                    "stores of 0 and {m} differ on {key:?}: {a:?} vs {b:?}"
                ));
            }
            if !held.keys().eq(node.store.0.keys()) {
                return Err(format!("member {m}: store and shard hold different keys"));
            }
        }
        Ok(())
    }

    /// Members agree on the healthy list; each record is owned by exactly one member: an HTTP
    /// client's by the responsible one, a connection's by the member run that holds it.
    fn check_owners(&self) -> Result<(), String> {
        let healthy = self.reference().membership.healthy();
        for (m, node) in self.live() {
            if node.membership.healthy() != healthy {
                return Err(format!("member {m} has another healthy list"));
            }
        }
        for (key, _, _) in self.reference().shard.stamps() {
            let owners: Vec<MemberIndex> = self
                .live()
                .filter(|(_, n)| n.shard.is_owned(&key))
                .map(|(m, _)| m)
                .collect();
            let expected = match key.client.http_tag() {
                Some(tag) => healthy.responsible(&tag),
                None => Sim::connection_member(&key),
            };
            if owners != [expected] {
                return Err(format!("{key:?} is owned by {owners:?}, not [{expected}]"));
            }
        }
        Ok(())
    }

    /// Every record of a live connection is everywhere with its last value; no record of a
    /// dead connection (disconnected, or its member run crashed) remains; no HTTP record
    /// exists that no client wrote.
    fn check_connections(&self) -> Result<(), String> {
        for (m, node) in self.live() {
            for (key, value) in &node.store.0 {
                let known = match &key.client {
                    ClientId::Http { .. } => self.model.http.contains_key(key),
                    ClientId::Connection { .. } => self.model.conn_records.get(key) == Some(value),
                };
                if !known {
                    let dead = self.model.dead.contains(&key.client);
                    return Err(format!("member {m} holds {key:?} = {value} (dead: {dead})"));
                }
            }
            for (key, value) in &self.model.conn_records {
                if node.store.0.get(key) != Some(value) {
                    return Err(format!(
                        "member {m} lacks {key:?} = {value} of a live connection"
                    ));
                }
            }
        }
        Ok(())
    }

    /// Each HTTP client's last acknowledged write is what the members hold, or its loss is
    /// one the protocol allows (counted by kind; see `classify`).
    fn check_http_writes(&mut self) -> Result<(), String> {
        let reference = self.reference();
        let mut verdicts = Vec::new();
        for (key, write) in &self.model.http {
            let held = reference.shard.stamp(key);
            let value = reference.store.0.get(key).copied();
            let created = self.model.created.get(key).map_or(&[][..], Vec::as_slice);
            let verdict = classify(key, write, held, value, created)?;
            if self.log && verdict != "write kept" {
                eprintln!("{verdict}: {key:?} {write:?}, held {held:?} = {value:?}");
                eprintln!("  stamps made: {created:?}");
            }
            verdicts.push(verdict);
        }
        for verdict in verdicts {
            bump(&mut self.stats, verdict);
        }
        Ok(())
    }
}

fn first_difference<'a, V: PartialEq>(
    a: &'a BTreeMap<RecordKey, V>,
    b: &'a BTreeMap<RecordKey, V>,
) -> Option<&'a RecordKey> {
    a.keys()
        .chain(b.keys())
        .filter(|k| a.get(*k) != b.get(*k))
        .min()
}

/// Why the held state (`held`, `value`) of a record is or is not the client's last write:
/// kept; lost with a member that crashed before the write was everywhere; or superseded by a
/// stamp larger than the write's that some member made without having seen the write (the
/// last-writer-wins and no-tombstone weaknesses). Anything else is an error.
fn classify(
    key: &RecordKey,
    write: &Write,
    held: Option<Stamp>,
    value: Option<Value>,
    created: &[Creation],
) -> Result<&'static str, String> {
    if value == write.value {
        return Ok("write kept");
    }
    if write.exposed {
        return Ok("lost: a member holding it crashed before it was everywhere");
    }
    let Some(wrote) = write.stamp else {
        return Ok("lost: a delete found nothing to remove");
    };
    let unexplained = || format!("{key:?}: last write {write:?}, held {held:?} = {value:?}");
    let deleted_since = |s: Stamp| created.iter().any(|c| c.value.is_none() && c.stamp >= s);
    let Some(held) = held else {
        return match deleted_since(wrote) {
            true => Ok("superseded: an earlier delete had a larger stamp"),
            false => Err(format!("{}: removed without a delete", unexplained())),
        };
    };
    let Some(source) = created.iter().find(|c| c.stamp == held && c.value == value) else {
        return Err(format!("{}: this state was never written", unexplained()));
    };
    if held < wrote {
        return match deleted_since(wrote) {
            true => Ok("resurrected: an older value came back after a delete"),
            false => Err(format!("{}: an older stamp won", unexplained())),
        };
    }
    // An adoption re-stamps a value some client wrote: did that write itself outrank ours?
    let written = created
        .iter()
        .find(|c| c.cause == Cause::Client && c.value == value)
        .map(|c| c.stamp);
    Ok(match source.cause {
        Cause::Adopt { .. } if written.is_none_or(|w| w > wrote) => {
            "superseded: an earlier write had a larger stamp"
        }
        Cause::Client => "superseded: an earlier write had a larger stamp",
        Cause::Adopt { ready: true } => "superseded: adoption re-stamped an older value",
        Cause::Adopt { ready: false } => "superseded: a starting member adopted an older value",
    })
}
