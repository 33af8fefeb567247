//! The gRPC protocol at the wire level, with a raw h2 client: connection lifecycle
//! (ServerCheck before setup, 301 before setup, SetupAck), error responses (302, 502, 400),
//! bad frames and oversized messages, release of a connection's instances on close with a
//! push to subscribers, and the disconnection of clients that do not read their pushes or do
//! not answer client detection.

mod common;

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use common::Server;
use h2::client::SendRequest;
use h2::{RecvStream, SendStream};
use nacore::grpc::{frame, payload};
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

struct Client {
    send: SendRequest<Bytes>,
}

/// An open bi-stream: its sender and a buffer of received bytes.
struct BiStream {
    tx: SendStream<Bytes>,
    rx: RecvStream,
    buf: BytesMut,
}

async fn connect(port: u16) -> Client {
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let (send, connection) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Client { send }
}

fn grpc_request(path: &str) -> http::Request<()> {
    http::Request::builder()
        .method("POST")
        .uri(format!("http://127.0.0.1{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .unwrap()
}

impl Client {
    /// Sends raw bytes as a unary call; returns the grpc-status and the reply message bytes.
    async fn unary_raw(&mut self, body: Bytes) -> (u32, Option<Bytes>) {
        let mut send = self.send.clone().ready().await.unwrap();
        let (response, mut tx) = send
            .send_request(grpc_request("/Request/request"), false)
            .unwrap();
        tx.send_data(body, true).unwrap();
        let response = response.await.unwrap();
        let trailers_only = response.headers().get("grpc-status").cloned();
        let mut rx = response.into_body();
        let mut buf = BytesMut::new();
        while let Some(chunk) = rx.data().await {
            let chunk = chunk.unwrap();
            let _ = rx.flow_control().release_capacity(chunk.len());
            buf.extend_from_slice(&chunk);
        }
        let status = match trailers_only {
            Some(status) => status,
            None => rx
                .trailers()
                .await
                .unwrap()
                .unwrap()
                .get("grpc-status")
                .unwrap()
                .clone(),
        };
        let status: u32 = status.to_str().unwrap().parse().unwrap();
        (status, frame::decode(&mut buf).unwrap())
    }

    async fn unary(&mut self, kind: &str, body: Value) -> (String, Value) {
        let framed = frame::encode(&payload::encode(kind, body.to_string().into_bytes()));
        let (status, message) = self.unary_raw(framed).await;
        assert_eq!(status, 0, "grpc-status of {kind}");
        let incoming = payload::decode(&message.unwrap()).unwrap();
        (incoming.kind, incoming.body)
    }

    async fn open_bi(&mut self) -> BiStream {
        let mut send = self.send.clone().ready().await.unwrap();
        let (response, tx) = send
            .send_request(grpc_request("/BiRequestStream/requestBiStream"), false)
            .unwrap();
        let rx = response.await.unwrap().into_body();
        BiStream {
            tx,
            rx,
            buf: BytesMut::new(),
        }
    }

    /// ServerCheck, then ConnectionSetupRequest on a bi-stream, then the SetupAck.
    async fn setup(&mut self) -> BiStream {
        let (kind, body) = self
            .unary(
                "ServerCheckRequest",
                json!({"headers": {}, "module": "internal"}),
            )
            .await;
        assert_eq!(kind, "ServerCheckResponse");
        assert!(body["connectionId"]
            .as_str()
            .unwrap()
            .contains("_127.0.0.1_"));
        let mut bi = self.open_bi().await;
        bi.send("ConnectionSetupRequest", json!({"clientVersion": "Nacos-Java-Client:v2.5.1", "tenant": "",
            "labels": {"source": "sdk", "module": "naming"}, "abilityTable": {}, "headers": {}, "module": "internal"}));
        let (kind, body) = bi
            .next(Duration::from_secs(5))
            .await
            .expect("no SetupAckRequest");
        assert_eq!(kind, "SetupAckRequest");
        assert_eq!(
            body["abilityTable"]["supportPersistentInstanceByGrpc"],
            true
        );
        bi
    }
}

impl BiStream {
    fn send(&mut self, kind: &str, body: Value) {
        let framed = frame::encode(&payload::encode(kind, body.to_string().into_bytes()));
        self.tx.send_data(framed, false).unwrap();
    }

    /// The next message on the stream, or `None` if none comes in `wait` or the stream ends.
    async fn next(&mut self, wait: Duration) -> Option<(String, Value)> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(message) = frame::decode(&mut self.buf).unwrap() {
                let incoming = payload::decode(&message).unwrap();
                return Some((incoming.kind, incoming.body));
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            let chunk = tokio::time::timeout(left, self.rx.data())
                .await
                .ok()??
                .ok()?;
            let _ = self.rx.flow_control().release_capacity(chunk.len());
            self.buf.extend_from_slice(&chunk);
        }
    }

    /// Waits for a push whose hosts satisfy `want`, acking every push on the way.
    async fn wait_push(&mut self, want: impl Fn(&[Value]) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline
                .checked_duration_since(Instant::now())
                .expect("push never came");
            let (kind, body) = self.next(left).await.expect("stream ended before the push");
            if kind != "NotifySubscriberRequest" {
                continue;
            }
            let id = body["requestId"].clone();
            self.send(
                "NotifySubscriberResponse",
                json!({"requestId": id, "resultCode": 200, "errorCode": 0, "success": true}),
            );
            let info = body["serviceInfo"].clone();
            if want(info["hosts"].as_array().unwrap()) {
                return info;
            }
        }
    }
}

