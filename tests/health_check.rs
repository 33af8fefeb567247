//! Active health checks of persistent instances: an instance whose port stops listening turns
//! unhealthy after the configured failures, comes back when its port listens again, and is
//! never deleted.

mod common;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::Server;

fn health(server: &Server) -> Vec<(u64, bool)> {
    common::port_health(server, "probed")
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

/// A tiny HTTP server answering `GET /health` with 200 or 503 as `healthy` says.
fn health_endpoint(healthy: std::sync::Arc<std::sync::atomic::AtomicBool>) -> u16 {
    use std::io::{Read, Write};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let mut buf = [0u8; 1024];
            let n = stream.read(&mut buf).unwrap_or(0);
            let ok = String::from_utf8_lossy(&buf[..n]).starts_with("GET /health ")
                && healthy.load(std::sync::atomic::Ordering::SeqCst);
            let status = if ok {
                "200 OK"
            } else {
                "503 Service Unavailable"
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    port
}

/// A cluster configured with an HTTP health checker follows its endpoint's status code; the
/// setting shows in the service detail and survives a restart.
#[test]
fn http_checker_per_cluster() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let mut server = Server::start_with(&[
        "--health-check-interval-ms",
        "200",
        "--health-check-fail-threshold",
        "2",
    ]);
    let healthy = Arc::new(AtomicBool::new(true));
    let port = u64::from(health_endpoint(healthy.clone()));
    let steady = TcpListener::bind("127.0.0.1:0").unwrap();
    let steady_port = u64::from(steady.local_addr().unwrap().port());
    for p in [port, steady_port] {
        let q = format!("/nacos/v1/ns/instance?serviceName=probed&ip=127.0.0.1&port={p}&ephemeral=false&clusterName=web");
        assert_eq!(server.http("POST", &q, None).0, 200);
    }
    let checker =
        "%7B%22type%22%3A%22HTTP%22%2C%22path%22%3A%22%2Fhealth%22%2C%22headers%22%3A%22%22%7D";
    let q = format!("/nacos/v1/ns/cluster?serviceName=probed&clusterName=web&checkPort=80&useInstancePort4Check=true&healthChecker={checker}");
    let (status, body) = server.http("PUT", &q, None);
    assert_eq!((status, body.as_str()), (200, "ok"));
    let (_, body) = server.http("GET", "/nacos/v1/ns/service?serviceName=probed", None);
    assert!(
        body.contains(r#""type":"HTTP""#) && body.contains("/health"),
        "{body}"
    );

    // The steady instance has no /health endpoint (a bare listener): only the HTTP one passes.
    let mut want = vec![(port, true), (steady_port, false)];
    want.sort();
    wait_for(&server, &want);
    healthy.store(false, Ordering::SeqCst);
    // Both unhealthy reaches the protect threshold (0.0): the list shows them healthy, so
    // read health from the instance endpoint instead.
    let start = Instant::now();
    loop {
        let (_, body) = server.http(
            "GET",
            &format!(
                "/nacos/v1/ns/instance?serviceName=probed&ip=127.0.0.1&port={port}&clusterName=web"
            ),
            None,
        );
        if body.contains("\"healthy\":false") {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "never turned unhealthy: {body}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    healthy.store(true, Ordering::SeqCst);
    wait_for(&server, &want);

    server.kill9();
    server.restart();
    let (_, body) = server.http("GET", "/nacos/v1/ns/service?serviceName=probed", None);
    assert!(
        body.contains(r#""type":"HTTP""#),
        "the checker did not survive a restart: {body}"
    );
    drop(steady);
}
