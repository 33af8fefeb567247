//! Starting and stopping nacore: one pinned glommio executor per core, the channel mesh that
//! joins them, and on every core an HTTP listener (SO_REUSEPORT) plus the heartbeat timer.

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use glommio::channels::channel_mesh::MeshBuilder;
use glommio::net::TcpListener;
use glommio::sync::Semaphore;
use glommio::{LocalExecutorBuilder, Placement};

use crate::config::Config;
use crate::limits::{CONNECTIONS_PER_CORE_MAX, MESH_CHANNEL_CAPACITY, WHEEL_TICK_MS};
use crate::shard::core::{spawn_mesh_servers, spawn_timer_driver, Envelope};
use crate::shard::{Core, CoreHandle};

/// io_uring registered-buffer memory per executor. Naming traffic needs no DMA buffers, and
/// a small figure keeps nacore within default memlock limits (8 MiB on many distributions).
const EXECUTOR_IO_MEMORY_BYTES: usize = 512 * 1024;

/// Starts every core and returns once all of them listen. The executors run on their own
/// threads until the process exits.
pub fn start(config: &Config) -> Result<(), String> {
    let cores = config.cores();
    let mesh = MeshBuilder::<Envelope, _>::full(cores, MESH_CHANNEL_CAPACITY);
    let origin = Instant::now();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<usize, String>>();
    for (index, &cpu) in config.cpus.iter().enumerate() {
        let config = config.clone();
        let mesh = mesh.clone();
        let ready_tx = ready_tx.clone();
        let builder = LocalExecutorBuilder::new(Placement::Fixed(cpu))
            .name(&format!("nacore-core-{index}"))
            .io_memory(EXECUTOR_IO_MEMORY_BYTES)
            .preempt_timer(Duration::from_millis(100));
        let spawned = builder.spawn(move || async move {
            let result = run_core(config, mesh, origin).await;
            let failed = result.is_err();
            let _ = ready_tx.send(result);
            if !failed {
                // Keep the executor alive: its tasks serve until the process exits.
                std::future::pending::<()>().await;
            }
        });
        spawned.map_err(|e| format!("cannot start executor on cpu {cpu}: {e}"))?;
    }
    drop(ready_tx);
    for _ in 0..cores {
        match ready_rx.recv() {
            Ok(Ok(_core)) => {}
            Ok(Err(error)) => return Err(error),
            Err(_) => return Err("an executor stopped during start-up".to_string()),
        }
    }
    Ok(())
}

async fn run_core(
    config: Config,
    mesh: MeshBuilder<Envelope, glommio::channels::channel_mesh::Full>,
    origin: Instant,
) -> Result<usize, String> {
    let cores = config.cores();
    let push_delay = Duration::from_millis(config.push_delay_ms);
    let core = if cores > 1 {
        let (senders, receivers) = mesh
            .join()
            .await
            .map_err(|_| "cannot join the core mesh".to_string())?;
        let id = senders.peer_id();
        let core = Core::new(id, cores, Some(senders), origin, push_delay);
        spawn_mesh_servers(&core, receivers);
        core
    } else {
        Core::new(0, 1, None, origin, push_delay)
    };
    spawn_timer_driver(&core, Duration::from_millis(WHEEL_TICK_MS));
    let udp = crate::udp::UdpPusher::bind(config.bind)
        .map_err(|e| format!("cannot open the UDP push socket: {e}"))?;
    core.set_udp_pusher(udp);
    let http_addr = SocketAddr::new(config.bind, config.http_port);
    let listener = TcpListener::bind(http_addr)
        .map_err(|e| format!("cannot listen for HTTP on {http_addr}: {e}"))?;
    let grpc_addr = SocketAddr::new(config.bind, config.grpc_port);
    let grpc_listener = TcpListener::bind(grpc_addr)
        .map_err(|e| format!("cannot listen for gRPC on {grpc_addr}: {e}"))?;
    let id = core.id;
    glommio::spawn_local(crate::grpc::server::accept_loop(
        grpc_listener,
        core.clone(),
    ))
    .detach();
    glommio::spawn_local(accept_loop(listener, core)).detach();
    Ok(id)
}

/// Accepts connections while this core has room (a semaphore permit per connection).
async fn accept_loop(listener: TcpListener, core: CoreHandle) {
    let permits = Rc::new(Semaphore::new(CONNECTIONS_PER_CORE_MAX as u64));
    let mut backoff_ms = 1u64;
    loop {
        let permit = match permits.acquire_static_permit(1).await {
            Ok(permit) => permit,
            Err(_) => return,
        };
        match listener.accept().await {
            Ok(stream) => {
                backoff_ms = 1;
                let core = core.clone();
                glommio::spawn_local(async move {
                    crate::http::conn::serve(stream, core).await;
                    drop(permit);
                })
                .detach();
            }
            Err(error) => {
                // EMFILE and friends: wait instead of spinning, then try again.
                tracing::warn!(core = core.id, %error, backoff_ms, "accept failed");
                glommio::timer::sleep(Duration::from_millis(backoff_ms)).await;
                backoff_ms = (backoff_ms * 2).min(1000);
            }
        }
    }
}
