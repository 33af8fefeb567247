//! Starting and stopping nacore: one pinned glommio executor per core, the channel mesh that
//! joins them, and on every core an HTTP listener (SO_REUSEPORT) plus the heartbeat timer.

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use glommio::channels::channel_mesh::MeshBuilder;
use glommio::net::TcpListener;
use glommio::{LocalExecutorBuilder, Placement};

use crate::cluster::members::Members;
use crate::cluster::transport::Transport;
use crate::distro::membership::Membership;
use crate::distro::peer::PeerLinks;
use crate::distro::record::{MemberIndex, Origin};
use crate::distro::responsible::{ClusterView, Healthy};
use crate::distro::shard::{DistroShard, ShardSettings};
use crate::http::deadline::Deadlines;
use crate::limits::CLUSTER_INBOX_MAX;
use crate::limits::DISTRO_OUTBOX_RECORDS_PER_PEER_MAX;
use crate::limits::LMDB_MAP_BYTES;
use crate::limits::{CONNECTIONS_PER_CORE_MAX, MESH_CHANNEL_CAPACITY, WHEEL_TICK_MS};
use crate::naming::op::NamingOp;
use crate::raft::node::{ClusterLinks, RaftSettings};
use crate::raft::storage::LmdbStorage;
use crate::settings::Settings;
use crate::shard::core::DistroState;
use crate::shard::core::RAFT_CORE;
use crate::shard::core::{spawn_mesh_servers, spawn_poll_sweeper, spawn_timer_driver, Envelope};
use crate::shard::{Core, CoreHandle};
use glommio::channels::local_channel;
use raft::prelude::ConfState;

/// Raft node id of a single node (clusters number their members from 1).
const SINGLE_NODE_ID: u64 = 1;

/// io_uring registered-buffer memory per executor. Naming traffic needs no DMA buffers, and
/// a small figure keeps nacore within default memlock limits (8 MiB on many distributions).
const EXECUTOR_IO_MEMORY_BYTES: usize = 512 * 1024;
/// The longest a core runs tasks without looking at new I/O, timers and messages from other
/// cores. HTTP connections that always find their next request keep the task queue busy, so
/// this bounds how long an accept, a deadline sweep or a Raft tick can wait behind them.
const EXECUTOR_PREEMPT_MS: u64 = 25;

