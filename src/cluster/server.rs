//! The cluster-port server, on every core: peers' Raft messages go to the Raft driver's inbox
//! (on core 0), writes forwarded by followers are proposed here (on the leader) and answered
//! once applied, and membership reports and Distro calls go to `distro::serve`.

use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use glommio::channels::local_channel::LocalSender;
use glommio::net::{TcpListener, TcpStream};
use h2::server::SendResponse;
use h2::RecvStream;
use prost::Message as _;
use protobuf::Message as _;
use raft::prelude::Message;
use tokio_util::compat::FuturesAsyncReadCompatExt;

use crate::cluster::proto::{Ack, ProposeRequest, ProposeResponse, RaftBatch};
use crate::grpc::server::h2_builder;
use crate::grpc::stream::{read_message, reply_unary, trailers_only};
use crate::limits::{CLUSTER_MESSAGE_BYTES_MAX, REQUEST_HEAD_TIMEOUT_MS};
use crate::naming::error::ErrorKind;
use crate::naming::op::NamingReply;
use crate::shard::CoreHandle;

const GRPC_INVALID_ARGUMENT: u32 = 3;
const GRPC_UNIMPLEMENTED: u32 = 12;

/// Where incoming Raft messages go: the driver's inbox.
pub type RaftInbox = Rc<LocalSender<Message>>;

