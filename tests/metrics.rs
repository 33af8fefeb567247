//! The Prometheus endpoint and the access log of the real binary. The scrape is parsed by
//! prometheus_client's own text parser (tests/clients/py_prom_parse.py, in the venv that
//! scripts/setup-clients.sh installs), and checked against what the test registered,
//! subscribed and published; histograms must be cumulative and end at `+Inf == _count`, and
//! a flood of random paths must not add label values.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::UdpSocket;
use std::time::{Duration, Instant};

use common::{run_python, send, Server};
use serde_json::Value;

const SCRAPE: &str = "/nacos/actuator/prometheus";
/// Generous: a 3-member cluster on a loaded 2-CPU machine may take a while to elect and replicate.
const DEADLINE: Duration = Duration::from_secs(60);

/// The fixed `api` label values the server may use.
const APIS: [&str; 23] = [
    "register",
    "deregister",
    "update_instance",
    "beat",
    "list",
    "get_instance",
    "batch_register",
    "subscribe",
    "service",
    "service_list",
    "operator",
    "config_get",
    "config_publish",
    "config_delete",
    "config_listen",
    "config_history",
    "config_other",
    "namespace",
    "health",
    "cluster",
    "server_check",
    "metrics",
    "other",
];

/// One parsed sample.
#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Scrapes and checks the content type.
fn scrape(server: &Server) -> String {
    let reply = send(server, "GET", SCRAPE, &[], None);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    reply.body
}

/// Scrapes until `done` holds for the text, or panics at the deadline with the last scrape.
fn scrape_until(server: &Server, what: &str, done: impl Fn(&str) -> bool) -> String {
    let started = Instant::now();
    loop {
        let text = scrape(server);
        if done(&text) {
            return text;
        }
        assert!(started.elapsed() < DEADLINE, "never saw {what}:\n{text}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Parses `text` with prometheus_client and returns (family types, samples).
fn parse(text: &str) -> (BTreeMap<String, String>, Vec<Sample>) {
    // Tests run in parallel threads of one process: each parse gets its own file.
    static PARSES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let parse = PARSES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path =
        std::env::temp_dir().join(format!("nacore-scrape-{}-{parse}.txt", std::process::id()));
    std::fs::write(&path, text).unwrap();
    let out = run_python("py_prom_parse.py", &[path.to_str().unwrap()]);
    let _ = std::fs::remove_file(&path);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.contains("PROM_PARSE_OK"),
        "the Prometheus parser rejected the scrape: {stderr}\n{text}"
    );
    let parsed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut types = BTreeMap::new();
    let mut samples = Vec::new();
    for family in parsed["families"].as_array().unwrap() {
        let name = family["name"].as_str().unwrap().to_string();
        types.insert(name, family["type"].as_str().unwrap().to_string());
        for sample in family["samples"].as_array().unwrap() {
            let labels = sample["labels"].as_object().unwrap();
            samples.push(Sample {
                name: sample["name"].as_str().unwrap().to_string(),
                labels: labels
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                    .collect(),
                value: sample["value"].as_f64().unwrap(),
            });
        }
    }
    (types, samples)
}

/// The value of the one sample named `name` whose labels include `labels`.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    let found: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| {
            labels
                .iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(v))
        })
        .collect();
    assert_eq!(found.len(), 1, "{name} {labels:?}: {found:?}");
    found[0].value
}

/// A histogram series' labels, without `le`.
type SeriesKey = Vec<(String, String)>;

