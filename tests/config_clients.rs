//! The config center (`/nacos/v1/cs/*` and the gRPC config requests) of the real binary,
//! driven by real clients:
//!  - nacos-sdk-python 2.0.11 (`nacos`, HTTP v1, long polling): tests/clients/py_config.py
//!  - nacos-sdk-python 3.2.0 (`v2.nacos`, gRPC): tests/clients/py3_config.py
//!  - npm `nacos` 2.6.3 (`NacosConfigClient`, HTTP v1, long polling): tests/clients/node_config.js
//!  - the `nacos-sdk` crate's `ConfigService` (gRPC), in this file.
//!
//! They run on one server and on a 3-member cluster. The scripts are installed on demand by
//! scripts/setup-clients.sh (see tests/real_clients.rs).
//!
//! The `nacos-sdk` tests can also be pointed at another Nacos-compatible server (for
//! checking the tests themselves, e.g. against r-nacos): set
//! `NACORE_CONFIG_TEST_SERVER=127.0.0.1:<http_port>,<grpc_port>`. Checks of features such a
//! server lacks then fail, which is the point of having them.
//!
//! nacos-sdk 0.8.3 behaviour these tests rely on (src/config/worker.rs):
//!  - `get_config` answers from the local cache when the key has a listener in that
//!    service, so reads use a service without listeners;
//!  - a `ConfigQueryResponse` with resultCode 200 must carry `content`, `contentType` and
//!    `md5` (the SDK `expect`s them and panics in its runtime otherwise); errorCode 300 is
//!    `Error::ConfigNotFound`;
//!  - `add_listener` queries the config, then sends its first ConfigBatchListenRequest from a
//!    spawned task and ignores that reply, so a publish racing the listen registration is
//!    only seen by the 60 s re-listen loop. The first change after `add_listener` is
//!    therefore re-published until the listener sees it; later changes must arrive through
//!    the server's push at once;
//!  - a listener added while the config is missing is never told about the config's first
//!    content: the failed initial query leaves `CacheData.initializing` set, so the first
//!    successful fill (after the push) does not notify. Only later changes are notified;
//!  - a push is matched to the cache by (dataId, group, tenant) of the push itself, so the
//!    tenant must be the one the client listened with ("" for the default namespace).

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{assert_client_ok, ensure_clients, run_node, run_python, run_python3, Server};
use nacos_sdk::api::config::{
    constants::KEY_PARAM_APP_NAME, ConfigChangeListener, ConfigResponse, ConfigService,
    ConfigServiceBuilder,
};
use nacos_sdk::api::error::Error as SdkError;
use nacos_sdk::api::props::ClientProps;

const GROUP: &str = "RUST_CFG_GROUP";
/// A publish reaches a listener through the server's push within this.
const PUSH_DEADLINE: Duration = Duration::from_secs(5);
/// The first change after `add_listener` (re-published every second) arrives within this.
const FIRST_CHANGE_DEADLINE: Duration = Duration::from_secs(10);

// --------------------------------------------------------------------------- real-client scripts

/// nacos-sdk-python 2.0.11 over HTTP v1: publish (appName, type), get (Chinese too), remove,
/// namespaces, and long-poll watchers woken by publishes (py_config.py).
#[test]
fn python_v1_config_client_publish_get_remove_watch() {
    ensure_clients();
    let server = Server::start();
    let addr = server.addr();
    let out = run_python("py_config.py", &["--server", &addr]);
    assert_client_ok(
        "py_config.py (nacos-sdk-python 2.0.11)",
        &out,
        "PY_CONFIG_OK",
        &server,
    );
}

/// nacos-sdk-python 3.2.0 over gRPC: publish, get, missing is "", CAS, remove, and a listener
/// notified through the server's push (py3_config.py).
#[test]
fn python3_grpc_config_client_publish_get_cas_remove_listen() {
    ensure_clients();
    let server = Server::start();
    let addr = server.addr();
    let grpc = server.grpc_port.to_string();
    let out = run_python3("py3_config.py", &["--server", &addr, "--grpc-port", &grpc]);
    assert_client_ok(
        "py3_config.py (nacos-sdk-python 3.2.0)",
        &out,
        "PY3_CONFIG_OK",
        &server,
    );
}