fn instance_request(service: &str, kind: &str, port: u16, weight: f64) -> Value {
    json!({"headers": {}, "namespace": "public", "serviceName": service, "groupName": "DEFAULT_GROUP",
        "type": kind, "module": "naming",
        "instance": {"ip": "10.7.0.1", "port": port, "weight": weight, "healthy": true, "enabled": true,
            "ephemeral": true, "clusterName": "DEFAULT", "metadata": {"k": "v"}}})
}

/// `SubscribeServiceRequest` for `service` in the default group, all clusters.
fn subscribe_request(service: &str) -> Value {
    json!({"headers": {}, "namespace": "public", "serviceName": service, "groupName": "DEFAULT_GROUP",
        "subscribe": true, "clusters": "", "module": "naming"})
}

fn http_ports(server: &Server, service: &str) -> Vec<u64> {
    let (_, body) = server.http(
        "GET",
        &format!("/nacos/v1/ns/instance/list?serviceName={service}"),
        None,
    );
    let info: Value = serde_json::from_str(&body).unwrap();
    info["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["port"].as_u64().unwrap())
        .collect()
}

/// ServerCheck works before setup; other requests get 301 until the setup; after it they work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_and_registration_gate() {
    let server = Server::start();
    let mut client = connect(server.grpc_port).await;
    let (kind, body) = client
        .unary(
            "HealthCheckRequest",
            json!({"headers": {}, "module": "internal"}),
        )
        .await;
    assert_eq!(
        (kind.as_str(), body["errorCode"].as_u64()),
        ("ErrorResponse", Some(301)),
        "{body}"
    );
    assert_eq!(body["resultCode"], 301);
    assert_eq!(body["message"], "Connection is unregistered.");
    let _bi = client.setup().await;
    let (kind, body) = client
        .unary(
            "HealthCheckRequest",
            json!({"headers": {}, "module": "internal"}),
        )
        .await;
    assert_eq!(kind, "HealthCheckResponse");
    assert_eq!(body["resultCode"], 200);
    assert_eq!(body["success"], true);
}

