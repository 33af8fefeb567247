//! The DNS listeners of one core: a UDP socket and a TCP listener on `--dns-port`, both
//! SO_REUSEPORT, so the kernel spreads clients over the cores. Every loop is bounded: a
//! datagram is answered or dropped, a lookup for another core's service runs as its own task
//! within a per-core cap, and a TCP connection is bounded in message size, queries and idle
//! time.

use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::time::Duration;

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::{TcpListener, TcpStream, UdpSocket};
use glommio::sync::Semaphore;

use crate::dns::respond::{respond, Zone};
use crate::dns::wire::{self, Parsed, Transport};
use crate::dns::DnsSettings;
use crate::limits::{
    DNS_TCP_CONNECTIONS_PER_CORE_MAX, DNS_TCP_IDLE_MS, DNS_TCP_QUERIES_PER_CONNECTION_MAX,
    DNS_TCP_QUERY_BYTES_MAX, DNS_UDP_INFLIGHT_PER_CORE_MAX, DNS_UDP_QUERY_BYTES_MAX,
};
use crate::shard::owner::owner_core;
use crate::shard::CoreHandle;

/// Binds this core's DNS sockets and starts serving them.
pub fn start(core: &CoreHandle, bind: IpAddr, settings: &DnsSettings) -> Result<(), String> {
    let Some(domain) = crate::dns::zone_name(&settings.domain) else {
        return Err(format!(
            "--dns-domain {:?} is not a domain name",
            settings.domain
        ));
    };
    crate::dns::records::seed(settings.seed, core.id);
    let zone = Rc::new(Zone {
        domain,
        ttl_s: settings.ttl_s,
        records_max: settings.answer_records_max,
    });
    let addr = SocketAddr::new(bind, settings.port);
    let socket =
        UdpSocket::bind(addr).map_err(|e| format!("cannot serve DNS on UDP {addr}: {e}"))?;
    let listener =
        TcpListener::bind(addr).map_err(|e| format!("cannot serve DNS on TCP {addr}: {e}"))?;
    glommio::spawn_local(udp_loop(Rc::new(socket), core.clone(), zone.clone())).detach();
    glommio::spawn_local(tcp_accept_loop(listener, core.clone(), zone)).detach();
    if core.id == 0 {
        tracing::info!(%addr, domain = %settings.domain, "DNS listening (UDP and TCP)");
    }
    Ok(())
}

/// Answers datagrams one by one; a lookup owned by another core goes out as a task (up to
/// the in-flight cap, then inline), so one slow hop does not hold up the local answers.
async fn udp_loop(socket: Rc<UdpSocket>, core: CoreHandle, zone: Rc<Zone>) {
    let inflight = Rc::new(Semaphore::new(DNS_UDP_INFLIGHT_PER_CORE_MAX as u64));
    let mut buf = vec![0u8; DNS_UDP_QUERY_BYTES_MAX];
    loop {
        let (len, from) = match socket.recv_from(&mut buf).await {
            Ok(received) => received,
            Err(error) => {
                // ICMP errors of earlier sends surface here; wait a little rather than spin.
                tracing::debug!(%error, "DNS UDP receive failed");
                glommio::timer::sleep(Duration::from_millis(1)).await;
                continue;
            }
        };
        debug_assert!(len <= buf.len());
        let request = match wire::parse(&buf[..len]) {
            Parsed::Drop => continue,
            Parsed::Immediate(bytes) => {
                let _ = socket.send_to(&bytes, from).await;
                continue;
            }
            Parsed::Query(request) => request,
        };
        let remote = query_is_remote(&core, &zone, &request);
        if remote {
            if let Ok(permit) = inflight.try_acquire_static_permit(1) {
                let (socket, core, zone) = (socket.clone(), core.clone(), zone.clone());
                glommio::spawn_local(async move {
                    let bytes = respond(&core, &zone, &request, Transport::Udp).await;
                    let _ = socket.send_to(&bytes, from).await;
                    drop(permit);
                })
                .detach();
                continue;
            }
        }
        let bytes = respond(&core, &zone, &request, Transport::Udp).await;
        let _ = socket.send_to(&bytes, from).await;
    }
}

/// Whether answering `request` needs another core (its service is owned elsewhere).
fn query_is_remote(core: &CoreHandle, zone: &Zone, request: &wire::Request) -> bool {
    if core.cores == 1 {
        return false;
    }
    match crate::dns::name::resolve(&zone.domain, request.query.name()) {
        crate::dns::name::Target::Service { key, .. } => owner_core(&key, core.cores) != core.id,
        _ => false,
    }
}

async fn tcp_accept_loop(listener: TcpListener, core: CoreHandle, zone: Rc<Zone>) {
    let core_id = core.id;
    let serve_one = move |stream| {
        let (core, zone) = (core.clone(), zone.clone());
        async move { serve_tcp(stream, &core, &zone).await }
    };
    let max = DNS_TCP_CONNECTIONS_PER_CORE_MAX;
    crate::shard::accept::accept_loop(listener, max, "DNS TCP", core_id, serve_one).await;
}

/// RFC 7766 framing: a 16-bit length, then the message; queries answered in order.
async fn serve_tcp(mut stream: TcpStream, core: &CoreHandle, zone: &Zone) {
    let idle = Duration::from_millis(DNS_TCP_IDLE_MS);
    if stream.set_read_timeout(Some(idle)).is_err() {
        return;
    }
    let mut buf = vec![0u8; DNS_TCP_QUERY_BYTES_MAX];
    for _ in 0..DNS_TCP_QUERIES_PER_CONNECTION_MAX {
        let mut prefix = [0u8; 2];
        if stream.read_exact(&mut prefix).await.is_err() {
            return;
        }
        let len = u16::from_be_bytes(prefix) as usize;
        if len > buf.len() {
            return;
        }
        if stream.read_exact(&mut buf[..len]).await.is_err() {
            return;
        }
        let bytes = match wire::parse(&buf[..len]) {
            Parsed::Drop => return,
            Parsed::Immediate(bytes) => bytes,
            Parsed::Query(request) => respond(core, zone, &request, Transport::Tcp).await,
        };
        let Ok(answer_len) = u16::try_from(bytes.len()) else {
            return;
        };
        let mut framed = Vec::with_capacity(bytes.len() + 2);
        framed.extend_from_slice(&answer_len.to_be_bytes());
        framed.extend_from_slice(&bytes);
        if stream.write_all(&framed).await.is_err() {
            return;
        }
    }
}