/// The npm client over HTTP v1: missing is null, read-back with no sleep, a subscription
/// sees 你好 -> 你好啊 through a woken long poll, remove (node_config.js).
#[test]
fn node_config_client_publish_get_subscribe_remove() {
    ensure_clients();
    let server = Server::start();
    let addr = server.addr();
    let out = run_node("node_config.js", &["--server", &addr]);
    assert_client_ok(
        "node_config.js (nacos npm 2.6.3)",
        &out,
        "NODE_CONFIG_OK",
        &server,
    );
}

// --------------------------------------------------------------------------- nacos-sdk helpers

/// The server a `nacos-sdk` test talks to: a fresh nacore, or the external server named by
/// `NACORE_CONFIG_TEST_SERVER`.
struct Target {
    server: Option<Server>,
    http_addr: String,
    grpc_port: u16,
    cache_root: std::path::PathBuf,
}

impl Target {
    fn start() -> Target {
        if let Ok(spec) = std::env::var("NACORE_CONFIG_TEST_SERVER") {
            let (http_addr, grpc) = spec
                .split_once(',')
                .expect("NACORE_CONFIG_TEST_SERVER=host:http_port,grpc_port");
            let cache_root = common::repo_root()
                .join("target")
                .join("test-data")
                .join(format!("external-{}", unique()));
            return Target {
                server: None,
                http_addr: http_addr.to_string(),
                grpc_port: grpc.parse().expect("gRPC port"),
                cache_root,
            };
        }
        let server = Server::start();
        Target {
            http_addr: server.addr(),
            grpc_port: server.grpc_port,
            cache_root: server.data_dir().to_path_buf(),
            server: Some(server),
        }
    }

    fn log(&self) -> String {
        match &self.server {
            Some(s) => s.log(),
            None => format!("<external server {}>", self.http_addr),
        }
    }

    async fn sdk(&self, app: &str) -> ConfigService {
        sdk_client(&self.http_addr, Some(self.grpc_port), &self.cache_root, app)
            .await
            .unwrap_or_else(|e| panic!("nacos-sdk cannot connect: {e}\n{}", self.log()))
    }
}

impl Drop for Target {
    /// A nacore `Server` cleans up its own data dir; an external target's SDK caches go here.
    fn drop(&mut self) {
        if self.server.is_none() && !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.cache_root);
        }
    }
}

/// A `nacos-sdk` config client of `http_addr`; without `grpc_port` the SDK's default (HTTP
/// port + 1000) is used.
async fn sdk_client(
    http_addr: &str,
    grpc_port: Option<u16>,
    cache_root: &std::path::Path,
    app: &str,
) -> nacos_sdk::api::error::Result<ConfigService> {
    let cache_dir = cache_root.join(format!("sdk-config-cache-{app}-{}", unique()));
    let mut props = ClientProps::new()
        .server_addr(http_addr.to_string())
        .namespace("")
        .app_name(app)
        .env_first(false)
        .load_cache_at_start(false)
        .config_load_cache_at_start(false)
        .cache_dir(cache_dir.to_string_lossy().to_string());
    if let Some(port) = grpc_port {
        props = props.remote_grpc_port(port);
    }
    ConfigServiceBuilder::new(props).build().await
}

/// A process-unique suffix, so reruns against an external server do not collide.
fn unique() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{}-{nanos:x}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

fn s(v: &str) -> String {
    v.to_string()
}

/// Records every notification of a listener.
#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<(Instant, ConfigResponse)>>,
}

impl ConfigChangeListener for Recorder {
    fn notify(&self, config_resp: ConfigResponse) {
        self.events
            .lock()
            .unwrap()
            .push((Instant::now(), config_resp));
    }
}

