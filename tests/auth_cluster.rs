//! A 3-member cluster with auth and a cluster secret: a user created on one member logs in on
//! the others, forwarded ephemeral writes work with a token, raw garbage on the cluster port
//! harms nothing, and a member restarted with the wrong cluster secret is refused by its peers
//! (they see it DOWN, and it no longer receives the cluster's writes).

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use common::Server;
use serde_json::Value;

const SECRET: &str = "nacore-test-token-secret-0123456789abcdef";
const ARGS: [&str; 8] = [
    "--cores",
    "1",
    "--auth-enabled",
    "--auth-token-secret",
    SECRET,
    "--auth-cluster-secret",
    "peer-secret-1",
    "--distro-verify-interval-ms",
];

fn wait_until<T>(what: &str, timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn try_login(server: &Server, username: &str, password: &str) -> Option<String> {
    let body = format!("username={username}&password={password}");
    let (status, answer) = common::try_http(
        server.http_port,
        "POST",
        "/nacos/v1/auth/login",
        Some(&body),
    )
    .ok()?;
    if status != 200 {
        return None;
    }
    let answer: Value = serde_json::from_str(&answer).ok()?;
    answer["accessToken"].as_str().map(str::to_string)
}

/// Creates a user through `server`, again after a refusal or a stalled answer (a write
/// forwarded to a leader that loses its leadership meanwhile may never be answered); a retry
/// that finds the user already created counts.
fn create_user(server: &Server, bearer: &str, username: &str, password: &str) {
    let body = format!("username={username}&password={password}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let reply = common::try_http_with(
            server.http_port,
            "POST",
            "/nacos/v1/auth/users",
            &[("Authorization", bearer)],
            Some(&body),
            Duration::from_secs(15),
        );
        match reply {
            Ok(reply) if reply.status == 200 => return,
            Ok(reply) if reply.body.contains("already exist") => return,
            other => assert!(Instant::now() < deadline, "create {username}: {other:?}"),
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The member list, which Nacos serves without a login.
fn states(server: &Server) -> Vec<(u64, String)> {
    let (status, body) = server.http("GET", "/nacos/v1/core/cluster/nodes", None);
    assert_eq!(status, 200, "{body}");
    let nodes: Value = serde_json::from_str(&body).unwrap();
    nodes["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["port"].as_u64().unwrap(),
                n["state"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn users_replicate_and_strangers_are_refused() {
    let mut args: Vec<&str> = ARGS.to_vec();
    args.push("1000");
    args.extend(["--distro-replica-expiry-ms", "3000"]);
    let mut servers = Server::start_cluster(3, &args);
    // The first admin, through whichever member (the write goes to the Raft leader).
    wait_until("the admin initialisation", Duration::from_secs(30), || {
        let (status, body) = common::try_http(
            servers[1].http_port,
            "POST",
            "/nacos/v1/auth/users/admin",
            Some("password=admin-pw"),
        )
        .ok()?;
        (status == 200 && body.contains("\"username\"")).then_some(())
    });
    let admin = try_login(&servers[1], "nacos", "admin-pw").expect("admin login");
    let bearer = format!("Bearer {admin}");
    create_user(&servers[2], &bearer, "carol", "carol-pw");
    for server in &servers {
        wait_until(
            "carol's login on every member",
            Duration::from_secs(10),
            || try_login(server, "carol", "carol-pw"),
        );
    }
    // Ephemeral registrations on every member (forwarded to the responsible one) with the
    // admin's token; every member lists all of them.
    for (i, server) in servers.iter().enumerate() {
        for port in 0..6u16 {
            let q = format!(
                "/nacos/v1/ns/instance?serviceName=auth-cluster&ip=10.9.{i}.{port}&port=80&accessToken={admin}"
            );
            assert_eq!(
                server.http("POST", &q, None),
                (200, "ok".to_string()),
                "member {i}"
            );
        }
    }
    let list = format!("/nacos/v1/ns/instance/list?serviceName=auth-cluster&accessToken={admin}");
    for server in &servers {
        wait_until("18 instances everywhere", Duration::from_secs(15), || {
            let (_, body) = server.http("GET", &list, None);
            let hosts: Value = serde_json::from_str(&body).ok()?;
            (hosts["hosts"].as_array()?.len() == 18).then_some(())
        });
    }
    // Garbage on a cluster port: refused, the cluster keeps working.
    let cluster_port: u16 = servers[0].arg("--cluster-port").unwrap().parse().unwrap();
    for garbage in [
        &b"GET / HTTP/1.1\r\n\r\n"[..],
        &[0xffu8; 512][..],
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00",
    ] {
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", cluster_port)) {
            let _ = stream.write_all(garbage);
        }
    }
    create_user(&servers[0], &bearer, "dave", "dave-pw");
    for server in &servers {
        wait_until(
            "dave's login on every member",
            Duration::from_secs(10),
            || try_login(server, "dave", "dave-pw"),
        );
    }
    // Member 2 comes back with the wrong cluster secret: its peers refuse it.
    servers[2].kill9();
    servers[2].set_arg("--auth-cluster-secret", "not-the-secret");
    servers[2].restart_unready();
    let stranger = servers[2].http_port as u64;
    // It cannot join: it never loads the cluster's state, so it never reports ready.
    wait_until("member 2 seen DOWN", Duration::from_secs(30), || {
        let seen = states(&servers[0]);
        seen.iter()
            .any(|(port, state)| *port == stranger && state == "DOWN")
            .then_some(())
    });
    create_user(&servers[0], &bearer, "erin", "erin-pw");
    wait_until("erin on member 1", Duration::from_secs(10), || {
        try_login(&servers[1], "erin", "erin-pw")
    });
    // Member 1 has it; the stranger never gets it nor becomes ready (observed for a while).
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        assert!(
            try_login(&servers[2], "erin", "erin-pw").is_none(),
            "the stranger got erin"
        );
        let readiness = "/nacos/v1/console/health/readiness";
        let ready = common::try_http(stranger as u16, "GET", readiness, None);
        assert!(!matches!(ready, Ok((200, _))), "the stranger became ready");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        servers[0]
            .log()
            .contains("cluster peer without the cluster secret refused")
            || servers[1]
                .log()
                .contains("cluster peer without the cluster secret refused"),
        "a refusal is logged"
    );
    for server in &servers {
        assert!(
            !server.log().contains("peer-secret-1"),
            "the secret is never logged"
        );
    }
}

/// Auth rows travel in Raft snapshots: a member down while more auth writes than the
/// compaction threshold were made catches up from a snapshot and knows every user.
#[test]
fn users_arrive_through_a_snapshot() {
    let args = [
        "--cores",
        "1",
        "--auth-enabled",
        "--auth-token-secret",
        SECRET,
        "--auth-cluster-secret",
        "peer-secret-1",
        "--raft-compact-entries",
        "8",
    ];
    let mut servers = Server::start_cluster(3, &args);
    wait_until("the admin initialisation", Duration::from_secs(30), || {
        let (status, body) = common::try_http(
            servers[0].http_port,
            "POST",
            "/nacos/v1/auth/users/admin",
            Some("password=admin-pw"),
        )
        .ok()?;
        (status == 200 && body.contains("\"username\"")).then_some(())
    });
    let admin = try_login(&servers[0], "nacos", "admin-pw").expect("admin login");
    let bearer = format!("Bearer {admin}");
    servers[2].kill9();
    // Writes go to whichever of the two live members answers; Raft needs both.
    for i in 0..30 {
        create_user(
            &servers[i % 2],
            &bearer,
            &format!("snap{i}"),
            &format!("pw{i}"),
        );
    }
    servers[2].restart();
    for i in [0, 15, 29] {
        wait_until(
            "the restarted member knows the users",
            Duration::from_secs(15),
            || try_login(&servers[2], &format!("snap{i}"), &format!("pw{i}")),
        );
    }
    try_login(&servers[2], "nacos", "admin-pw").expect("the admin too");
}
