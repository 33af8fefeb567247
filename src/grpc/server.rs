//! Accepting gRPC connections on one core: h2 handshake over the glommio stream, one task per
//! HTTP/2 stream, and on close the release of everything the connection held.

use std::rc::Rc;
use std::time::Duration;

use futures::channel::oneshot;
use futures::future::{select, Either};
use glommio::net::{TcpListener, TcpStream};
use tokio_util::compat::FuturesAsyncReadCompatExt;

use crate::grpc::coalesce::{self, Coalescing, GatherHandle};

use crate::grpc::conn::Connection;
use crate::grpc::stream;
use crate::limits::{
    GRPC_CONNECTIONS_PER_CORE_MAX, GRPC_MESSAGE_BYTES_MAX, GRPC_STREAMS_PER_CONNECTION_MAX,
    REQUEST_HEAD_BYTES_MAX, REQUEST_HEAD_TIMEOUT_MS,
};
use crate::naming::op::NamingOp;
use crate::shard::CoreHandle;

/// HTTP/2 frames up to 1 MiB: large `ServiceInfo` pushes go out in few frames.
const H2_MAX_FRAME_BYTES: u32 = 1024 * 1024;
/// Flow-control windows: enough for a 10 MiB message in flight per connection.
const H2_STREAM_WINDOW_BYTES: u32 = 4 * 1024 * 1024;
const H2_CONNECTION_WINDOW_BYTES: u32 = 16 * 1024 * 1024;
/// Data a stream may buffer for sending beyond the peer's window.
const H2_SEND_BUFFER_BYTES: usize = 1024 * 1024;

/// Accepts gRPC connections on this core while it has room.
pub async fn accept_loop(listener: TcpListener, core: CoreHandle) {
    let core_id = core.id;
    let serve_one = move |stream| serve(stream, core.clone());
    let max = GRPC_CONNECTIONS_PER_CORE_MAX;
    crate::shard::accept::accept_loop(listener, max, "gRPC", core_id, serve_one).await;
}

pub(crate) fn h2_builder() -> h2::server::Builder {
    let mut builder = h2::server::Builder::new();
    builder
        .max_concurrent_streams(GRPC_STREAMS_PER_CONNECTION_MAX)
        .max_frame_size(H2_MAX_FRAME_BYTES)
        .initial_window_size(H2_STREAM_WINDOW_BYTES)
        .initial_connection_window_size(H2_CONNECTION_WINDOW_BYTES)
        .max_header_list_size(REQUEST_HEAD_BYTES_MAX as u32)
        .max_send_buffer_size(H2_SEND_BUFFER_BYTES)
        .max_concurrent_reset_streams(64)
        .max_pending_accept_reset_streams(64);
    debug_assert!(H2_STREAM_WINDOW_BYTES as usize <= GRPC_MESSAGE_BYTES_MAX);
    builder
}

/// Serves one gRPC connection until the client goes away or the server closes it.
async fn serve(stream: TcpStream, core: CoreHandle) {
    let _ = stream.set_nodelay(true);
    let Ok(remote) = stream.peer_addr() else {
        return;
    };
    // --- metrics ---
    let _open = crate::shard::core::OpenConnection::new(&core, crate::metrics::Protocol::Grpc);
    let uid = core.next_connection_id();
    let id = format!(
        "{}_{}_{}",
        crate::api::wall_clock_ms(),
        remote.ip(),
        remote.port()
    );
    let (close_tx, close_rx) = oneshot::channel();
    let connection = Rc::new(Connection::new(uid, id, remote, close_tx, core.now_ms()));
    let (io, gathered) = coalesce::gather(stream);
    let handshake_timeout = Duration::from_millis(REQUEST_HEAD_TIMEOUT_MS);
    // Each phase's future is boxed while it runs, and so is the h2 connection, so a held
    // connection's task carries only the phase it is in (an async fn's state is as large as
    // its largest phase, and a value moved out of a local may still take the local's room).
    let h2 = Box::pin(glommio::timer::timeout(handshake_timeout, async {
        let handshake = h2_builder().handshake::<_, bytes::Bytes>(io.compat());
        match gathered.drive(handshake).await {
            Ok(Ok(h2)) => Ok(Box::new(h2)),
            Ok(Err(error)) => Err(glommio::GlommioError::IoError(std::io::Error::other(error))),
            Err(error) => Err(glommio::GlommioError::IoError(error)),
        }
    }))
    .await;
    match h2 {
        Ok(h2) => Box::pin(drive(h2, &gathered, &connection, &core, close_rx)).await,
        Err(error) => tracing::debug!(%remote, %error, "gRPC handshake failed"),
    }
    Box::pin(release(&connection, &core)).await;
}

type H2Connection =
    h2::server::Connection<tokio_util::compat::Compat<Coalescing<TcpStream>>, bytes::Bytes>;

/// Accepts streams until the transport ends or `close_rx` fires. What h2 writes while it is
/// polled leaves after the poll, in one send (`coalesce`).
async fn drive(
    mut h2: Box<H2Connection>,
    gathered: &GatherHandle<TcpStream>,
    connection: &Rc<Connection>,
    core: &CoreHandle,
    mut close_rx: oneshot::Receiver<()>,
) {
    loop {
        // `None`: the server asked to close the connection.
        let accept = gathered.drive(h2.accept());
        let next = match select(Box::pin(accept), &mut close_rx).await {
            Either::Left((Ok(accepted), _)) => Some(accepted),
            Either::Left((Err(error), _)) => {
                tracing::debug!(connection = connection.id, %error, "gRPC connection lost");
                return;
            }
            Either::Right(_) => None,
        };
        match next {
            Some(Some(Ok((request, respond)))) => {
                let (connection, core) = (connection.clone(), core.clone());
                glommio::spawn_local(async move {
                    stream::serve(request, respond, connection, core).await;
                })
                .detach();
            }
            Some(Some(Err(error))) => {
                tracing::debug!(connection = connection.id, %error, "gRPC connection error");
                return;
            }
            Some(None) => return,
            None => {
                h2.abrupt_shutdown(h2::Reason::NO_ERROR);
                return;
            }
        }
    }
}

/// The transport is gone: stop pushes and drop the connection's instances and
/// subscriptions on their owner cores, whose subscribers are then pushed.
async fn release(connection: &Rc<Connection>, core: &CoreHandle) {
    connection.close();
    core.remove_push_sink(connection.uid);
    for key in connection.take_services() {
        let op = NamingOp::ReleaseConnection {
            key,
            connection: connection.uid,
        };
        core.execute(op).await;
    }
    core.release_config_listens(connection.uid, connection.take_config_keys())
        .await;
    tracing::debug!(connection = connection.id, "gRPC connection released");
}