impl Recorder {
    fn contents(&self) -> Vec<String> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .map(|(_, r)| r.content().clone())
            .collect()
    }

    /// Waits until a notification with `want` arrives; returns it.
    async fn wait_for(&self, want: &str, timeout: Duration) -> Option<ConfigResponse> {
        let deadline = Instant::now() + timeout;
        loop {
            let found = self
                .events
                .lock()
                .unwrap()
                .iter()
                .find(|(_, r)| r.content() == want)
                .map(|(_, r)| r.clone());
            if found.is_some() {
                return found;
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Publishes `content` and waits for the listener to see it (push deadline).
async fn publish_and_expect(
    writer: &ConfigService,
    listener: &Recorder,
    data_id: &str,
    content: &str,
    log: impl Fn() -> String,
) {
    let start = Instant::now();
    let ok = writer
        .publish_config(s(data_id), s(GROUP), s(content), None)
        .await
        .unwrap_or_else(|e| panic!("publish {content:?}: {e}\n{}", log()));
    assert!(ok);
    let got = listener.wait_for(content, PUSH_DEADLINE).await;
    let got = got.unwrap_or_else(|| {
        panic!(
            "listener did not receive {content:?} within {PUSH_DEADLINE:?} of the publish \
             (the server must push ConfigChangeNotifyRequest); seen: {:?}\n{}",
            listener.contents(),
            log()
        )
    });
    assert_eq!(got.data_id(), data_id);
    assert_eq!(got.group(), GROUP);
    assert_eq!(
        got.md5(),
        &md5_hex(content.as_bytes()),
        "md5 of {content:?}"
    );
    eprintln!("listener saw {content:?} after {:?}", start.elapsed());
}

/// The first change after `add_listener`: re-published every second (new content each time)
/// until the listener sees one of them; returns the content it saw.
async fn first_change(
    writer: &ConfigService,
    listener: &Recorder,
    data_id: &str,
    tag: &str,
    log: impl Fn() -> String,
) -> String {
    let deadline = Instant::now() + FIRST_CHANGE_DEADLINE;
    let mut n = 0;
    loop {
        n += 1;
        let content = format!("{tag}-{n}");
        assert!(writer
            .publish_config(s(data_id), s(GROUP), content.clone(), None)
            .await
            .unwrap_or_else(|e| panic!("publish {content:?}: {e}\n{}", log())));
        if listener
            .wait_for(&content, Duration::from_secs(1))
            .await
            .is_some()
        {
            return content;
        }
        assert!(
            Instant::now() < deadline,
            "listener saw none of {n} publishes within {FIRST_CHANGE_DEADLINE:?}; seen: {:?}\n{}",
            listener.contents(),
            log()
        );
    }
}

// --------------------------------------------------------------------------- nacos-sdk tests

/// publish / get (content, type, md5) / CAS / appName / remove, over two connections.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_sdk_publish_get_cas_remove() {
    let target = Target::start();
    let log = || target.log();
    let writer = target.sdk("writer").await;
    let reader = target.sdk("reader").await;
    let d = format!("rust-basic-{}", unique());

    let content = r#"{"k":1,"name":"nacore"}"#;
    assert!(writer
        .publish_config(d.clone(), s(GROUP), s(content), Some(s("json")))
        .await
        .unwrap_or_else(|e| panic!("publish: {e}\n{}", log())));
    let got = reader
        .get_config(d.clone(), s(GROUP))
        .await
        .unwrap_or_else(|e| panic!("get right after publish: {e}\n{}", log()));
    assert_eq!(got.content(), content);
    assert_eq!(got.data_id(), &d);
    assert_eq!(got.group(), GROUP);
    assert_eq!(got.content_type(), "json", "contentType of a json publish");
    assert_eq!(got.md5(), &md5_hex(content.as_bytes()));

    // CAS with the md5 from get.
    let cas_content = r#"{"k":2}"#;
    let ok = writer
        .publish_config_cas(
            d.clone(),
            s(GROUP),
            s(cas_content),
            Some(s("json")),
            got.md5().clone(),
        )
        .await
        .unwrap_or_else(|e| panic!("CAS publish with the current md5: {e}\n{}", log()));
    assert!(ok);
    let after = reader.get_config(d.clone(), s(GROUP)).await.unwrap();
    assert_eq!(after.content(), cas_content);
    assert_eq!(after.md5(), &md5_hex(cas_content.as_bytes()));
    assert_ne!(after.md5(), got.md5());

    // CAS with the stale md5 fails and changes nothing.
    let stale = writer
        .publish_config_cas(d.clone(), s(GROUP), s("stale"), None, got.md5().clone())
        .await;
    assert!(
        !matches!(stale, Ok(true)),
        "a CAS publish with a stale md5 succeeded\n{}",
        log()
    );
    let unchanged = reader.get_config(d.clone(), s(GROUP)).await.unwrap();
    assert_eq!(
        unchanged.content(),
        cas_content,
        "a failed CAS changed the config"
    );

    // appName in the addition map, plain and with CAS; yaml type.
    let params = HashMap::from([(s(KEY_PARAM_APP_NAME), s("nacore-rust-app"))]);
    assert!(writer
        .publish_config_param(
            d.clone(),
            s(GROUP),
            s("a: 1\n"),
            Some(s("yaml")),
            None,
            params.clone()
        )
        .await
        .unwrap_or_else(|e| panic!("publish_config_param: {e}\n{}", log())));
    let yaml = reader.get_config(d.clone(), s(GROUP)).await.unwrap();
    assert_eq!(yaml.content(), "a: 1\n");
    assert_eq!(yaml.content_type(), "yaml");
    assert!(writer
        .publish_config_param(
            d.clone(),
            s(GROUP),
            s("a: 2\n"),
            Some(s("yaml")),
            Some(yaml.md5().clone()),
            params
        )
        .await
        .unwrap_or_else(|e| panic!("CAS publish_config_param: {e}\n{}", log())));
    assert_eq!(
        reader
            .get_config(d.clone(), s(GROUP))
            .await
            .unwrap()
            .content(),
        "a: 2\n"
    );

    // Chinese content round-trips, md5 over the UTF-8 bytes.
    let other = format!("{d}-zh");
    let zh = "中文配置：你好，世界！\n第二行 ✓";
    assert!(writer
        .publish_config(other.clone(), s(GROUP), s(zh), None)
        .await
        .unwrap());
    let got_zh = reader.get_config(other.clone(), s(GROUP)).await.unwrap();
    assert_eq!(got_zh.content(), zh);
    assert_eq!(got_zh.md5(), &md5_hex(zh.as_bytes()));
    assert_eq!(got_zh.content_type(), "text", "default contentType");

    // Remove one; the other stays.
    assert!(writer
        .remove_config(d.clone(), s(GROUP))
        .await
        .unwrap_or_else(|e| panic!("remove: {e}\n{}", log())));
    match reader.get_config(d.clone(), s(GROUP)).await {
        Err(SdkError::ConfigNotFound(_)) => {}
        other => panic!(
            "get after remove: expected ConfigNotFound, got {other:?}\n{}",
            log()
        ),
    }
    assert_eq!(
        reader
            .get_config(other.clone(), s(GROUP))
            .await
            .unwrap()
            .content(),
        zh
    );
    // Removing a missing config succeeds.
    assert!(writer
        .remove_config(d.clone(), s(GROUP))
        .await
        .unwrap_or_else(|e| panic!("remove of a missing config: {e}\n{}", log())));
    writer.remove_config(other, s(GROUP)).await.unwrap();
}

/// A missing config is `Error::ConfigNotFound` (errorCode 300), not another error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_sdk_missing_config_is_config_not_found() {
    let target = Target::start();
    let reader = target.sdk("reader").await;
    let d = format!("rust-missing-{}", unique());
    match reader.get_config(d, s(GROUP)).await {
        Err(SdkError::ConfigNotFound(msg)) => eprintln!("ConfigNotFound: {msg}"),
        other => panic!(
            "get of a missing config: expected Err(ConfigNotFound), got {other:?}\n{}",
            target.log()
        ),
    }
}

/// A listener receives every later publish of another connection (Chinese text included),
/// is not notified by adding it or by re-publishing identical content, and a listener on a
/// missing config stays silent until the config is created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_sdk_listener_receives_published_changes() {
    let target = Target::start();
    let log = || target.log();
    let writer = target.sdk("writer").await;
    let watcher = target.sdk("watcher").await;
    let d = format!("rust-listened-{}", unique());
    let missing = format!("{d}-missing");

    assert!(writer
        .publish_config(d.clone(), s(GROUP), s("v1"), None)
        .await
        .unwrap());
    let rec = Arc::new(Recorder::default());
    let rec_missing = Arc::new(Recorder::default());
    watcher
        .add_listener(d.clone(), s(GROUP), rec.clone())
        .await
        .unwrap_or_else(|e| panic!("add_listener: {e}\n{}", log()));
    watcher
        .add_listener(missing.clone(), s(GROUP), rec_missing.clone())
        .await
        .unwrap_or_else(|e| panic!("add_listener (missing): {e}\n{}", log()));

    let first = first_change(&writer, &rec, &d, "v2", log).await;
    assert!(
        !rec.contents().contains(&s("v1")),
        "adding the listener notified the current content: {:?}",
        rec.contents()
    );
    publish_and_expect(&writer, &rec, &d, "你好", log).await;
    publish_and_expect(&writer, &rec, &d, "你好啊", log).await;
    publish_and_expect(&writer, &rec, &d, "v3", log).await;

    // Identical content: no notification (compared after the next real change arrives).
    assert!(writer
        .publish_config(d.clone(), s(GROUP), s("v3"), None)
        .await
        .unwrap());
    publish_and_expect(&writer, &rec, &d, "v4", log).await;
    let seen = rec.contents();
    let tail: Vec<&str> = seen
        .iter()
        .skip_while(|c| **c != first)
        .map(String::as_str)
        .collect();
    assert_eq!(
        tail,
        [first.as_str(), "你好", "你好啊", "v3", "v4"],
        "notifications (all: {seen:?})"
    );

    assert!(
        rec_missing.contents().is_empty(),
        "listener on a missing config notified: {:?}",
        rec_missing.contents()
    );
    // Creating it: the SDK drops the first content of a key that was missing when the
    // listener was added (see the module doc), so this re-publishes until one arrives.
    first_change(&writer, &rec_missing, &missing, "created", log).await;
    publish_and_expect(&writer, &rec_missing, &missing, "created again", log).await;

    writer.remove_config(d, s(GROUP)).await.unwrap();
    writer.remove_config(missing, s(GROUP)).await.unwrap();
}

