//! Active health checks of persistent instances: an instance whose port stops listening turns
//! unhealthy after the configured failures, comes back when its port listens again, and is
//! never deleted.

mod common;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::Server;
use serde_json::Value;

fn health(server: &Server) -> Vec<(u64, bool)> {
    let (_, body) = server.http("GET", "/nacos/v1/ns/instance/list?serviceName=probed", None);
    let info: Value = serde_json::from_str(&body).unwrap();
    let mut out: Vec<(u64, bool)> = info["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["port"].as_u64().unwrap(), h["healthy"].as_bool().unwrap()))
        .collect();
    out.sort();
    out
}

fn wait_for(server: &Server, want: &[(u64, bool)]) -> Duration {
    let start = Instant::now();
    while health(server) != want {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "never reached {want:?}; now {:?}",
            health(server)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    start.elapsed()
}

/// Two persistent instances on listening ports: closing one's port makes it unhealthy after
/// three failed probes; listening again makes it healthy; it is never removed.
#[test]
fn persistent_instance_follows_its_port() {
    let server = Server::start_with(&[
        "--health-check-interval-ms",
        "200",
        "--health-check-timeout-ms",
        "200",
        "--health-check-fail-threshold",
        "3",
    ]);
    let steady = TcpListener::bind("127.0.0.1:0").unwrap();
    let flaky = TcpListener::bind("127.0.0.1:0").unwrap();
    let steady_port = u64::from(steady.local_addr().unwrap().port());
    let flaky_port = u64::from(flaky.local_addr().unwrap().port());
    for port in [steady_port, flaky_port] {
        let q = format!(
            "/nacos/v1/ns/instance?serviceName=probed&ip=127.0.0.1&port={port}&ephemeral=false"
        );
        assert_eq!(server.http("POST", &q, None).0, 200);
    }
    let mut both_up = vec![(steady_port, true), (flaky_port, true)];
    both_up.sort();
    // Several rounds pass with both healthy.
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(health(&server), both_up);

    drop(flaky);
    let mut flaky_down = vec![(steady_port, true), (flaky_port, false)];
    flaky_down.sort();
    let took = wait_for(&server, &flaky_down);
    assert!(
        took >= Duration::from_millis(300),
        "unhealthy after only {took:?} (3 failures at 200 ms)"
    );

    let _again = TcpListener::bind(("127.0.0.1", flaky_port as u16)).unwrap();
    wait_for(&server, &both_up);
}
