//! Distro with real Nacos clients against a 3-member cluster on loopback, each client given
//! every member address where the SDK takes a list: the Rust `nacos-sdk` crate (gRPC, with
//! the client redo after its member is killed), nacos-sdk-python 2.0.11 (HTTP v1 with its
//! heartbeat thread) and the npm `nacos` client (HTTP v1 with UDP push).
//!
//! The members' gRPC ports are their HTTP ports + 1000 (`Server::start_cluster_grpc_offset`),
//! so the SDKs work from plain `127.0.0.1:<http_port>` addresses. The clusters verify every
//! second and drop a silent member's replicas after 8 s (30 s in the gRPC test, see
//! `GRPC_REPLICA_EXPIRY`).

mod common;

use std::collections::HashMap;
use std::process::Output;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{ensure_clients, run_node, run_python, try_http, Server};
use nacos_sdk::api::naming::{
    NamingChangeEvent, NamingEventListener, NamingService, NamingServiceBuilder, ServiceInstance,
};
use nacos_sdk::api::props::ClientProps;
use serde_json::Value;

/// Replicas of a silent member are dropped after this long (`--distro-replica-expiry-ms`) in
/// the HTTP tests.
const REPLICA_EXPIRY: Duration = Duration::from_millis(8000);

/// The replica expiry of the gRPC test. It must outlast the SDK's redo: nacos-sdk 0.8.3
/// notices a dead connection only in its health-check loop (5 s sleeps, skipped while the
/// connection was active in the last 5 s: up to ~10 s), then waits 2 s before reconnecting
/// and re-registers on its next 3 s redo tick, so the re-registration comes 5-15 s after the
/// kill (more on a loaded CI machine). With 8 s the stale replica can go first and the
/// instance is briefly missing; 30 s leaves room.
const GRPC_REPLICA_EXPIRY: Duration = Duration::from_millis(30_000);

/// A 3-member cluster verifying every second and dropping a silent member's replicas after
/// `replica_expiry`.
fn cluster_with_expiry(replica_expiry: Duration) -> Vec<Server> {
    let expiry = replica_expiry.as_millis().to_string();
    Server::start_cluster_grpc_offset(
        3,
        &[
            "--distro-verify-interval-ms",
            "1000",
            "--distro-replica-expiry-ms",
            &expiry,
        ],
    )
}

fn cluster() -> Vec<Server> {
    cluster_with_expiry(REPLICA_EXPIRY)
}

/// `a,b,c` of the members' HTTP addresses.
fn server_list(servers: &[&Server]) -> String {
    servers
        .iter()
        .map(|s| s.addr())
        .collect::<Vec<_>>()
        .join(",")
}

