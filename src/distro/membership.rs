//! `Membership`: the members of a cluster and what this member knows of each (Nacos
//! `ServerMemberManager`), as a state machine without I/O. Members report to each other every
//! `MEMBER_REPORT_INTERVAL_MS`; a report that fails, or silence, makes a peer SUSPICIOUS, then
//! DOWN; a report makes it UP (or STARTING, while it loads its state) again.

use crate::distro::record::{MemberIndex, Origin};
use crate::distro::responsible::Healthy;
use crate::limits::{MEMBER_DOWN_AFTER_FAILURES, MEMBER_DOWN_AFTER_MS, MEMBER_SUSPICIOUS_AFTER_MS};

/// Nacos `NodeState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberState {
    Starting,
    Up,
    Suspicious,
    Down,
}

impl MemberState {
    pub fn name(self) -> &'static str {
        match self {
            MemberState::Starting => "STARTING",
            MemberState::Up => "UP",
            MemberState::Suspicious => "SUSPICIOUS",
            MemberState::Down => "DOWN",
        }
    }

    /// On the wire: what a member says of itself.
    pub fn code(self) -> u32 {
        match self {
            MemberState::Starting => 0,
            MemberState::Up => 1,
            MemberState::Suspicious => 2,
            MemberState::Down => 3,
        }
    }

    pub fn from_code(code: u32) -> Option<MemberState> {
        [
            MemberState::Starting,
            MemberState::Up,
            MemberState::Suspicious,
            MemberState::Down,
        ]
        .into_iter()
        .find(|s| s.code() == code)
    }
}

/// What one member said of itself in its last report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    pub origin: Origin,
    /// STARTING or UP.
    pub state: MemberState,
    /// The Raft leader it knows (node id, 0 if none) and its term.
    pub raft_leader: u64,
    pub raft_term: u64,
}

#[derive(Debug, Clone, Copy)]
struct Peer {
    state: MemberState,
    last_heard_ms: Option<u64>,
    failures: u32,
    last_report: Option<Report>,
}

/// This member's view of the cluster.
#[derive(Debug, Clone)]
pub struct Membership {
    me: Origin,
    /// `ip:httpPort` of every member, by index.
    addresses: Vec<String>,
    peers: Vec<Peer>,
    ready: bool,
    /// Bumped whenever the healthy set, a state or an incarnation changes.
    epoch: u64,
}

/// One member as the node list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberView {
    pub index: MemberIndex,
    pub address: String,
    pub state: MemberState,
    pub last_heard_ms: Option<u64>,
    pub report: Option<Report>,
}

impl Membership {
    pub fn new(me: Origin, addresses: Vec<String>) -> Membership {
        assert!(usize::from(me.member) < addresses.len());
        let peer = Peer {
            state: MemberState::Down,
            last_heard_ms: None,
            failures: 0,
            last_report: None,
        };
        Membership {
            me,
            peers: vec![peer; addresses.len()],
            addresses,
            ready: false,
            epoch: 1,
        }
    }

    pub fn me(&self) -> Origin {
        self.me
    }

    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    pub fn member_count(&self) -> usize {
        self.addresses.len()
    }

