//! No acknowledged persistent write is lost: the server is killed with SIGKILL in the middle
//! of a write burst and restarted on the same data dir; every write it acknowledged is there,
//! and the node reports ready only once it is. Repeated with a small compaction threshold, so
//! the restart reads a compacted log plus state tables.

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use common::{try_http, Server};
use serde_json::Value;

const WRITERS: usize = 4;

/// Registers persistent instances from several threads until `stop`; returns the ports
/// whose registration was acknowledged with 200 `ok`.
fn write_burst(port: u16, service: &str, stop: Arc<AtomicBool>) -> Arc<Mutex<BTreeSet<u16>>> {
    let acked = Arc::new(Mutex::new(BTreeSet::new()));
    let mut handles = Vec::new();
    for writer in 0..WRITERS {
        let (acked, stop, service) = (acked.clone(), stop.clone(), service.to_string());
        handles.push(thread::spawn(move || {
            let mut instance_port = 1000 + writer as u16;
            while !stop.load(Ordering::SeqCst) && instance_port < 60_000 {
                let q = format!("/nacos/v1/ns/instance?serviceName={service}&ip=10.1.1.1&port={instance_port}&ephemeral=false");
                if let Ok((200, body)) = try_http(port, "POST", &q, None) {
                    assert_eq!(body, "ok");
                    acked.lock().unwrap().insert(instance_port);
                }
                instance_port += WRITERS as u16;
            }
        }));
    }
    let acked_clone = acked.clone();
    thread::spawn(move || {
        for handle in handles {
            let _ = handle.join();
        }
    });
    acked_clone
}

fn stored_ports(server: &Server, service: &str) -> BTreeSet<u16> {
    common::port_health(server, service)
        .into_iter()
        .map(|(p, _)| p as u16)
        .collect()
}

fn kill_mid_burst_and_check(server: &mut Server) {
    // Durable metadata of other kinds, written before the burst.
    assert_eq!(
        server
            .http(
                "POST",
                "/nacos/v1/ns/service?serviceName=meta&protectThreshold=0.4&metadata=k%3Dv",
                None
            )
            .0,
        200
    );
    assert_eq!(
        server
            .http(
                "PUT",
                "/nacos/v1/ns/operator/switches?entry=clientBeatInterval&value=6000",
                None
            )
            .0,
        200
    );
    let stop = Arc::new(AtomicBool::new(false));
    let acked = write_burst(server.http_port, "burst", stop.clone());
    thread::sleep(Duration::from_millis(1500));
    server.kill9();
    stop.store(true, Ordering::SeqCst);
    thread::sleep(Duration::from_millis(200));
    let acked: BTreeSet<u16> = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 20,
        "the burst acknowledged too few writes to mean anything: {}",
        acked.len()
    );

    server.restart();
    // Ready means rebuilt: the very first read after readiness sees every acknowledged write.
    let stored = stored_ports(server, "burst");
    let lost: Vec<&u16> = acked.difference(&stored).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged writes lost after kill -9: {lost:?}",
        lost.len()
    );
    let (_, body) = server.http("GET", "/nacos/v1/ns/service?serviceName=meta", None);
    let meta: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(meta["protectThreshold"], 0.4);
    assert_eq!(meta["metadata"]["k"], "v");
    let (_, body) = server.http("GET", "/nacos/v1/ns/operator/switches", None);
    assert!(body.contains("\"clientBeatInterval\":6000"), "{body}");
    // The restarted node keeps taking writes, and they survive another kill.
    let q = "/nacos/v1/ns/instance?serviceName=burst&ip=10.1.1.1&port=65000&ephemeral=false";
    assert_eq!(server.http("POST", q, None), (200, "ok".to_string()));
    server.kill9();
    server.restart();
    assert!(stored_ports(server, "burst").contains(&65000));
}

/// kill -9 during a burst of persistent registrations loses nothing acknowledged.
#[test]
fn acknowledged_writes_survive_kill_9() {
    let mut server = Server::start();
    kill_mid_burst_and_check(&mut server);
}

/// The same with a log compacted every few entries: recovery comes from the state tables
/// and the remaining log.
#[test]
fn acknowledged_writes_survive_kill_9_with_compacted_log() {
    let mut server = Server::start_with(&["--raft-compact-entries", "16"]);
    kill_mid_burst_and_check(&mut server);
}