// --------------------------------------------------------------------------- cluster

/// `a=b&c=d` with every byte outside the unreserved set percent-encoded.
fn form(pairs: &[(&str, &str)]) -> String {
    fn enc(v: &str) -> String {
        let mut out = String::new();
        for b in v.bytes() {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                out.push(b as char);
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
        out
    }
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn cluster_logs(servers: &[Server]) -> String {
    servers
        .iter()
        .map(|s| format!("--- server log {} ---\n{}\n", s.addr(), s.log()))
        .collect()
}

/// A write on one member is readable on every other member at once (HTTP and gRPC), pushed
/// to a gRPC listener on another member, and a Python long-poll watcher on member 3 sees
/// the writes made on member 2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_publish_on_one_member_read_and_watch_on_the_others() {
    ensure_clients();
    let servers = Server::start_cluster_grpc_offset(3, &[]);
    let logs = || cluster_logs(&servers);
    let d = "cluster-cfg";
    let zh = "集群配置：你好\nline 2";

    // A gRPC listener on member 3, before the write.
    let watcher = sdk_client(&servers[2].addr(), None, servers[2].data_dir(), "watcher")
        .await
        .unwrap_or_else(|e| panic!("nacos-sdk cannot connect to member 3: {e}"));
    let rec = Arc::new(Recorder::default());
    watcher
        .add_listener(s(d), s(GROUP), rec.clone())
        .await
        .unwrap();

    // Publish on member 1 over HTTP.
    let body = form(&[
        ("dataId", d),
        ("group", GROUP),
        ("content", zh),
        ("type", "text"),
    ]);
    let (status, reply) = servers[0].http("POST", "/nacos/v1/cs/configs", Some(&body));
    assert_eq!(
        (status, reply.as_str()),
        (200, "true"),
        "publish on member 1\n{}",
        logs()
    );

    // Read it from the other members at once.
    let query = format!("/nacos/v1/cs/configs?dataId={d}&group={GROUP}");
    for (i, member) in servers.iter().enumerate().skip(1) {
        let (status, got) = member.http("GET", &query, None);
        assert_eq!(
            (status, got.as_str()),
            (200, zh),
            "HTTP GET on member {} right after the publish on member 1\n{}",
            i + 1,
            logs()
        );
    }
    let reader = sdk_client(&servers[1].addr(), None, servers[1].data_dir(), "reader")
        .await
        .unwrap_or_else(|e| panic!("nacos-sdk cannot connect to member 2: {e}"));
    let got = reader
        .get_config(s(d), s(GROUP))
        .await
        .unwrap_or_else(|e| panic!("nacos-sdk get on member 2: {e}\n{}", logs()));
    assert_eq!(got.content(), zh);
    assert_eq!(got.md5(), &md5_hex(zh.as_bytes()));

    // The gRPC listener on member 3 is notified of writes on member 1. It was added while
    // the config was missing, so the SDK drops the first content (see the module doc):
    // re-publish until one arrives.
    let writer = sdk_client(&servers[0].addr(), None, servers[0].data_dir(), "writer")
        .await
        .unwrap_or_else(|e| panic!("nacos-sdk cannot connect to member 1: {e}"));
    first_change(&writer, &rec, d, "cluster-v", logs).await;
    // Later writes on member 2 over gRPC reach the listener on member 3 through a push.
    publish_and_expect(&reader, &rec, d, "集群 v2", logs).await;
    // Removal on member 2 is visible on member 1 at once.
    assert!(reader.remove_config(s(d), s(GROUP)).await.unwrap());
    let (status, _) = servers[0].http("GET", &query, None);
    assert_eq!(
        status,
        404,
        "GET on member 1 after remove on member 2\n{}",
        logs()
    );

    // The Python long-poll watcher on member 3, writes on member 2.
    let (watch_on, publish_on) = (servers[2].addr(), servers[1].addr());
    let out = tokio::task::spawn_blocking(move || {
        run_python(
            "py_config.py",
            &[
                "--server",
                &watch_on,
                "--publisher",
                &publish_on,
                "--prefix",
                "cluster-py-",
            ],
        )
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || !stdout.lines().any(|l| l.trim() == "PY_CONFIG_OK") {
        panic!(
            "py_config.py (watch on member 3, publish on member 2) failed ({})\n\
             --- client stdout ---\n{stdout}\n--- client stderr ---\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            logs()
        );
    }
}

// --------------------------------------------------------------------------- md5

/// MD5 (RFC 1321) as 32 lowercase hex characters, for checking the servers' md5 fields.
fn md5_hex(input: &[u8]) -> String {
    const S: [u32; 64] = [
        7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5,
        9, 14, 20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10,
        15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
    ];
    let k: Vec<u32> = (0..64)
        .map(|i| ((i as f64 + 1.0).sin().abs() * 4294967296.0) as u32)
        .collect();
    let mut msg = input.to_vec();
    let bit_len = (input.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bit_len.to_le_bytes());
    let (mut a0, mut b0, mut c0, mut d0) =
        (0x67452301u32, 0xefcdab89u32, 0x98badcfeu32, 0x10325476u32);
    for chunk in msg.chunks(64) {
        let m: Vec<u32> = chunk
            .chunks(4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
            .collect();
        let (mut a, mut b, mut c, mut d) = (a0, b0, c0, d0);
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let f = f.wrapping_add(a).wrapping_add(k[i]).wrapping_add(m[g]);
            a = d;
            d = c;
            c = b;
            b = b.wrapping_add(f.rotate_left(S[i]));
        }
        a0 = a0.wrapping_add(a);
        b0 = b0.wrapping_add(b);
        c0 = c0.wrapping_add(c);
        d0 = d0.wrapping_add(d);
    }
    [a0, b0, c0, d0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The test's own MD5 against the RFC 1321 test vectors.
#[test]
fn md5_helper_matches_rfc1321() {
    assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
    assert_eq!(md5_hex(b"abc"), "900150983cd24fb0d6963f7d28e17f72");
    assert_eq!(
        md5_hex(
            b"12345678901234567890123456789012345678901234567890123456789012345678901234567890"
        ),
        "57edf4a22be3c955ac49da2e2107b67a"
    );
    // Matches Python's hashlib.md5("你好".encode("utf-8")).
    assert_eq!(
        md5_hex("你好".as_bytes()),
        "7eca689f0d3389d9dea66ae112e5cfd7"
    );
}
