//! Active health checks of persistent instances (they send no beats): every interval, each
//! core TCP-connects to the persistent instances of the services it owns. An instance that
//! fails `fail_threshold` probes in a row turns unhealthy (and subscribers are pushed); one
//! that passes `ok_threshold` in a row turns healthy again. Probes never delete an instance.

use std::net::{IpAddr, SocketAddr};

use std::time::Duration;

use futures::stream::{self, StreamExt};

use crate::limits::HEALTH_PROBES_IN_FLIGHT_MAX;
use crate::naming::key::ServiceKey;
use crate::shard::CoreHandle;

/// Health-check settings (`--health-check-*` flags).
#[derive(Debug, Clone, Copy)]
pub struct ProbeSettings {
    pub interval_ms: u64,
    pub timeout_ms: u64,
    pub fail_threshold: u8,
    pub ok_threshold: u8,
}

/// One persistent instance to probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeTarget {
    pub key: ServiceKey,
    pub ip: String,
    pub port: u16,
}

/// Probes this core's persistent instances forever.
pub fn spawn(core: &CoreHandle, settings: ProbeSettings) {
    assert!(settings.interval_ms > 0 && settings.timeout_ms > 0);
    let core = core.clone();
    glommio::spawn_local(async move {
        loop {
            glommio::timer::sleep(Duration::from_millis(settings.interval_ms)).await;
            if !core.is_ready() || !core.with_switches(|s| s.health_check_enabled) {
                continue;
            }
            probe_round(&core, settings).await;
        }
    })
    .detach();
}

async fn probe_round(core: &CoreHandle, settings: ProbeSettings) {
    let targets = core.probe_targets();
    let timeout = Duration::from_millis(settings.timeout_ms);
    let results: Vec<(ProbeTarget, bool)> = stream::iter(targets)
        .map(|target| async move {
            let ok = tcp_probe(&target, timeout).await;
            (target, ok)
        })
        .buffer_unordered(HEALTH_PROBES_IN_FLIGHT_MAX)
        .collect()
        .await;
    for (target, ok) in results {
        core.record_probe(&target, ok, settings);
    }
}

/// A TCP connect within `timeout`. Host names are not resolved here (that would block the
/// core); such instances count as reachable.
async fn tcp_probe(target: &ProbeTarget, timeout: Duration) -> bool {
    let Ok(ip) = target.ip.parse::<IpAddr>() else {
        return true;
    };
    let addr = SocketAddr::new(ip, target.port);
    glommio::net::TcpStream::connect_timeout(addr, timeout)
        .await
        .is_ok()
}
