//! Heartbeat expiry end to end, with short timeouts set through `preserved.*` metadata so the
//! test runs in seconds: unhealthy after the beat timeout, removed after the delete timeout,
//! kept healthy by beats, revived by a beat.

mod common;

use std::time::{Duration, Instant};

use common::Server;

const META: &str = "%7B%22preserved.heart.beat.timeout%22%3A%221000%22%2C%22preserved.ip.delete.timeout%22%3A%222500%22%2C%22preserved.heart.beat.interval%22%3A%22500%22%7D";

fn hosts(server: &Server, service: &str) -> Vec<(u64, bool)> {
    common::port_health(server, service)
}

fn register(server: &Server, service: &str, port: u16) -> Instant {
    let q = format!("serviceName={service}&ip=10.0.0.1&port={port}&metadata={META}");
    assert_eq!(
        server
            .http("POST", &format!("/nacos/v1/ns/instance?{q}"), None)
            .0,
        200
    );
    Instant::now()
}

fn beat(server: &Server, service: &str, port: u16) {
    let q = format!("serviceName={service}&ip=10.0.0.1&port={port}");
    let (status, body) = server.http("PUT", &format!("/nacos/v1/ns/instance/beat?{q}"), None);
    assert_eq!(status, 200);
    assert!(body.contains("\"code\":10200"), "{body}");
    assert!(body.contains("\"clientBeatInterval\":500"), "{body}");
}

/// Polls `check` every 50 ms until it holds, beating `beating` meanwhile; panics after
/// `limit`. Returns the time it took.
fn wait_until(
    server: &Server,
    service: &str,
    beating: Option<u16>,
    limit: Duration,
    check: impl Fn(&[(u64, bool)]) -> bool,
) -> Duration {
    let start = Instant::now();
    loop {
        if let Some(port) = beating {
            beat(server, service, port);
        }
        let now = hosts(server, service);
        if check(&now) {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < limit,
            "condition not reached within {limit:?}; hosts: {now:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Port 1 beats, port 2 falls silent: 2 turns unhealthy after ~1 s, is removed after
/// ~2.5 s, and 1 stays healthy throughout. (Two instances, so the protect threshold of 0.0
/// is not reached and the unhealthy one is shown as such.)
#[test]
fn silent_instance_turns_unhealthy_then_is_removed() {
    let server = Server::start();
    let registered = register(&server, "hb", 1);
    register(&server, "hb", 2);
    assert_eq!(hosts(&server, "hb"), vec![(1, true), (2, true)]);
    wait_until(&server, "hb", Some(1), Duration::from_secs(5), |h| {
        h == [(1, true), (2, false)]
    });
    let unhealthy_after = registered.elapsed();
    assert!(
        unhealthy_after >= Duration::from_millis(1000),
        "unhealthy too early: {unhealthy_after:?}"
    );
    wait_until(&server, "hb", Some(1), Duration::from_secs(5), |h| {
        h == [(1, true)]
    });
    let removed_after = registered.elapsed();
    assert!(
        removed_after >= Duration::from_millis(2500),
        "removed too early: {removed_after:?}"
    );
}

/// A beat on an unhealthy instance makes it healthy again.
#[test]
fn beat_revives_unhealthy_instance() {
    let server = Server::start();
    register(&server, "rv", 1);
    register(&server, "rv", 2);
    wait_until(&server, "rv", Some(1), Duration::from_secs(5), |h| {
        h == [(1, true), (2, false)]
    });
    beat(&server, "rv", 2);
    assert_eq!(hosts(&server, "rv"), vec![(1, true), (2, true)]);
}

/// An instance whose client stops beating is removed and its service answers empty.
#[test]
fn lone_silent_instance_is_removed() {
    let server = Server::start();
    register(&server, "lone", 7);
    wait_until(&server, "lone", None, Duration::from_secs(6), |h| {
        h.is_empty()
    });
    let (status, body) = server.http(
        "PUT",
        "/nacos/v1/ns/instance/beat?serviceName=lone&ip=10.0.0.1&port=7",
        None,
    );
    assert_eq!(status, 200);
    assert!(
        body.contains("\"code\":20404"),
        "a removed instance is unknown to light beats: {body}"
    );
}
