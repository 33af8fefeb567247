//! Distro on a 3-member cluster on loopback, over raw HTTP: ephemeral instances registered on
//! any member reach every member; each HTTP client is answered for by the member the Java
//! hash picks (writes landing elsewhere are forwarded); a member killed with SIGKILL turns
//! DOWN and its clients are taken over; restarted, it loads a snapshot before it is ready, so
//! polling every member never shows an instance missing.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{try_http, Server};
use serde_json::Value;

const SERVICE: &str = "distro-svc";
const INSTANCES: u16 = 30;
/// Long beat timeouts: the instances must outlive the test without beats.
const METADATA: &str =
    "preserved.heart.beat.timeout%3D120000%2Cpreserved.ip.delete.timeout%3D240000";

fn cluster_args() -> Vec<&'static str> {
    vec![
        "--distro-verify-interval-ms",
        "1000",
        "--distro-replica-expiry-ms",
        "8000",
    ]
}

fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> Result<(), String>) {
    let deadline = Instant::now() + timeout;
    loop {
        let last = match done() {
            Ok(()) => return,
            Err(last) => last,
        };
        assert!(
            Instant::now() < deadline,
            "{what} within {timeout:?}: {last}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until every member's list of instance ports satisfies `done`.
fn wait_for_lists(servers: &[Server], what: &str, done: impl Fn(&[u16]) -> bool) {
    for server in servers {
        wait_until(what, Duration::from_secs(10), || {
            let have = ports_on(server.http_port)?;
            done(&have)
                .then_some(())
                .ok_or(format!("{} has {have:?}", server.addr()))
        });
    }
}

fn ports_on(port: u16) -> Result<Vec<u16>, String> {
    let path = format!("/nacos/v1/ns/instance/list?serviceName={SERVICE}");
    let (status, body) = try_http(port, "GET", &path, None).map_err(|e| e.to_string())?;
    if status != 200 {
        return Err(format!("{status} {body}"));
    }
    let list: Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
    let mut ports: Vec<u16> = list["hosts"]
        .as_array()
        .ok_or("no hosts")?
        .iter()
        .filter_map(|h| h["port"].as_u64().map(|p| p as u16))
        .collect();
    ports.sort_unstable();
    Ok(ports)
}

fn register(port: u16, instance_port: u16) {
    let path = format!(
        "/nacos/v1/ns/instance?serviceName={SERVICE}&ip=10.7.0.1&port={instance_port}\
         &metadata={METADATA}"
    );
    let (status, body) = try_http(port, "POST", &path, None).expect("register");
    assert_eq!(
        (status, body.as_str()),
        (200, "ok"),
        "register {instance_port}"
    );
}

fn responsible_count(port: u16) -> Result<u64, String> {
    let (status, body) = try_http(
        port,
        "GET",
        "/nacos/v1/ns/operator/metrics?onlyStatus=false",
        None,
    )
    .map_err(|e| e.to_string())?;
    if status != 200 {
        return Err(format!("{status} {body}"));
    }
    let metrics: Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
    metrics["responsibleInstanceCount"]
        .as_u64()
        .ok_or_else(|| format!("no count in {body}"))
}

/// Java `String.hashCode` and Nacos `DistroMapper`: the index among the sorted addresses.
fn responsible_of(tag: &str, members: &[String]) -> String {
    let hash = tag
        .encode_utf16()
        .fold(0i32, |h, u| h.wrapping_mul(31).wrapping_add(i32::from(u)));
    let mut sorted = members.to_vec();
    sorted.sort();
    let index = (hash % i32::MAX).unsigned_abs() as usize % sorted.len();
    sorted[index].clone()
}

/// How many instances each member must answer for, by its HTTP address.
fn expected_owners(members: &[String]) -> BTreeMap<String, u64> {
    let mut owners: BTreeMap<String, u64> = members.iter().map(|m| (m.clone(), 0)).collect();
    for port in 1..=INSTANCES {
        *owners
            .entry(responsible_of(&format!("10.7.0.1:{port}"), members))
            .or_default() += 1;
    }
    owners
}

fn check_owners(servers: &[&Server]) -> Result<(), String> {
    let members: Vec<String> = servers.iter().map(|s| s.addr()).collect();
    let want = expected_owners(&members);
    for server in servers {
        let have = responsible_count(server.http_port)?;
        if have != want[&server.addr()] {
            return Err(format!(
                "{} answers for {have}, want {want:?}",
                server.addr()
            ));
        }
    }
    Ok(())
}

/// `member`'s state as `observer` shows it, in the v1 node list and the v2 one (which must
/// agree, and carry the v2 wrapper's code 0).
fn state_of(observer: &Server, member: &Server) -> Option<String> {
    let state_in = |path: &str, code: u64| -> Option<String> {
        let (_, body) = try_http(observer.http_port, "GET", path, None).ok()?;
        let nodes: Value = serde_json::from_str(&body).ok()?;
        if nodes["code"].as_u64() != Some(code) {
            return None;
        }
        nodes["data"].as_array()?.iter().find_map(|n| {
            (n["address"].as_str()? == member.addr())
                .then(|| n["state"].as_str().map(String::from))?
        })
    };
    let v1 = state_in("/nacos/v1/core/cluster/nodes", 200)?;
    let v2 = state_in("/nacos/v2/core/cluster/node/list", 0)?;
    (v1 == v2).then_some(v1)
}

/// A raw request with a peer's User-Agent, as a member forwards it.
fn as_peer(port: u16, method: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nUser-Agent: Nacos-Server:2.4.0\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).expect("write");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    let status = answer.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status, body)
}

/// Instances registered on any member show on every member; each is answered for by the
/// member the hash picks; a peer's forwarded write for another member's client is refused.
#[test]
fn http_clients_replicate_and_are_answered_for_by_the_hash() {
    let servers = Server::start_cluster(3, &cluster_args());
    let all: Vec<u16> = (1..=INSTANCES).collect();
    for port in 1..=INSTANCES {
        register(servers[usize::from(port) % 3].http_port, port);
    }
    wait_for_lists(&servers, "every member lists every instance", |have| {
        have == all
    });
    let refs: Vec<&Server> = servers.iter().collect();
    wait_until("owners follow the hash", Duration::from_secs(10), || {
        check_owners(&refs)
    });

    // A write a peer already forwarded is not forwarded again.
    let members: Vec<String> = servers.iter().map(|s| s.addr()).collect();
    let owner = responsible_of("10.7.0.1:1", &members);
    let other = servers
        .iter()
        .find(|s| s.addr() != owner)
        .expect("another member");
    let path = format!("/nacos/v1/ns/instance?serviceName={SERVICE}&ip=10.7.0.1&port=1");
    let (status, body) = as_peer(other.http_port, "DELETE", &path);
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("receive invalid redirect request from peer"),
        "{body}"
    );

    // A deregistration on a member that does not answer for the client is forwarded.
    let (status, body) = try_http(other.http_port, "DELETE", &path, None).expect("deregister");
    assert_eq!((status, body.as_str()), (200, "ok"));
    wait_for_lists(
        &servers,
        "the deregistration reaches every member",
        |have| !have.contains(&1),
    );
}

