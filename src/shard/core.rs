//! `Core`: one executor's share of the server. It owns the `Registry` of the services whose
//! owner it is, and routes every `NamingOp` to the core that owns its service.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use futures::channel::oneshot;
use glommio::channels::channel_mesh::{Receivers, Senders};

use crate::naming::error::{ErrorKind, NamingError};
use crate::naming::op::{NamingOp, NamingReply};
use crate::naming::registry::Registry;
use crate::naming::switches::Switches;
use crate::shard::owner::owner_core;

/// A message between cores: an op for the receiving core, and where to send its reply.
pub struct Envelope {
    pub op: NamingOp,
    pub reply: oneshot::Sender<NamingReply>,
}

/// Shared within one core only (`Rc`, never `Arc`): tasks on this executor borrow it briefly
/// and never across an `.await`.
pub type CoreHandle = Rc<Core>;

pub struct Core {
    pub id: usize,
    pub cores: usize,
    registry: RefCell<Registry>,
    senders: Option<Senders<Envelope>>,
    clock_origin: Instant,
}

impl Core {
    pub fn new(
        id: usize,
        cores: usize,
        senders: Option<Senders<Envelope>>,
        origin: Instant,
    ) -> Core {
        assert!(id < cores);
        assert_eq!(
            senders.is_some(),
            cores > 1,
            "the mesh exists exactly when cores > 1"
        );
        let now_ms = origin.elapsed().as_millis() as u64;
        Core {
            id,
            cores,
            registry: RefCell::new(Registry::new(now_ms)),
            senders,
            clock_origin: origin,
        }
    }

    /// Monotonic ms since the process started; the same origin on every core.
    pub fn now_ms(&self) -> u64 {
        self.clock_origin.elapsed().as_millis() as u64
    }

    /// Runs `op` on this core's registry. Only for ops this core owns (or fan-out ops).
    pub fn apply_local(&self, op: NamingOp) -> NamingReply {
        debug_assert!(op
            .service_key()
            .is_none_or(|k| owner_core(k, self.cores) == self.id));
        let now_ms = self.now_ms();
        self.registry.borrow_mut().apply(op, now_ms)
    }

    /// Runs `op` on the owner core of its service and returns the reply.
    pub async fn execute(&self, op: NamingOp) -> NamingReply {
        let Some(key) = op.service_key() else {
            unreachable!("fan-out ops go through execute_everywhere");
        };
        let owner = owner_core(key, self.cores);
        if owner == self.id {
            return self.apply_local(op);
        }
        self.execute_on(owner, op).await
    }

    async fn execute_on(&self, owner: usize, op: NamingOp) -> NamingReply {
        debug_assert_ne!(owner, self.id);
        let Some(senders) = &self.senders else {
            unreachable!("a remote owner exists only when the mesh does");
        };
        let (reply_tx, reply_rx) = oneshot::channel();
        let envelope = Envelope {
            op,
            reply: reply_tx,
        };
        if senders.send_to(owner, envelope).await.is_err() {
            return core_down(owner);
        }
        reply_rx.await.unwrap_or_else(|_| core_down(owner))
    }

    /// Runs a fan-out op on every core (this one inline) and returns the replies.
    pub async fn execute_everywhere(&self, op: NamingOp) -> Vec<NamingReply> {
        debug_assert!(op.service_key().is_none());
        let mut replies = Vec::with_capacity(self.cores);
        for core in 0..self.cores {
            let reply = if core == self.id {
                self.apply_local(op.clone())
            } else {
                self.execute_on(core, op.clone()).await
            };
            replies.push(reply);
        }
        replies
    }

    /// Reads this core's copy of the switches.
    pub fn with_switches<R>(&self, read: impl FnOnce(&Switches) -> R) -> R {
        read(&self.registry.borrow().switches)
    }

    /// Advances this core's timing wheel to now.
    pub fn advance_timers(&self) -> usize {
        let now_ms = self.now_ms();
        self.registry.borrow_mut().advance(now_ms)
    }
}

fn core_down(core: usize) -> NamingReply {
    NamingReply::Error(NamingError::new(
        ErrorKind::Internal,
        format!("core {core} is not answering"),
    ))
}

/// Serves ops sent to this core by the others: one task per peer channel, so a busy peer
/// cannot starve another.
pub fn spawn_mesh_servers(core: &CoreHandle, mut receivers: Receivers<Envelope>) {
    for (peer, receiver) in receivers.streams() {
        let core = core.clone();
        glommio::spawn_local(async move {
            while let Some(envelope) = receiver.recv().await {
                let reply = core.apply_local(envelope.op);
                // The asking connection may be gone; then nobody wants the reply.
                let _ = envelope.reply.send(reply);
            }
            tracing::debug!(core = core.id, peer, "mesh channel closed");
        })
        .detach();
    }
}

/// Drives heartbeat expiry: advances the wheel every `tick`.
pub fn spawn_timer_driver(core: &CoreHandle, tick: Duration) {
    let core = core.clone();
    glommio::spawn_local(async move {
        loop {
            glommio::timer::sleep(tick).await;
            let changed = core.advance_timers();
            if changed > 0 {
                tracing::debug!(core = core.id, changed, "heartbeat expiry changed services");
            }
        }
    })
    .detach();
}