/// Unknown types are 302, unparsable bodies 502, invalid instances 400 with nothing stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_responses() {
    let server = Server::start();
    let mut client = connect(server.grpc_port).await;
    let _bi = client.setup().await;
    let (kind, body) = client.unary("NoSuchRequest", json!({"headers": {}})).await;
    assert_eq!(
        (kind.as_str(), body["errorCode"].as_u64()),
        ("ErrorResponse", Some(302))
    );
    let framed = frame::encode(&payload::encode("InstanceRequest", b"{not json".to_vec()));
    let (status, message) = client.unary_raw(framed).await;
    assert_eq!(status, 0);
    let reply = payload::decode(&message.unwrap()).unwrap();
    assert_eq!(
        (reply.kind.as_str(), reply.body["errorCode"].as_u64()),
        ("ErrorResponse", Some(502))
    );
    let (kind, body) = client
        .unary(
            "InstanceRequest",
            instance_request("bad-w", "registerInstance", 1, 99999.0),
        )
        .await;
    assert_eq!(
        (kind.as_str(), body["errorCode"].as_u64()),
        ("ErrorResponse", Some(400)),
        "{body}"
    );
    let mut no_service = instance_request("", "registerInstance", 1, 1.0);
    no_service["serviceName"] = json!("");
    let (kind, _) = client.unary("InstanceRequest", no_service).await;
    assert_eq!(kind, "ErrorResponse");
    assert!(
        http_ports(&server, "bad-w").is_empty(),
        "an invalid instance was stored"
    );
    let (kind, body) = client
        .unary(
            "InstanceRequest",
            instance_request("good", "registerInstance", 1, 1.0),
        )
        .await;
    assert_eq!(
        (kind.as_str(), body["type"].as_str()),
        ("InstanceResponse", Some("registerInstance"))
    );
    assert_eq!(http_ports(&server, "good"), vec![1]);
}

/// A message that is not a Payload, an oversized message, and raw garbage on the port are
/// refused; the server and other connections carry on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_frames_and_oversized_messages() {
    let server = Server::start();
    let mut healthy = connect(server.grpc_port).await;
    let _bi = healthy.setup().await;
    let mut client = connect(server.grpc_port).await;
    let (status, _) = client.unary_raw(frame::encode(b"\xff\xff\xff\xff")).await;
    assert_eq!(status, 3, "not a Payload: INVALID_ARGUMENT");
    let mut oversized = BytesMut::new();
    oversized.extend_from_slice(&[0, 0, 0xB0, 0, 0]);
    oversized.extend_from_slice(&[0u8; 1024]);
    let (status, _) = client.unary_raw(oversized.freeze()).await;
    assert_eq!(status, 8, "11 MiB declared: RESOURCE_EXHAUSTED");
    let mut garbage = TcpStream::connect(("127.0.0.1", server.grpc_port))
        .await
        .unwrap();
    garbage
        .write_all(b"GET / HTTP/1.1\r\n\r\n\x00\x01\x02garbage")
        .await
        .unwrap();
    let (kind, _) = healthy
        .unary("HealthCheckRequest", json!({"headers": {}}))
        .await;
    assert_eq!(kind, "HealthCheckResponse");
    assert_eq!(
        server.http("GET", "/nacos/v1/ns/operator/metrics", None).0,
        200
    );
}

/// When a connection closes, its instances are removed and subscribers are pushed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_a_connection_releases_its_instances() {
    let server = Server::start();
    let mut watcher = connect(server.grpc_port).await;
    let mut watch = watcher.setup().await;
    let subscribe = subscribe_request("rel");
    let (kind, body) = watcher.unary("SubscribeServiceRequest", subscribe).await;
    assert_eq!(kind, "SubscribeServiceResponse");
    assert_eq!(
        body["serviceInfo"]["name"], "rel",
        "gRPC carries the plain name"
    );
    assert_eq!(body["serviceInfo"]["groupName"], "DEFAULT_GROUP");
    {
        let mut owner = connect(server.grpc_port).await;
        let _owner_bi = owner.setup().await;
        owner
            .unary(
                "InstanceRequest",
                instance_request("rel", "registerInstance", 7, 1.0),
            )
            .await;
        let info = watch.wait_push(|hosts| hosts.len() == 1).await;
        assert_eq!(info["hosts"][0]["port"], 7);
        assert_eq!(http_ports(&server, "rel"), vec![7]);
    }
    // The owner's connection is gone: its instance goes and the watcher is pushed.
    watch.wait_push(|hosts| hosts.is_empty()).await;
    assert!(http_ports(&server, "rel").is_empty());
}