/// SIGKILL of a member: the others see it SUSPICIOUS/DOWN and take its clients over (a beat
/// anywhere keeps them alive); restarted, it loads the snapshot before it is ready, and a
/// poller of every member never sees an instance missing.
#[test]
fn a_killed_member_is_taken_over_and_restarts_without_gaps() {
    let mut servers = Server::start_cluster(3, &cluster_args());
    let all: Vec<u16> = (1..=INSTANCES).collect();
    for port in 1..=INSTANCES {
        register(servers[0].http_port, port);
    }
    wait_for_lists(&servers, "every member lists every instance", |have| {
        have == all
    });
    servers[2].kill9();
    wait_until(
        "the killed member turns DOWN",
        Duration::from_secs(20),
        || {
            let state = state_of(&servers[0], &servers[2]);
            (state.as_deref() == Some("DOWN"))
                .then_some(())
                .ok_or(format!("{state:?}"))
        },
    );
    let survivors = [&servers[0], &servers[1]];
    wait_until(
        "the survivors answer for every client",
        Duration::from_secs(10),
        || check_owners(&survivors),
    );
    for server in survivors {
        assert_eq!(ports_on(server.http_port).expect("list"), all);
    }
    // A light beat for a client the killed member answered for, on either survivor.
    let members: Vec<String> = servers.iter().map(|s| s.addr()).collect();
    let orphan = (1..=INSTANCES)
        .find(|p| responsible_of(&format!("10.7.0.1:{p}"), &members) == servers[2].addr())
        .expect("the killed member answered for some client");
    let beat =
        format!("/nacos/v1/ns/instance/beat?serviceName={SERVICE}&ip=10.7.0.1&port={orphan}");
    let (status, body) = try_http(servers[1].http_port, "PUT", &beat, None).expect("beat");
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("10200"),
        "the beat found its instance: {body}"
    );

    let poll_ports: Vec<u16> = servers.iter().map(|s| s.http_port).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let gaps = Arc::new(Mutex::new(Vec::new()));
    let poller = {
        let (stop, gaps, all) = (stop.clone(), gaps.clone(), all.clone());
        std::thread::spawn(move || {
            let mut polls = 0u64;
            while !stop.load(Ordering::Relaxed) {
                for &port in &poll_ports {
                    if let Ok(have) = ports_on(port) {
                        polls += 1;
                        if have != all {
                            gaps.lock().expect("gaps").push((port, have));
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            polls
        })
    };
    servers[2].restart();
    wait_until(
        "all three answer for their clients again",
        Duration::from_secs(15),
        || check_owners(&servers.iter().collect::<Vec<_>>()),
    );
    stop.store(true, Ordering::Relaxed);
    let polls = poller.join().expect("poller");
    assert!(polls > 10, "the poller ran ({polls} polls)");
    let gaps = gaps.lock().expect("gaps");
    assert!(
        gaps.is_empty(),
        "a member showed instances missing: {:?}",
        &gaps[..gaps.len().min(3)]
    );
    assert_eq!(ports_on(servers[2].http_port).expect("list"), all);
}