/// Every histogram series: buckets non-decreasing in `le` order, `+Inf` equal to `_count`.
fn assert_histograms_well_formed(types: &BTreeMap<String, String>, samples: &[Sample]) {
    let mut checked = 0;
    for (family, _) in types.iter().filter(|(_, t)| *t == "histogram") {
        let mut series: BTreeMap<SeriesKey, Vec<(f64, f64)>> = BTreeMap::new();
        for sample in samples
            .iter()
            .filter(|s| s.name == format!("{family}_bucket"))
        {
            let le = &sample.labels["le"];
            let le: f64 = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().unwrap()
            };
            let key: Vec<_> = (sample.labels.iter())
                .filter(|(k, _)| *k != "le")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            series.entry(key).or_default().push((le, sample.value));
        }
        for (key, mut buckets) in series {
            buckets.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
            for pair in buckets.windows(2) {
                assert!(pair[0].1 <= pair[1].1, "{family} {key:?} not cumulative");
            }
            let last = buckets.last().unwrap();
            assert_eq!(last.0, f64::INFINITY, "{family} {key:?} has no +Inf bucket");
            let labels: Vec<(&str, &str)> =
                key.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let count = value(samples, &format!("{family}_count"), &labels);
            assert_eq!(last.1, count, "{family} {key:?}: +Inf != _count");
            checked += 1;
        }
    }
    assert!(checked >= 4, "only {checked} histogram series");
}

fn register(server: &Server, service: &str, port: u16) {
    let path = format!("/nacos/v1/ns/instance?serviceName={service}&ip=10.0.0.1&port={port}");
    let (status, body) = server.http("POST", &path, None);
    assert_eq!((status, body.as_str()), (200, "ok"));
}

fn publish(server: &Server, data_id: &str, content: &str) {
    let body = format!("dataId={data_id}&group=DEFAULT_GROUP&content={content}");
    let (status, reply) = server.http("POST", "/nacos/v1/cs/configs", Some(&body));
    assert_eq!((status, reply.as_str()), (200, "true"));
}