/// Polls `done` every 50 ms until it holds; panics with its last complaint after `timeout`.
fn wait_until<T>(what: &str, timeout: Duration, mut done: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        let last = match done() {
            Ok(value) => return value,
            Err(last) => last,
        };
        assert!(
            Instant::now() < deadline,
            "{what} within {timeout:?}: {last}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `(ip, port, healthy)` of one listed host.
type Host = (String, u16, bool);

/// `(ip, port, healthy)` of every host `GET /nacos/v1/ns/instance/list` shows for `service`.
fn hosts_on(port: u16, service: &str) -> Result<Vec<Host>, String> {
    let path = format!("/nacos/v1/ns/instance/list?serviceName={service}");
    let (status, body) = try_http(port, "GET", &path, None).map_err(|e| e.to_string())?;
    if status != 200 {
        return Err(format!("instance/list on {port}: {status} {body}"));
    }
    let list: Value = serde_json::from_str(&body).map_err(|e| format!("{e}: {body}"))?;
    let mut hosts: Vec<Host> = list["hosts"]
        .as_array()
        .ok_or_else(|| format!("no hosts in {body}"))?
        .iter()
        .map(|h| {
            (
                h["ip"].as_str().unwrap_or("").to_string(),
                h["port"].as_u64().unwrap_or(0) as u16,
                h["healthy"].as_bool().unwrap_or(false),
            )
        })
        .collect();
    hosts.sort();
    Ok(hosts)
}

/// `(instanceCount, responsibleInstanceCount)` of `GET /nacos/v1/ns/operator/metrics`:
/// every instance record the member holds (its own and replicas, two publishers of one
/// address counting twice), and those it answers for.
fn counts_on(port: u16) -> Result<(u64, u64), String> {
    let path = "/nacos/v1/ns/operator/metrics?onlyStatus=false";
    let (status, body) = try_http(port, "GET", path, None).map_err(|e| e.to_string())?;
    if status != 200 {
        return Err(format!("metrics on {port}: {status} {body}"));
    }
    let metrics: Value = serde_json::from_str(&body).map_err(|e| format!("{e}: {body}"))?;
    let count = |name: &str| {
        metrics[name]
            .as_u64()
            .ok_or_else(|| format!("no {name} in {body}"))
    };
    Ok((count("instanceCount")?, count("responsibleInstanceCount")?))
}

/// Java `String.hashCode` and Nacos `DistroMapper`: the member (index into `members`) that
/// answers for the HTTP client `tag` while every member is healthy.
fn responsible_of(tag: &str, members: &[String]) -> usize {
    let hash = tag
        .encode_utf16()
        .fold(0i32, |h, u| h.wrapping_mul(31).wrapping_add(i32::from(u)));
    let mut sorted = members.to_vec();
    sorted.sort();
    let index = (hash % i32::MAX).unsigned_abs() as usize % sorted.len();
    members
        .iter()
        .position(|m| *m == sorted[index])
        .expect("a member")
}

/// Panics with the client's output and every member's log unless the client exited 0 and
/// printed `marker`.
fn assert_client_ok(what: &str, out: &Output, marker: &str, servers: &[Server]) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.success() && stdout.lines().any(|l| l.trim() == marker) {
        eprintln!("--- {what} stderr ---\n{stderr}");
        return;
    }
    let logs: String = servers
        .iter()
        .map(|s| {
            format!(
                "--- server log {} ({}) ---\n{}\n",
                s.addr(),
                s.data_dir().display(),
                s.log()
            )
        })
        .collect();
    panic!(
        "{what} failed ({}; expected {marker:?} on stdout)\n--- client stdout ---\n{stdout}\n\
         --- client stderr ---\n{stderr}\n{logs}",
        out.status
    );
}

// --------------------------------------------------------------------------- nacos-sdk

const GRPC_SERVICE: &str = "distro-grpc";
const GRPC_IP: &str = "10.8.0.1";
const GRPC_PORT: i32 = 7001;

/// A `nacos-sdk` naming client for `server_addr` (one address or `a,b,c`); the gRPC port is
/// the SDK's default, HTTP port + 1000.
async fn sdk_client(server_addr: &str, cache: &Server, app: &str) -> NamingService {
    let cache_dir = cache.data_dir().join(format!("sdk-cache-{app}"));
    let props = ClientProps::new()
        .server_addr(server_addr)
        .namespace("")
        .app_name(app)
        .env_first(false)
        .load_cache_at_start(false)
        .naming_push_empty_protection(false)
        .cache_dir(cache_dir.to_string_lossy().to_string());
    NamingServiceBuilder::new(props)
        .build()
        .await
        .unwrap_or_else(|e| panic!("nacos-sdk cannot connect to {server_addr}: {e}"))
}

fn group() -> Option<String> {
    Some("DEFAULT_GROUP".to_string())
}

fn grpc_instance() -> ServiceInstance {
    ServiceInstance {
        ip: GRPC_IP.to_string(),
        port: GRPC_PORT,
        metadata: HashMap::from([("lang".to_string(), "rust".to_string())]),
        ..Default::default()
    }
}

/// Every event a subscriber's listener got: when, and the `ip:port` of each instance.
#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<(Instant, Vec<String>)>>,
}

impl NamingEventListener for Recorder {
    fn event(&self, event: Arc<NamingChangeEvent>) {
        let mut hosts: Vec<String> = event
            .instances
            .as_deref()
            .unwrap_or(&[])
            .iter()
            .map(|i| format!("{}:{}", i.ip, i.port))
            .collect();
        hosts.sort();
        self.events.lock().unwrap().push((Instant::now(), hosts));
    }
}

