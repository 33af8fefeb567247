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
