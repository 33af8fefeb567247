//! The push side of one connection's bi-stream, shared on its core by two writers: the core,
//! which writes a push straight to the HTTP/2 stream when nothing waits ahead of it (no task
//! hop per push in a fan-out), and the bi-stream task, which writes whatever had to wait for
//! flow-control capacity, its own requests, and retries, and matches acks. Both borrow the
//! state briefly and never across an `.await`.

use std::cell::RefCell;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use glommio::channels::local_channel::LocalSender;
use h2::SendStream;
use hashbrown::HashMap;

use crate::limits::{GRPC_REPLY_TIMEOUT_MS, PUSH_QUEUE_PER_CONNECTION_MAX, PUSH_RETRY_DELAY_MS};
use crate::shard::core::{Delivery, PushSink, PushTopic};

/// A push sent and not yet acknowledged.
pub(crate) struct InFlight {
    pub topic: PushTopic,
    /// The framed push, sent again as is on a retry.
    pub frame: Bytes,
    pub sent_at_ms: u64,
}

/// A push to send again at `due_ms`, under its first request id.
pub(crate) struct Retry {
    pub due_ms: u64,
    pub topic: PushTopic,
    pub request_id: u64,
    pub frame: Bytes,
}

pub(crate) struct LaneState {
    pub send: SendStream<Bytes>,
    pub in_flight: HashMap<u64, InFlight>,
    pub retries: Vec<Retry>,
    /// Pushes handed to the task and not yet written. While any wait, new pushes queue behind
    /// them: a client sees a service's pushes in the order they were made.
    pub queued: usize,
    /// The task is writing (and may be waiting for capacity): it owns the stream until done.
    pub task_writing: bool,
    /// A push went in flight whose ack timeout falls before the task's armed deadline: the
    /// task must arm it. Set with `poke_waker` woken, taken by `PushLane::poll_poked`.
    poked: bool,
    /// When the task's timer fires (`u64::MAX`: not armed). A push whose ack is due later
    /// needs no wakeup: the task looks at every push in flight when the timer fires, so a
    /// fan-out wakes a connection's task once per ack timeout, not once per push.
    pub armed_ms: u64,
    poke_waker: Option<Waker>,
}

pub(crate) struct StreamClosed;

pub(crate) enum WriteNow {
    Written,
    NoCapacity,
    Closed,
}

impl LaneState {
    /// Writes `frame` whole if the stream has the flow-control capacity for it now; the core
    /// writes whole messages only, so that one it cannot is the task's from its first byte.
    pub fn write_now(&mut self, frame: &Bytes) -> WriteNow {
        let needed = frame.len();
        self.send.reserve_capacity(needed);
        if self.send.capacity() < needed {
            return WriteNow::NoCapacity;
        }
        match self.send.send_data(frame.clone(), false) {
            Ok(()) => WriteNow::Written,
            Err(_) => WriteNow::Closed,
        }
    }

    /// Writes as much of `frame` as the stream has capacity for now and leaves the rest in
    /// it. A message larger than the peer's window (a big service to a client with the
    /// default 64 KiB window) can only go out this way, piece by piece as the peer reads.
    pub fn write_some(&mut self, frame: &mut Bytes) -> Result<(), StreamClosed> {
        self.send.reserve_capacity(frame.len());
        let writable = self.send.capacity().min(frame.len());
        if writable == 0 {
            return Ok(());
        }
        let piece = frame.split_to(writable);
        self.send.send_data(piece, false).map_err(|_| StreamClosed)
    }

    /// Records a push written to the stream. It supersedes an older push for the service
    /// still waiting for its ack or its retry.
    pub fn sent(&mut self, topic: PushTopic, request_id: u64, frame: Bytes, now_ms: u64) {
        if now_ms + GRPC_REPLY_TIMEOUT_MS + 1 < self.armed_ms {
            self.poked = true;
            if let Some(waker) = self.poke_waker.take() {
                waker.wake();
            }
        }
        self.in_flight.retain(|_, f| f.topic != topic);
        self.retries.retain(|r| r.topic != topic);
        let flight = InFlight {
            topic,
            frame,
            sent_at_ms: now_ms,
        };
        self.in_flight.insert(request_id, flight);
    }

    /// The push `request_id` (failed or unanswered) goes out again after the retry delay,
    /// unless a newer push superseded it.
    pub fn retry_later(&mut self, request_id: u64, now_ms: u64) {
        let Some(flight) = self.in_flight.remove(&request_id) else {
            return;
        };
        self.retries.push(Retry {
            due_ms: now_ms + PUSH_RETRY_DELAY_MS,
            topic: flight.topic,
            request_id,
            frame: flight.frame,
        });
    }

    /// Whether the core may write a push itself rather than queue it for the task.
    fn writable_by_core(&self) -> bool {
        self.queued == 0 && !self.task_writing
    }
}

pub(crate) struct PushLane {
    pub state: RefCell<LaneState>,
    /// To the task: pushes that could not be written at once, at most
    /// `PUSH_QUEUE_PER_CONNECTION_MAX` (counted in `queued`; the channel is unbounded so that
    /// an idle connection holds no queue: a bounded one allocates its whole capacity up
    /// front, 128 KiB, one mapping per connection). Dropped to close the connection (the
    /// task then sees the inbox end).
    inbox: RefCell<Option<LocalSender<Delivery>>>,
}

impl PushLane {
    pub fn new(send: SendStream<Bytes>, inbox: LocalSender<Delivery>) -> PushLane {
        PushLane {
            state: RefCell::new(LaneState {
                send,
                in_flight: HashMap::new(),
                retries: Vec::new(),
                queued: 0,
                task_writing: false,
                poked: false,
                armed_ms: u64::MAX,
                poke_waker: None,
            }),
            inbox: RefCell::new(Some(inbox)),
        }
    }

    /// Ready once a push went in flight that the armed timer would check too late (see
    /// `LaneState::poked`).
    pub fn poll_poked(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.state.borrow_mut();
        if std::mem::take(&mut state.poked) {
            return Poll::Ready(());
        }
        state.poke_waker = Some(cx.waker().clone());
        Poll::Pending
    }

    /// The task finished writing one queued push.
    pub fn dequeued(&self) {
        let mut state = self.state.borrow_mut();
        debug_assert!(state.queued > 0, "dequeued more pushes than were queued");
        state.queued = state.queued.saturating_sub(1);
    }
}

impl PushSink for PushLane {
    fn offer(&self, push: Delivery, now_ms: u64) -> bool {
        {
            let mut state = self.state.borrow_mut();
            if state.writable_by_core() {
                match state.write_now(&push.frame) {
                    WriteNow::Written => {
                        state.sent(push.topic, push.request_id, push.frame, now_ms);
                        return true;
                    }
                    WriteNow::Closed => return false,
                    WriteNow::NoCapacity => {}
                }
            }
            if state.queued >= PUSH_QUEUE_PER_CONNECTION_MAX {
                // The client lets pushes pile up: the connection is closed (false).
                return false;
            }
            state.queued += 1;
        }
        let inbox = self.inbox.borrow();
        inbox
            .as_ref()
            .is_some_and(|inbox| inbox.try_send(push).is_ok())
    }

    fn close(&self) {
        self.inbox.borrow_mut().take();
    }
}