/// Deleting and updating durably is durable too.
#[test]
fn deletes_and_overlays_survive_restart() {
    let mut server = Server::start();
    let reg = |s: &Server, port: u16| {
        let q =
            format!("/nacos/v1/ns/instance?serviceName=d&ip=10.2.2.2&port={port}&ephemeral=false");
        assert_eq!(s.http("POST", &q, None).0, 200);
    };
    reg(&server, 1);
    reg(&server, 2);
    let q = "/nacos/v1/ns/instance?serviceName=d&ip=10.2.2.2&port=1&ephemeral=false&weight=7&metadata=%7B%22x%22%3A%22y%22%7D";
    assert_eq!(server.http("PUT", q, None).0, 200);
    let q = "/nacos/v1/ns/instance?serviceName=d&ip=10.2.2.2&port=2&ephemeral=false";
    assert_eq!(server.http("DELETE", q, None).0, 200);
    assert_eq!(
        server
            .http("POST", "/nacos/v1/ns/service?serviceName=gone", None)
            .0,
        200
    );
    assert_eq!(
        server
            .http("DELETE", "/nacos/v1/ns/service?serviceName=gone", None)
            .0,
        200
    );
    server.kill9();
    server.restart();
    let (_, body) = server.http("GET", "/nacos/v1/ns/instance/list?serviceName=d", None);
    let info: Value = serde_json::from_str(&body).unwrap();
    let hosts = info["hosts"].as_array().unwrap();
    assert_eq!(hosts.len(), 1, "{body}");
    assert_eq!(hosts[0]["port"], 1);
    assert_eq!(hosts[0]["weight"], 7.0);
    assert_eq!(hosts[0]["metadata"]["x"], "y");
    assert_eq!(
        server
            .http("GET", "/nacos/v1/ns/service?serviceName=gone", None)
            .0,
        400
    );
}

/// `metadata/batch` merges metadata into every persistent instance of a service (or the listed
/// ones), removes keys with DELETE, answers the updated instances, and survives a restart.
#[test]
fn metadata_batch_updates_overlays_durably() {
    let mut server = Server::start();
    for port in [1, 2] {
        let q = format!("/nacos/v1/ns/instance?serviceName=mb&ip=10.4.4.4&port={port}&ephemeral=false&metadata=%7B%22keep%22%3A%22yes%22%7D");
        assert_eq!(server.http("POST", &q, None).0, 200);
    }
    let (status, body) = server.http(
        "PUT",
        "/nacos/v1/ns/instance/metadata/batch",
        Some("serviceName=mb&consistencyType=persist&metadata=%7B%22zone%22%3A%22z1%22%2C%22tier%22%3A%22gold%22%7D"),
    );
    assert_eq!(status, 200, "{body}");
    let updated: Value = serde_json::from_str(&body).unwrap();
    let mut updated: Vec<String> = updated["updated"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    updated.sort();
    assert_eq!(
        updated,
        [
            "10.4.4.4:1:unknown:DEFAULT:persist",
            "10.4.4.4:2:unknown:DEFAULT:persist"
        ]
    );
    let only_one = "serviceName=mb&consistencyType=persist&metadata=tier%3D&instances=%5B%7B%22ip%22%3A%2210.4.4.4%22%2C%22port%22%3A2%7D%5D";
    let (status, body) = server.http(
        "DELETE",
        "/nacos/v1/ns/instance/metadata/batch",
        Some(only_one),
    );
    assert_eq!(status, 200, "{body}");
    let check = |server: &Server| {
        let hosts = common::list_hosts(server, "mb");
        let meta =
            |port: u64| hosts.iter().find(|h| h["port"] == port).unwrap()["metadata"].clone();
        assert_eq!(meta(1)["zone"], "z1");
        assert_eq!(meta(1)["tier"], "gold");
        assert_eq!(meta(1)["keep"], "yes");
        assert_eq!(meta(2)["zone"], "z1");
        assert!(meta(2).get("tier").is_none(), "{}", meta(2));
    };
    check(&server);
    server.kill9();
    server.restart();
    check(&server);
    let (status, body) = server.http(
        "PUT",
        "/nacos/v1/ns/instance/metadata/batch",
        Some("serviceName=mb"),
    );
    assert_eq!(
        (status, body.as_str()),
        (400, "Param 'metadata' is required.")
    );
    let (status, body) = server.http(
        "PUT",
        "/nacos/v2/ns/instance/metadata/batch",
        Some("serviceName=mb&consistencyType=persist&metadata=a%3Db"),
    );
    assert_eq!(status, 200, "{body}");
    let v2: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v2["data"]["updated"].as_array().unwrap().len(), 2);
}
