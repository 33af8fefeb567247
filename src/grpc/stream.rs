//! One HTTP/2 stream of a gRPC connection: the unary `/Request/request`, or the
//! `/BiRequestStream/requestBiStream` that carries connection setup, server pushes with their
//! acks, and client detection.

use std::rc::Rc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::future::FusedFuture;
use futures::FutureExt;
use glommio::channels::local_channel::{self, LocalReceiver};
use h2::server::SendResponse;
use h2::RecvStream;
use http::{HeaderMap, HeaderValue, Request, Response};

use crate::api::grpc as handlers;
use crate::grpc::conn::Connection;
use crate::grpc::frame::{self, FrameError};
use crate::grpc::lane::{PushLane, Retry};
use crate::grpc::payload::{self, Incoming, PayloadError};
use crate::limits::{
    GRPC_IDLE_DETECTION_MS, GRPC_MESSAGE_BYTES_MAX, GRPC_REPLY_TIMEOUT_MS, PUSH_WRITE_STALL_MS,
};
use crate::shard::core::{Delivery, PushTopic};
use crate::shard::CoreHandle;

/// gRPC status codes (grpc/doc/statuscodes.md) used here.
const GRPC_INVALID_ARGUMENT: u32 = 3;
const GRPC_RESOURCE_EXHAUSTED: u32 = 8;
const GRPC_UNIMPLEMENTED: u32 = 12;
const GRPC_INTERNAL: u32 = 13;

/// The longest a bi-stream sleeps before it looks at its connection again, whatever its
/// deadlines say (a bound, not a tick: an idle connection wakes once per idle period).
const BI_STREAM_SLEEP_MS_MAX: u64 = GRPC_IDLE_DETECTION_MS;

pub async fn serve(
    request: Request<RecvStream>,
    respond: SendResponse<Bytes>,
    connection: Rc<Connection>,
    core: CoreHandle,
) {
    connection.touch(core.now_ms());
    let path = request.uri().path().to_string();
    let body = request.into_body();
    match path.as_str() {
        // Boxed: the task of a held bi-stream is then sized by the bi-stream alone, not by
        // the (larger) state of a unary request's handlers.
        "/Request/request" => Box::pin(unary(body, respond, &connection, &core)).await,
        "/BiRequestStream/requestBiStream" => {
            BiStream::run(body, respond, connection, core).await;
        }
        _ => {
            let message = format!("unknown gRPC method {path}");
            trailers_only(respond, GRPC_UNIMPLEMENTED, &message);
        }
    }
}

pub(crate) fn response_head() -> Response<()> {
    let mut response = Response::new(());
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static("application/grpc"));
    response
}

pub(crate) fn status_trailers(code: u32, message: &str) -> HeaderMap {
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", HeaderValue::from(code));
    // grpc-message must be percent-encoded; our messages are ASCII, spaces encoded.
    let encoded: String = message
        .chars()
        .filter(char::is_ascii)
        .map(|c| {
            if c.is_ascii_graphic() && c != '%' {
                c.to_string()
            } else {
                format!("%{:02X}", c as u8)
            }
        })
        .collect();
    if let Ok(value) = HeaderValue::from_str(&encoded) {
        trailers.insert("grpc-message", value);
    }
    trailers
}

/// `grpc-status: 0` alone: no message to encode, nothing allocated but the map.
fn ok_trailers() -> HeaderMap {
    let mut trailers = HeaderMap::with_capacity(1);
    trailers.insert("grpc-status", HeaderValue::from_static("0"));
    trailers
}

/// Answers with status only (a "Trailers-Only" response).
pub(crate) fn trailers_only(mut respond: SendResponse<Bytes>, code: u32, message: &str) {
    let mut head = response_head();
    for (name, value) in status_trailers(code, message).iter() {
        head.headers_mut().insert(name.clone(), value.clone());
    }
    let _ = respond.send_response(head, true);
}

