//! The Nacos 2.x gRPC protocol of the real binary, driven by the real `nacos-sdk` crate:
//! register, deregister, batch register, queries, subscriptions with pushes, persistent
//! instances, and the push latency bound.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::Server;
use nacos_sdk::api::naming::{
    NamingChangeEvent, NamingEventListener, NamingService, NamingServiceBuilder, ServiceInstance,
};
use nacos_sdk::api::props::ClientProps;

async fn client(server: &Server, app: &str) -> NamingService {
    let cache_dir = server.data_dir().join(format!("sdk-cache-{app}"));
    let props = ClientProps::new()
        .server_addr(format!("127.0.0.1:{}", server.http_port))
        .remote_grpc_port(server.grpc_port)
        .namespace("")
        .app_name(app)
        .env_first(false)
        .load_cache_at_start(false)
        .naming_push_empty_protection(false)
        .cache_dir(cache_dir.to_string_lossy().to_string());
    NamingServiceBuilder::new(props)
        .build()
        .await
        .unwrap_or_else(|e| panic!("nacos-sdk cannot connect: {e}\n{}", server.log()))
}

fn instance(ip: &str, port: i32) -> ServiceInstance {
    ServiceInstance {
        ip: ip.to_string(),
        port,
        metadata: HashMap::from([("zone".to_string(), "a".to_string())]),
        ..Default::default()
    }
}

fn group() -> Option<String> {
    Some("DEFAULT_GROUP".to_string())
}

fn ports(instances: &[ServiceInstance]) -> Vec<i32> {
    let mut ports: Vec<i32> = instances.iter().map(|i| i.port).collect();
    ports.sort();
    ports
}

/// Polls `get_all_instances` (no subscription, so it asks the server) until `want` holds.
async fn wait_for(
    naming: &NamingService,
    service: &str,
    want: impl Fn(&[i32]) -> bool,
) -> Vec<i32> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found = naming
            .get_all_instances(service.to_string(), group(), vec![], false)
            .await
            .map(|i| ports(&i))
            .unwrap_or_default();
        if want(&found) {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "never reached the wanted state; last: {found:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Register on one connection, read from another, deregister.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_query_deregister() {
    let server = Server::start();
    let writer = client(&server, "writer").await;
    let reader = client(&server, "reader").await;
    writer
        .register_instance("g-orders".into(), group(), instance("10.1.0.1", 8080))
        .await
        .unwrap();
    let all = reader
        .get_all_instances("g-orders".into(), group(), vec![], false)
        .await
        .unwrap();
    assert_eq!(ports(&all), vec![8080]);
    assert_eq!(all[0].ip, "10.1.0.1");
    assert_eq!(all[0].metadata.get("zone").map(String::as_str), Some("a"));
    assert!(all[0].healthy && all[0].enabled && all[0].ephemeral);
    let healthy = reader
        .select_instances("g-orders".into(), group(), vec![], false, true)
        .await
        .unwrap();
    assert_eq!(ports(&healthy), vec![8080]);
    let one = reader
        .select_one_healthy_instance("g-orders".into(), group(), vec![], false)
        .await
        .unwrap();
    assert_eq!(one.port, 8080);
    // The HTTP view agrees.
    let (_, body) = server.http(
        "GET",
        "/nacos/v1/ns/instance/list?serviceName=g-orders",
        None,
    );
    assert!(body.contains("\"ip\":\"10.1.0.1\""), "{body}");
    writer
        .deregister_instance("g-orders".into(), group(), instance("10.1.0.1", 8080))
        .await
        .unwrap();
    wait_for(&reader, "g-orders", |p| p.is_empty()).await;
    let (list, count) = reader.get_service_list(1, 100, group()).await.unwrap();
    assert!(
        count >= 1 && list.contains(&"g-orders".to_string()),
        "{list:?} {count}"
    );
}

/// A batch replaces the connection's instances in the service.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_register() {
    let server = Server::start();
    let naming = client(&server, "batch").await;
    let batch = vec![
        instance("10.2.0.1", 1),
        instance("10.2.0.2", 2),
        instance("10.2.0.3", 3),
    ];
    naming
        .batch_register_instance("g-batch".into(), group(), batch)
        .await
        .unwrap();
    assert_eq!(
        wait_for(&naming, "g-batch", |p| p.len() == 3).await,
        vec![1, 2, 3]
    );
    naming
        .batch_register_instance("g-batch".into(), group(), vec![instance("10.2.0.9", 9)])
        .await
        .unwrap();
    assert_eq!(wait_for(&naming, "g-batch", |p| p == [9]).await, vec![9]);
}

#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<(Instant, Vec<i32>)>>,
}

impl NamingEventListener for Recorder {
    fn event(&self, event: Arc<NamingChangeEvent>) {
        let ports = ports(event.instances.as_deref().unwrap_or(&[]));
        self.events.lock().unwrap().push((Instant::now(), ports));
    }
}