/// Registers 6 instances in 3 services, subscribes over UDP, publishes 4 configs and holds a
/// long poll, then checks that the parsed scrape counts exactly these, that requests and
/// latencies are counted per api and protocol, that pushes and notifies are timed, that the
/// Raft and per-core gauges are there, and that 300 random paths all count as `other`.
#[test]
fn scrape_counts_what_was_done() {
    let server = Server::start();
    let empty = scrape(&server);
    assert!(empty.contains("\nnacore_instances 0\n"), "{empty}");
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let udp_port = socket.local_addr().unwrap().port();
    let subscribe =
        format!("/nacos/v1/ns/instance/list?serviceName=m0&udpPort={udp_port}&clientIP=127.0.0.1");
    let agent = [("User-Agent", "Nacos-Java-Client:v1.4.1")];
    assert_eq!(send(&server, "GET", &subscribe, &agent, None).status, 200);
    for (index, service) in ["m0", "m0", "m1", "m1", "m2", "m2"].iter().enumerate() {
        register(&server, service, 8000 + index as u16);
    }
    for index in 0..4 {
        publish(&server, &format!("cfg{index}"), "v1");
    }
    for index in 0..300 {
        let path = format!("/random/{index}/{}", index * 7919);
        assert_eq!(server.http("GET", &path, None).0, 404);
    }
    let text = scrape_until(&server, "every instance", |text| {
        text.contains("\nnacore_instances 6\n") && text.contains("\nnacore_configs 4\n")
    });
    let (types, samples) = parse(&text);
    assert_eq!(types["nacore_instances"], "gauge");
    assert_eq!(types["nacore_requests"], "counter", "{types:?}");
    assert_eq!(types["nacore_request_duration_seconds"], "histogram");
    assert_eq!(value(&samples, "nacore_instances", &[]), 6.0);
    assert_eq!(value(&samples, "nacore_services", &[]), 3.0);
    assert_eq!(value(&samples, "nacore_configs", &[]), 4.0);
    assert!(value(&samples, "nacore_subscribers", &[]) >= 1.0);
    let ip_count = [("module", "naming"), ("name", "ipCount")];
    assert_eq!(value(&samples, "nacos_monitor", &ip_count), 6.0);
    let service_count = [("module", "naming"), ("name", "serviceCount")];
    assert_eq!(value(&samples, "nacos_monitor", &service_count), 3.0);
    let config_count = [("module", "config"), ("name", "configCount")];
    assert_eq!(value(&samples, "nacos_monitor", &config_count), 4.0);
    let registered = [("api", "register"), ("protocol", "http"), ("status", "2xx")];
    assert_eq!(value(&samples, "nacore_requests_total", &registered), 6.0);
    let published = [
        ("api", "config_publish"),
        ("protocol", "http"),
        ("status", "2xx"),
    ];
    assert_eq!(value(&samples, "nacore_requests_total", &published), 4.0);
    let other = [("api", "other"), ("protocol", "http"), ("status", "4xx")];
    assert_eq!(value(&samples, "nacore_requests_total", &other), 300.0);
    let register_latency = [("api", "register"), ("protocol", "http")];
    let count = value(
        &samples,
        "nacore_request_duration_seconds_count",
        &register_latency,
    );
    assert_eq!(count, 6.0);
    assert!(value(&samples, "nacore_connections", &[("protocol", "http")]) >= 1.0);
    // Bounded labels: only the fixed api names, whatever paths came in.
    let apis: BTreeSet<&str> = samples
        .iter()
        .filter_map(|s| s.labels.get("api").map(String::as_str))
        .collect();
    assert!(apis.iter().all(|api| APIS.contains(api)), "{apis:?}");
    let request_series = samples.iter().filter(|s| s.name == "nacore_requests_total");
    assert!(request_series.count() <= APIS.len() * 2 * 5);
    // Raft, one voter: leader, everything committed applied.
    assert_eq!(
        value(&samples, "nacore_raft_role", &[("role", "leader")]),
        1.0
    );
    assert!(value(&samples, "nacore_raft_term", &[]) >= 1.0);
    let commit = value(&samples, "nacore_raft_commit_index", &[]);
    assert!(commit >= 4.0, "4 config publishes, committed: {commit}");
    assert!(value(&samples, "nacore_raft_applied_index", &[]) <= commit);
    // Per core: both cores report.
    let cores = samples
        .iter()
        .filter(|s| s.name == "nacore_core_busy_seconds_total")
        .count();
    assert_eq!(cores, 2);
    assert_histograms_well_formed(&types, &samples);

    // A long poll is held; a change wakes it, and both the UDP push and the notify are
    // timed.
    let md5_path = "/nacos/v1/cs/configs?dataId=cfg0&group=DEFAULT_GROUP";
    let current = send(&server, "GET", md5_path, &[], None);
    let md5 = current.header("content-md5").unwrap().to_string();
    let poller = {
        let port = server.http_port;
        std::thread::spawn(move || {
            let body = format!("Listening-Configs=cfg0%02DEFAULT_GROUP%02{md5}%01");
            let headers = [("Long-Pulling-Timeout", "30000")];
            let path = "/nacos/v1/cs/configs/listener";
            let timeout = Duration::from_secs(40);
            common::try_http_with(port, "POST", path, &headers, Some(&body), timeout)
                .map(|reply| (reply.status, reply.body))
        })
    };
    scrape_until(&server, "the held long poll", |text| {
        text.contains("nacos_monitor{module=\"config\",name=\"longPolling\"} 1\n")
    });
    publish(&server, "cfg0", "v2");
    let text = scrape_until(&server, "the notify and the push", |text| {
        text.contains("nacore_config_notify_duration_seconds_count{protocol=\"http\"} 1\n")
            && !text.contains("nacore_push_duration_seconds_count{protocol=\"udp\"} 0\n")
    });
    let (types, samples) = parse(&text);
    assert_histograms_well_formed(&types, &samples);
    let listens = [("kind", "long_poll")];
    assert_eq!(value(&samples, "nacore_config_listeners", &listens), 0.0);
    let (status, body) = poller.join().unwrap().unwrap();
    assert_eq!(status, 200);
    assert!(body.contains("cfg0"), "{body}");
}