/// Reads one whole gRPC message, refusing oversized ones as soon as their length is known.
pub(crate) async fn read_message(
    body: &mut RecvStream,
    max_bytes: usize,
) -> Result<Bytes, (u32, String)> {
    let mut buf = BytesMut::new();
    loop {
        match frame::decode_with_limit(&mut buf, max_bytes) {
            Ok(Some(message)) => return Ok(message),
            Ok(None) => {}
            Err(error @ FrameError::TooLarge(_)) => {
                return Err((GRPC_RESOURCE_EXHAUSTED, error.to_string()))
            }
            Err(error) => return Err((GRPC_UNIMPLEMENTED, error.to_string())),
        }
        match body.data().await {
            Some(Ok(chunk)) => {
                let _ = body.flow_control().release_capacity(chunk.len());
                buf.extend_from_slice(&chunk);
            }
            Some(Err(error)) => return Err((GRPC_INTERNAL, error.to_string())),
            None => return Err((GRPC_INTERNAL, "the request ended before its message".into())),
        }
        debug_assert!(buf.len() <= max_bytes + frame::FRAME_HEADER_BYTES + (1 << 20));
    }
}

async fn unary(
    mut body: RecvStream,
    respond: SendResponse<Bytes>,
    connection: &Rc<Connection>,
    core: &CoreHandle,
) {
    let message = match read_message(&mut body, GRPC_MESSAGE_BYTES_MAX).await {
        Ok(message) => message,
        Err((code, text)) => return trailers_only(respond, code, &text),
    };
    // --- metrics ---
    let started = std::time::Instant::now();
    let (kind, json) = match payload::decode(&message) {
        Ok(incoming) => {
            let api = crate::api::metrics::classify_grpc(&incoming.kind, &incoming.body);
            let logged_kind = core.access_log().map(|_| incoming.kind.clone());
            let (kind, json) = handlers::handle(core, connection, incoming).await;
            let served = crate::api::metrics::GrpcServed {
                api,
                kind: logged_kind.as_deref().unwrap_or(""),
                answer_kind: &kind,
                answer: &json,
            };
            let latency_us = started.elapsed().as_micros() as u64;
            crate::api::metrics::record_grpc(core, connection.remote.ip(), served, latency_us);
            (kind, json)
        }
        Err(PayloadError::Undecodable(text)) => {
            let text = format!("not a Nacos Payload: {text}");
            return trailers_only(respond, GRPC_INVALID_ARGUMENT, &text);
        }
        Err(PayloadError::BadJson { kind, reason }) => handlers::bad_json(&kind, &reason),
    };
    reply_unary_framed(respond, payload::encode_framed(&kind, &json));
}

/// Answers a unary call with one message and `grpc-status: 0`.
pub(crate) fn reply_unary(respond: SendResponse<Bytes>, message: &[u8]) {
    reply_unary_framed(respond, frame::encode(message));
}

/// `reply_unary` with the message already framed.
fn reply_unary_framed(mut respond: SendResponse<Bytes>, framed: Bytes) {
    let Ok(mut send) = respond.send_response(response_head(), false) else {
        return;
    };
    if send.send_data(framed, false).is_ok() {
        let _ = send.send_trailers(ok_trailers());
    }
}

/// The bi-stream of one connection: it registers the connection, writes the pushes its lane
/// could not write at once, matches their acks, retries, and detects dead clients.
struct BiStream {
    lane: Rc<PushLane>,
    connection: Rc<Connection>,
    core: CoreHandle,
    inbox: LocalReceiver<Delivery>,
    next_request_id: u64,
    /// The request id of an unanswered `ClientDetectionRequest` and when it was sent.
    detection: Option<(u64, u64)>,
}

