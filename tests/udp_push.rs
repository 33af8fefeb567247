//! UDP push to v1 subscribers: a poller with `udpPort` and a push-capable User-Agent is
//! recorded, pushed on every change as a `dom` datagram (gzip from 1 KiB), and a push it does
//! not acknowledge is sent once more.

mod common;

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use common::Server;
use serde_json::Value;

/// `GET` with a User-Agent, as the Java and Node 1.x clients send it.
fn get_as(server: &Server, path: &str, agent: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", server.http_port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let request =
        format!("GET {path} HTTP/1.1\r\nUser-Agent: {agent}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = stream.read_to_string(&mut out);
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    out
}

/// Receives one push: (lastRefTime, ServiceInfo, sender address, was gzip).
fn receive(socket: &UdpSocket) -> (u64, Value, std::net::SocketAddr, bool) {
    let mut buf = vec![0u8; 65_536];
    let (n, from) = socket.recv_from(&mut buf).expect("no UDP push arrived");
    let gzip = buf[..2] == [0x1f, 0x8b];
    let text = if gzip {
        let mut text = String::new();
        flate2::read::GzDecoder::new(&buf[..n])
            .read_to_string(&mut text)
            .unwrap();
        text
    } else {
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let datagram: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(datagram["type"], "dom");
    let info: Value = serde_json::from_str(datagram["data"].as_str().unwrap()).unwrap();
    (datagram["lastRefTime"].as_u64().unwrap(), info, from, gzip)
}

fn ack(socket: &UdpSocket, to: std::net::SocketAddr, last_ref_time: u64) {
    let ack = format!(r#"{{"type": "push-ack", "lastRefTime":"{last_ref_time}", "data":""}}"#);
    socket.send_to(ack.as_bytes(), to).unwrap();
}

fn ports(info: &Value) -> Vec<u64> {
    let mut ports: Vec<u64> = info["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["port"].as_u64().unwrap())
        .collect();
    ports.sort();
    ports
}

/// A subscriber gets its first push at once and then one per change, fast; acked pushes
/// are not repeated.
#[test]
fn poller_is_pushed_changes() {
    let server = Server::start();
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let udp_port = socket.local_addr().unwrap().port();
    let poll = format!("/nacos/v1/ns/instance/list?serviceName=udp&udpPort={udp_port}&clientIP=127.0.0.1&clusters=");
    get_as(&server, &poll, "Nacos-Java-Client:v1.4.1");
    let (first, info, from, _) = receive(&socket);
    assert_eq!(
        info["name"], "DEFAULT_GROUP@@udp",
        "grouped name in UDP pushes"
    );
    assert!(info.get("groupName").is_none(), "UDP pushes omit groupName");
    assert_eq!(ports(&info), Vec::<u64>::new());
    ack(&socket, from, first);

    let (_, body) = server.http(
        "GET",
        "/nacos/v1/ns/service/subscribers?serviceName=udp",
        None,
    );
    let subscribers: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(subscribers["count"], 1);
    assert_eq!(
        subscribers["subscribers"][0]["addrStr"],
        format!("127.0.0.1:{udp_port}")
    );
    assert_eq!(
        subscribers["subscribers"][0]["agent"],
        "Nacos-Java-Client:v1.4.1"
    );

    let before = Instant::now();
    server.http(
        "POST",
        "/nacos/v1/ns/instance?serviceName=udp&ip=10.0.0.1&port=7",
        None,
    );
    let (second, info, from, _) = receive(&socket);
    assert!(
        before.elapsed() < Duration::from_millis(500),
        "push took {:?}",
        before.elapsed()
    );
    assert!(second > first);
    assert_eq!(ports(&info), vec![7]);
    ack(&socket, from, second);

    // Many instances make the push big enough to be gzip-compressed.
    for port in 100..130 {
        let q = format!("/nacos/v1/ns/instance?serviceName=udp&ip=10.0.0.1&port={port}&metadata=%7B%22k%22%3A%22padding-padding%22%7D");
        server.http("POST", &q, None);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (seen, info, from, gzip) = receive(&socket);
        ack(&socket, from, seen);
        if ports(&info).len() == 31 {
            assert!(gzip, "a push over 1 KiB is gzip-compressed");
            break;
        }
        assert!(Instant::now() < deadline, "never saw all 31 instances");
    }
}

/// A poller with a User-Agent that cannot take pushes (unknown client) is not pushed.
#[test]
fn unknown_agents_only_poll() {
    let server = Server::start();
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(700)))
        .unwrap();
    let udp_port = socket.local_addr().unwrap().port();
    let poll = format!(
        "/nacos/v1/ns/instance/list?serviceName=poll&udpPort={udp_port}&clientIP=127.0.0.1"
    );
    get_as(&server, &poll, "Nacos-Python-Client:v0.1.16");
    server.http(
        "POST",
        "/nacos/v1/ns/instance?serviceName=poll&ip=10.0.0.1&port=7",
        None,
    );
    let mut buf = [0u8; 1024];
    assert!(
        socket.recv_from(&mut buf).is_err(),
        "an unknown client got a UDP push"
    );
}

/// A push that is not acknowledged is sent once more after the 10 s ack timeout, then no
/// more.
#[test]
fn unacknowledged_push_is_retransmitted_once() {
    let server = Server::start();
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let udp_port = socket.local_addr().unwrap().port();
    let poll =
        format!("/nacos/v1/ns/instance/list?serviceName=rt&udpPort={udp_port}&clientIP=127.0.0.1");
    get_as(&server, &poll, "Nacos-Go-Client:v1.1.0");
    let sent = Instant::now();
    let (first, _, _, _) = receive(&socket);
    let (again, _, _, _) = receive(&socket);
    assert_eq!(again, first, "the retransmit repeats the same push");
    let waited = sent.elapsed();
    assert!(
        waited >= Duration::from_secs(9),
        "retransmitted too early: {waited:?}"
    );
    socket
        .set_read_timeout(Some(Duration::from_secs(12)))
        .unwrap();
    let mut buf = [0u8; 2048];
    assert!(
        socket.recv_from(&mut buf).is_err(),
        "more than one retransmit"
    );
}
