//! No acknowledged config write is lost: publishes and deletes from several threads, SIGKILL
//! in the middle of the burst, a restart on the same data dir; every acknowledged config
//! reads back with its content, every acknowledged delete stays deleted, and the node reports
//! ready only once that holds. Repeated with a small compaction threshold, so the restart
//! reads a compacted log plus the config state tables.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use common::{try_http, Server};

const WRITERS: usize = 4;
const GROUP: &str = "DURABLE";

/// What the writes to a key left.
#[derive(Debug, Clone)]
enum Left {
    Published(String),
    Deleted,
    /// Published, then a delete that was not answered: it may or may not have been applied.
    PublishedOrDeleted(String),
}

type Acked = Arc<Mutex<BTreeMap<String, Left>>>;

/// Publishes `d-<writer>-<n>` from several threads until `stop`, deleting every fifth one
/// right after its publish; records what each acknowledged write left.
fn write_burst(port: u16, stop: Arc<AtomicBool>) -> (Acked, Vec<thread::JoinHandle<()>>) {
    let acked: Acked = Arc::new(Mutex::new(BTreeMap::new()));
    let mut handles = Vec::new();
    for writer in 0..WRITERS {
        let (acked, stop) = (acked.clone(), stop.clone());
        handles.push(thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                let data_id = format!("d-{writer}-{n}");
                let content = format!("content of {data_id}: 配置");
                let body = format!(
                    "dataId={data_id}&group={GROUP}&content={}",
                    encode(&content)
                );
                if let Ok((200, reply)) =
                    try_http(port, "POST", "/nacos/v1/cs/configs", Some(&body))
                {
                    assert_eq!(reply, "true");
                    let left = Left::Published(content.clone());
                    acked.lock().unwrap().insert(data_id.clone(), left);
                }
                if n % 5 == 0 {
                    let q = format!("/nacos/v1/cs/configs?dataId={data_id}&group={GROUP}");
                    let left = match try_http(port, "DELETE", &q, None) {
                        Ok((200, reply)) if reply == "true" => Left::Deleted,
                        _ => Left::PublishedOrDeleted(content),
                    };
                    let mut acked = acked.lock().unwrap();
                    if acked.contains_key(&data_id) {
                        acked.insert(data_id, left);
                    }
                }
                n += 1;
            }
        }));
    }
    (acked, handles)
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn kill_mid_burst_and_check(server: &mut Server) {
    let stop = Arc::new(AtomicBool::new(false));
    let (acked, handles) = write_burst(server.http_port, stop.clone());
    // Let the burst run, then kill the server while writes are in flight.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while acked.lock().unwrap().len() < 400 {
        assert!(
            std::time::Instant::now() < deadline,
            "too few writes acknowledged\n{}",
            server.log()
        );
        thread::sleep(Duration::from_millis(20));
    }
    server.kill9();
    stop.store(true, Ordering::SeqCst);
    for handle in handles {
        handle.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    server.restart();
    let mut published = 0;
    for (data_id, expected) in &acked {
        let q = format!("/nacos/v1/cs/configs?dataId={data_id}&group={GROUP}");
        let (status, body) = server.http("GET", &q, None);
        match expected {
            Left::Published(content) => {
                published += 1;
                assert_eq!(
                    (status, body.as_str()),
                    (200, content.as_str()),
                    "acknowledged publish of {data_id} lost"
                );
            }
            Left::Deleted => assert_eq!(status, 404, "acknowledged delete of {data_id} undone"),
            Left::PublishedOrDeleted(content) => assert!(
                status == 404 || (status, body.as_str()) == (200, content.as_str()),
                "{data_id}: {status} {body}"
            ),
        }
    }
    assert!(published > 0 && published < acked.len(), "{acked:?}");
}

#[test]
fn acknowledged_config_writes_survive_kill9() {
    let mut server = Server::start();
    kill_mid_burst_and_check(&mut server);
}

#[test]
fn acknowledged_config_writes_survive_kill9_after_compaction() {
    let mut server = Server::start_with(&["--raft-compact-entries", "40"]);
    kill_mid_burst_and_check(&mut server);
    // And again on the restarted node: the second run restores from tables plus a log tail.
    kill_mid_burst_and_check(&mut server);
}

/// A member killed while the others take writes reports ready again only once it has caught
/// up: right after readiness it serves every write acknowledged while it was down.
#[test]
fn restarted_member_serves_every_write_made_while_it_was_down() {
    let mut servers = Server::start_cluster(3, &[]);
    let publish = |server: &Server, data_id: &str, content: &str| {
        let body = format!("dataId={data_id}&group={GROUP}&content={}", encode(content));
        // A fresh cluster may refuse a forwarded write while its peer links settle (503); a
        // client retries those.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let reply = server.http("POST", "/nacos/v1/cs/configs", Some(&body));
            if reply.0 != 503 || std::time::Instant::now() > deadline {
                assert_eq!(reply, (200, "true".to_string()), "publish {data_id}");
                return;
            }
            thread::sleep(Duration::from_millis(100));
        }
    };
    for i in 0..20 {
        publish(&servers[0], &format!("before-{i}"), &format!("v1 {i}"));
    }
    servers[2].kill9();
    for i in 0..20 {
        publish(&servers[1], &format!("before-{i}"), &format!("v2 {i}"));
        publish(&servers[0], &format!("during-{i}"), &format!("new {i}"));
    }
    let q = |data_id: &str| format!("/nacos/v1/cs/configs?dataId={data_id}&group={GROUP}");
    assert_eq!(servers[1].http("DELETE", &q("before-0"), None).0, 200);
    servers[2].restart();
    let member = &servers[2];
    assert_eq!(member.http("GET", &q("before-0"), None).0, 404);
    for i in 1..20 {
        let got = member.http("GET", &q(&format!("before-{i}")), None);
        assert_eq!(
            got,
            (200, format!("v2 {i}")),
            "before-{i} on the restarted member"
        );
    }
    for i in 0..20 {
        let got = member.http("GET", &q(&format!("during-{i}")), None);
        assert_eq!(
            got,
            (200, format!("new {i}")),
            "during-{i} on the restarted member"
        );
    }
}

/// Read-your-writes on every member: right after a publish is acknowledged by one member,
/// the others serve it (a read waits for the leader's commit index before it is answered).
#[test]
fn every_member_serves_a_write_as_soon_as_it_is_acknowledged() {
    let servers = Server::start_cluster(3, &[]);
    let q = format!("/nacos/v1/cs/configs?dataId=ryw&group={GROUP}");
    for round in 0..60 {
        let writer = &servers[round % 3];
        let content = format!("round-{round}");
        let body = format!("dataId=ryw&group={GROUP}&content={content}");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let reply = writer.http("POST", "/nacos/v1/cs/configs", Some(&body));
            if reply.0 != 503 || std::time::Instant::now() > deadline {
                assert_eq!(reply, (200, "true".to_string()), "publish round {round}");
                break;
            }
            thread::sleep(Duration::from_millis(100));
        }
        for (i, reader) in servers.iter().enumerate() {
            let got = reader.http("GET", &q, None);
            assert_eq!(
                got,
                (200, content.clone()),
                "round {round}, member {}",
                i + 1
            );
        }
    }
}
