//! The Raft driver on core 0: a raft-rs `RawNode` over `LmdbStorage`, ticked by a glommio
//! timer, fed with proposals from every core, following raft-rs's `on_ready` steps. Committed
//! commands are applied on their owner cores, their durable records stored with the applied
//! index in one LMDB transaction, and only then is the proposer answered: an acknowledged
//! write survives `kill -9`. Many proposals share one Ready, one transaction, one fsync.

use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use futures::channel::oneshot;
use futures::FutureExt;
use glommio::channels::local_channel::{self, LocalReceiver, LocalSender};
use hashbrown::HashMap;
use raft::prelude::{Entry, EntryType, Message};
use raft::{RawNode, StateRole};

use crate::cluster::transport::{SnapshotFailure, Transport};
use crate::config::error::ConfigError;
use crate::limits::{FORWARDED_APPLY_WAIT_MS, RAFT_GATHER_WAIT_US, RAFT_UNCOMMITTED_BYTES_MAX};
use crate::limits::{
    RAFT_APPLY_BATCH_MAX, RAFT_CATCH_UP_ASK_MS, RAFT_CATCH_UP_WAIT_MS, RAFT_ELECTION_TICKS,
    RAFT_HEARTBEAT_TICKS, RAFT_LOG_KEEP_ENTRIES, RAFT_MESSAGE_BYTES_MAX,
    RAFT_PROPOSAL_COMMIT_WAIT_MS, RAFT_PROPOSAL_QUEUE_MAX, RAFT_PROPOSAL_WAIT_MS,
    RAFT_READ_BARRIER_WAIT_MS, RAFT_TICK_MS,
};
use crate::naming::error::{ErrorKind, NamingError};
use crate::naming::op::{NamingOp, NamingReply};
use crate::raft::command::RaftCommand;
use crate::raft::state::{change_of, TableChange};
use crate::raft::storage::LmdbStorage;
use crate::shard::CoreHandle;

/// A proposer's answer: the naming reply and, for a refused config command, its error.
pub type Outcome = (NamingReply, Option<ConfigError>);

/// A write waiting for Raft: the command and where its outcome goes.
pub struct Proposal {
    pub command: RaftCommand,
    pub reply: oneshot::Sender<Applied>,
}

/// The outcome of a proposal once applied, and the log index it was applied at (0 when it
/// never reached the log).
#[derive(Debug)]
pub struct Applied {
    pub reply: NamingReply,
    pub index: u64,
    /// A config command the state machine refused, with why (`reply` is then an error too).
    pub config_error: Option<ConfigError>,
}

/// What applying one entry gave: the naming outcome, a config refusal, the table changes.
type EntryOutcome = (
    Result<(), NamingError>,
    Option<ConfigError>,
    Vec<TableChange>,
);

/// Where proposals for the Raft core are sent (core 0 only).
pub type ProposalSender = LocalSender<Proposal>;

/// Settings of the Raft node.
#[derive(Debug, Clone)]
pub struct RaftSettings {
    pub node_id: u64,
    /// Log entries kept beyond the applied index before the log is compacted.
    pub compact_after_entries: u64,
}

struct Driver {
    node: RawNode<LmdbStorage>,
    core: CoreHandle,
    inbox: LocalReceiver<Proposal>,
    /// Proposals this node made as leader, by id, with when they were made: answered when
    /// their entry applies, or with an error after `RAFT_PROPOSAL_COMMIT_WAIT_MS` (a leader
    /// that lost its leadership never sees its uncommitted entries again).
    pending: HashMap<u64, (Instant, oneshot::Sender<Applied>)>,
    /// Tags this process's proposal contexts: an entry proposed by an earlier run of this node
    /// (or by another node) never answers a proposal of this run with the same id.
    incarnation: u64,
    /// Proposals that arrived while no leader was known, with their arrival time.
    waiting: Vec<(Instant, Proposal)>,
    next_proposal_id: u64,
    settings: RaftSettings,
    /// Cluster mode: the peer transport and what peers send to the driver.
    cluster: Option<ClusterLinks>,
    forwarded_tx: Rc<LocalSender<Forwarded>>,
    forwarded_rx: LocalReceiver<Forwarded>,
    /// Writes the leader applied, waiting for this node to apply their index too (so that a
    /// client reading this node right after its write sees it).
    awaiting_apply: Vec<(u64, Instant, oneshot::Sender<Applied>, Outcome)>,
    /// Cluster mode, until the node has caught up with the leader after a start.
    catch_up: Option<CatchUp>,
    barriers: ReadBarriers,
    /// Group commit (see `gather_proposals`): proposals this leader made since its last write
    /// cycle began, writers answered since the last `expect_writers`, and how many proposals
    /// the next cycle waits for.
    proposed_since_cycle: usize,
    answered_since_cycle: usize,
    gather_target: usize,
    /// How long the last write cycle took (it bounds the wait) and the last wait.
    cycle_last_us: u64,
    gather_last_us: u64,
}