/// `GET /v1/ns/service/subscribers` lists gRPC subscribers as Nacos does (the client's IP as
/// its address, port 0, its version as agent), and forgets them when their connection closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_subscribers_are_listed_over_http() {
    let server = Server::start();
    let path = "/nacos/v1/ns/service/subscribers?serviceName=subs-listed";
    {
        let mut watcher = connect(server.grpc_port).await;
        let _bi = watcher.setup().await;
        let (kind, _) = watcher
            .unary("SubscribeServiceRequest", subscribe_request("subs-listed"))
            .await;
        assert_eq!(kind, "SubscribeServiceResponse");
        let (status, body) = server.http("GET", path, None);
        assert_eq!(status, 200, "{body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["count"], 1, "{body}");
        let subscriber = &body["subscribers"][0];
        assert_eq!(subscriber["addrStr"], "127.0.0.1");
        assert_eq!(subscriber["ip"], "127.0.0.1");
        assert_eq!(subscriber["port"], 0);
        assert_eq!(subscriber["agent"], "Nacos-Java-Client:v2.5.1");
        assert_eq!(subscriber["serviceName"], "DEFAULT_GROUP@@subs-listed");
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, body) = server.http("GET", path, None);
        let body: Value = serde_json::from_str(&body).unwrap();
        if body["count"] == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "a closed connection stays a subscriber: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A subscriber that never reads its stream is disconnected once its pushes stall, and the
/// server keeps serving everybody else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_that_never_reads_pushes_is_disconnected() {
    let server = Server::start();
    let mut stuck = connect(server.grpc_port).await;
    let _stuck_bi = stuck.setup().await; // never read again: its flow-control window fills
    stuck
        .unary(
            "InstanceRequest",
            instance_request("stuck-own", "registerInstance", 1, 1.0),
        )
        .await;
    let subscribe = subscribe_request("big");
    stuck.unary("SubscribeServiceRequest", subscribe).await;
    let padding = "p".repeat(900);
    let started = Instant::now();
    for round in 0..40u16 {
        for i in 0..10u16 {
            let port = round * 10 + i + 1;
            let q = format!("/nacos/v1/ns/instance?serviceName=big&ip=10.8.0.1&port={port}&metadata=%7B%22pad%22%3A%22{padding}%22%7D");
            assert_eq!(server.http("POST", &q, None).0, 200);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Pushes of ~400 KiB each overflow the client's window; after the stall limit the server
    // drops the connection and with it the connection's instance.
    let deadline = Instant::now() + Duration::from_secs(25);
    while !http_ports(&server, "stuck-own").is_empty() {
        assert!(
            Instant::now() < deadline,
            "the stuck client was never disconnected"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        started.elapsed() >= Duration::from_secs(5),
        "disconnected suspiciously early"
    );
    let mut other = connect(server.grpc_port).await;
    let _bi = other.setup().await;
    let (kind, _) = other
        .unary("HealthCheckRequest", json!({"headers": {}}))
        .await;
    assert_eq!(kind, "HealthCheckResponse");
}

/// Pushes that wait for a slow reader's flow-control window are queued, neither dropped nor
/// reordered, and a push larger than the window goes out as the client reads: the client
/// gets every push in order, ending at the last change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_held_back_by_flow_control_arrive_in_order() {
    let server = Server::start();
    let mut slow = connect(server.grpc_port).await;
    let mut bi = slow.setup().await;
    let subscribe = subscribe_request("ordered");
    slow.unary("SubscribeServiceRequest", subscribe).await;
    // Hosts of ~1 KiB: the last pushes are ~100 KiB each, more than the client stream's whole
    // 64 KiB window (so they can only go out in pieces), and the client reopens no window
    // until it reads below.
    let padding = "p".repeat(900);
    let instances = 100u16;
    for port in 1..=instances {
        let q = format!("/nacos/v1/ns/instance?serviceName=ordered&ip=10.9.0.1&port={port}&metadata=%7B%22pad%22%3A%22{padding}%22%7D");
        assert_eq!(server.http("POST", &q, None).0, 200);
    }
    let mut seen_hosts = 0;
    let mut pushes = 0;
    while seen_hosts < usize::from(instances) {
        let (kind, body) = bi.next(Duration::from_secs(8)).await.unwrap_or_else(|| {
            panic!("pushes stopped at {seen_hosts} hosts after {pushes} pushes")
        });
        if kind != "NotifySubscriberRequest" {
            continue;
        }
        let hosts = body["serviceInfo"]["hosts"].as_array().map_or(0, Vec::len);
        assert!(
            hosts >= seen_hosts,
            "a push with {hosts} hosts came after one with {seen_hosts}"
        );
        seen_hosts = hosts;
        pushes += 1;
        bi.send(
            "NotifySubscriberResponse",
            json!({"requestId": body["requestId"], "resultCode": 200}),
        );
    }
    assert!(pushes > 1, "expected the changes in more than one push");
}

/// An idle connection gets a ClientDetectionRequest after 20 s; one that does not answer is
/// dropped 5 s later with its instances, one that answers stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connection_detection() {
    let server = Server::start();
    let mut silent = connect(server.grpc_port).await;
    let mut silent_bi = silent.setup().await;
    silent
        .unary(
            "InstanceRequest",
            instance_request("idle-silent", "registerInstance", 1, 1.0),
        )
        .await;
    let mut polite = connect(server.grpc_port).await;
    let mut polite_bi = polite.setup().await;
    polite
        .unary(
            "InstanceRequest",
            instance_request("idle-polite", "registerInstance", 2, 1.0),
        )
        .await;
    let (kind, body) = polite_bi
        .next(Duration::from_secs(25))
        .await
        .expect("no detection request");
    assert_eq!(kind, "ClientDetectionRequest");
    polite_bi.send(
        "ClientDetectionResponse",
        json!({"requestId": body["requestId"], "resultCode": 200, "errorCode": 0, "success": true}),
    );
    let (kind, _) = silent_bi
        .next(Duration::from_secs(5))
        .await
        .expect("no detection request");
    assert_eq!(kind, "ClientDetectionRequest");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !http_ports(&server, "idle-silent").is_empty() {
        assert!(
            Instant::now() < deadline,
            "the silent connection was not dropped"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        http_ports(&server, "idle-polite"),
        vec![2],
        "the answering connection stays"
    );
}

/// A push that is not acknowledged is sent again (the same push, same request id) after the
/// 5 s ack timeout plus the 1 s retry delay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unacknowledged_push_is_retried() {
    let server = Server::start();
    let mut watcher = connect(server.grpc_port).await;
    let mut watch = watcher.setup().await;
    let subscribe = subscribe_request("retry");
    watcher.unary("SubscribeServiceRequest", subscribe).await;
    server.http(
        "POST",
        "/nacos/v1/ns/instance?serviceName=retry&ip=10.6.0.1&port=6",
        None,
    );
    let (kind, first) = watch.next(Duration::from_secs(5)).await.expect("no push");
    assert_eq!(kind, "NotifySubscriberRequest");
    let sent = Instant::now();
    let (kind, again) = watch.next(Duration::from_secs(10)).await.expect("no retry");
    assert_eq!(kind, "NotifySubscriberRequest");
    let waited = sent.elapsed();
    assert!(
        waited >= Duration::from_millis(5_500),
        "retried after only {waited:?}"
    );
    assert_eq!(first["requestId"], again["requestId"]);
    assert_eq!(first["serviceInfo"]["hosts"], again["serviceInfo"]["hosts"]);
    // Acked now: no further retries.
    watch.send(
        "NotifySubscriberResponse",
        json!({"requestId": again["requestId"], "resultCode": 200}),
    );
    assert!(
        watch.next(Duration::from_secs(8)).await.is_none(),
        "an acked push was sent again"
    );
}