/// With `--access-log <file>` every request gets one line with its fields, and the values of
/// `accessToken`, `password` and `username` (query or form) never reach the file.
#[test]
fn access_log_lines_without_secrets() {
    let log = std::env::temp_dir().join(format!("nacore-access-{}.log", std::process::id()));
    let _ = std::fs::remove_file(&log);
    let server = Server::start_with(&["--access-log", log.to_str().unwrap()]);
    let list =
        "/nacos/v1/ns/instance/list?serviceName=a&accessToken=secret123&password=pw&username=admin";
    assert_eq!(server.http("GET", list, None).0, 200);
    let form = "serviceName=a&ip=10.0.0.9&port=1&accessToken=secret123&password=pw";
    let register = "/nacos/v1/ns/instance?username=admin&password=pw";
    assert_eq!(server.http("POST", register, Some(form)).0, 200);
    assert_eq!(
        server.http("GET", "/nope?accessToken=secret123", None).0,
        404
    );
    let started = Instant::now();
    // Each core hands its lines over on its own tick: wait for all three (the harness's own
    // readiness probes are logged too).
    let expected = [
        ("GET", "/nacos/v1/ns/instance/list", "200"),
        ("POST", "/nacos/v1/ns/instance", "200"),
        ("GET", "/nope", "404"),
    ];
    let has = |text: &str, (method, path, status): (&str, &str, &str)| {
        let line = format!(" {method} {path} {status} ");
        text.lines().any(|l| l.contains(&line))
    };
    let text = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if expected.iter().all(|e| has(&text, *e)) {
            break text;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "access log lines missing:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = std::fs::remove_file(&log);
    for secret in ["secret123", "pw", "admin", "accessToken", "password", "?"] {
        assert!(
            !text.contains(secret),
            "{secret} leaked into the access log:\n{text}"
        );
    }
    let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split(' ').collect()).collect();
    for fields in &lines {
        assert_eq!(fields.len(), 8, "{fields:?}");
        assert!(fields[0].parse::<u64>().unwrap() > 1_600_000_000_000);
        assert_eq!(fields[1], "http");
        assert_eq!(fields[2], "127.0.0.1");
        assert!(fields[6].parse::<u64>().is_ok());
        assert!(fields[7].parse::<u64>().is_ok());
    }
    for (method, path, status) in expected {
        let found = lines
            .iter()
            .any(|f| f[3] == method && f[4] == path && f[5] == status);
        assert!(found, "no line for {method} {path} {status}:\n{text}");
    }
}

/// A listener that ignores what it is pushed (the scrape counts the pushes).
struct Ignore;

impl nacos_sdk::api::naming::NamingEventListener for Ignore {
    fn event(&self, _event: std::sync::Arc<nacos_sdk::api::naming::NamingChangeEvent>) {}
}

async fn sdk_client(server: &Server, app: &str) -> nacos_sdk::api::naming::NamingService {
    let cache_dir = server.data_dir().join(format!("sdk-cache-{app}"));
    let props = nacos_sdk::api::props::ClientProps::new()
        .server_addr(format!("127.0.0.1:{}", server.http_port))
        .remote_grpc_port(server.grpc_port)
        .namespace("")
        .app_name(app)
        .env_first(false)
        .load_cache_at_start(false)
        .naming_push_empty_protection(false)
        .cache_dir(cache_dir.to_string_lossy().to_string());
    nacos_sdk::api::naming::NamingServiceBuilder::new(props)
        .build()
        .await
        .unwrap_or_else(|e| panic!("nacos-sdk cannot connect: {e}\n{}", server.log()))
}