    /// Indices of the other members.
    pub fn peer_indices(&self) -> impl Iterator<Item = MemberIndex> + '_ {
        let me = self.me.member;
        (0..self.addresses.len() as MemberIndex).filter(move |&m| m != me)
    }

    pub fn self_state(&self) -> MemberState {
        if self.ready {
            MemberState::Up
        } else {
            MemberState::Starting
        }
    }

    /// This member has rebuilt its state and serves.
    pub fn set_ready(&mut self) {
        if !self.ready {
            self.ready = true;
            self.epoch += 1;
        }
    }

    pub fn state_of(&self, member: MemberIndex) -> MemberState {
        if member == self.me.member {
            return self.self_state();
        }
        self.peers[usize::from(member)].state
    }

    pub fn report_of(&self, member: MemberIndex) -> Option<Report> {
        self.peers
            .get(usize::from(member))
            .and_then(|p| p.last_report)
    }

    /// A report from `member` (it sent us one, or answered ours). Returns whether the view
    /// changed.
    pub fn on_report(&mut self, report: Report, now_ms: u64) -> bool {
        let member = usize::from(report.origin.member);
        if member >= self.peers.len() || report.origin.member == self.me.member {
            return false;
        }
        let peer = &mut self.peers[member];
        let state = match report.state {
            MemberState::Starting => MemberState::Starting,
            _ => MemberState::Up,
        };
        let newer_run = peer
            .last_report
            .is_none_or(|r| r.origin.incarnation != report.origin.incarnation);
        if let Some(last) = peer.last_report {
            if report.origin.incarnation < last.origin.incarnation {
                // A delayed report of an earlier run says nothing about the current one.
                return false;
            }
        }
        let changed = peer.state != state || newer_run;
        peer.state = state;
        peer.failures = 0;
        peer.last_heard_ms = Some(now_ms);
        peer.last_report = Some(report);
        if changed {
            self.epoch += 1;
        }
        changed
    }

    /// Our report to `member` failed (refused, timed out).
    pub fn on_report_failed(&mut self, member: MemberIndex, _now_ms: u64) -> bool {
        let Some(peer) = self.peers.get_mut(usize::from(member)) else {
            return false;
        };
        peer.failures = peer.failures.saturating_add(1);
        let state =
            if peer.failures >= MEMBER_DOWN_AFTER_FAILURES || peer.state == MemberState::Down {
                MemberState::Down
            } else {
                MemberState::Suspicious
            };
        self.set_state(member, state)
    }

    /// Silence counts like failed reports: past the thresholds a peer turns SUSPICIOUS, then
    /// DOWN. Returns whether the view changed.
    pub fn tick(&mut self, now_ms: u64) -> bool {
        let mut changed = false;
        for member in 0..self.peers.len() as MemberIndex {
            if member == self.me.member {
                continue;
            }
            let peer = self.peers[usize::from(member)];
            let Some(heard) = peer.last_heard_ms else {
                continue;
            };
            let silent_ms = now_ms.saturating_sub(heard);
            let state = if silent_ms > MEMBER_DOWN_AFTER_MS {
                MemberState::Down
            } else if silent_ms > MEMBER_SUSPICIOUS_AFTER_MS && peer.state != MemberState::Down {
                MemberState::Suspicious
            } else {
                continue;
            };
            changed |= self.set_state(member, state);
        }
        changed
    }

    fn set_state(&mut self, member: MemberIndex, state: MemberState) -> bool {
        let peer = &mut self.peers[usize::from(member)];
        // Silence or a failure never improves a state; only reports do.
        let worse = matches!(
            (peer.state, state),
            (MemberState::Up, MemberState::Suspicious) | (_, MemberState::Down)
        );
        if !worse || peer.state == state {
            return false;
        }
        peer.state = state;
        self.epoch += 1;
        true
    }

    /// The members that count for responsibility: this one once it serves, and peers UP or
    /// SUSPICIOUS. A starting member answers for nothing (unless it is alone), so it does not
    /// take clients over while it still loads what the others hold.
    pub fn healthy(&self) -> Healthy {
        let mut members = Vec::with_capacity(self.addresses.len());
        if self.ready {
            let address = self.addresses[usize::from(self.me.member)].clone();
            members.push((address, self.me.member));
        }
        for member in self.peer_indices() {
            let state = self.peers[usize::from(member)].state;
            if matches!(state, MemberState::Up | MemberState::Suspicious) {
                members.push((self.addresses[usize::from(member)].clone(), member));
            }
        }
        if members.is_empty() {
            return Healthy::alone(self.me.member);
        }
        Healthy::new(members)
    }

    /// Which members get syncs: every peer not known to be down.
    pub fn sync_targets(&self) -> Vec<bool> {
        (0..self.addresses.len() as MemberIndex)
            .map(|m| m != self.me.member && self.peers[usize::from(m)].state != MemberState::Down)
            .collect()
    }

    /// The newest run seen of each member (0 if never heard).
    pub fn incarnations(&self) -> Vec<u64> {
        (0..self.addresses.len() as MemberIndex)
            .map(|m| {
                if m == self.me.member {
                    self.me.incarnation
                } else {
                    self.peers[usize::from(m)]
                        .last_report
                        .map_or(0, |r| r.origin.incarnation)
                }
            })
            .collect()
    }

    /// UP peers, to load a snapshot from.
    pub fn up_peers(&self) -> Vec<MemberIndex> {
        self.peer_indices()
            .filter(|&m| self.peers[usize::from(m)].state == MemberState::Up)
            .collect()
    }

    /// Every peer has been heard from and is STARTING too: a new cluster, nothing to load. A
    /// SUSPICIOUS peer does not count: it was UP, so it holds what a joiner must load.
    pub fn all_peers_heard(&self) -> bool {
        self.peer_indices().all(|m| {
            let peer = &self.peers[usize::from(m)];
            peer.last_heard_ms.is_some() && peer.state == MemberState::Starting
        })
    }

    pub fn views(&self) -> Vec<MemberView> {
        (0..self.addresses.len() as MemberIndex)
            .map(|m| {
                let peer = &self.peers[usize::from(m)];
                MemberView {
                    index: m,
                    address: self.addresses[usize::from(m)].clone(),
                    state: self.state_of(m),
                    last_heard_ms: peer.last_heard_ms,
                    report: peer.last_report,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(member: MemberIndex, incarnation: u64) -> Origin {
        Origin {
            member,
            incarnation,
        }
    }

    fn report(member: MemberIndex, incarnation: u64, state: MemberState) -> Report {
        Report {
            origin: origin(member, incarnation),
            state,
            raft_leader: 0,
            raft_term: 0,
        }
    }

    fn three() -> Membership {
        let addresses = vec![
            "127.0.0.1:8848".into(),
            "127.0.0.1:8858".into(),
            "127.0.0.1:8868".into(),
        ];
        Membership::new(origin(0, 1), addresses)
    }

    /// Peers start DOWN, turn UP on a report, SUSPICIOUS then DOWN with silence, and UP again
    /// when they report; STARTING peers get syncs but do not count for responsibility.
    #[test]
    fn liveness_follows_reports() {
        let mut m = three();
        m.set_ready();
        assert_eq!(m.healthy().len(), 1);
        assert_eq!(m.sync_targets(), vec![false, false, false]);
        assert!(m.on_report(report(1, 5, MemberState::Up), 0));
        assert!(m.on_report(report(2, 5, MemberState::Starting), 0));
        assert_eq!(m.healthy().len(), 2);
        assert_eq!(m.sync_targets(), vec![false, true, true]);
        assert!(!m.tick(MEMBER_SUSPICIOUS_AFTER_MS));
        assert!(m.tick(MEMBER_SUSPICIOUS_AFTER_MS + 1));
        assert_eq!(m.state_of(1), MemberState::Suspicious);
        assert_eq!(
            m.state_of(2),
            MemberState::Starting,
            "a silent starter stays starting"
        );
        assert_eq!(m.healthy().len(), 2, "suspicious members still count");
        assert!(m.tick(MEMBER_DOWN_AFTER_MS + 1));
        assert_eq!(m.state_of(1), MemberState::Down);
        assert_eq!(m.healthy().len(), 1);
        assert!(m.on_report(report(1, 5, MemberState::Up), MEMBER_DOWN_AFTER_MS + 2));
        assert_eq!(m.state_of(1), MemberState::Up);
    }

    /// Failed reports make a peer SUSPICIOUS at once and DOWN after the threshold; a report
    /// of an older run is ignored; a new run is a change.
    #[test]
    fn failures_and_incarnations() {
        let mut m = three();
        m.on_report(report(1, 5, MemberState::Up), 0);
        assert!(m.on_report_failed(1, 1));
        assert_eq!(m.state_of(1), MemberState::Suspicious);
        for _ in 1..MEMBER_DOWN_AFTER_FAILURES {
            m.on_report_failed(1, 1);
        }
        assert_eq!(m.state_of(1), MemberState::Down);
        assert!(!m.on_report(report(1, 4, MemberState::Up), 2));
        assert_eq!(m.state_of(1), MemberState::Down);
        assert!(m.on_report(report(1, 6, MemberState::Starting), 3));
        assert_eq!(m.incarnations(), vec![1, 6, 0]);
        assert_eq!(m.self_state(), MemberState::Starting);
        m.set_ready();
        assert_eq!(m.state_of(0), MemberState::Up);
    }
}