/// Starts every core and returns once all of them listen. The executors run on their own
/// threads until the process exits.
pub fn start(config: &Settings) -> Result<(), String> {
    let cores = config.cores();
    crate::fd_limit::ensure(crate::fd_limit::needed_fds(cores));
    let mesh = MeshBuilder::<Envelope, _>::full(cores, MESH_CHANNEL_CAPACITY);
    let origin = Instant::now();
    // This run of the member: peers tell it from the previous one by this, and drop the
    // connections that died with that.
    let incarnation = next_incarnation(&config.data_dir, crate::api::wall_clock_ms())?;
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<usize, String>>();
    // --- metrics ---
    let access_log = match &config.access_log {
        Some(target) => Some(crate::access_log::start_writer(target)?),
        None => None,
    };
    for (index, &cpu) in config.cpus.iter().enumerate() {
        let config = config.clone();
        let mesh = mesh.clone();
        let ready_tx = ready_tx.clone();
        let access_log = access_log.clone();
        let builder = LocalExecutorBuilder::new(Placement::Fixed(cpu))
            .name(&format!("nacore-core-{index}"))
            .io_memory(EXECUTOR_IO_MEMORY_BYTES)
            .preempt_timer(Duration::from_millis(EXECUTOR_PREEMPT_MS));
        let spawned = builder.spawn(move || async move {
            let result = run_core(config, mesh, origin, incarnation, access_log).await;
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
    config: Settings,
    mesh: MeshBuilder<Envelope, glommio::channels::channel_mesh::Full>,
    origin: Instant,
    incarnation: u64,
    access_log: Option<crate::access_log::ChunkSender>,
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
    core.set_members(config.members.clone());
    core.set_auth_settings(config.auth.clone());
    crate::cluster::set_cluster_secret(config.auth.cluster_secret.as_ref());
    // --- metrics ---
    if let Some(sender) = access_log {
        core.set_access_log(sender);
    }
    core.set_wall_origin(crate::api::wall_clock_ms().saturating_sub(core.now_ms()));
    if let Some(members) = &config.members {
        start_distro(&config, members, &core, incarnation)?;
    }
    spawn_timer_driver(&core, Duration::from_millis(WHEEL_TICK_MS));
    spawn_poll_sweeper(&core);
    crate::health::probe::spawn(&core, config.probe);
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
    let deadlines = crate::http::deadline::Deadlines::new();
    glommio::spawn_local(deadlines.clone().run()).detach();
    glommio::spawn_local(accept_loop(listener, core.clone(), deadlines)).detach();
    // --- dns ---
    if let Some(dns) = &config.dns {
        crate::dns::serve::start(&core, config.bind, dns)?;
    }
    if id == RAFT_CORE {
        let storage = open_storage(&config)?;
        let cluster = start_raft_links(&config, &core)?;
        glommio::spawn_local(recover_and_serve(storage, config, core, cluster)).detach();
    }
    Ok(id)
}

/// Where the last run's incarnation is kept.
const INCARNATION_FILE: &str = "incarnation";

/// This run's incarnation: the wall clock in ms, but always above the last run's (kept in the
/// data dir, written durably before the member talks to anyone), so a clock set back across
/// a restart cannot make the new run look older than the one its peers remember.
fn next_incarnation(data_dir: &std::path::Path, wall_ms: u64) -> Result<u64, String> {
    let path = data_dir.join(INCARNATION_FILE);
    let last: u64 = std::fs::read_to_string(&path)
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(0);
    let incarnation = wall_ms.max(last.saturating_add(1));
    debug_assert!(incarnation > last);
    let temporary = data_dir.join(format!("{INCARNATION_FILE}.new"));
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::File::create(&temporary)?;
        std::io::Write::write_all(&mut file, incarnation.to_string().as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&temporary, &path)
    };
    write().map_err(|e| format!("cannot record this run in {}: {e}", path.display()))?;
    Ok(incarnation)
}

/// Opens the Raft log and state tables; a new single node becomes a one-voter group.
fn open_storage(config: &Settings) -> Result<LmdbStorage, String> {
    let dir = config.data_dir.join("raft");
    let storage = LmdbStorage::open(&dir, LMDB_MAP_BYTES)
        .map_err(|e| format!("cannot open the data dir {}: {e}", dir.display()))?;
    let conf_state = storage.conf_state().map_err(|e| e.to_string())?;
    if conf_state.voters.is_empty() {
        let voters = match &config.members {
            Some(members) => members.ids(),
            None => vec![SINGLE_NODE_ID],
        };
        let initial = ConfState {
            voters,
            ..Default::default()
        };
        storage
            .set_conf_state(&initial)
            .map_err(|e| e.to_string())?;
    }
    Ok(storage)
}

/// Cluster mode, every core: listens on the cluster port (SO_REUSEPORT: peers' connections
/// spread over the cores), opens this core's own peer links, and starts its Distro shard
/// (core 0 also keeps the membership).
fn start_distro(
    config: &Settings,
    members: &Members,
    core: &CoreHandle,
    incarnation: u64,
) -> Result<(), String> {
    let addr = SocketAddr::new(config.bind, config.cluster_port);
    let listener =
        TcpListener::bind(addr).map_err(|e| format!("cannot listen for peers on {addr}: {e}"))?;
    glommio::spawn_local(crate::cluster::server::accept_loop(listener, core.clone())).detach();
    let me = Origin {
        member: (members.self_id - 1) as MemberIndex,
        incarnation,
    };
    let http_addrs: Vec<SocketAddr> = members
        .ids()
        .into_iter()
        .filter_map(|id| members.http_addr_of(id))
        .collect();
    let settings = ShardSettings {
        replica_expiry_ms: config.distro.replica_expiry_ms,
        outbox_records_max: DISTRO_OUTBOX_RECORDS_PER_PEER_MAX,
    };
    let shard = DistroShard::new(me, members.nodes.len(), settings);
    let addresses: Vec<String> = http_addrs.iter().map(|a| a.to_string()).collect();
    let membership = (core.id == RAFT_CORE).then(|| Membership::new(me, addresses));
    let sync_delay = Duration::from_millis(config.distro.sync_delay_ms);
    let links = PeerLinks::new(members);
    let state = DistroState::new(shard, links, sync_delay, membership, http_addrs.clone());
    core.enable_distro(state);
    core.set_cluster_view(ClusterView {
        me: me.member,
        healthy: Healthy::alone(me.member),
        http_addrs,
        epoch: 0,
    });
    if core.id == RAFT_CORE {
        tracing::info!(%addr, node_id = members.self_id, members = members.nodes.len(), "cluster listening");
    }
    Ok(())
}

/// Cluster mode, core 0: the Raft transport to the peers and the inbox of their messages.
fn start_raft_links(config: &Settings, core: &CoreHandle) -> Result<Option<ClusterLinks>, String> {
    let Some(members) = &config.members else {
        return Ok(None);
    };
    let (failures_tx, snapshot_failures) = local_channel::new_bounded(CLUSTER_INBOX_MAX);
    let (messages_tx, messages) = local_channel::new_bounded(CLUSTER_INBOX_MAX);
    let transport = Transport::start(members, failures_tx);
    core.set_raft_inbox(Rc::new(messages_tx));
    Ok(Some(ClusterLinks {
        transport,
        messages,
        snapshot_failures,
    }))
}

/// Rebuilds memory from the state tables, starts the Raft node (which re-applies committed
/// entries not yet applied), and only then lets every core serve clients.
async fn recover_and_serve(
    storage: LmdbStorage,
    config: Settings,
    core: CoreHandle,
    cluster: Option<ClusterLinks>,
) {
    let started = Instant::now();
    let restored = match crate::raft::recovery::restore(&core, &storage).await {
        Ok(count) => count,
        Err(error) => {
            tracing::error!(%error, "cannot rebuild state from the data dir");
            std::process::exit(1);
        }
    };
    let node_id = config
        .members
        .as_ref()
        .map_or(SINGLE_NODE_ID, |m| m.self_id);
    core.set_state_reader(storage.clone());
    let settings = RaftSettings {
        node_id,
        compact_after_entries: config.raft_compact_entries,
    };
    match crate::raft::node::start(storage, settings, core.clone(), cluster) {
        Ok((sender, caught_up)) => {
            core.set_raft(Rc::new(sender));
            let _ = caught_up.await;
        }
        Err(error) => {
            tracing::error!(%error, "cannot start raft");
            std::process::exit(1);
        }
    }
    let raft_ms = started.elapsed().as_millis() as u64;
    let loaded = if config.members.is_some() {
        crate::distro::driver::load_snapshot(&core).await
    } else {
        None
    };
    core.execute_everywhere(NamingOp::MarkReady).await;
    let history = config.config_history;
    crate::shard::core::spawn_history_pruner(
        &core,
        node_id,
        history.retention_ms,
        history.prune_interval_ms,
    );
    if config.members.is_some() {
        crate::distro::driver::mark_ready(&core).await;
        crate::distro::driver::start(&core, config.distro.verify_interval_ms);
    }
    let elapsed_ms = started.elapsed().as_millis() as u64;
    let (snapshot_peer, snapshot_records) = loaded.map_or((None, 0), |(p, n)| (Some(p), n));
    tracing::info!(
        restored,
        raft_ms,
        ?snapshot_peer,
        snapshot_records,
        elapsed_ms,
        "state rebuilt from the data dir and the peers; serving"
    );
}

/// Accepts HTTP connections while this core has room.
async fn accept_loop(listener: TcpListener, core: CoreHandle, deadlines: Rc<Deadlines>) {
    let core_id = core.id;
    let serve_one = move |stream| crate::http::conn::serve(stream, core.clone(), deadlines.clone());
    let max = CONNECTIONS_PER_CORE_MAX;
    crate::shard::accept::accept_loop(listener, max, "HTTP", core_id, serve_one).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each run's incarnation is above the last one's, even with the clock set back.
    #[test]
    fn incarnations_only_grow() {
        let dir = std::env::temp_dir().join(format!("nacore-incarnation-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let first = next_incarnation(&dir, 5_000).unwrap();
        assert_eq!(first, 5_000);
        assert_eq!(
            next_incarnation(&dir, 4_000).unwrap(),
            5_001,
            "clock set back"
        );
        assert_eq!(next_incarnation(&dir, 9_000).unwrap(), 9_000);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