enum Step {
    Continue,
    Close(&'static str),
}

enum Event {
    Data(Option<Result<Bytes, h2::Error>>),
    Push(Option<Delivery>),
    /// The earliest deadline (detection, a push's ack, a retry) is due.
    Due,
    /// The core wrote a push itself: there is now an ack to wait for.
    Poked,
}

impl BiStream {
    async fn run(
        mut body: RecvStream,
        respond: SendResponse<Bytes>,
        connection: Rc<Connection>,
        core: CoreHandle,
    ) {
        let mut respond = respond;
        let Ok(send) = respond.send_response(response_head(), false) else {
            return;
        };
        let (sender, inbox) = local_channel::new_unbounded();
        let mut stream = BiStream {
            lane: Rc::new(PushLane::new(send, sender)),
            connection,
            core,
            inbox,
            next_request_id: 0,
            detection: None,
        };
        let reason = stream.serve(&mut body).await;
        tracing::debug!(connection = stream.connection.id, reason, "bi-stream ended");
        stream.connection.close();
    }

    async fn serve(&mut self, body: &mut RecvStream) -> &'static str {
        let mut buf = BytesMut::new();
        // One timer, re-armed only when a deadline moves earlier or it fires: a held
        // connection with nothing in flight wakes once per idle period, not on every tick of
        // a clock (100,000 connections must cost their core nothing while they idle).
        // When it fires is kept in the lane (`LaneState::armed_ms`): the core reads it too.
        let mut timer = Box::pin(futures::future::Fuse::<glommio::timer::Timer>::terminated());
        loop {
            let now_ms = self.core.now_ms();
            let due_ms = self.next_deadline_ms(now_ms);
            let armed_ms = self.lane.state.borrow().armed_ms;
            if due_ms < armed_ms || timer.is_terminated() {
                self.lane.state.borrow_mut().armed_ms = due_ms;
                let wait = Duration::from_millis(due_ms.saturating_sub(now_ms));
                timer.set(glommio::timer::Timer::new(wait).fuse());
            }
            let lane = self.lane.clone();
            let event = futures::select_biased! {
                data = body.data().fuse() => Event::Data(data),
                push = self.inbox.recv().fuse() => Event::Push(push),
                _ = futures::future::poll_fn(|cx| lane.poll_poked(cx)).fuse() => Event::Poked,
                _ = timer.as_mut() => {
                    self.lane.state.borrow_mut().armed_ms = u64::MAX;
                    Event::Due
                }
            };
            // The handlers' futures are boxed: the task of a held connection then carries only
            // the wait above, not the largest handler's state.
            let step = match event {
                Event::Data(Some(Ok(chunk))) => {
                    let _ = body.flow_control().release_capacity(chunk.len());
                    buf.extend_from_slice(&chunk);
                    let step = Box::pin(self.on_data(&mut buf)).await;
                    if buf.is_empty() {
                        // Nothing partial is held: an idle stream keeps no read buffer.
                        buf = BytesMut::new();
                    }
                    step
                }
                Event::Data(Some(Err(_)) | None) => Step::Close("the client ended the stream"),
                Event::Push(Some(push)) => {
                    let step =
                        Box::pin(self.send_push(push.topic, push.request_id, push.frame)).await;
                    self.lane.dequeued();
                    step
                }
                Event::Push(None) => Step::Close("push queue overflowed"),
                Event::Poked => Step::Continue,
                Event::Due => Box::pin(self.on_due()).await,
            };
            if let Step::Close(reason) = step {
                return reason;
            }
        }
    }

    async fn on_data(&mut self, buf: &mut BytesMut) -> Step {
        loop {
            let message = match frame::decode(buf) {
                Ok(Some(message)) => message,
                Ok(None) => return Step::Continue,
                Err(_) => return Step::Close("bad frame on the bi-stream"),
            };
            self.connection.touch(self.core.now_ms());
            let step = match payload::decode(&message) {
                Ok(incoming) => self.on_message(incoming).await,
                Err(_) => Step::Close("undecodable message on the bi-stream"),
            };
            if let Step::Close(reason) = step {
                return Step::Close(reason);
            }
        }
    }

    async fn on_message(&mut self, incoming: Incoming) -> Step {
        match incoming.kind.as_str() {
            "ConnectionSetupRequest" => self.on_setup(&incoming).await,
            "NotifySubscriberResponse"
            | "ConfigChangeNotifyResponse"
            | "ClientDetectionResponse"
            | "ErrorResponse" => {
                self.on_ack(&incoming);
                Step::Continue
            }
            // Other replies (e.g. ConnectResetResponse) need no action.
            _ => Step::Continue,
        }
    }