impl Recorder {
    /// Waits up to `timeout` for an event with exactly `want` after `since`.
    async fn wait(&self, what: &str, since: Instant, want: &[&str], timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let found = self
                .events
                .lock()
                .unwrap()
                .iter()
                .any(|(at, hosts)| *at >= since && hosts == want);
            if found {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: no push with {want:?} within {timeout:?}; events: {:?}",
                self.hosts()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn hosts(&self) -> Vec<Vec<String>> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .map(|(_, hosts)| hosts.clone())
            .collect()
    }

    /// The events from the first one that showed `want` on.
    fn since_first(&self, want: &[&str]) -> Vec<Vec<String>> {
        let all = self.hosts();
        match all.iter().position(|hosts| hosts == want) {
            Some(first) => all[first..].to_vec(),
            None => Vec::new(),
        }
    }
}

/// What the survivors showed while the test watched them after the kill.
#[derive(Default)]
struct Watch {
    polls: u64,
    /// Lists that did not show exactly the one instance: (member, ms after the kill, hosts).
    bad_lists: Vec<(String, u128, Vec<Host>)>,
    /// Highest `instanceCount` each survivor showed (2: the stale replica and the
    /// re-registered instance at once).
    max_count: HashMap<String, u64>,
}

/// Registers through a client given all three members, sees the instance pushed to
/// subscribers that know only one member each and listed once by every member; finds the
/// member holding the registering connection (the one whose `responsibleInstanceCount` is
/// 1), kills it with SIGKILL, and checks the client redo: the SDK reconnects to a survivor
/// and re-registers (a survivor answers for it), every survivor lists exactly one healthy
/// `ip:port` at every poll and the survivors' subscribers are never pushed anything else;
/// both survivors hold the stale replica and the re-registration at once (`instanceCount`
/// 2), then the stale replica is dropped after the 20 s replica expiry (`instanceCount` back
/// to 1) while the re-registered instance stays (checked for 2 s more).
/// Finally a deregistration through the reconnected client reaches both survivors and their
/// subscribers.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn grpc_sdk_push_across_members_and_redo_after_kill() {
    // The SDK's own log (shown when the test fails): when it noticed, reconnected, redid.
    let _ = tracing_subscriber::fmt()
        .with_env_filter("nacos_sdk=info")
        .with_test_writer()
        .with_ansi(false)
        .try_init();
    let mut servers = cluster_with_expiry(GRPC_REPLICA_EXPIRY);
    let all = server_list(&servers.iter().collect::<Vec<_>>());
    let want = [format!("{GRPC_IP}:{GRPC_PORT}")];
    let want: Vec<&str> = want.iter().map(String::as_str).collect();

    // One subscriber per member, each given only that member's address.
    let mut watchers = Vec::new();
    for (i, server) in servers.iter().enumerate() {
        let naming = sdk_client(&server.addr(), server, &format!("watcher-{i}")).await;
        let recorder = Arc::new(Recorder::default());
        naming
            .subscribe(GRPC_SERVICE.into(), group(), vec![], recorder.clone())
            .await
            .unwrap();
        watchers.push((naming, recorder));
    }
    let writer = sdk_client(&all, &servers[0], "writer").await;
    let registered = Instant::now();
    writer
        .register_instance(GRPC_SERVICE.into(), group(), grpc_instance())
        .await
        .unwrap();
    for (i, (_, recorder)) in watchers.iter().enumerate() {
        let what = format!("subscriber on {}", servers[i].addr());
        recorder
            .wait(&what, registered, &want, Duration::from_secs(5))
            .await;
    }
    eprintln!(
        "pushed to the subscribers of all three members within {:?}",
        registered.elapsed()
    );
    let one = vec![(GRPC_IP.to_string(), GRPC_PORT as u16, true)];
    for server in &servers {
        wait_until(
            "every member lists the instance once",
            Duration::from_secs(5),
            || {
                let hosts = hosts_on(server.http_port, GRPC_SERVICE)?;
                (hosts == one)
                    .then_some(())
                    .ok_or(format!("{} lists {hosts:?}", server.addr()))
            },
        );
    }
    let holder = wait_until(
        "exactly one member answers for the connection's instance",
        Duration::from_secs(5),
        || {
            let counts: Vec<(u64, u64)> = servers
                .iter()
                .map(|s| counts_on(s.http_port))
                .collect::<Result<_, _>>()?;
            let owners: Vec<usize> = (0..3).filter(|&i| counts[i].1 == 1).collect();
            let others_zero = (0..3).all(|i| owners.contains(&i) || counts[i].1 == 0);
            match owners[..] {
                [owner] if others_zero && counts.iter().all(|c| c.0 == 1) => Ok(owner),
                _ => Err(format!(
                    "(instanceCount, responsibleInstanceCount): {counts:?}"
                )),
            }
        },
    );
    let survivors: Vec<usize> = (0..3).filter(|&i| i != holder).collect();
    eprintln!(
        "the writer's connection is on {}; killing it",
        servers[holder].addr()
    );

