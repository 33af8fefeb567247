//! One Nacos gRPC client connection over a glommio `TcpStream`: HTTP/2 through h2 (driven by a
//! task of its own), the connection lifecycle of nacos-protocol.md §3.3 (`ServerCheckRequest`,
//! the bi-stream with `ConnectionSetupRequest`, waiting for `SetupAckRequest`), unary calls on
//! `/Request/request`, and a stream task that answers the server's requests (push acks, client
//! detection) and hands pushes to the scenario.

use std::cell::Cell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use glommio::channels::local_channel::{self, LocalSender};
use glommio::net::TcpStream;
use glommio::Task;
use h2::client::{ResponseFuture, SendRequest};
use h2::{RecvStream, SendStream};
use tokio_util::compat::FuturesAsyncReadCompatExt;

use crate::grpc::messages::{
    self, check_reply, is_push, json_string_field, stream_reply_kind, Module,
};
use crate::grpc::stamped::ReadStamped;
use crate::grpc::wire::{decode_payload, encode_payload, unframe, Incoming, FRAME_HEADER_BYTES};
use crate::limits::{
    CONNECT_TIMEOUT_MS, GRPC_MESSAGE_BYTES_MAX, GRPC_SETUP_ACK_TIMEOUT_MS,
    GRPC_SETUP_WITHOUT_ACK_DELAY_MS, H2_CONNECTION_WINDOW_BYTES, H2_FRAME_BYTES_MAX,
    H2_PUSHED_STREAMS_MAX, H2_STREAM_WINDOW_BYTES,
};
use crate::stats::ErrorKind;

const UNARY_PATH: &str = "/Request/request";
const BI_STREAM_PATH: &str = "/BiRequestStream/requestBiStream";

/// A push (`NotifySubscriberRequest`, `ConfigChangeNotifyRequest`) with its arrival time (when
/// its connection read it off the socket), after its ack was queued.
pub type PushHandler = Rc<dyn Fn(Instant, &Incoming)>;

/// An open, set-up Nacos gRPC connection. Dropping it cancels the h2 driver and the stream
/// task, which closes the TCP connection (the server then releases its instances).
pub struct GrpcConnection {
    send: SendRequest<Bytes>,
    /// Owned so that dropping the connection cancels them.
    _driver: Task<()>,
    _stream: Task<()>,
}

impl GrpcConnection {
    /// Connects and runs the lifecycle up to a registered connection: TCP, h2 handshake,
    /// `ServerCheckRequest`, bi-stream with `ConnectionSetupRequest`, then `SetupAckRequest`
    /// (or the Java client's 100 ms pause when the server negotiates no abilities). Every
    /// step is bounded by `timeout`.
    pub async fn open(
        server: SocketAddr,
        timeout: Duration,
        on_push: Option<PushHandler>,
    ) -> Result<Self, ErrorKind> {
        Self::open_module(server, timeout, on_push, Module::Naming).await
    }

    /// `open` for a connection of SDK module `module` (its setup label).
    pub async fn open_module(
        server: SocketAddr,
        timeout: Duration,
        on_push: Option<PushHandler>,
        module: Module,
    ) -> Result<Self, ErrorKind> {
        let (send, driver, last_read) = handshake(server).await?;
        let mut connection_send = send.clone();
        let check = with_timeout(
            timeout,
            unary(
                &mut connection_send,
                "ServerCheckRequest",
                messages::internal_request(),
            ),
        )
        .await?;
        check_reply("ServerCheckResponse", &check.kind, &check.body)?;
        let negotiates = messages::supports_ability_negotiation(&check.body);
        let (ack_sender, ack_receiver) = local_channel::new_bounded(1);
        let stream = open_bi_stream(&mut connection_send, module).await?;
        let pushes = Pushes { on_push, last_read };
        let stream = glommio::spawn_local(run_stream(stream.0, stream.1, pushes, ack_sender));
        if negotiates {
            let wait = Duration::from_millis(GRPC_SETUP_ACK_TIMEOUT_MS).min(timeout);
            let acked = glommio::timer::timeout(wait, async { Ok(ack_receiver.recv().await) });
            match acked.await {
                Ok(Some(())) => {}
                Ok(None) => return Err(ErrorKind::Io),
                Err(_) => return Err(ErrorKind::Timeout),
            }
        } else {
            glommio::timer::sleep(Duration::from_millis(GRPC_SETUP_WITHOUT_ACK_DELAY_MS)).await;
        }
        Ok(Self {
            send,
            _driver: driver,
            _stream: stream,
        })
    }