    async fn on_setup(&mut self, incoming: &Incoming) -> Step {
        // The lane joins the core at the first setup; until then no push is made for it.
        if self.connection.is_registered() {
            return Step::Continue;
        }
        let client_ip = incoming
            .body
            .get("clientIp")
            .and_then(|v| v.as_str())
            .filter(|ip| !ip.is_empty())
            .unwrap_or(&incoming.client_ip)
            .to_string();
        let version = incoming
            .body
            .get("clientVersion")
            .and_then(|v| v.as_str())
            .unwrap_or("");
        self.connection.register(&client_ip, version);
        self.core
            .add_push_sink(self.connection.uid, self.lane.clone());
        // Only clients that negotiate abilities (they send an `abilityTable`, Java 2.3+) wait
        // for SetupAck; older clients do not know the type and would answer it with an error.
        if !incoming
            .body
            .get("abilityTable")
            .is_some_and(|t| t.is_object())
        {
            return Step::Continue;
        }
        let ack = handlers::setup_ack();
        self.write_framed(payload::encode_framed("SetupAckRequest", &ack))
            .await
    }

    /// Matches a reply to a push or detection by its request id. A failed reply to a push
    /// (`ErrorResponse`) schedules a retry like a timeout does.
    fn on_ack(&mut self, incoming: &Incoming) {
        let Some(request_id) = request_id_of(incoming) else {
            return;
        };
        let success = incoming.kind != "ErrorResponse"
            && incoming
                .body
                .get("resultCode")
                .and_then(|c| c.as_u64())
                .unwrap_or(200)
                == 200;
        if self.detection.is_some_and(|(id, _)| id == request_id) {
            self.detection = None;
            return;
        }
        let mut state = self.lane.state.borrow_mut();
        if success {
            state.in_flight.remove(&request_id);
        } else {
            state.retry_later(request_id, self.core.now_ms());
        }
    }

    async fn send_push(&mut self, topic: PushTopic, request_id: u64, frame: Bytes) -> Step {
        let step = self.write_framed(frame.clone()).await;
        let now_ms = self.core.now_ms();
        self.lane
            .state
            .borrow_mut()
            .sent(topic, request_id, frame, now_ms);
        step
    }

    /// When the next thing to check is due: the answer to a detection, the idle period's end
    /// (then a detection is sent), the oldest push's ack timeout, the first retry.
    fn next_deadline_ms(&self, now_ms: u64) -> u64 {
        let mut due_ms = now_ms + BI_STREAM_SLEEP_MS_MAX;
        if let Some((_, sent_ms)) = self.detection {
            due_ms = due_ms.min(sent_ms + GRPC_REPLY_TIMEOUT_MS + 1);
        } else if self.connection.is_registered() {
            let idle_ms = self.connection.idle_ms(now_ms);
            due_ms = due_ms.min(now_ms + GRPC_IDLE_DETECTION_MS.saturating_sub(idle_ms));
        }
        let state = self.lane.state.borrow();
        let oldest_push_ms = state.in_flight.values().map(|f| f.sent_at_ms).min();
        if let Some(sent_ms) = oldest_push_ms {
            due_ms = due_ms.min(sent_ms + GRPC_REPLY_TIMEOUT_MS + 1);
        }
        if let Some(retry_ms) = state.retries.iter().map(|r| r.due_ms).min() {
            due_ms = due_ms.min(retry_ms);
        }
        due_ms.max(now_ms)
    }

    async fn on_due(&mut self) -> Step {
        let now_ms = self.core.now_ms();
        if let Some((_, sent_ms)) = self.detection {
            if now_ms.saturating_sub(sent_ms) > GRPC_REPLY_TIMEOUT_MS {
                return Step::Close("the client did not answer ClientDetectionRequest");
            }
        } else if self.connection.is_registered()
            && self.connection.idle_ms(now_ms) >= GRPC_IDLE_DETECTION_MS
        {
            self.next_request_id += 1;
            let request_id = self.next_request_id;
            self.detection = Some((request_id, now_ms));
            let json = handlers::client_detection(request_id);
            if let Step::Close(reason) = self
                .write_framed(payload::encode_framed("ClientDetectionRequest", &json))
                .await
            {
                return Step::Close(reason);
            }
        }
        self.expire_pushes(now_ms);
        self.send_due_retries(now_ms).await
    }

