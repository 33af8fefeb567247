//! End to end: the real `nacore` binary on free loopback ports, driven by the real
//! `nacore-loadgen` binary for a second each of `http-register` and `http-query`, and of the
//! gRPC scenarios `grpc-register`, `grpc-query`, `grpc-subscribe-push` and `grpc-connections`,
//! and of the cluster scenarios `grpc-batch-register` and `cluster-replication` (one server as
//! its own peer).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nacore_loadgen::http::response::parse_response;
use serde_json::Value;

/// How long nacore may take to answer readiness after start.
const READINESS_TIMEOUT_MS: u64 = 20_000;
const SERVICES: u64 = 5;
const INSTANCES_PER_SERVICE: u64 = 4;

/// The nacore binary: `NACORE_BIN` if set, else `cargo build -p nacore` in the workspace's
/// default target dir (a no-op when it is up to date) and `<workspace>/target/debug/nacore`.
fn nacore_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("NACORE_BIN") {
        return PathBuf::from(path);
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let cargo = option_env!("CARGO").unwrap_or("cargo");
    let status = Command::new(cargo)
        .args(["build", "-p", "nacore", "--bin", "nacore"])
        .current_dir(&workspace)
        // The default target dir, whatever this test itself was built into.
        .env_remove("CARGO_TARGET_DIR")
        .status()
        .expect("cargo runs");
    assert!(status.success(), "cargo build -p nacore failed");
    workspace.join("target/debug/nacore")
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local address").port()
}

/// Kills the server when the test ends, pass or fail.
struct Server {
    child: Child,
    data_dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

fn start_nacore(http_port: u16, grpc_port: u16) -> Server {
    let data_dir = std::env::temp_dir().join(format!(
        "nacore-loadgen-e2e-{}-{http_port}",
        std::process::id()
    ));
    let child = Command::new(nacore_binary())
        .args(["--http-port", &http_port.to_string()])
        .args(["--grpc-port", &grpc_port.to_string()])
        .arg("--data-dir")
        .arg(&data_dir)
        .args(["--cores", "1", "--bind", "127.0.0.1", "--log-level", "warn"])
        .stdout(Stdio::null())
        .spawn()
        .expect("nacore starts");
    Server { child, data_dir }
}

/// One GET with `Connection: close`; returns (status, body).
fn http_get(addr: SocketAddr, target: &str) -> std::io::Result<(u16, Vec<u8>)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut wire = Vec::new();
    stream.read_to_end(&mut wire)?;
    match parse_response(&wire) {
        Ok(Some(response)) => Ok((response.status, response.body.to_vec())),
        _ => Err(std::io::Error::other("incomplete response")),
    }
}