/// A read barrier's arrival time and answer.
type BarrierWaiter = (Instant, oneshot::Sender<Applied>);

/// Read barriers (`RaftCommand::ReadBarrier`) in their three stages. Barriers that arrive
/// while one read index is out wait for the next, so a burst of reads costs one round trip.
#[derive(Default)]
struct ReadBarriers {
    /// Not yet asked.
    queued: Vec<BarrierWaiter>,
    /// The read index out: its context, when it was asked, and its barriers.
    asked: Option<(Vec<u8>, Instant, Vec<BarrierWaiter>)>,
    /// The leader's commit index is known: waiting for this node to apply it.
    reached: Vec<(u64, Instant, oneshot::Sender<Applied>)>,
    serial: u64,
}

fn answer_barrier(reply: oneshot::Sender<Applied>, applied: u64) {
    let _ = reply.send(Applied {
        reply: NamingReply::Done,
        index: applied,
        config_error: None,
    });
}

/// The read-index context of the catch-up request (never a client's: clients do not read
/// through Raft).
const CATCH_UP_CONTEXT: &[u8] = b"nacore-catch-up";

/// A (re)started member is ready once it has applied what the leader had committed when it
/// asked: its own log may be behind, and a heartbeat only tells it the commit index up to what
/// the leader believes it holds. A read index gives the leader's real commit index.
struct CatchUp {
    ready: oneshot::Sender<()>,
    started: Instant,
    asked: Option<Instant>,
    /// The leader's commit index, once the read index answered.
    target: Option<u64>,
}

/// What the driver needs in cluster mode.
pub struct ClusterLinks {
    pub transport: Rc<Transport>,
    pub messages: LocalReceiver<Message>,
    pub snapshot_failures: LocalReceiver<SnapshotFailure>,
}

/// A write a follower forwarded to the leader, with the leader's answer.
struct Forwarded {
    outcome: Result<(Outcome, u64), String>,
    reply: oneshot::Sender<Applied>,
}

fn raft_config(settings: &RaftSettings, applied: u64) -> raft::Config {
    raft::Config {
        id: settings.node_id,
        election_tick: RAFT_ELECTION_TICKS,
        heartbeat_tick: RAFT_HEARTBEAT_TICKS,
        applied,
        max_size_per_msg: RAFT_MESSAGE_BYTES_MAX,
        max_inflight_msgs: 256,
        check_quorum: true,
        pre_vote: true,
        max_committed_size_per_ready: RAFT_MESSAGE_BYTES_MAX,
        // Proposals beyond this many uncommitted bytes are refused (answered 503), so a leader
        // that cannot reach a quorum does not buffer without bound.
        max_uncommitted_size: RAFT_UNCOMMITTED_BYTES_MAX,
        ..Default::default()
    }
}

/// raft-rs logs through slog; its records go to tracing (target `raft`) at debug level.
struct TracingDrain;

impl slog::Drain for TracingDrain {
    type Ok = ();
    type Err = slog::Never;

    fn log(&self, record: &slog::Record, _: &slog::OwnedKVList) -> Result<(), slog::Never> {
        tracing::debug!(target: "raft", "{}", record.msg());
        Ok(())
    }
}

fn logger() -> slog::Logger {
    slog::Logger::root(TracingDrain, slog::o!())
}

/// Starts the Raft node on this core (core 0). Returns where to send proposals, and a signal
/// that fires once the entries committed before a restart are applied again and, in a
/// cluster, once everything the leader had committed is applied here.
pub fn start(
    storage: LmdbStorage,
    settings: RaftSettings,
    core: CoreHandle,
    cluster: Option<ClusterLinks>,
) -> Result<(ProposalSender, oneshot::Receiver<()>), String> {
    let applied = storage.applied_index().map_err(|e| e.to_string())?;
    let config = raft_config(&settings, applied);
    config
        .validate()
        .map_err(|e| format!("invalid raft config: {e}"))?;
    let single_voter = storage
        .conf_state()
        .map_err(|e| e.to_string())?
        .voters
        .len()
        == 1;
    let mut node = RawNode::new(&config, storage, &logger()).map_err(|e| e.to_string())?;
    if single_voter {
        // A one-voter group elects itself at once: no election timeout to wait for.
        node.campaign().map_err(|e| e.to_string())?;
    }
    let (sender, inbox) = local_channel::new_bounded(RAFT_PROPOSAL_QUEUE_MAX);
    let (forwarded_tx, forwarded_rx) = local_channel::new_bounded(RAFT_PROPOSAL_QUEUE_MAX);
    let driver = Driver {
        node,
        core,
        inbox,
        pending: HashMap::new(),
        waiting: Vec::new(),
        next_proposal_id: 0,
        incarnation: new_incarnation(),
        settings,
        cluster,
        forwarded_tx: Rc::new(forwarded_tx),
        forwarded_rx,
        awaiting_apply: Vec::new(),
        catch_up: None,
        barriers: ReadBarriers::default(),
        proposed_since_cycle: 0,
        answered_since_cycle: 0,
        gather_target: 0,
        cycle_last_us: 0,
        gather_last_us: 0,
    };
    let (caught_up_tx, caught_up) = oneshot::channel();
    glommio::spawn_local(driver.run(caught_up_tx)).detach();
    Ok((sender, caught_up))
}