    /// One unary request of type `kind`, bounded by `timeout`, whose reply must be of type
    /// `expected_kind` with `resultCode` 200. Returns the reply for further checks.
    pub async fn call(
        &mut self,
        kind: &str,
        expected_kind: &str,
        json: Vec<u8>,
        timeout: Duration,
    ) -> Result<Incoming, ErrorKind> {
        let reply = with_timeout(timeout, unary(&mut self.send, kind, json)).await?;
        check_reply(expected_kind, &reply.kind, &reply.body)?;
        Ok(reply)
    }
}

/// Runs `future` for at most `timeout`; running out is `ErrorKind::Timeout`.
async fn with_timeout<T>(
    timeout: Duration,
    future: impl std::future::Future<Output = Result<T, ErrorKind>>,
) -> Result<T, ErrorKind> {
    let bounded = glommio::timer::timeout(timeout, async { Ok(future.await) });
    match bounded.await {
        Ok(result) => result,
        Err(_) => Err(ErrorKind::Timeout),
    }
}

/// TCP connect and the h2 client handshake, every option written out; the connection future
/// runs on a task of its own.
async fn handshake(
    server: SocketAddr,
) -> Result<(SendRequest<Bytes>, Task<()>, Rc<Cell<Instant>>), ErrorKind> {
    let connect_timeout = Duration::from_millis(CONNECT_TIMEOUT_MS);
    let stream = TcpStream::connect_timeout(server, connect_timeout)
        .await
        .map_err(|_| ErrorKind::Connect)?;
    // Small request/reply messages: Nagle would only add delay.
    stream.set_nodelay(true).map_err(|_| ErrorKind::Connect)?;
    let mut builder = h2::client::Builder::new();
    builder
        .initial_window_size(H2_STREAM_WINDOW_BYTES)
        .initial_connection_window_size(H2_CONNECTION_WINDOW_BYTES)
        .max_frame_size(H2_FRAME_BYTES_MAX)
        .max_concurrent_streams(H2_PUSHED_STREAMS_MAX)
        .max_header_list_size(16 * 1024)
        .enable_push(false);
    let (stream, last_read) = ReadStamped::new(stream);
    let handshake = builder.handshake::<_, Bytes>(stream.compat());
    let (send, connection) = glommio::timer::timeout(connect_timeout, async {
        Ok(handshake.await.map_err(|_| ErrorKind::Connect))
    })
    .await
    .map_err(|_| ErrorKind::Connect)??;
    let driver = glommio::spawn_local(async move {
        let _ = connection.await;
    });
    Ok((send, driver, last_read))
}