impl Recorder {
    /// Waits until an event with exactly `want` arrives after `since`; returns its time.
    async fn wait(&self, since: Instant, want: &[i32]) -> Instant {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let found = self
                .events
                .lock()
                .unwrap()
                .iter()
                .find(|(at, ports)| *at >= since && ports == want)
                .map(|(at, _)| *at);
            if let Some(at) = found {
                return at;
            }
            let seen: Vec<Vec<i32>> = self
                .events
                .lock()
                .unwrap()
                .iter()
                .map(|e| e.1.clone())
                .collect();
            assert!(
                Instant::now() < deadline,
                "no push with {want:?}; events: {seen:?}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// A client of app `app` subscribed to `service`, and the recorder of its events.
async fn subscribed(server: &Server, app: &str, service: &str) -> (NamingService, Arc<Recorder>) {
    let watcher = client(server, app).await;
    let recorder = Arc::new(Recorder::default());
    watcher
        .subscribe(service.to_string(), group(), vec![], recorder.clone())
        .await
        .unwrap();
    (watcher, recorder)
}

/// A subscriber's listener sees adds and removes made by another connection, pushed by the
/// server; after unsubscribing it sees nothing more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_sees_adds_and_removes() {
    let server = Server::start();
    let (watcher, recorder) = subscribed(&server, "watcher", "g-watch").await;
    let writer = client(&server, "writer").await;
    let start = Instant::now();
    writer
        .register_instance("g-watch".into(), group(), instance("10.3.0.1", 1))
        .await
        .unwrap();
    recorder.wait(start, &[1]).await;
    writer
        .batch_register_instance(
            "g-watch".into(),
            group(),
            vec![instance("10.3.0.1", 1), instance("10.3.0.2", 2)],
        )
        .await
        .unwrap();
    recorder.wait(start, &[1, 2]).await;
    writer
        .deregister_instance("g-watch".into(), group(), instance("10.3.0.1", 1))
        .await
        .unwrap();
    recorder.wait(start, &[]).await;
    // Instances registered over HTTP are pushed too.
    server.http(
        "POST",
        "/nacos/v1/ns/instance?serviceName=g-watch&ip=10.3.0.3&port=3",
        None,
    );
    recorder.wait(start, &[3]).await;
    watcher
        .unsubscribe("g-watch".into(), group(), vec![], recorder.clone())
        .await
        .unwrap();
    let after = Instant::now();
    server.http(
        "POST",
        "/nacos/v1/ns/instance?serviceName=g-watch&ip=10.3.0.4&port=4",
        None,
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let late = recorder
        .events
        .lock()
        .unwrap()
        .iter()
        .filter(|(at, _)| *at >= after)
        .count();
    assert_eq!(late, 0, "pushes arrived after unsubscribe");
}

/// A register reaches a subscriber in milliseconds, not after Nacos's 500 ms push delay (a
/// behaviour bound; the latency distribution is measured by the loadgen). The median is held
/// to 100 ms and every push to under the 500 ms delay, because this test shares two cores with
/// the rest of the suite (a debug build encoding a 2.6 MiB push beside it can stall one push).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_arrives_without_the_nacos_delay() {
    let server = Server::start();
    let (_watcher, recorder) = subscribed(&server, "fast-watcher", "g-fast").await;
    let writer = client(&server, "fast-writer").await;
    let mut lags = Vec::new();
    for port in 1..=7 {
        let before = Instant::now();
        writer
            .register_instance("g-fast".into(), group(), instance("10.4.0.1", port))
            .await
            .unwrap();
        let arrived = recorder.wait(before, &[port]).await;
        lags.push(arrived.duration_since(before));
    }
    lags.sort();
    let median = lags[lags.len() / 2];
    let worst = lags[lags.len() - 1];
    assert!(
        median < Duration::from_millis(100),
        "median push took {median:?} (all: {lags:?})"
    );
    assert!(
        worst < Duration::from_millis(500),
        "slowest push took {worst:?} (all: {lags:?})"
    );
}

/// A big service's push (~2.6 MiB: 2,500 hosts with metadata) arrives whole at a real client.
/// (Pushes larger than a client's flow-control window are covered in grpc_protocol.rs.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_larger_than_the_client_window_arrives() {
    let server = Server::start();
    let (_watcher, recorder) = subscribed(&server, "big-watcher", "g-big").await;
    let writer = client(&server, "big-writer").await;
    let before = Instant::now();
    // One batch, one push of ~2.6 MiB: 2,500 hosts of ~1 KiB.
    let padding = "p".repeat(1000);
    let ports: Vec<i32> = (1..=2500).collect();
    let batch = ports
        .iter()
        .map(|&port| {
            let mut big = instance("10.6.0.1", port);
            big.metadata.insert("pad".to_string(), padding.clone());
            big
        })
        .collect();
    writer
        .batch_register_instance("g-big".into(), group(), batch)
        .await
        .unwrap();
    recorder.wait(before, &ports).await;
}

/// Persistent instances go over gRPC (`PersistentInstanceRequest`) and outlive the connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_instance() {
    let server = Server::start();
    let naming = client(&server, "persistent").await;
    let mut durable = instance("10.5.0.1", 5);
    durable.ephemeral = false;
    naming
        .register_instance("g-durable".into(), group(), durable.clone())
        .await
        .unwrap();
    let (_, body) = server.http(
        "GET",
        "/nacos/v1/ns/instance/list?serviceName=g-durable",
        None,
    );
    assert!(
        body.contains("\"ephemeral\":false") && body.contains("\"port\":5"),
        "{body}"
    );
    drop(naming);
    let other = client(&server, "persistent-2").await;
    assert_eq!(wait_for(&other, "g-durable", |p| p == [5]).await, vec![5]);
    other
        .deregister_instance("g-durable".into(), group(), durable)
        .await
        .unwrap();
    wait_for(&other, "g-durable", |p| p.is_empty()).await;
}