/// gRPC traffic from the real `nacos-sdk` crate counts under `protocol="grpc"`: its
/// connections, its registrations and subscription, and the pushes its subscriber gets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_requests_connections_and_pushes() {
    let log = std::env::temp_dir().join(format!("nacore-access-grpc-{}.log", std::process::id()));
    let _ = std::fs::remove_file(&log);
    let server = Server::start_with(&["--access-log", log.to_str().unwrap()]);
    let watcher = sdk_client(&server, "metrics-watcher").await;
    let group = Some("DEFAULT_GROUP".to_string());
    let listener = std::sync::Arc::new(Ignore);
    watcher
        .subscribe("g-metrics".into(), group.clone(), vec![], listener)
        .await
        .unwrap();
    let writer = sdk_client(&server, "metrics-writer").await;
    for port in [1, 2] {
        let instance = nacos_sdk::api::naming::ServiceInstance {
            ip: "10.9.0.1".to_string(),
            port,
            ..Default::default()
        };
        writer
            .register_instance("g-metrics".into(), group.clone(), instance)
            .await
            .unwrap();
    }
    let registered = "nacore_requests_total{api=\"register\",protocol=\"grpc\",status=\"2xx\"} 2\n";
    // The SDK may send its subscription in the background.
    let subscribed = "nacore_requests_total{api=\"subscribe\",protocol=\"grpc\",status=\"2xx\"}";
    let text = tokio::task::block_in_place(|| {
        scrape_until(&server, "gRPC registrations and pushes", |text| {
            text.contains(registered)
                && text.contains(subscribed)
                && text.contains("nacore_connections{protocol=\"grpc\"} 2\n")
                && !text.contains("nacore_push_duration_seconds_count{protocol=\"grpc\"} 0\n")
        })
    });
    let (types, samples) = tokio::task::block_in_place(|| parse(&text));
    assert_histograms_well_formed(&types, &samples);
    let subscribed = [
        ("api", "subscribe"),
        ("protocol", "grpc"),
        ("status", "2xx"),
    ];
    assert!(value(&samples, "nacore_requests_total", &subscribed) >= 1.0);
    // A connection holds one instance per service: the second register replaced the first.
    assert_eq!(value(&samples, "nacore_instances", &[]), 1.0);
    assert!(value(&samples, "nacore_subscribers", &[]) >= 1.0);
    let latency = [("api", "register"), ("protocol", "grpc")];
    assert_eq!(
        value(&samples, "nacore_request_duration_seconds_count", &latency),
        2.0
    );
    // The access log has a line per gRPC request, with its type and status.
    let text = tokio::task::block_in_place(|| {
        let started = Instant::now();
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if text
                .lines()
                .any(|l| l.contains(" grpc ") && l.contains(" InstanceRequest 200 "))
            {
                break text;
            }
            assert!(
                started.elapsed() < DEADLINE,
                "no gRPC access log line:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    let _ = std::fs::remove_file(&log);
    assert!(text.lines().all(|l| l.split(' ').count() == 8), "{text}");
    assert!(
        text.contains(" GRPC SubscribeServiceRequest 200 "),
        "{text}"
    );
    drop(writer);
    drop(watcher);
}

/// In a 3-member cluster every member reports Distro lag for its two peers (labelled by their
/// HTTP address) and its Raft role; exactly one member is the leader, and a follower's commit
/// and applied indexes follow the leader's writes.
#[test]
fn cluster_scrape_has_raft_roles_and_distro_peers() {
    let servers = Server::start_cluster(3, &["--distro-verify-interval-ms", "1000"]);
    register(&servers[0], "c-metrics", 7001);
    publish(&servers[0], "c-cfg", "v1");
    let mut leaders = 0;
    for server in &servers {
        let text = scrape_until(server, "the replicated instance and config", |text| {
            text.contains("\nnacore_instances 1\n") && text.contains("\nnacore_configs 1\n")
        });
        let (types, samples) = parse(&text);
        assert_eq!(types["nacore_distro_pending_records"], "gauge");
        let peers: BTreeSet<&str> = samples
            .iter()
            .filter(|s| s.name == "nacore_distro_pending_records")
            .map(|s| s.labels["peer"].as_str())
            .collect();
        assert_eq!(peers.len(), 2, "{peers:?}");
        let own = format!("127.0.0.1:{}", server.http_port);
        assert!(
            !peers.contains(own.as_str()),
            "{own} lists itself: {peers:?}"
        );
        let waits = samples
            .iter()
            .filter(|s| s.name == "nacore_distro_oldest_unsent_seconds")
            .count();
        assert_eq!(waits, 2);
        let role_total: f64 = samples
            .iter()
            .filter(|s| s.name == "nacore_raft_role")
            .map(|s| s.value)
            .sum();
        assert_eq!(role_total, 1.0, "one role at a time");
        leaders += value(&samples, "nacore_raft_role", &[("role", "leader")]) as usize;
        let commit = value(&samples, "nacore_raft_commit_index", &[]);
        assert!(commit >= 1.0);
        assert!(value(&samples, "nacore_raft_applied_index", &[]) <= commit);
    }
    assert_eq!(leaders, 1);
}