enum Event {
    Proposal(Option<Proposal>),
    Message(Option<Message>),
    SnapshotFailed(Option<SnapshotFailure>),
    Forwarded(Option<Forwarded>),
    Tick,
}

impl Driver {
    async fn run(mut self, caught_up: oneshot::Sender<()>) {
        // The first Ready re-applies what was committed but not applied before a restart.
        self.on_ready().await;
        if self.cluster.is_some() {
            self.catch_up = Some(CatchUp {
                ready: caught_up,
                started: Instant::now(),
                asked: None,
                target: None,
            });
        } else {
            let _ = caught_up.send(());
        }
        let mut next_tick = Instant::now() + Duration::from_millis(RAFT_TICK_MS);
        loop {
            // Writers taken off the queue after the last cycle are written without waiting
            // for another event (a tick that is due still comes first).
            if self.proposed_since_cycle == 0 || Instant::now() >= next_tick {
                let wait = next_tick.saturating_duration_since(Instant::now());
                let event = self.next_event(wait).await;
                if !self.on_event(event, &mut next_tick) {
                    return;
                }
            }
            self.drain_inbox();
            self.gather_proposals().await;
            self.on_ready().await;
            self.advance_catch_up();
            self.advance_barriers();
            // A read index asked just now must go out now, not with the next event.
            self.on_ready().await;
            self.expect_writers();
        }
    }

    /// Handles one event; false once the proposal queue is closed (the server stops).
    fn on_event(&mut self, event: Event, next_tick: &mut Instant) -> bool {
        match event {
            Event::Proposal(Some(proposal)) => self.propose(proposal),
            Event::Proposal(None) => return false,
            Event::Message(Some(message)) => {
                // Stale or misdirected messages are refused by raft; nothing to do.
                let _ = self.node.step(message);
            }
            Event::SnapshotFailed(Some(failure)) => {
                self.node
                    .report_snapshot(failure.to, raft::SnapshotStatus::Failure);
            }
            Event::Forwarded(Some(forwarded)) => self.on_forwarded(forwarded),
            Event::Message(None) | Event::SnapshotFailed(None) | Event::Forwarded(None) => {}
            Event::Tick => {
                *next_tick = Instant::now() + Duration::from_millis(RAFT_TICK_MS);
                self.node.tick();
                self.retry_waiting();
                self.expire_pending();
                self.release_applied();
            }
        }
        true
    }

    /// Sets how many proposals the next write cycle gathers (`gather_proposals`): the writers
    /// just answered, who come back a client round trip later, and the writers that queued
    /// during the cycle, taken now, before the answered ones get to run.
    fn expect_writers(&mut self) {
        self.drain_inbox();
        let answered = std::mem::take(&mut self.answered_since_cycle);
        self.gather_target = answered + self.proposed_since_cycle;
        debug_assert!(self.gather_target >= self.proposed_since_cycle);
    }

    /// A read barrier: answered at once when no other member can hold newer writes (single
    /// node, or the leader with everything it committed in its term applied), else through a
    /// read index.
    fn read_barrier(&mut self, reply: oneshot::Sender<Applied>) {
        let log = &self.node.raft.raft_log;
        let leader_current = self.node.raft.state == StateRole::Leader
            && log.applied >= log.committed
            && log.term(log.committed).ok() == Some(self.node.raft.term);
        if self.cluster.is_none() || leader_current {
            return answer_barrier(reply, log.applied);
        }
        self.barriers.queued.push((Instant::now(), reply));
    }