fn wait_ready(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_millis(READINESS_TIMEOUT_MS);
    while Instant::now() < deadline {
        if let Ok((200, _)) = http_get(addr, "/nacos/v1/console/health/readiness") {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("nacore not ready within {READINESS_TIMEOUT_MS} ms");
}

/// Runs the load generator on the test keyspace with 4 connections and returns its report.
fn loadgen(addr: SocketAddr, scenario: &str, extra: &[&str]) -> Value {
    let services = SERVICES.to_string();
    let instances = INSTANCES_PER_SERVICE.to_string();
    let mut args = vec!["--connections", "4", "--services", &services];
    args.extend(["--instances-per-service", &instances]);
    args.extend(extra);
    loadgen_with(addr, scenario, &args)
}

/// Runs the load generator with `--json`, one core and 1 s of measuring, and returns its
/// report; `args` says the rest.
fn loadgen_with(addr: SocketAddr, scenario: &str, args: &[&str]) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_nacore-loadgen"))
        .arg(scenario)
        .args(["--server", &addr.to_string(), "--cores", "1"])
        .args(["--duration", "1s", "--warmup", "200ms", "--json", "--quiet"])
        // Both processes may share one CPU here: busy-polling would starve the server.
        .args(["--spin-before-park", "0ms"])
        .args(args)
        .output()
        .expect("loadgen runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{scenario} failed: {stderr}");
    serde_json::from_slice(&output.stdout).expect("one JSON object on stdout")
}

fn assert_clean_run(report: &Value) {
    assert!(
        report["throughput_ok_per_s"].as_f64().unwrap_or(0.0) > 0.0,
        "{report}"
    );
    assert!(report["requests_ok"].as_u64().unwrap_or(0) > 0, "{report}");
    assert_eq!(report["errors_total"], 0, "{report}");
}

/// Register and query load against a real nacore: both run without a single error, and every
/// instance of the keyspace is then visible through `instance/list`.
#[test]
fn register_and_query_against_nacore() {
    let http_port = free_port();
    let _server = start_nacore(http_port, free_port());
    let addr: SocketAddr = ([127, 0, 0, 1], http_port).into();
    wait_ready(addr);

    let register = loadgen(addr, "http-register", &[]);
    assert_clean_run(&register);
    assert_eq!(register["scenario"], "http-register");

    let query = loadgen(addr, "http-query", &["--keys", "zipf"]);
    assert_clean_run(&query);
    assert_eq!(
        query["setup"]["requests_ok"],
        SERVICES * INSTANCES_PER_SERVICE
    );
    assert_eq!(query["setup"]["errors_total"], 0);

    for service in 0..SERVICES {
        let target = format!("/nacos/v1/ns/instance/list?serviceName=lg-svc-{service}");
        let (status, body) = http_get(addr, &target).expect("instance/list answers");
        assert_eq!(status, 200);
        let list: Value = serde_json::from_slice(&body).expect("instance/list is JSON");
        let hosts = list["hosts"].as_array().expect("hosts array");
        assert_eq!(
            hosts.len() as u64,
            INSTANCES_PER_SERVICE,
            "lg-svc-{service}: {list}"
        );
        assert!(hosts
            .iter()
            .all(|host| host["ip"].as_str().is_some_and(|ip| ip.starts_with("10."))));
    }
}

/// The gRPC scenarios against a real nacore: register and query run without errors, every
/// subscriber receives pushes for the churn with no push missing, and held connections are
/// all established and health-checked.
#[test]
fn grpc_scenarios_against_nacore() {
    let (http_port, grpc_port) = (free_port(), free_port());
    let _server = start_nacore(http_port, grpc_port);
    let addr: SocketAddr = ([127, 0, 0, 1], http_port).into();
    wait_ready(addr);
    let grpc_port = grpc_port.to_string();
    let grpc = ["--grpc-port", grpc_port.as_str()];

    let register = loadgen(addr, "grpc-register", &grpc);
    assert_clean_run(&register);
    assert_eq!(register["scenario"], "grpc-register");
    // One instance per (connection, service): 4 connections.
    assert_eq!(register["instances_per_service"], 4);

    let query = loadgen(addr, "grpc-query", &grpc);
    assert_clean_run(&query);
    assert_eq!(
        query["setup"]["requests_ok"],
        SERVICES * INSTANCES_PER_SERVICE
    );

    let mut args = vec!["--subscribers", "10", "--services", "1", "--rate", "50"];
    args.extend(grpc);
    let push = loadgen_with(addr, "grpc-subscribe-push", &args);
    assert_eq!(push["errors_total"], 0, "{push}");
    assert_eq!(push["subscribers_ok"], 10, "{push}");
    let measured = push["changes_measured"].as_u64().unwrap_or(0);
    assert!(measured > 0, "{push}");
    // Every measured change reached every subscriber: one latency sample each.
    assert_eq!(push["requests_ok"].as_u64(), Some(measured * 10), "{push}");
    assert!(
        push["pushes_received"].as_u64().unwrap_or(0) >= measured,
        "{push}"
    );

    let mut args = vec!["--connections", "50"];
    args.extend(grpc);
    let held = loadgen_with(addr, "connections", &args);
    assert_eq!(held["connections_established"], 50, "{held}");
    assert_eq!(held["errors_total"], 0, "{held}");
    assert!(
        held["server_rss_bytes_after"].as_u64().unwrap_or(0) > 0,
        "{held}"
    );
}

/// The cluster scenarios against one nacore. `grpc-batch-register` registers the keyspace in
/// batches and the server holds every instance while the load generator holds its
/// connections; `cluster-replication` with the server as its own peer (the local push path)
/// sees every registration pushed, none missing.
#[test]
fn cluster_scenarios_against_one_nacore() {
    let (http_port, grpc_port) = (free_port(), free_port());
    let _server = start_nacore(http_port, grpc_port);
    let addr: SocketAddr = ([127, 0, 0, 1], http_port).into();
    wait_ready(addr);
    let (addr_text, grpc_port) = (addr.to_string(), grpc_port.to_string());

    // 3 connections over 4 instances per service: batches of 2, 1 and 1.
    let mut batch = Command::new(env!("CARGO_BIN_EXE_nacore-loadgen"))
        .arg("grpc-batch-register")
        .args([
            "--server",
            &addr_text,
            "--grpc-port",
            &grpc_port,
            "--cores",
            "1",
        ])
        .args(["--connections", "3", "--services", &SERVICES.to_string()])
        .args([
            "--instances-per-service",
            &INSTANCES_PER_SERVICE.to_string(),
        ])
        .args([
            "--duration",
            "2s",
            "--json",
            "--quiet",
            "--spin-before-park",
            "0ms",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("loadgen runs");
    let mut line = String::new();
    let stdout = batch.stdout.take().expect("piped stdout");
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line)
        .expect("the report line");
    let report: Value = serde_json::from_str(&line).expect("one JSON object");
    assert_eq!(report["errors_total"], 0, "{report}");
    assert_eq!(report["instances_ok"], SERVICES * INSTANCES_PER_SERVICE);
    assert_eq!(report["requests_ok"], SERVICES * 3, "{report}");
    let (status, body) =
        http_get(addr, "/nacos/v1/ns/operator/metrics?onlyStatus=false").expect("metrics answer");
    assert_eq!(status, 200);
    let metrics: Value = serde_json::from_slice(&body).expect("metrics are JSON");
    assert_eq!(
        metrics["instanceCount"],
        SERVICES * INSTANCES_PER_SERVICE,
        "held while the load generator runs: {metrics}"
    );
    assert!(batch.wait().expect("loadgen exits").success());

    let replication = loadgen_with(
        addr,
        "cluster-replication",
        &[
            "--peer-server",
            &addr_text,
            "--peer-grpc-port",
            &grpc_port,
            "--rate",
            "500",
            "--services",
            "20",
            "--subscribers",
            "4",
            "--connections",
            "4",
            "--grace",
            "3s",
        ],
    );
    assert_eq!(replication["errors_total"], 0, "{replication}");
    assert_eq!(replication["missing"], 0, "{replication}");
    assert_eq!(replication["observers_ok"], 4, "{replication}");
    assert_eq!(replication["services_subscribed"], 20, "{replication}");
    let acked = replication["registrations_measured_ok"]
        .as_u64()
        .unwrap_or(0);
    // 500/s for 1 s after 200 ms of warmup.
    assert_eq!(acked, 500, "{replication}");
    assert_eq!(replication["lag_samples"].as_u64(), Some(acked));
    assert!(replication["replication_lag_us"]["p99"].as_u64().is_some());
}