pub async fn accept_loop(listener: TcpListener, core: CoreHandle) {
    loop {
        match listener.accept().await {
            Ok(stream) => {
                glommio::spawn_local(serve(stream, core.clone())).detach();
            }
            Err(error) => {
                tracing::warn!(%error, "cluster accept failed");
                glommio::timer::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn serve(stream: TcpStream, core: CoreHandle) {
    let _ = stream.set_nodelay(true);
    let peer = stream.peer_addr().ok();
    // What h2 writes in one poll leaves in one send (grpc::coalesce), as on the client port.
    let (io, gathered) = crate::grpc::coalesce::gather(stream);
    let handshake = gathered.drive(h2_builder().handshake::<_, Bytes>(io.compat()));
    let handshake_timeout = Duration::from_millis(REQUEST_HEAD_TIMEOUT_MS);
    let handshake = glommio::timer::timeout(handshake_timeout, async { Ok(handshake.await) });
    let Ok(Ok(Ok(mut h2))) = handshake.await else {
        return;
    };
    while let Ok(Some(Ok((request, respond)))) = gathered.drive(h2.accept()).await {
        // --- auth ---
        if let Some(proof) = crate::cluster::cluster_proof() {
            let presented = request
                .headers()
                .get(crate::cluster::CLUSTER_IDENTITY_HEADER)
                .map(|v| v.as_bytes());
            if !presented.is_some_and(|p| proof.matches(p)) {
                tracing::warn!(
                    ?peer,
                    "cluster peer without the cluster secret refused; closing"
                );
                return;
            }
        }
        let path = request.uri().path().to_string();
        let body = request.into_body();
        let core = core.clone();
        glommio::spawn_local(async move {
            match path.as_str() {
                "/Cluster/Raft" => raft(body, respond, &core).await,
                "/Cluster/Propose" => propose(body, respond, &core).await,
                "/Cluster/Report" => distro_call(body, respond, &core, Call::Report).await,
                "/Cluster/DistroSync" => distro_call(body, respond, &core, Call::Sync).await,
                "/Cluster/DistroVerify" => distro_call(body, respond, &core, Call::Verify).await,
                "/Cluster/DistroResend" => distro_call(body, respond, &core, Call::Resend).await,
                "/Cluster/DistroSnapshot" => {
                    distro_call(body, respond, &core, Call::Snapshot).await
                }
                "/Cluster/DistroBeats" => distro_call(body, respond, &core, Call::Beats).await,
                _ => trailers_only(respond, GRPC_UNIMPLEMENTED, "unknown cluster method"),
            }
        })
        .detach();
    }
}

#[derive(Clone, Copy)]
enum Call {
    Report,
    Sync,
    Verify,
    Resend,
    Snapshot,
    Beats,
}

async fn distro_call(
    mut body: RecvStream,
    respond: SendResponse<Bytes>,
    core: &CoreHandle,
    call: Call,
) {
    let message = match read_message(&mut body, CLUSTER_MESSAGE_BYTES_MAX).await {
        Ok(message) => message,
        Err((code, text)) => return trailers_only(respond, code, &text),
    };
    use crate::distro::serve;
    let answer = match call {
        Call::Report => serve::report(core, message).await,
        Call::Sync => serve::sync(core, message).await,
        Call::Verify => serve::verify(core, message).await,
        Call::Resend => serve::resend(core, message).await,
        Call::Snapshot => serve::snapshot(core, message).await,
        Call::Beats => serve::beats(core, message).await,
    };
    match answer {
        Ok(reply) => reply_unary(respond, &reply),
        Err(refusal) => {
            tracing::debug!(refusal, "refused a peer's call");
            trailers_only(respond, GRPC_INVALID_ARGUMENT, refusal)
        }
    }
}

async fn raft(mut body: RecvStream, respond: SendResponse<Bytes>, core: &CoreHandle) {
    let message = match read_message(&mut body, CLUSTER_MESSAGE_BYTES_MAX).await {
        Ok(message) => message,
        Err((code, text)) => return trailers_only(respond, code, &text),
    };
    let Ok(batch) = RaftBatch::decode(message) else {
        return trailers_only(respond, GRPC_INVALID_ARGUMENT, "not a RaftBatch");
    };
    let mut messages = Vec::with_capacity(batch.messages.len());
    for raw in batch.messages {
        match Message::parse_from_bytes(&raw) {
            Ok(message) => messages.push(message),
            Err(error) => tracing::warn!(%error, "undecodable raft message from a peer"),
        }
    }
    core.route_raft_messages(messages).await;
    reply_unary(respond, &Ack {}.encode_to_vec());
}

async fn propose(mut body: RecvStream, respond: SendResponse<Bytes>, core: &CoreHandle) {
    let message = match read_message(&mut body, CLUSTER_MESSAGE_BYTES_MAX).await {
        Ok(message) => message,
        Err((code, text)) => return trailers_only(respond, code, &text),
    };
    let Ok(request) = ProposeRequest::decode(message) else {
        return trailers_only(respond, GRPC_INVALID_ARGUMENT, "not a ProposeRequest");
    };
    let Ok(command) = crate::raft::command::decode(&request.command_json) else {
        return trailers_only(respond, GRPC_INVALID_ARGUMENT, "not a durable command");
    };
    let applied = core.propose_applied(command).await;
    let response = match applied.reply {
        NamingReply::Error(error) => ProposeResponse {
            ok: false,
            error_kind: kind_name(error.kind).to_string(),
            error_message: error.message,
            index: applied.index,
            config_error_kind: applied
                .config_error
                .as_ref()
                .map_or(String::new(), |e| e.kind_name().to_string()),
        },
        _ => ProposeResponse {
            ok: true,
            error_kind: String::new(),
            error_message: String::new(),
            index: applied.index,
            config_error_kind: String::new(),
        },
    };
    reply_unary(respond, &response.encode_to_vec());
}

const KINDS: [(ErrorKind, &str); 14] = [
    (ErrorKind::MissingParam, "MissingParam"),
    (ErrorKind::InvalidParam, "InvalidParam"),
    (ErrorKind::InvalidWeight, "InvalidWeight"),
    (ErrorKind::InvalidMetadata, "InvalidMetadata"),
    (ErrorKind::InvalidServiceName, "InvalidServiceName"),
    (ErrorKind::InvalidCluster, "InvalidCluster"),
    (ErrorKind::ServiceNotFound, "ServiceNotFound"),
    (ErrorKind::ServiceExists, "ServiceExists"),
    (ErrorKind::ServiceNotEmpty, "ServiceNotEmpty"),
    (ErrorKind::InstanceNotFound, "InstanceNotFound"),
    (ErrorKind::KindConflict, "KindConflict"),
    (ErrorKind::LimitReached, "LimitReached"),
    (ErrorKind::Unavailable, "Unavailable"),
    (ErrorKind::Internal, "Internal"),
];

fn kind_name(kind: ErrorKind) -> &'static str {
    KINDS
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or("Internal", |(_, n)| n)
}

pub fn kind_from_name(name: &str) -> ErrorKind {
    KINDS
        .iter()
        .find(|(_, n)| *n == name)
        .map_or(ErrorKind::Internal, |(k, _)| *k)
}