    /// Moves read barriers along: answers those whose index is applied (or that waited
    /// `RAFT_READ_BARRIER_WAIT_MS`: without a quorum this member serves what it holds), asks
    /// again for a read index the leader dropped, and asks for the queued ones.
    fn advance_barriers(&mut self) {
        let applied = self.node.raft.raft_log.applied;
        let wait = Duration::from_millis(RAFT_READ_BARRIER_WAIT_MS);
        let barriers = &mut self.barriers;
        let reached = std::mem::take(&mut barriers.reached);
        for (index, since, reply) in reached {
            if index <= applied || since.elapsed() > wait {
                answer_barrier(reply, applied);
            } else {
                barriers.reached.push((index, since, reply));
            }
        }
        let resend = Duration::from_millis(RAFT_CATCH_UP_ASK_MS);
        if barriers
            .asked
            .as_ref()
            .is_some_and(|(_, at, _)| at.elapsed() > resend)
        {
            if let Some((_, _, waiting)) = barriers.asked.take() {
                barriers.queued.splice(0..0, waiting);
            }
        }
        let queued = std::mem::take(&mut barriers.queued);
        for (since, reply) in queued {
            if since.elapsed() > wait {
                answer_barrier(reply, applied);
            } else {
                barriers.queued.push((since, reply));
            }
        }
        if barriers.asked.is_none()
            && !barriers.queued.is_empty()
            && self.node.raft.leader_id != raft::INVALID_ID
        {
            barriers.serial += 1;
            let mut context = b"nacore-read-".to_vec();
            context.extend_from_slice(&barriers.serial.to_be_bytes());
            let waiting = std::mem::take(&mut barriers.queued);
            barriers.asked = Some((context.clone(), Instant::now(), waiting));
            self.node.read_index(context);
        }
    }

    /// Asks the leader for its commit index (again every `RAFT_CATCH_UP_ASK_MS`: a leader
    /// that has not yet committed in its term drops the request), and reports ready once it is
    /// applied here, or after `RAFT_CATCH_UP_WAIT_MS` without a quorum.
    fn advance_catch_up(&mut self) {
        let Some(catch_up) = &mut self.catch_up else {
            return;
        };
        let applied = self.node.raft.raft_log.applied;
        let caught_up = catch_up.target.is_some_and(|target| applied >= target);
        let waited_out = catch_up.started.elapsed() > Duration::from_millis(RAFT_CATCH_UP_WAIT_MS);
        if caught_up || waited_out {
            if waited_out && !caught_up {
                tracing::warn!(
                    applied,
                    target = ?catch_up.target,
                    "no leader answered within {RAFT_CATCH_UP_WAIT_MS} ms; serving what this member holds"
                );
            }
            if let Some(catch_up) = self.catch_up.take() {
                let _ = catch_up.ready.send(());
            }
            return;
        }
        let ask_due = catch_up
            .asked
            .is_none_or(|at| at.elapsed() > Duration::from_millis(RAFT_CATCH_UP_ASK_MS));
        if catch_up.target.is_none() && ask_due && self.node.raft.leader_id != raft::INVALID_ID {
            catch_up.asked = Some(Instant::now());
            self.node.read_index(CATCH_UP_CONTEXT.to_vec());
        }
    }

    fn take_read_states(&mut self, ready: &mut raft::Ready) {
        for state in ready.take_read_states() {
            let barriers = &mut self.barriers;
            if barriers
                .asked
                .as_ref()
                .is_some_and(|(context, _, _)| *context == state.request_ctx)
            {
                if let Some((_, _, waiting)) = barriers.asked.take() {
                    let reached = waiting
                        .into_iter()
                        .map(|(since, r)| (state.index, since, r));
                    barriers.reached.extend(reached);
                }
                continue;
            }
            if state.request_ctx != CATCH_UP_CONTEXT {
                continue;
            }
            if let Some(catch_up) = &mut self.catch_up {
                catch_up.target = Some(state.index);
            }
        }
    }

    async fn next_event(&self, wait: Duration) -> Event {
        let messages = async {
            match &self.cluster {
                Some(links) => links.messages.recv().await,
                None => futures::future::pending().await,
            }
        };
        let failures = async {
            match &self.cluster {
                Some(links) => links.snapshot_failures.recv().await,
                None => futures::future::pending().await,
            }
        };
        futures::select_biased! {
            message = messages.fuse() => Event::Message(message),
            proposal = self.inbox.recv().fuse() => Event::Proposal(proposal),
            forwarded = self.forwarded_rx.recv().fuse() => Event::Forwarded(forwarded),
            failure = failures.fuse() => Event::SnapshotFailed(failure),
            _ = glommio::timer::sleep(wait).fuse() => Event::Tick,
        }
    }

    /// Takes every proposal already queued, so that they share one Ready (group commit).
    fn drain_inbox(&mut self) {
        for _ in 0..RAFT_APPLY_BATCH_MAX {
            match self.inbox.recv().now_or_never() {
                Some(Some(proposal)) => self.propose(proposal),
                _ => return,
            }
        }
    }