    // Watch the survivors from the kill on.
    let survivor_ports: Vec<(String, u16)> = survivors
        .iter()
        .map(|&i| (servers[i].addr(), servers[i].http_port))
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let watch = Arc::new(Mutex::new(Watch::default()));
    servers[holder].kill9();
    let killed = Instant::now();
    let watcher_thread = {
        let (stop, watch, one) = (stop.clone(), watch.clone(), one.clone());
        let ports = survivor_ports.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                for (addr, port) in &ports {
                    let (Ok(hosts), Ok((count, _))) =
                        (hosts_on(*port, GRPC_SERVICE), counts_on(*port))
                    else {
                        continue;
                    };
                    let mut watch = watch.lock().unwrap();
                    watch.polls += 1;
                    if hosts != one {
                        let at = killed.elapsed().as_millis();
                        watch.bad_lists.push((addr.clone(), at, hosts));
                    }
                    let max = watch.max_count.entry(addr.clone()).or_default();
                    *max = (*max).max(count);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };

    // The redo: a survivor answers for the re-registered instance.
    let new_holder = wait_until(
        "the SDK re-registers through a survivor",
        GRPC_REPLICA_EXPIRY - Duration::from_secs(5),
        || {
            let mut owners = Vec::new();
            for &i in &survivors {
                if counts_on(servers[i].http_port)?.1 == 1 {
                    owners.push(i);
                }
            }
            match owners[..] {
                [owner] => Ok(owner),
                _ => Err(format!("survivors answering for it: {owners:?}")),
            }
        },
    );
    let redo_after = killed.elapsed();
    eprintln!(
        "re-registered through {} {redo_after:?} after the kill",
        servers[new_holder].addr()
    );
    // The stale replica goes after the expiry; the re-registered instance stays.
    wait_until(
        "the dead member's replica is dropped on every survivor",
        GRPC_REPLICA_EXPIRY + Duration::from_secs(10),
        || {
            for &i in &survivors {
                let counts = counts_on(servers[i].http_port)?;
                let want = (1, u64::from(i == new_holder));
                if counts != want {
                    return Err(format!(
                        "{} (instanceCount, responsibleInstanceCount) = {counts:?}",
                        servers[i].addr()
                    ));
                }
            }
            Ok(())
        },
    );
    let dropped_after = killed.elapsed();
    eprintln!("stale replica dropped {dropped_after:?} after the kill");
    let hold_until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < hold_until {
        for &i in &survivors {
            let counts = counts_on(servers[i].http_port).expect("metrics");
            assert_eq!(
                counts,
                (1, u64::from(i == new_holder)),
                "{} after the replica was dropped",
                servers[i].addr()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, Ordering::Relaxed);
    watcher_thread.join().expect("watcher thread");
    {
        let watch = watch.lock().unwrap();
        assert!(
            watch.polls > 20,
            "the survivors were polled ({})",
            watch.polls
        );
        assert!(
            watch.bad_lists.is_empty(),
            "a survivor did not list exactly {one:?} (member, ms after the kill, hosts): {:?}",
            &watch.bad_lists[..watch.bad_lists.len().min(5)]
        );
        eprintln!(
            "highest instanceCount per survivor: {:?} (2: stale replica and re-registration)",
            watch.max_count
        );
        // Re-registered well before the expiry, both publications were held for seconds.
        if redo_after + Duration::from_secs(3) < GRPC_REPLICA_EXPIRY {
            for (addr, _) in &survivor_ports {
                assert_eq!(
                    watch.max_count.get(addr),
                    Some(&2),
                    "{addr} held the stale replica and the re-registration at once"
                );
            }
        }
    }
    for &i in &survivors {
        let recorder = &watchers[i].1;
        let seen = recorder.since_first(&want);
        assert!(
            seen.iter().all(|hosts| hosts == &want),
            "the subscriber on {} was pushed something else than {want:?}: {seen:?}",
            servers[i].addr()
        );
    }

    // Deregistration through the reconnected client.
    let deregistered = Instant::now();
    writer
        .deregister_instance(GRPC_SERVICE.into(), group(), grpc_instance())
        .await
        .unwrap();
    for &i in &survivors {
        let what = format!(
            "subscriber on {} after the deregistration",
            servers[i].addr()
        );
        watchers[i]
            .1
            .wait(&what, deregistered, &[], Duration::from_secs(5))
            .await;
        wait_until(
            "the deregistration reaches every survivor",
            Duration::from_secs(5),
            || {
                let hosts = hosts_on(servers[i].http_port, GRPC_SERVICE)?;
                hosts.is_empty().then_some(()).ok_or(format!("{hosts:?}"))
            },
        );
    }
}

// --------------------------------------------------------------------------- python

/// nacos-sdk-python 2.0.11 (`NacosClient("a,b,c")`, HTTP v1) registers one instance with the
/// SDK's heartbeat thread (every 5 s, default 15 s / 30 s timeouts). The server list starts
/// with a member that does not answer for the instance (the SDK sends everything to the first
/// address), so the registration and every beat are forwarded. For 32 s, one-address clients
/// (tests/clients/py_distro.py) see the instance once and healthy on every member at every
/// sample; meanwhile the test checks that only the member the hash picks answers for it,
/// at every poll. The removal at the end reaches every member.
#[test]
fn python_sdk_beats_keep_the_instance_on_every_member() {
    ensure_clients();
    let servers = cluster();
    let members: Vec<String> = servers.iter().map(|s| s.addr()).collect();
    let (ip, port) = ("10.8.1.1", 7101u16);
    let owner = responsible_of(&format!("{ip}:{port}"), &members);
    // First the next member after the owner: every request is forwarded.
    let order: Vec<&Server> = (1..=3).map(|k| &servers[(owner + k) % 3]).collect();
    let writer_list = server_list(&order);
    let member_list = members.join(",");
    eprintln!(
        "{} answers for {ip}:{port}; the SDK's list is {writer_list}",
        members[owner]
    );

    let client = {
        let args: Vec<String> = [
            "--servers",
            &writer_list,
            "--members",
            &member_list,
            "--service",
            "distro-py",
            "--ip",
            ip,
            "--port",
            &port.to_string(),
            "--hold",
            "32",
            "--beat-interval",
            "5",
        ]
        .iter()
        .map(|a| a.to_string())
        .collect();
        std::thread::spawn(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run_python("py_distro.py", &args)
        })
    };
    let started = Instant::now();
    let ports: Vec<u16> = servers.iter().map(|s| s.http_port).collect();
    let want = |i: usize| u64::from(i == owner);
    // Once the owner answers for it, nobody else does, and the owner keeps it.
    let mut answered = false;
    let mut wrong = Vec::new();
    let mut polls = 0u64;
    while !client.is_finished() {
        std::thread::sleep(Duration::from_millis(200));
        let Ok(counts) = ports
            .iter()
            .map(|&p| counts_on(p))
            .collect::<Result<Vec<_>, _>>()
        else {
            continue;
        };
        let owning: Vec<u64> = counts.iter().map(|c| c.1).collect();
        if !answered && owning[owner] == 1 {
            answered = true;
        }
        // Until the removal at the end (the client exits then).
        if answered && started.elapsed() < Duration::from_secs(32) {
            polls += 1;
            if (0..3).any(|i| owning[i] != want(i)) {
                wrong.push((started.elapsed().as_millis(), owning));
            }
        }
    }
    let out = client.join().expect("python thread");
    assert_client_ok(
        "py_distro.py (nacos-sdk-python 2.0.11)",
        &out,
        "PY_DISTRO_OK",
        &servers,
    );
    assert!(
        answered,
        "{} never answered for {ip}:{port}",
        members[owner]
    );
    assert!(polls > 50, "the members were polled ({polls})");
    assert!(
        wrong.is_empty(),
        "responsibleInstanceCount per member (ms after the start, counts) should be 1 only on \
         {}: {:?}",
        members[owner],
        &wrong[..wrong.len().min(5)]
    );
}

// --------------------------------------------------------------------------- node

/// The npm `nacos` client (tests/clients/node_distro.js): a watcher whose server list is one
/// member that does not answer for the instance subscribes; a writer with all three members
/// registers (each request goes to a random member). The watcher is handed the instance by a
/// UDP push of its member within 3 s, every member lists it once and healthy, exactly one
/// member (the one the hash picks) answers for it, and the deregistration reaches every
/// member.
#[test]
fn node_client_registers_everywhere_and_a_watcher_is_pushed() {
    ensure_clients();
    let servers = cluster();
    let members: Vec<String> = servers.iter().map(|s| s.addr()).collect();
    let (ip, port) = ("10.8.2.1", 7201u16);
    let owner = responsible_of(&format!("{ip}:{port}"), &members);
    let watch = (owner + 1) % 3;
    let until_file = servers[0].data_dir().join("node-distro-done");
    let client = {
        let args: Vec<String> = [
            "--servers",
            &members.join(","),
            "--watch",
            &members[watch],
            "--service",
            "distro-node",
            "--ip",
            ip,
            "--port",
            &port.to_string(),
            "--until-file",
            &until_file.to_string_lossy(),
        ]
        .iter()
        .map(|a| a.to_string())
        .collect();
        std::thread::spawn(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run_node("node_distro.js", &args)
        })
    };
    let one = vec![(ip.to_string(), port, true)];
    let listed = wait_until(
        "every member lists the node client's instance",
        Duration::from_secs(30),
        || {
            if client.is_finished() {
                return Ok(false);
            }
            for server in &servers {
                let hosts = hosts_on(server.http_port, "DEFAULT_GROUP@@distro-node")?;
                if hosts != one {
                    return Err(format!("{} lists {hosts:?}", server.addr()));
                }
            }
            Ok(true)
        },
    );
    if listed {
        wait_until(
            "only the member the hash picks answers for it",
            Duration::from_secs(5),
            || {
                let owning: Vec<u64> = servers
                    .iter()
                    .map(|s| counts_on(s.http_port).map(|c| c.1))
                    .collect::<Result<_, _>>()?;
                (0..3)
                    .all(|i| owning[i] == u64::from(i == owner))
                    .then_some(())
                    .ok_or(format!(
                        "responsibleInstanceCount {owning:?}, owner {}",
                        members[owner]
                    ))
            },
        );
    }
    std::fs::write(&until_file, b"done").expect("write the until-file");
    let out = client.join().expect("node thread");
    assert_client_ok(
        "node_distro.js (nacos npm client)",
        &out,
        "NODE_DISTRO_OK",
        &servers,
    );
    assert!(listed, "the client exited before every member listed it");
    for server in &servers {
        wait_until(
            "the deregistration reaches every member",
            Duration::from_secs(5),
            || {
                let hosts = hosts_on(server.http_port, "DEFAULT_GROUP@@distro-node")?;
                hosts.is_empty().then_some(()).ok_or(format!("{hosts:?}"))
            },
        );
    }
}
