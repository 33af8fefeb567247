//! A 3-member cluster on loopback: writes on a follower are forwarded to the leader and
//! readable on the follower at once; with the leader killed (SIGKILL) the others elect a new
//! one and keep taking writes; the killed member restarts, catches up (through a snapshot, as
//! the log is compacted meanwhile) and converges.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::{try_http, Server};
use serde_json::Value;

/// The leader's HTTP port as member `server` sees it, if it knows one.
fn leader_http_port(server: &Server) -> Option<u16> {
    let (status, body) = try_http(
        server.http_port,
        "GET",
        "/nacos/v1/core/cluster/nodes",
        None,
    )
    .ok()?;
    if status != 200 {
        return None;
    }
    let nodes: Value = serde_json::from_str(&body).ok()?;
    let leader = nodes["data"][0]["extendInfo"]["raftMetaData"]["metaDataMap"]
        ["naming_persistent_service_v2"]["leader"]
        .as_str()?
        .to_string();
    let cluster_port: u16 = leader.rsplit(':').next()?.parse().ok()?;
    // The members' cluster ports map to their HTTP ports through the node list.
    nodes["data"].as_array()?.iter().find_map(|n| {
        let raft_port: u16 = n["extendInfo"]["raftPort"].as_str()?.parse().ok()?;
        (raft_port == cluster_port)
            .then(|| n["port"].as_u64())?
            .map(|p| p as u16)
    })
}

/// Waits until every live member names the same leader among `alive`; returns its index.
fn wait_for_leader(servers: &[Server], alive: &[usize]) -> usize {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let seen: BTreeSet<Option<u16>> = alive
            .iter()
            .map(|&i| leader_http_port(&servers[i]))
            .collect();
        if let [Some(port)] = seen.iter().collect::<Vec<_>>()[..] {
            if let Some(index) = alive.iter().find(|&&i| servers[i].http_port == *port) {
                return *index;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no agreed leader among {alive:?}: {seen:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn register(server: &Server, port: u16) -> Result<(), String> {
    let q = format!(
        "/nacos/v1/ns/instance?serviceName=clustered&ip=10.3.3.3&port={port}&ephemeral=false"
    );
    match try_http(server.http_port, "POST", &q, None) {
        Ok((200, body)) if body == "ok" => Ok(()),
        Ok((status, body)) => Err(format!("{status} {body}")),
        Err(e) => Err(e.to_string()),
    }
}

fn ports(server: &Server) -> BTreeSet<u16> {
    common::port_health(server, "clustered")
        .into_iter()
        .map(|(p, _)| p as u16)
        .collect()
}

fn wait_for_ports(server: &Server, want: &BTreeSet<u16>) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while &ports(server) != want {
        assert!(
            Instant::now() < deadline,
            "member {} never converged: has {:?}, want {want:?}",
            server.http_port,
            ports(server)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn three_members_survive_a_leader_kill_and_converge() {
    let mut servers = Server::start_cluster(3, &["--cores", "1", "--raft-compact-entries", "16"]);
    let leader = wait_for_leader(&servers, &[0, 1, 2]);
    let follower = (leader + 1) % 3;
    let mut written = BTreeSet::new();

    // A write on a follower goes to the leader and is readable on the follower at once.
    register(&servers[follower], 1).unwrap();
    written.insert(1);
    assert_eq!(
        ports(&servers[follower]),
        written,
        "read-your-write on the follower"
    );
    for server in &servers {
        wait_for_ports(server, &written);
    }

    // Kill the leader; the other two elect a new one and keep taking writes.
    servers[leader].kill9();
    let alive: Vec<usize> = (0..3).filter(|&i| i != leader).collect();
    let new_leader = wait_for_leader(&servers, &alive);
    assert_ne!(new_leader, leader);
    for port in 2..=40u16 {
        let target = &servers[alive[port as usize % 2]];
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match register(target, port) {
                Ok(()) => break,
                Err(error) => {
                    assert!(
                        Instant::now() < deadline,
                        "write {port} kept failing: {error}"
                    );
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
        written.insert(port);
    }
    for &i in &alive {
        wait_for_ports(&servers[i], &written);
    }

    // The killed member comes back and catches up, though the log it missed was compacted.
    servers[leader].restart();
    wait_for_ports(&servers[leader], &written);
    register(&servers[leader], 99).unwrap();
    written.insert(99);
    for server in &servers {
        wait_for_ports(server, &written);
    }
}