    /// Group commit across round trips: the writers a cycle answered tend to send their next
    /// writes together, a client round trip later. Once a proposal is here, wait until
    /// `gather_target` proposals are, so they share the next cycle: at most half the last
    /// cycle's time (a writer that misses the gathering waits a whole cycle) and at most
    /// `RAFT_GATHER_WAIT_US`. Without this, a closed loop of n writers splits into a cycle of
    /// the first few and a cycle of the rest, and stays split: half the writes per cycle. A
    /// lone writer (one answered, one proposed) never waits.
    async fn gather_proposals(&mut self) {
        if self.proposed_since_cycle == 0 || self.node.raft.state != StateRole::Leader {
            return;
        }
        let started = Instant::now();
        let wait_us = RAFT_GATHER_WAIT_US.min(self.cycle_last_us / 2);
        let deadline = started + Duration::from_micros(wait_us);
        self.gather(deadline).await;
        self.gather_last_us = started.elapsed().as_micros() as u64;
    }

    async fn gather(&mut self, deadline: Instant) {
        for _ in 0..RAFT_APPLY_BATCH_MAX {
            if self.proposed_since_cycle >= self.gather_target {
                return;
            }
            let wait = deadline.saturating_duration_since(Instant::now());
            if wait.is_zero() {
                return;
            }
            futures::select_biased! {
                proposal = self.inbox.recv().fuse() => match proposal {
                    Some(proposal) => self.propose(proposal),
                    None => return,
                },
                _ = glommio::timer::sleep(wait).fuse() => return,
            }
            self.drain_inbox();
        }
    }

    fn propose(&mut self, proposal: Proposal) {
        if matches!(proposal.command, RaftCommand::ReadBarrier) {
            return self.read_barrier(proposal.reply);
        }
        if self.node.raft.state != StateRole::Leader {
            let leader = self.node.raft.leader_id;
            if leader != raft::INVALID_ID && self.cluster.is_some() {
                return self.forward(leader, proposal);
            }
            if self.waiting.len() >= RAFT_PROPOSAL_QUEUE_MAX {
                return answer(proposal.reply, Err(no_leader()));
            }
            self.waiting.push((Instant::now(), proposal));
            return;
        }
        let data = match serde_json::to_vec(&proposal.command) {
            Ok(data) => data,
            Err(e) => return answer(proposal.reply, Err(internal(format!("encode: {e}")))),
        };
        self.next_proposal_id += 1;
        let id = self.next_proposal_id;
        match self
            .node
            .propose(proposal_context(self.incarnation, id), data)
        {
            Ok(()) => {
                self.pending.insert(id, (Instant::now(), proposal.reply));
                self.proposed_since_cycle += 1;
            }
            Err(e) => answer(proposal.reply, Err(internal(format!("propose: {e}")))),
        }
    }

    /// Sends a write to the leader; its answer comes back as an event.
    fn forward(&self, leader: u64, proposal: Proposal) {
        let Some(links) = &self.cluster else {
            return answer(proposal.reply, Err(no_leader()));
        };
        let transport = links.transport.clone();
        let results = self.forwarded_tx.clone();
        glommio::spawn_local(async move {
            let outcome = transport.propose(leader, &proposal.command).await;
            let forwarded = Forwarded {
                outcome,
                reply: proposal.reply,
            };
            let _ = results.send(forwarded).await;
        })
        .detach();
    }

    /// The leader applied a forwarded write: answer once this node applied it too.
    fn on_forwarded(&mut self, forwarded: Forwarded) {
        match forwarded.outcome {
            Ok((reply, index)) => {
                self.awaiting_apply
                    .push((index, Instant::now(), forwarded.reply, reply));
                self.release_applied();
            }
            Err(detail) => {
                let error = crate::cluster::transport::unreachable_leader(detail);
                answer(forwarded.reply, Err(error));
            }
        }
    }

    /// Answers forwarded writes this node has applied (or waited long enough for).
    fn release_applied(&mut self) {
        let applied = self.node.raft.raft_log.applied;
        let limit = Duration::from_millis(FORWARDED_APPLY_WAIT_MS);
        let waiting = std::mem::take(&mut self.awaiting_apply);
        for (index, since, reply, outcome) in waiting {
            if index <= applied || since.elapsed() > limit {
                let (outcome, config_error) = outcome;
                let _ = reply.send(Applied {
                    reply: outcome,
                    index,
                    config_error,
                });
            } else {
                self.awaiting_apply.push((index, since, reply, outcome));
            }
        }
    }