fn grpc_request(path: &str) -> Result<http::Request<()>, ErrorKind> {
    http::Request::builder()
        .method(http::Method::POST)
        .uri(format!("http://nacos{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .map_err(|_| ErrorKind::Protocol)
}

/// One unary call: a framed payload out, one payload back, `grpc-status` 0 required.
async fn unary(
    send: &mut SendRequest<Bytes>,
    kind: &str,
    json: Vec<u8>,
) -> Result<Incoming, ErrorKind> {
    let mut ready = send.clone().ready().await.map_err(|_| ErrorKind::Io)?;
    let (response, mut stream) = ready
        .send_request(grpc_request(UNARY_PATH)?, false)
        .map_err(|_| ErrorKind::Io)?;
    stream
        .send_data(encode_payload(kind, json), true)
        .map_err(|_| ErrorKind::Io)?;
    let response = response.await.map_err(|_| ErrorKind::Io)?;
    if response.status() != http::StatusCode::OK {
        return Err(ErrorKind::Status(response.status().as_u16()));
    }
    let header_status = grpc_status(response.headers());
    let mut body = response.into_body();
    let mut buf = BytesMut::new();
    read_whole_body(&mut body, &mut buf).await?;
    let status = match header_status {
        Some(status) => Some(status),
        None => {
            let trailers = body.trailers().await.map_err(|_| ErrorKind::Io)?;
            trailers.as_ref().and_then(grpc_status)
        }
    };
    match status {
        Some(0) => {}
        Some(code) => return Err(ErrorKind::GrpcStatus(code)),
        None => return Err(ErrorKind::Protocol),
    }
    let message = unframe(&mut buf)?.ok_or(ErrorKind::Protocol)?;
    decode_payload(&message)
}

/// Reads a unary reply body to its end, refusing more than one maximal message.
async fn read_whole_body(body: &mut RecvStream, buf: &mut BytesMut) -> Result<(), ErrorKind> {
    while let Some(chunk) = body.data().await {
        let chunk = chunk.map_err(|_| ErrorKind::Io)?;
        let _ = body.flow_control().release_capacity(chunk.len());
        buf.extend_from_slice(&chunk);
        if buf.len() > FRAME_HEADER_BYTES + GRPC_MESSAGE_BYTES_MAX {
            return Err(ErrorKind::Protocol);
        }
    }
    Ok(())
}

fn grpc_status(headers: &http::HeaderMap) -> Option<u16> {
    headers.get("grpc-status")?.to_str().ok()?.parse().ok()
}

/// Opens the bi-stream and sends `ConnectionSetupRequest` as its first message.
async fn open_bi_stream(
    send: &mut SendRequest<Bytes>,
    module: Module,
) -> Result<(ResponseFuture, SendStream<Bytes>), ErrorKind> {
    let mut ready = send.clone().ready().await.map_err(|_| ErrorKind::Io)?;
    let (response, mut stream) = ready
        .send_request(grpc_request(BI_STREAM_PATH)?, false)
        .map_err(|_| ErrorKind::Io)?;
    let setup = encode_payload(
        "ConnectionSetupRequest",
        messages::connection_setup_for(module),
    );
    stream.send_data(setup, false).map_err(|_| ErrorKind::Io)?;
    Ok((response, stream))
}

/// Reads the server's requests off the bi-stream until it ends: signals `SetupAckRequest`,
/// answers those that need an answer, and gives pushes to `on_push`.
/// Where a connection's pushes go, and when its socket last read bytes.
struct Pushes {
    on_push: Option<PushHandler>,
    last_read: Rc<Cell<Instant>>,
}

async fn run_stream(
    response: ResponseFuture,
    mut send: SendStream<Bytes>,
    pushes: Pushes,
    setup_ack: LocalSender<()>,
) {
    let Ok(response) = response.await else {
        return;
    };
    let mut body = response.into_body();
    let mut buf = BytesMut::new();
    while let Some(Ok(chunk)) = body.data().await {
        let _ = body.flow_control().release_capacity(chunk.len());
        buf.extend_from_slice(&chunk);
        // Each pass takes one whole message off `buf`, so the loop ends when it runs dry.
        loop {
            let message = match unframe(&mut buf) {
                Ok(Some(message)) => message,
                Ok(None) => break,
                // A broken stream cannot be resynchronised: stop reading it.
                Err(_) => return,
            };
            let Ok(incoming) = decode_payload(&message) else {
                continue;
            };
            // The read that brought the message's last bytes, or a later one.
            let arrived_at = pushes.last_read.get();
            if incoming.kind == "SetupAckRequest" {
                let _ = setup_ack.try_send(());
                continue;
            }
            if answer(&mut send, &incoming).is_err() {
                return;
            }
            if is_push(&incoming.kind) {
                if let Some(on_push) = &pushes.on_push {
                    on_push(arrived_at, &incoming);
                }
            }
        }
    }
}

/// Queues the reply to a server request on the stream, with its `requestId` echoed.
fn answer(send: &mut SendStream<Bytes>, incoming: &Incoming) -> Result<(), ErrorKind> {
    let Some(reply_kind) = stream_reply_kind(&incoming.kind) else {
        return Ok(());
    };
    let Some(request_id) = json_string_field(&incoming.body, "requestId") else {
        return Ok(());
    };
    if request_id.bytes().any(|byte| byte == b'"' || byte == b'\\') {
        return Ok(());
    }
    let reply = encode_payload(reply_kind, messages::stream_reply(request_id));
    send.send_data(reply, false).map_err(|_| ErrorKind::Io)
}
