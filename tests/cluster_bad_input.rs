//! Hostile peers on the cluster port: garbage bytes, undecodable messages, forged origins,
//! out-of-range buckets and malformed records are refused (gRPC INVALID_ARGUMENT) or dropped,
//! store nothing, and leave the member serving its clients and its real peers.

mod common;

use std::io::{Read, Write};
use std::time::Duration;

use bytes::Bytes;
use common::{try_http, Server};
use prost::Message as _;

use nacore::cluster::proto;

/// One unary call over a fresh h2 connection; returns (grpc-status, reply message bytes).
async fn call(cluster_port: u16, path: &str, body: Vec<u8>) -> (String, Vec<u8>) {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", cluster_port))
        .await
        .expect("connect to the cluster port");
    let (send, connection) = h2::client::handshake(tcp).await.expect("h2 handshake");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let mut send = send.ready().await.expect("ready");
    let request = http::Request::builder()
        .method("POST")
        .uri(format!("http://peer{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .expect("request");
    let (response, mut stream) = send.send_request(request, false).expect("send");
    let mut framed = vec![0u8];
    framed.extend_from_slice(&(body.len() as u32).to_be_bytes());
    framed.extend_from_slice(&body);
    stream.send_data(Bytes::from(framed), true).expect("data");
    let response = tokio::time::timeout(Duration::from_secs(5), response)
        .await
        .expect("an answer in time")
        .expect("response");
    let head_status = response.headers().get("grpc-status").cloned();
    let mut recv = response.into_body();
    let mut data = Vec::new();
    while let Some(chunk) = recv.data().await {
        let chunk = chunk.expect("chunk");
        let _ = recv.flow_control().release_capacity(chunk.len());
        data.extend_from_slice(&chunk);
    }
    let status = match head_status {
        Some(status) => status,
        None => recv
            .trailers()
            .await
            .expect("trailers")
            .and_then(|t| t.get("grpc-status").cloned())
            .expect("a grpc-status"),
    };
    let message = data.get(5..).unwrap_or_default().to_vec();
    (status.to_str().unwrap_or("?").to_string(), message)
}

fn origin(member: u32) -> Option<proto::Origin> {
    Some(proto::Origin {
        member,
        incarnation: 1,
    })
}

fn item(ip: &str, instances_json: &[u8]) -> proto::DistroItem {
    proto::DistroItem {
        namespace: "public".into(),
        group: "DEFAULT_GROUP".into(),
        service: "hostile".into(),
        ip: ip.into(),
        port: 80,
        version: 1,
        origin: origin(1),
        instances_json: instances_json.to_vec(),
        ..Default::default()
    }
}

fn hosts_of(server: &Server) -> String {
    let (status, body) = try_http(
        server.http_port,
        "GET",
        "/nacos/v1/ns/instance/list?serviceName=hostile",
        None,
    )
    .expect("list");
    assert_eq!(status, 200, "{body}");
    body
}

/// Garbage on the socket, undecodable messages, forged and unknown origins, bad bucket
/// ranges and malformed records: refused or dropped, nothing stored, the member serves on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_peer_messages_are_refused_and_store_nothing() {
    let mut servers = Server::start_cluster(2, &[]);
    // Member indices follow the sorted addresses: the lower port is member 0.
    servers.sort_by_key(|s| s.http_port);
    let target = &servers[0];
    let cluster_port = target.http_port + 1001;

    let mut raw = std::net::TcpStream::connect(("127.0.0.1", cluster_port)).expect("connect");
    raw.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    raw.write_all(b"GET / HTTP/1.1\r\n\r\n\x00\xff garbage")
        .expect("write");
    let mut sink = Vec::new();
    let _ = raw.read_to_end(&mut sink);

    for path in [
        "/Cluster/DistroSync",
        "/Cluster/DistroVerify",
        "/Cluster/Report",
    ] {
        let (status, _) = call(cluster_port, path, b"\xff\xff\xff not protobuf".to_vec()).await;
        assert_eq!(status, "3", "{path}: undecodable message");
    }
    let forged = proto::DistroSync {
        from: origin(0),
        items: vec![item("10.0.0.1", b"[]")],
    };
    let (status, _) = call(cluster_port, "/Cluster/DistroSync", forged.encode_to_vec()).await;
    assert_eq!(status, "3", "a peer cannot speak for the member itself");
    let unknown = proto::DistroSync {
        from: origin(99),
        items: Vec::new(),
    };
    let (status, _) = call(cluster_port, "/Cluster/DistroSync", unknown.encode_to_vec()).await;
    assert_eq!(status, "3", "an unknown member");
    let range = proto::DistroSnapshotRequest {
        bucket_from: 10,
        bucket_to: 100_000,
    };
    let (status, _) = call(
        cluster_port,
        "/Cluster/DistroSnapshot",
        range.encode_to_vec(),
    )
    .await;
    assert_eq!(status, "3", "a bucket range out of bounds");

    let spec = br#"[{"ip":"10.0.0.1","port":80,"cluster":"DEFAULT","weight":-5.0,"healthy":true,"enabled":true,"ephemeral":true,"metadata":{}}]"#;
    let malformed = proto::DistroSync {
        from: origin(1),
        items: vec![
            item("not an ip", b"[]"),
            item("10.0.0.1", b"{not json"),
            item("10.0.0.1", spec),
            item("10.0.0.2", spec),
        ],
    };
    let (status, _) = call(
        cluster_port,
        "/Cluster/DistroSync",
        malformed.encode_to_vec(),
    )
    .await;
    assert_eq!(
        status, "0",
        "well-framed syncs are acknowledged; bad records are dropped"
    );
    assert!(hosts_of(target).contains("\"hosts\":[]"), "nothing stored");

    // The member still serves its clients and still replicates for its real peer.
    let register = "/nacos/v1/ns/instance?serviceName=hostile&ip=10.9.9.9&port=9";
    let (status, body) = try_http(target.http_port, "POST", register, None).expect("register");
    assert_eq!((status, body.as_str()), (200, "ok"));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !hosts_of(&servers[1]).contains("10.9.9.9") {
        assert!(std::time::Instant::now() < deadline, "replication stopped");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