    /// Proposals whose entry has not applied in time fail: a leader that lost its leadership
    /// may never see them again (the next leader overwrote them), and their proposers (a
    /// client, or a follower that forwarded them) must get an answer. The write may still
    /// apply later; it was not acknowledged, so nothing acknowledged is lost.
    fn expire_pending(&mut self) {
        let limit = Duration::from_millis(RAFT_PROPOSAL_COMMIT_WAIT_MS);
        let expired: Vec<u64> = (self.pending.iter())
            .filter(|(_, (since, _))| since.elapsed() > limit)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            if let Some((_, reply)) = self.pending.remove(&id) {
                answer(reply, Err(not_committed()));
            }
        }
    }

    /// Proposals wait for a leader for a bounded time, then fail.
    fn retry_waiting(&mut self) {
        let waiting = std::mem::take(&mut self.waiting);
        for (since, proposal) in waiting {
            let leader_known = self.node.raft.leader_id != raft::INVALID_ID;
            if self.node.raft.state == StateRole::Leader || (leader_known && self.cluster.is_some())
            {
                self.propose(proposal);
            } else if since.elapsed() > Duration::from_millis(RAFT_PROPOSAL_WAIT_MS) {
                answer(proposal.reply, Err(no_leader()));
            } else {
                self.waiting.push((since, proposal));
            }
        }
    }

    /// raft-rs's Ready handling, step by step.
    async fn on_ready(&mut self) {
        // Every proposal made so far is in this Ready (or in none, if raft dropped it).
        let gathered_count = std::mem::take(&mut self.proposed_since_cycle);
        if !self.node.has_ready() {
            return;
        }
        let mut ready = self.node.ready();
        self.take_read_states(&mut ready);
        self.send_messages(ready.take_messages());
        let snapshot = (!ready.snapshot().is_empty()).then(|| ready.snapshot().clone());
        let committed = ready.take_committed_entries();
        let store = self.store();
        let entries = ready.entries().clone();
        let hard_state = ready.hs().cloned();
        let wrote = snapshot.is_some() || !entries.is_empty() || hard_state.is_some();
        let snapshot_copy = snapshot.clone();
        let cycle_started = Instant::now();
        let entries_count = entries.len();
        // A Ready with nothing to store (only committed entries or messages) skips the hop to
        // the blocking thread: an empty transaction writes and syncs nothing.
        let persisted = if wrote {
            blocking(move || {
                store.persist_ready(snapshot_copy.as_ref(), &entries, hard_state.as_ref())
            })
            .await
        } else {
            Ok(())
        };
        if let Err(error) = persisted {
            // Losing the log is not survivable: stop rather than answer writes we cannot keep.
            tracing::error!(%error, "cannot persist the raft log; stopping");
            std::process::exit(70);
        }
        let persisted_at = Instant::now();
        if snapshot.is_some() {
            self.reload_state().await;
        }
        let flushed = self.apply(committed, None).await;
        if wrote && !flushed && self.cluster.is_some() {
            // Peers count what raft believes persisted (votes, append acks) once advance()
            // runs, so the log commit's meta page must be on disk first. Alone, a member
            // answers nothing before the apply commit below, whose fdatasync covers it.
            let store = self.store();
            if let Err(error) = blocking(move || store.sync()).await {
                tracing::error!(%error, "cannot sync the raft log; stopping");
                std::process::exit(70);
            }
        }
        self.send_messages(ready.take_persisted_messages());
        let mut light = self.node.advance(ready);
        let commit = light.commit_index();
        self.send_messages(light.take_messages());
        let applied = self.apply(light.take_committed_entries(), commit).await;
        if let (Some(commit), false) = (commit, applied) {
            let store = self.store();
            if let Err(error) = blocking(move || store.set_commit(commit)).await {
                tracing::error!(%error, "cannot store the commit index; stopping");
                std::process::exit(70);
            }
        }
        tracing::debug!(
            target: "nacore::raft::cycle",
            entries_count,
            gathered_count,
            persist_us = persisted_at.duration_since(cycle_started).as_micros() as u64,
            cycle_us = cycle_started.elapsed().as_micros() as u64,
            gather_us = self.gather_last_us,
            gather_target = self.gather_target,
            "raft write cycle"
        );
        if wrote {
            self.cycle_last_us = cycle_started.elapsed().as_micros() as u64;
        }
        self.node.advance_apply();
        self.maybe_compact();
        self.release_applied();
        self.core
            .set_raft_status(self.node.raft.leader_id, self.node.raft.term);
        // --- metrics ---
        self.core.set_raft_gauges(self.raft_gauges());
    }

    // --- metrics ---
    /// The progress a scrape shows.
    fn raft_gauges(&self) -> crate::metrics::RaftGauges {
        let raft = &self.node.raft;
        let role = match raft.state {
            raft::StateRole::Follower => 0,
            raft::StateRole::Candidate => 1,
            raft::StateRole::Leader => 2,
            raft::StateRole::PreCandidate => 3,
        };
        crate::metrics::RaftGauges {
            term: raft.term,
            role,
            leader: raft.leader_id,
            commit_index: raft.raft_log.committed,
            applied_index: raft.raft_log.applied.min(raft.raft_log.committed),
        }
    }

    /// Sends each peer its messages as one batch.
    /// A handle on the storage for a write transaction run off this core.
    fn store(&self) -> LmdbStorage {
        self.node.raft.raft_log.store.clone()
    }

    fn send_messages(&mut self, messages: Vec<Message>) {
        debug_assert!(messages.iter().all(|m| m.to != self.settings.node_id));
        let Some(links) = &self.cluster else {
            return;
        };
        let mut by_peer: HashMap<u64, Vec<Message>> = HashMap::new();
        for message in messages {
            by_peer.entry(message.to).or_default().push(message);
        }
        for (to, batch) in by_peer {
            links.transport.send(to, batch);
        }
    }

    /// Applies committed entries in log order on their owner cores, stores their records and
    /// the applied index (and `commit`, when Some) in one transaction, then answers their
    /// proposers. Returns whether it committed a transaction: its fdatasync makes every
    /// earlier commit durable too, the log's among them, before any proposer is answered.
    async fn apply(&mut self, entries: Vec<Entry>, commit: Option<u64>) -> bool {
        let Some(last) = entries.last().map(|e| e.index) else {
            return false;
        };
        // Later entries win: a key deleted then put again in one batch must end up put.
        let mut changes: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
        let mut answers = Vec::new();
        for entry in entries {
            if entry.get_entry_type() != EntryType::EntryNormal || entry.data.is_empty() {
                continue;
            }
            let outcome = self.apply_entry(&entry.data, entry.index).await;
            let Ok((result, config_error, table_changes)) = outcome else {
                continue;
            };
            for change in table_changes {
                match change {
                    TableChange::Put(k, v) => changes.insert(k, Some(v)),
                    TableChange::Delete(k) => changes.insert(k, None),
                };
            }
            let mine = proposal_id(self.incarnation, &entry.context);
            if let Some((_, reply)) = mine.and_then(|id| self.pending.remove(&id)) {
                answers.push((reply, result, config_error, entry.index));
            }
        }
        let mut puts = Vec::new();
        let mut deletes = Vec::new();
        for (key, value) in changes {
            match value {
                Some(value) => puts.push((key, value)),
                None => deletes.push(key),
            }
        }
        let store = self.store();
        let stored = blocking(move || store.apply_at_commit(commit, last, &puts, &deletes)).await;
        if let Err(error) = stored {
            tracing::error!(%error, "cannot store applied state; stopping");
            std::process::exit(70);
        }
        self.answered_since_cycle += answers.len();
        for (reply, result, config_error, index) in answers {
            answer_with(reply, result, index, config_error);
        }
        true
    }

    /// Applies one entry on the owner core(s) of what it changes; returns the outcome and
    /// the table changes to store.
    async fn apply_entry(&self, data: &[u8], index: u64) -> Result<EntryOutcome, ()> {
        let command = match crate::raft::command::decode(data) {
            Ok(command) => command,
            Err(error) => {
                tracing::error!(%error, "skipping an undecodable raft entry");
                return Err(());
            }
        };
        match command {
            RaftCommand::ReadBarrier => Err(()),
            RaftCommand::Naming(command) => Ok(self.apply_naming(command).await),
            RaftCommand::Config(command) => {
                let (result, records) = self.core.apply_config(command, index).await;
                let changes = records
                    .iter()
                    .flat_map(|record| {
                        let change = crate::raft::config_state::change_of(record);
                        std::iter::once(change)
                            .chain(crate::raft::config_state::legacy_change_of(record))
                    })
                    .collect();
                Ok(match result {
                    Ok(()) => (Ok(()), None, changes),
                    Err(error) => (Err(internal(error.message.clone())), Some(error), changes),
                })
            }
            // --- auth ---
            RaftCommand::Auth(command) => {
                let result = self.core.apply_auth_everywhere(command).await;
                Ok(match result {
                    Ok(records) => (
                        Ok(()),
                        None,
                        records
                            .iter()
                            .map(crate::raft::auth_state::change_of)
                            .collect(),
                    ),
                    Err(refusal) => (
                        Err(NamingError::new(ErrorKind::InvalidParam, refusal)),
                        None,
                        Vec::new(),
                    ),
                })
            }
        }
    }

    async fn apply_naming(&self, command: crate::naming::op::DurableCommand) -> EntryOutcome {
        let everywhere = command.service_key().is_none();
        let op = NamingOp::Committed { command };
        let reply = if everywhere {
            self.core.execute_everywhere(op).await.into_iter().next()
        } else {
            Some(self.core.execute(op).await)
        };
        match reply {
            Some(NamingReply::Committed { result, records }) => {
                (result, None, records.iter().map(change_of).collect())
            }
            other => (
                Err(internal(format!("unexpected apply reply {other:?}"))),
                None,
                Vec::new(),
            ),
        }
    }

    /// After a snapshot replaced the tables, memory follows them.
    async fn reload_state(&mut self) {
        crate::raft::recovery::reload(&self.core, &self.node.raft.raft_log.store).await;
    }

    /// Keeps the log bounded: once it holds more than the threshold of applied entries, the
    /// oldest are dropped (the tables hold their effect; lagging peers get a snapshot).
    fn maybe_compact(&mut self) {
        let store = &self.node.raft.raft_log.store;
        let (Ok(first), Ok(applied)) = (store.first_index_now(), store.applied_index()) else {
            return;
        };
        if applied < first || applied - first < self.settings.compact_after_entries {
            return;
        }
        let keep = RAFT_LOG_KEEP_ENTRIES.min(self.settings.compact_after_entries / 2);
        let compact_to = applied.saturating_sub(keep).max(first);
        match store.compact(compact_to) {
            Ok(()) => tracing::debug!(first, compact_to, applied, "raft log compacted"),
            Err(error) => tracing::warn!(%error, "log compaction failed"),
        }
    }
}

