//! Active health checks of persistent instances (they send no beats): every interval, each
//! core TCP-connects to the persistent instances of the services it owns. An instance that
//! fails `fail_threshold` probes in a row turns unhealthy (and subscribers are pushed); one
//! that passes `ok_threshold` in a row turns healthy again. Probes never delete an instance.

use std::net::{IpAddr, SocketAddr};

use std::time::Duration;

use futures::stream::{self, StreamExt};

use crate::limits::HEALTH_PROBES_IN_FLIGHT_MAX;
use crate::naming::key::ServiceKey;
use crate::naming::service::HealthChecker;
use crate::shard::CoreHandle;
use futures_lite::{AsyncReadExt, AsyncWriteExt};

/// Health-check settings (`--health-check-*` flags).
#[derive(Debug, Clone, Copy)]
pub struct ProbeSettings {
    pub interval_ms: u64,
    pub timeout_ms: u64,
    pub fail_threshold: u8,
    pub ok_threshold: u8,
}

/// One persistent instance to probe, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeTarget {
    pub key: ServiceKey,
    pub ip: String,
    /// The instance's own port (its identity).
    pub port: u16,
    /// The port the check connects to (the instance port, or the cluster's check port).
    pub probe_port: u16,
    pub checker: HealthChecker,
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
            let ok = match &target.checker {
                HealthChecker::Http { .. } => http_probe(&target, timeout).await,
                _ => tcp_probe(&target, timeout).await,
            };
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
    let addr = SocketAddr::new(ip, target.probe_port);
    glommio::net::TcpStream::connect_timeout(addr, timeout)
        .await
        .is_ok()
}

/// `GET path` within `timeout`; healthy when the status is the expected one.
async fn http_probe(target: &ProbeTarget, timeout: Duration) -> bool {
    let HealthChecker::Http {
        path,
        headers,
        expected_code,
    } = &target.checker
    else {
        return false;
    };
    let Ok(ip) = target.ip.parse::<IpAddr>() else {
        return true;
    };
    let addr = SocketAddr::new(ip, target.probe_port);
    let request = http_request(&target.ip, target.probe_port, path, headers);
    let exchange = async {
        let mut stream = glommio::net::TcpStream::connect_timeout(addr, timeout).await?;
        stream.write_all(request.as_bytes()).await?;
        let mut head = vec![0u8; 1024];
        let n = stream.read(&mut head).await?;
        Ok::<_, std::io::Error>(status_code(&head[..n]))
    };
    let status = glommio::timer::timeout(timeout, async { Ok(exchange.await) }).await;
    matches!(status, Ok(Ok(Some(code))) if code == *expected_code)
}

fn http_request(ip: &str, port: u16, path: &str, headers: &str) -> String {
    let path = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    };
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {ip}:{port}\r\nUser-Agent: Nacos-Server\r\nConnection: close\r\n");
    for header in headers.split('|').filter_map(|h| h.split_once(':')) {
        request.push_str(&format!("{}: {}\r\n", header.0.trim(), header.1.trim()));
    }
    request.push_str("\r\n");
    request
}

/// The status code of an HTTP response head, if it has one.
fn status_code(head: &[u8]) -> Option<u16> {
    let line = head.split(|b| *b == b'\n').next()?;
    let text = std::str::from_utf8(line).ok()?;
    let mut parts = text.split_whitespace();
    let version = parts.next()?;
    if !version.starts_with("HTTP/") {
        return None;
    }
    parts.next()?.parse().ok()
}
