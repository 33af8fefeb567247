//! The peer transport on core 0: one h2 connection per peer, kept up with reconnects, carrying
//! batches of Raft messages (dropped when a peer is unreachable: Raft retries on its own) and
//! writes forwarded from a follower to the leader.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use glommio::channels::local_channel::{self, LocalReceiver, LocalSender};
use glommio::net::TcpStream;
use h2::client::SendRequest;
use hashbrown::HashMap;
use prost::Message as _;
use protobuf::Message as _;
use raft::prelude::{Message, MessageType};
use tokio_util::compat::FuturesAsyncReadCompatExt;

use crate::cluster::members::Members;
use crate::cluster::proto::{ProposeRequest, ProposeResponse, RaftBatch};
use crate::grpc::frame;
use crate::limits::{
    CLUSTER_CONNECT_TIMEOUT_MS, CLUSTER_MESSAGE_BYTES_MAX, CLUSTER_PEER_QUEUE_MAX,
    CLUSTER_RECONNECT_BACKOFF_MAX_MS,
};
use crate::naming::error::{ErrorKind, NamingError};
use crate::naming::op::NamingReply;

/// A snapshot send that failed, for `RawNode::report_snapshot`.
pub struct SnapshotFailure {
    pub to: u64,
}

struct Peer {
    queue: LocalSender<Vec<Message>>,
    connection: Rc<RefCell<Option<SendRequest<Bytes>>>>,
}

pub struct Transport {
    peers: HashMap<u64, Peer>,
}

impl Transport {
    /// Starts one sender task per peer. Failed snapshot sends are reported on `failures`.
    pub fn start(members: &Members, failures: LocalSender<SnapshotFailure>) -> Rc<Transport> {
        let failures = Rc::new(failures);
        let mut peers = HashMap::new();
        for id in members.peers() {
            let Some(addr) = members.addr_of(id) else {
                continue;
            };
            let (queue, batches) = local_channel::new_bounded(CLUSTER_PEER_QUEUE_MAX);
            let connection = Rc::new(RefCell::new(None));
            let link = PeerLink {
                id,
                addr,
                connection: connection.clone(),
                failures: failures.clone(),
            };
            glommio::spawn_local(link.run(batches)).detach();
            peers.insert(id, Peer { queue, connection });
        }
        Rc::new(Transport { peers })
    }

    /// Queues messages for a peer; drops them when its queue is full.
    pub fn send(&self, to: u64, batch: Vec<Message>) {
        if let Some(peer) = self.peers.get(&to) {
            if peer.queue.try_send(batch).is_err() {
                tracing::debug!(to, "peer queue full; dropping raft messages");
            }
        }
    }

    /// Forwards a durable write to the leader; returns its outcome and log index.
    pub async fn propose(
        &self,
        leader: u64,
        command: &crate::raft::command::RaftCommand,
    ) -> Result<(crate::raft::node::Outcome, u64), String> {
        let send = self
            .peers
            .get(&leader)
            .and_then(|p| p.connection.borrow().clone())
            .ok_or_else(|| format!("no connection to the leader (node {leader})"))?;
        let command_json = serde_json::to_vec(command).map_err(|e| e.to_string())?;
        let request = ProposeRequest { command_json };
        let wait = Duration::from_millis(crate::limits::RAFT_FORWARD_TIMEOUT_MS);
        let call = call(send, "/Cluster/Propose", request.encode_to_vec());
        let reply = glommio::timer::timeout(wait, async { Ok(call.await) })
            .await
            .map_err(|_| format!("the leader (node {leader}) did not answer in time"))??;
        let response = ProposeResponse::decode(reply).map_err(|e| e.to_string())?;
        Ok((naming_reply(&response), response.index))
    }
}

fn naming_reply(response: &ProposeResponse) -> crate::raft::node::Outcome {
    if response.ok {
        return (NamingReply::Done, None);
    }
    let kind = crate::cluster::server::kind_from_name(&response.error_kind);
    let reply = NamingReply::Error(NamingError::new(kind, response.error_message.clone()));
    let config_error = (!response.config_error_kind.is_empty()).then(|| {
        let kind = crate::config::error::ConfigError::kind_from_name(&response.config_error_kind);
        crate::config::error::ConfigError::new(kind, response.error_message.clone())
    });
    (reply, config_error)
}

struct PeerLink {
    id: u64,
    addr: std::net::SocketAddr,
    connection: Rc<RefCell<Option<SendRequest<Bytes>>>>,
    failures: Rc<LocalSender<SnapshotFailure>>,
}

impl PeerLink {
    async fn run(self, batches: LocalReceiver<Vec<Message>>) {
        let mut backoff_ms = 50;
        while let Some(batch) = batches.recv().await {
            if self.connection.borrow().is_none() {
                match self.connect().await {
                    Ok(send) => {
                        backoff_ms = 50;
                        *self.connection.borrow_mut() = Some(send);
                    }
                    Err(error) => {
                        tracing::debug!(peer = self.id, %error, "cannot reach peer");
                        self.report_lost(&batch);
                        glommio::timer::sleep(Duration::from_millis(backoff_ms)).await;
                        backoff_ms = (backoff_ms * 2).min(CLUSTER_RECONNECT_BACKOFF_MAX_MS);
                        // What queued meanwhile is stale: Raft resends what is still needed
                        // (or a snapshot) once the peer answers again.
                        self.drop_queued(&batches);
                        continue;
                    }
                }
            }
            self.deliver(batch).await;
        }
    }

