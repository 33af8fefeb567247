//! The accept loop of one listener on one core: a permit per open connection, so a core at its
//! limit waits instead of accepting; each connection served by a task of its own; and a backoff
//! when accept fails (EMFILE and friends) instead of spinning.

use std::future::Future;
use std::rc::Rc;
use std::time::Duration;

use glommio::net::{TcpListener, TcpStream};
use glommio::sync::Semaphore;

use crate::limits::ACCEPT_BACKOFF_MS_MAX;

/// Accepts connections on `listener` while fewer than `connections_max` are open, serving
/// each with the future `serve` makes of it. `protocol` names the listener in the logs.
pub async fn accept_loop<F, Fut>(
    listener: TcpListener,
    connections_max: usize,
    protocol: &'static str,
    core_id: usize,
    serve: F,
) where
    F: Fn(TcpStream) -> Fut,
    Fut: Future<Output = ()> + 'static,
{
    let permits = Rc::new(Semaphore::new(connections_max as u64));
    let mut backoff_ms = 1u64;
    loop {
        let Ok(permit) = permits.acquire_static_permit(1).await else {
            return;
        };
        match listener.accept().await {
            Ok(stream) => {
                backoff_ms = 1;
                let connection = serve(stream);
                glommio::spawn_local(async move {
                    connection.await;
                    drop(permit);
                })
                .detach();
            }
            Err(error) => {
                tracing::warn!(core = core_id, %error, backoff_ms, protocol, "accept failed");
                glommio::timer::sleep(Duration::from_millis(backoff_ms)).await;
                backoff_ms = (backoff_ms * 2).min(ACCEPT_BACKOFF_MS_MAX);
            }
        }
    }
}