/// Runs an LMDB write transaction (and its fsync) on the executor's blocking thread, so the
/// connections this core serves keep moving while the disk syncs. The driver awaits it: the
/// Ready steps stay in order.
async fn blocking<R: Send + 'static>(work: impl FnOnce() -> R + Send + 'static) -> R {
    glommio::executor().spawn_blocking(work).await
}

/// A proposal's Raft context: the proposing run's incarnation, then its id.
fn proposal_context(incarnation: u64, id: u64) -> Vec<u8> {
    let mut context = Vec::with_capacity(16);
    context.extend_from_slice(&incarnation.to_be_bytes());
    context.extend_from_slice(&id.to_be_bytes());
    context
}

/// The id of a proposal made by this run (`incarnation`), or `None` for any other entry.
fn proposal_id(incarnation: u64, context: &[u8]) -> Option<u64> {
    let bytes: [u8; 16] = context.try_into().ok()?;
    let (tag, id) = bytes.split_at(8);
    let tag = u64::from_be_bytes(tag.try_into().ok()?);
    (tag == incarnation).then(|| u64::from_be_bytes(id.try_into().unwrap_or_default()))
}

/// A value that differs between runs of the process (restarts reuse proposal ids from 1).
fn new_incarnation() -> u64 {
    use std::hash::{BuildHasher, Hash, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    std::process::id().hash(&mut hasher);
    std::time::SystemTime::now().hash(&mut hasher);
    hasher.finish()
}

fn answer(reply: oneshot::Sender<Applied>, result: Result<(), NamingError>) {
    answer_at(reply, result, 0);
}

fn answer_at(reply: oneshot::Sender<Applied>, result: Result<(), NamingError>, index: u64) {
    answer_with(reply, result, index, None);
}

fn answer_with(
    reply: oneshot::Sender<Applied>,
    result: Result<(), NamingError>,
    index: u64,
    config_error: Option<ConfigError>,
) {
    let reply_value = match result {
        Ok(()) => NamingReply::Done,
        Err(error) => NamingReply::Error(error),
    };
    let _ = reply.send(Applied {
        reply: reply_value,
        index,
        config_error,
    });
}

fn internal(message: String) -> NamingError {
    NamingError::new(ErrorKind::Internal, message)
}

fn not_committed() -> NamingError {
    NamingError::new(
        ErrorKind::Unavailable,
        "raft did not commit the write in time (leadership changed?): it was not acknowledged",
    )
}

fn no_leader() -> NamingError {
    NamingError::new(
        ErrorKind::Unavailable,
        "no raft leader: the write was not accepted",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proposal_context_answers_only_its_own_run() {
        let (this_run, earlier_run) = (new_incarnation(), new_incarnation());
        assert_ne!(this_run, earlier_run);
        let context = proposal_context(this_run, 5);
        assert_eq!(proposal_id(this_run, &context), Some(5));
        // The same id proposed by an earlier run of this node (or another node) is not ours.
        assert_eq!(proposal_id(earlier_run, &context), None);
        // Contexts of other shapes (the catch-up read index, empty) are nobody's proposal.
        assert_eq!(proposal_id(this_run, CATCH_UP_CONTEXT), None);
        assert_eq!(proposal_id(this_run, &[]), None);
        assert_eq!(proposal_id(this_run, &5u64.to_be_bytes()), None);
    }
}