    async fn connect(&self) -> Result<SendRequest<Bytes>, String> {
        let slot = self.connection.clone();
        open(self.addr, move || {
            slot.borrow_mut().take();
        })
        .await
    }

    async fn deliver(&self, batch: Vec<Message>) {
        let Some(send) = self.connection.borrow().clone() else {
            return;
        };
        let messages = batch
            .iter()
            .filter_map(|m| m.write_to_bytes().ok())
            .collect();
        let body = RaftBatch { messages }.encode_to_vec();
        if let Err(error) = call(send, "/Cluster/Raft", body).await {
            tracing::debug!(peer = self.id, %error, "raft send failed");
            self.connection.borrow_mut().take();
            self.report_lost(&batch);
        }
    }

    fn drop_queued(&self, batches: &LocalReceiver<Vec<Message>>) {
        use futures::FutureExt;
        while let Some(Some(batch)) = batches.recv().now_or_never() {
            self.report_lost(&batch);
        }
    }

    /// Raft must learn that a snapshot did not go out, or the peer stays waiting for it.
    fn report_lost(&self, batch: &[Message]) {
        if batch
            .iter()
            .any(|m| m.get_msg_type() == MessageType::MsgSnapshot)
        {
            let _ = self.failures.try_send(SnapshotFailure { to: self.id });
        }
    }
}

/// Opens an h2 connection to a peer's cluster port; `on_close` runs when it ends.
pub async fn open(
    addr: std::net::SocketAddr,
    on_close: impl FnOnce() + 'static,
) -> Result<SendRequest<Bytes>, String> {
    let timeout = Duration::from_millis(CLUSTER_CONNECT_TIMEOUT_MS);
    let stream = TcpStream::connect_timeout(addr, timeout)
        .await
        .map_err(|e| e.to_string())?;
    let _ = stream.set_nodelay(true);
    let mut builder = h2::client::Builder::new();
    builder
        .initial_window_size(4 * 1024 * 1024)
        .initial_connection_window_size(16 * 1024 * 1024)
        .max_frame_size(1024 * 1024);
    // What h2 writes in one poll leaves in one send (grpc::coalesce).
    let (io, gathered) = crate::grpc::coalesce::gather(stream);
    let (send, connection) = gathered
        .drive(builder.handshake::<_, Bytes>(io.compat()))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    glommio::spawn_local(async move {
        let _ = gathered.drive(connection).await;
        on_close();
    })
    .detach();
    Ok(send)
}

/// One unary call: the request message out, the reply message back (grpc-status must be 0).
pub async fn call(
    mut send: SendRequest<Bytes>,
    path: &str,
    body: Vec<u8>,
) -> Result<Bytes, String> {
    let mut builder = http::Request::builder()
        .method("POST")
        .uri(format!("http://nacore{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    // --- auth ---
    if let Some(proof) = crate::cluster::cluster_proof() {
        builder = builder.header(crate::cluster::CLUSTER_IDENTITY_HEADER, proof.bytes());
    }
    let request = builder.body(()).map_err(|e| e.to_string())?;
    send = send.ready().await.map_err(|e| e.to_string())?;
    let (response, mut stream) = send
        .send_request(request, false)
        .map_err(|e| e.to_string())?;
    stream
        .send_data(frame::encode(&body), true)
        .map_err(|e| e.to_string())?;
    let response = response.await.map_err(|e| e.to_string())?;
    let status = response.headers().get("grpc-status").cloned();
    let mut recv = response.into_body();
    let mut buf = BytesMut::new();
    while let Some(chunk) = recv.data().await {
        let chunk = chunk.map_err(|e| e.to_string())?;
        let _ = recv.flow_control().release_capacity(chunk.len());
        buf.extend_from_slice(&chunk);
        if buf.len() > CLUSTER_MESSAGE_BYTES_MAX + frame::FRAME_HEADER_BYTES {
            return Err("peer reply too large".to_string());
        }
    }
    let status = match status {
        Some(status) => Some(status),
        None => recv
            .trailers()
            .await
            .map_err(|e| e.to_string())?
            .and_then(|t| t.get("grpc-status").cloned()),
    };
    if status.as_ref().and_then(|s| s.to_str().ok()) != Some("0") {
        return Err(format!("peer answered grpc-status {status:?}"));
    }
    frame::decode_with_limit(&mut buf, CLUSTER_MESSAGE_BYTES_MAX)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| "peer reply without a message".to_string())
}

/// The error kind of an unreachable leader.
pub fn unreachable_leader(detail: String) -> NamingError {
    NamingError::new(
        ErrorKind::Unavailable,
        format!("cannot forward the write to the leader: {detail}"),
    )
}
