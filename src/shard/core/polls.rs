//! HTTP long polls on a core: the `PollTable` of the polls this core holds, their
//! registration on the owner cores of the keys they watch, the wakes owner cores send back,
//! and the sweeper that times them out.
//!
//! A poll is registered on every owner core *before* the md5s are compared (Java compares
//! first and so misses a change in between); the owner then wakes it by id, on the core the id
//! names, and the holder answers with the key that changed and unregisters the rest.

use std::time::Duration;

use futures::channel::oneshot;

use crate::config::item::ReaderLabels;
use crate::config::key::ConfigKey;
use crate::config::polls::{poll_holder, PollTable};
use crate::config::store::Listener;
use crate::limits::{CONFIG_HELD_POLLS_PER_CORE_MAX, CONFIG_POLL_SWEEP_MS};
use crate::shard::core::{config_owner, ConfigOp, ConfigReply, Core, CoreHandle, Envelope};

/// What a held poll tells its waiter: the key that changed.
pub type PollWaiter = oneshot::Sender<ConfigKey>;

pub fn new_poll_table(core: usize) -> PollTable<PollWaiter> {
    PollTable::new(core, CONFIG_HELD_POLLS_PER_CORE_MAX)
}

/// How a long poll ended.
#[derive(Debug, PartialEq, Eq)]
pub enum PollOutcome {
    /// Indices of the entries whose content changed.
    Changed(Vec<usize>),
    /// Nothing changed before the hold ran out (or the client asked not to wait).
    Unchanged,
    /// This core already holds `CONFIG_HELD_POLLS_PER_CORE_MAX` polls.
    Full,
}

impl Core {
    /// A long poll: registers `entries` on their owner cores, answers at once if any md5
    /// differs (or `no_hangup`), else waits up to `hold_ms` for the first change.
    pub async fn hold_poll(
        &self,
        entries: Vec<(ConfigKey, Listener)>,
        labels: ReaderLabels,
        hold_ms: u64,
        no_hangup: bool,
    ) -> PollOutcome {
        let (waiter, woken) = oneshot::channel();
        let deadline_ms = self.now_ms() + hold_ms;
        let Ok(poll) = self.polls.borrow_mut().admit(deadline_ms, waiter) else {
            return PollOutcome::Full;
        };
        let changed = self.listen_poll(poll, &entries, &labels, true).await;
        let outcome = if !changed.is_empty() || no_hangup {
            self.polls.borrow_mut().take(poll);
            if changed.is_empty() {
                PollOutcome::Unchanged
            } else {
                PollOutcome::Changed(changed)
            }
        } else {
            match woken.await {
                Ok(key) => {
                    let first = entries.iter().position(|(k, _)| *k == key);
                    PollOutcome::Changed(first.into_iter().collect())
                }
                // The sweeper dropped the waiter: the hold ran out.
                Err(_) => PollOutcome::Unchanged,
            }
        };
        self.unlisten_poll(poll, &entries).await;
        outcome
    }

    /// A short poll (no timeout header): the entries whose md5 differs, registering nothing.
    pub async fn compare_poll(
        &self,
        entries: Vec<(ConfigKey, Listener)>,
        labels: ReaderLabels,
    ) -> Vec<usize> {
        self.listen_poll(0, &entries, &labels, false).await
    }

    async fn listen_poll(
        &self,
        poll: u64,
        entries: &[(ConfigKey, Listener)],
        labels: &ReaderLabels,
        register: bool,
    ) -> Vec<usize> {
        self.on_owners(entries, |part| ConfigOp::ListenPoll {
            poll,
            entries: part,
            labels: labels.clone(),
            register,
        })
        .await
    }

    async fn unlisten_poll(&self, poll: u64, entries: &[(ConfigKey, Listener)]) {
        self.on_owners(entries, |part| ConfigOp::UnlistenPoll {
            poll,
            keys: part.into_iter().map(|(key, _)| key).collect(),
        })
        .await;
    }

    /// Sends each owner core the op `make_op` builds from the entries it owns; the indices
    /// (into `entries`) the owners answer `Changed` with, in order.
    pub(crate) async fn on_owners(
        &self,
        entries: &[(ConfigKey, Listener)],
        make_op: impl Fn(Vec<(ConfigKey, Listener)>) -> ConfigOp,
    ) -> Vec<usize> {
        let mut by_owner: Vec<Vec<usize>> = vec![Vec::new(); self.cores];
        for (i, (key, _)) in entries.iter().enumerate() {
            by_owner[config_owner(key, self.cores)].push(i);
        }
        let mut changed = Vec::new();
        for (owner, indices) in by_owner.into_iter().enumerate() {
            if indices.is_empty() {
                continue;
            }
            let part = indices.iter().map(|&i| entries[i].clone()).collect();
            if let ConfigReply::Changed(local) = self.execute_config_on(owner, make_op(part)).await
            {
                changed.extend(local.into_iter().filter_map(|j| indices.get(j).copied()));
            }
        }
        changed.sort_unstable();
        changed
    }

    /// An owner core's change reached polls: wakes those held here and sends the rest to
    /// their holders, one message per holder.
    pub(crate) fn route_poll_wakes(&self, key: &ConfigKey, polls: Vec<u64>) {
        let mut by_holder: Vec<Vec<(u64, ConfigKey)>> = vec![Vec::new(); self.cores];
        for poll in polls {
            let holder = poll_holder(poll);
            if holder < self.cores {
                by_holder[holder].push((poll, key.clone()));
            }
        }
        // The notify latency of a poll runs to its wake being handed to the holder core.
        let changed_us = self.now_us();
        for (holder, wakes) in by_holder.into_iter().enumerate() {
            if wakes.is_empty() {
                continue;
            }
            if holder == self.id {
                let woken = wakes.len();
                self.wake_polls(wakes);
                self.record_poll_notify_latency(changed_us, woken);
                continue;
            }
            let Some(core) = self.handle() else {
                return;
            };
            glommio::spawn_local(async move {
                if let Some(senders) = &core.senders {
                    let woken = wakes.len();
                    let _ = senders.send_to(holder, Envelope::PollWakes(wakes)).await;
                    core.record_poll_notify_latency(changed_us, woken);
                }
            })
            .detach();
        }
    }

    /// Wakes polls held here; a poll already answered is gone and its wake ignored.
    pub(crate) fn wake_polls(&self, wakes: Vec<(u64, ConfigKey)>) {
        for (poll, key) in wakes {
            debug_assert_eq!(poll_holder(poll), self.id);
            let waiter = self.polls.borrow_mut().take(poll);
            if let Some(waiter) = waiter {
                // The poll's request may have gone; then nobody waits for the answer.
                let _ = waiter.send(key);
            }
        }
    }

    /// How many long polls this core holds.
    pub fn held_polls(&self) -> usize {
        self.polls.borrow().len()
    }
}

/// Times out held polls every `CONFIG_POLL_SWEEP_MS` (a poll answers up to one sweep late).
pub fn spawn_poll_sweeper(core: &CoreHandle) {
    let core = core.clone();
    glommio::spawn_local(async move {
        loop {
            glommio::timer::sleep(Duration::from_millis(CONFIG_POLL_SWEEP_MS)).await;
            let now_ms = core.now_ms();
            // Dropping the waiters is the timeout signal.
            drop(core.polls.borrow_mut().expire(now_ms));
        }
    })
    .detach();
}