    /// Pushes unanswered for the reply timeout are retried after the retry delay.
    fn expire_pushes(&mut self, now_ms: u64) {
        let mut state = self.lane.state.borrow_mut();
        let expired: Vec<u64> = state
            .in_flight
            .iter()
            .filter(|(_, f)| now_ms.saturating_sub(f.sent_at_ms) > GRPC_REPLY_TIMEOUT_MS)
            .map(|(&id, _)| id)
            .collect();
        for request_id in expired {
            state.retry_later(request_id, now_ms);
        }
    }

    async fn send_due_retries(&mut self, now_ms: u64) -> Step {
        let due: Vec<Retry> = {
            let mut state = self.lane.state.borrow_mut();
            let (due, waiting) = std::mem::take(&mut state.retries)
                .into_iter()
                .partition(|r| r.due_ms <= now_ms);
            state.retries = waiting;
            due
        };
        // A retry sends the same push again, under the same request id.
        for retry in due {
            if let Step::Close(reason) = self
                .send_push(retry.topic, retry.request_id, retry.frame)
                .await
            {
                return Step::Close(reason);
            }
        }
        Step::Continue
    }

    /// Holds the stream for the task while it writes, so the core queues pushes meanwhile
    /// instead of writing between a retry and its wait for capacity.
    async fn write_framed(&mut self, framed: Bytes) -> Step {
        self.lane.state.borrow_mut().task_writing = true;
        let step = self.write_when_capacity(framed).await;
        self.lane.state.borrow_mut().task_writing = false;
        step
    }

    /// Writes the message piece by piece as flow-control capacity comes; a peer that lets
    /// `PUSH_WRITE_STALL_MS` pass without taking any of it is disconnected.
    async fn write_when_capacity(&mut self, framed: Bytes) -> Step {
        let lane = self.lane.clone();
        let stall = Duration::from_millis(PUSH_WRITE_STALL_MS);
        let mut left = framed;
        let mut deadline = std::time::Instant::now() + stall;
        loop {
            let before = left.len();
            if lane.state.borrow_mut().write_some(&mut left).is_err() {
                return Step::Close("the stream closed");
            }
            if left.is_empty() {
                return Step::Continue;
            }
            if left.len() < before {
                deadline = std::time::Instant::now() + stall;
            }
            let wait = deadline.saturating_duration_since(std::time::Instant::now());
            let capacity =
                futures::future::poll_fn(|cx| lane.state.borrow_mut().send.poll_capacity(cx));
            let waited = glommio::timer::timeout(wait, async { Ok(capacity.await) }).await;
            match waited {
                Ok(Some(Ok(_))) => {}
                Ok(Some(Err(_)) | None) => return Step::Close("the stream closed"),
                Err(_) => return Step::Close("the client stopped reading its pushes"),
            }
        }
    }
}

/// The framed `NotifySubscriberRequest` carrying `service_info`.
pub(crate) fn notify_frame(request_id: u64, service_info: &[u8]) -> Bytes {
    let json = handlers::notify_subscriber(request_id, service_info);
    payload::encode_framed("NotifySubscriberRequest", &json)
}

/// A framed server request of type `kind` with JSON body `json` (config change pushes).
pub(crate) fn request_frame(kind: &str, json: Vec<u8>) -> Bytes {
    payload::encode_framed(kind, &json)
}

fn request_id_of(incoming: &Incoming) -> Option<u64> {
    match incoming.body.get("requestId")? {
        serde_json::Value::String(s) => s.parse().ok(),
        serde_json::Value::Number(n) => n.as_u64(),
        _ => None,
    }
}
