//! HTTP clients and gRPC connections, and the model of what they wrote.

use std::collections::{BTreeMap, BTreeSet};

use super::member::Node;
use super::{bump, Event, Sim, Value, CONNECTIONS_MAX, SERVICES};
use crate::distro::record::{ClientId, MemberIndex, RecordKey, Stamp};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cause {
    Client,
    Adopt { ready: bool },
}

/// A stamp some member made for a record: a client write or an adoption re-stamp.
#[derive(Debug, Clone, Copy)]
pub(super) struct Creation {
    pub(super) stamp: Stamp,
    /// `None`: a removal.
    pub(super) value: Option<Value>,
    pub(super) cause: Cause,
}

/// The last acknowledged write of an HTTP client in one service.
#[derive(Debug, Clone, Copy)]
pub(super) struct Write {
    pub(super) value: Option<Value>,
    pub(super) member: MemberIndex,
    pub(super) run: u64,
    /// `None`: a removal where the member held no record.
    pub(super) stamp: Option<Stamp>,
    /// A member holding the write (or the one that applied it) crashed before every other
    /// live member had it: it may be lost.
    pub(super) exposed: bool,
}

/// What the clients did, to check the outcome against.
#[derive(Default)]
pub(super) struct Model {
    pub(super) http: BTreeMap<RecordKey, Write>,
    pub(super) created: BTreeMap<RecordKey, Vec<Creation>>,
    /// Live connections and their current records.
    pub(super) conns: BTreeSet<ClientId>,
    pub(super) conn_records: BTreeMap<RecordKey, Value>,
    pub(super) dead: BTreeSet<ClientId>,
    values: u64,
    connections: u64,
}

impl Model {
    fn fresh(&mut self) -> Value {
        self.values += 1;
        self.values
    }

    pub(super) fn created(&mut self, key: RecordKey, creation: Creation) {
        self.created.entry(key).or_default().push(creation);
    }
}

/// Clients: HTTP `ip:port` clients whose writes land on a random member and are forwarded to
/// the responsible one, and gRPC connections held by one member run.
impl Sim {
    pub(super) fn on_client(&mut self) {
        if !self.faults {
            return;
        }
        if self.rng.chance(600) {
            self.http_write();
        } else {
            self.connection_op();
        }
        let next = self.now + self.rng.range(1, self.profile.op_gap_max_ms);
        self.schedule(next, Event::Client);
    }

    fn ready_members(&self) -> Vec<MemberIndex> {
        (0..self.members())
            .filter(|&m| self.nodes[usize::from(m)].as_ref().is_some_and(Node::ready))
            .collect()
    }

    fn http_key(&mut self) -> RecordKey {
        let client = self.rng.below(self.profile.http_clients);
        let service = self.services[self.rng.below(SERVICES as u64) as usize].clone();
        let client = ClientId::Http {
            ip: format!("10.1.{}.{}", client / 8, client % 8).into(),
            port: 8080 + (client % 3) as u16,
        };
        RecordKey { service, client }
    }

    fn http_write(&mut self) {
        let Some(landing) = self.rng.pick(&self.ready_members()) else {
            return;
        };
        let key = self.http_key();
        let tag = key.client.http_tag().expect("an HTTP client");
        let target = self.node(landing).membership.healthy().responsible(&tag);
        let reachable = self.nodes[usize::from(target)].is_some()
            && self.net.reachable(self.now, landing, target)
            && self.net.reachable(self.now, target, landing);
        let member = if target == landing || reachable {
            target
        } else {
            bump(&mut self.stats, "http fallbacks");
            landing
        };
        let value = if self.rng.chance(250) {
            None
        } else {
            Some(self.model.fresh())
        };
        self.write_http(member, key, value);
    }

    /// The member applies the client's write locally: acknowledged.
    fn write_http(&mut self, m: MemberIndex, key: RecordKey, value: Option<Value>) {
        let now = self.now;
        let node = self.node(m);
        let run = node.origin.incarnation;
        let stamp = match value {
            Some(value) => Some(node.put(now, key.clone(), value)),
            None => node.remove(&key),
        };
        self.note(|| format!("{m} http write {key:?} = {value:?} {stamp:?}"));
        if let Some(stamp) = stamp {
            let cause = Cause::Client;
            self.model.created(
                key.clone(),
                Creation {
                    stamp,
                    value,
                    cause,
                },
            );
            self.mix(&[stamp.version, u64::from(m)]);
        }
        let write = Write {
            value,
            member: m,
            run,
            stamp,
            exposed: false,
        };
        self.model.http.insert(key, write);
        bump(&mut self.stats, "http writes");
        self.arm_if_outgoing(m);
    }

    fn connection_op(&mut self) {
        let live: Vec<ClientId> = self.model.conns.iter().cloned().collect();
        let roll = self.rng.below(100);
        if live.is_empty() || (roll < 20 && live.len() < CONNECTIONS_MAX) {
            self.connect();
            return;
        }
        let client = live[self.rng.below(live.len() as u64) as usize].clone();
        let service = self.services[self.rng.below(SERVICES as u64) as usize].clone();
        let key = RecordKey { service, client };
        if roll < 85 {
            let value = self.model.fresh();
            self.connection_put(key, value);
        } else if roll < 93 {
            self.connection_remove(&key);
        } else {
            self.disconnect(&key.client);
        }
    }

    fn connect(&mut self) {
        let Some(m) = self.rng.pick(&self.ready_members()) else {
            return;
        };
        self.model.connections += 1;
        let client = ClientId::Connection {
            origin: self.node(m).origin,
            connection: self.model.connections,
        };
        self.model.conns.insert(client.clone());
        let service = self.services[self.rng.below(SERVICES as u64) as usize].clone();
        let value = self.model.fresh();
        self.connection_put(RecordKey { service, client }, value);
    }

    pub(super) fn connection_member(key: &RecordKey) -> MemberIndex {
        match &key.client {
            ClientId::Connection { origin, .. } => origin.member,
            ClientId::Http { .. } => unreachable!("a connection record"),
        }
    }

    fn connection_put(&mut self, key: RecordKey, value: Value) {
        let m = Sim::connection_member(&key);
        let now = self.now;
        let stamp = self.node(m).put(now, key.clone(), value);
        self.mix(&[stamp.version, u64::from(m)]);
        self.model.conn_records.insert(key, value);
        bump(&mut self.stats, "connection writes");
        self.arm_if_outgoing(m);
    }

    fn connection_remove(&mut self, key: &RecordKey) {
        let m = Sim::connection_member(key);
        self.node(m).remove(key);
        self.model.conn_records.remove(key);
        self.arm_if_outgoing(m);
    }

    fn disconnect(&mut self, client: &ClientId) {
        let keys: Vec<RecordKey> = self
            .model
            .conn_records
            .keys()
            .filter(|k| &k.client == client)
            .cloned()
            .collect();
        for key in &keys {
            self.connection_remove(key);
        }
        self.model.conns.remove(client);
        self.model.dead.insert(client.clone());
        bump(&mut self.stats, "disconnects");
    }
}
