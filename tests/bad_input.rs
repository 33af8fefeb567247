//! Malformed and hostile requests: each gets the Nacos status and a clear message, stores
//! nothing, and leaves the server and every other connection running.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::Server;

/// Sends raw bytes on a fresh connection and reads until the server closes or 5 s pass.
fn raw(server: &Server, bytes: &[u8]) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", server.http_port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(bytes).unwrap();
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn assert_empty(server: &Server, service: &str) {
    let (status, body) = server.http(
        "GET",
        &format!("/nacos/v1/ns/instance/list?serviceName={service}"),
        None,
    );
    assert_eq!(status, 200);
    assert!(
        body.contains("\"hosts\":[]"),
        "something was stored for {service}: {body}"
    );
}

/// Every invalid parameter class is a 400 with the Nacos message, and nothing is stored.
#[test]
fn invalid_params_are_400_and_store_nothing() {
    let server = Server::start();
    let cases: &[(&str, &str)] = &[
        ("ip=10.0.0.1&port=1", "Param 'serviceName' is required."),
        ("serviceName=bad&port=1", "Param 'ip' is required."),
        ("serviceName=bad&ip=10.0.0.1", "Param 'port' is required."),
        ("serviceName=bad&ip=10.0.0.1&port=abc", "For input string: \"abc\""),
        ("serviceName=bad&ip=10.0.0.1&port=65536", "Param 'port' is illegal"),
        ("serviceName=bad&ip=10.0.0.1&port=1&weight=-1", "instance format invalid: The weights range from 0.0 to 10000.0"),
        ("serviceName=bad&ip=10.0.0.1&port=1&weight=10001", "The weights range"),
        ("serviceName=bad&ip=10.0.0.1&port=1&weight=heavy", "For input string"),
        ("serviceName=bad&ip=10.0.0.1&port=1&clusterName=a_b", "Instance 'clusterName' should be characters with only 0-9a-zA-Z-. (current: a_b)"),
        ("serviceName=bad&ip=10.0.0.1&port=1&metadata=%7Bbroken", "metadata format incorrect"),
        ("serviceName=bad&ip=10.0.0.1&port=1&metadata=%7B%22preserved.heart.beat.interval%22%3A%2260000%22%7D", "Instance 'heart beat interval' must less than"),
        ("serviceName=%40%40bad&ip=10.0.0.1&port=1", "it should be format as 'groupName@@serviceName'"),
        ("serviceName=has%20space&ip=10.0.0.1&port=1", "Param 'serviceName' is illegal"),
        ("serviceName=bad&groupName=a%20b&ip=10.0.0.1&port=1", "Param 'groupName' is illegal"),
        ("serviceName=bad&namespaceId=n%24s&ip=10.0.0.1&port=1", "Param 'namespaceId' is illegal"),
        ("serviceName=bad&ip=10.0.0.1%200&port=1", "Param 'ip' is illegal"),
    ];
    for (query, message) in cases {
        let (status, body) = server.http("POST", &format!("/nacos/v1/ns/instance?{query}"), None);
        assert_eq!(status, 400, "{query} → {body}");
        assert!(
            body.contains(message),
            "{query}: expected '{message}' in '{body}'"
        );
    }
    assert_empty(&server, "bad");
    let long_metadata = format!("%7B%22k%22%3A%22{}%22%7D", "v".repeat(1100));
    let (status, body) = server.http(
        "POST",
        &format!(
            "/nacos/v1/ns/instance?serviceName=bad&ip=10.0.0.1&port=1&metadata={long_metadata}"
        ),
        None,
    );
    assert_eq!(status, 400, "{body}");
    assert_empty(&server, "bad");
    let (status, body) = server.http(
        "PUT",
        "/nacos/v1/ns/instance/beat?serviceName=bad&beat=%7Bnot-json",
        None,
    );
    assert_eq!(status, 400, "{body}");
    let (status, body) = server.http("GET", "/nacos/v1/ns/service/list?pageNo=1", None);
    assert_eq!(
        (status, body.as_str()),
        (400, "Param 'pageSize' is required.")
    );
    let (status, _) = server.http(
        "GET",
        "/nacos/v1/ns/service/list?pageNo=0&pageSize=10",
        None,
    );
    assert_eq!(status, 400);
}

/// Unknown paths are 404, known paths with the wrong method 405, both as JSON.
#[test]
fn unknown_endpoints() {
    let server = Server::start();
    let (status, body) = server.http("GET", "/nacos/v1/ns/nothing", None);
    assert_eq!(status, 404);
    assert!(body.contains("\"status\":404"), "{body}");
    assert_eq!(server.http("GET", "/elsewhere", None).0, 404);
    assert_eq!(
        server.http("DELETE", "/nacos/v1/ns/instance/list", None).0,
        405
    );
}

/// Oversized heads get 431, oversized bodies 413, unknown transfer codings 501, garbage 400; each
/// closes only its own connection.
#[test]
fn limits_and_garbage() {
    let server = Server::start();
    let mut keep = TcpStream::connect(("127.0.0.1", server.http_port)).unwrap();
    keep.set_read_timeout(Some(Duration::from_secs(5))).unwrap();

    let big_header = format!(
        "GET /nacos/v1/ns/operator/metrics HTTP/1.1\r\nX-Big: {}\r\n\r\n",
        "a".repeat(20_000)
    );
    assert!(raw(&server, big_header.as_bytes()).starts_with("HTTP/1.1 431 "));
    let mut many = String::from("GET / HTTP/1.1\r\n");
    for i in 0..100 {
        many.push_str(&format!("H{i}: v\r\n"));
    }
    many.push_str("\r\n");
    assert!(raw(&server, many.as_bytes()).starts_with("HTTP/1.1 431 "));
    let big_body =
        "POST /nacos/v1/ns/instance HTTP/1.1\r\nContent-Length: 999999999\r\n\r\nserviceName=x";
    assert!(raw(&server, big_body.as_bytes()).starts_with("HTTP/1.1 413 "));
    let gzip = "POST /nacos/v1/ns/instance HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n";
    assert!(raw(&server, gzip.as_bytes()).starts_with("HTTP/1.1 501 "));
    let huge = format!(
        "POST /nacos/v1/ns/instance HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n",
        64 * 1024 * 1024
    );
    assert!(raw(&server, huge.as_bytes()).starts_with("HTTP/1.1 413 "));
    assert!(raw(
        &server,
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n"
    )
    .starts_with("HTTP/1.1 400 "));
    assert!(raw(&server, b"GET / HTTP/1.1\r\nBad Header Line\r\n\r\n").starts_with("HTTP/1.1 400 "));

    // The connection opened before all that still works.
    keep.write_all(b"GET /nacos/v1/ns/operator/metrics HTTP/1.1\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = keep.read(&mut buf).unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(
        text.starts_with("HTTP/1.1 200 ") && text.ends_with("{\"status\":\"UP\"}"),
        "{text}"
    );
}

/// Keep-alive with pipelining: three requests in one write are answered in order.
#[test]
fn pipelined_requests_answered_in_order() {
    let server = Server::start();
    let requests = "POST /nacos/v1/ns/instance?serviceName=pipe&ip=10.0.0.1&port=1 HTTP/1.1\r\n\r\n\
        GET /nacos/v1/ns/instance/list?serviceName=pipe HTTP/1.1\r\n\r\n\
        DELETE /nacos/v1/ns/instance?serviceName=pipe&ip=10.0.0.1&port=1 HTTP/1.1\r\nContent-Length: 0\r\n\r\n\
        GET /nacos/v1/ns/instance/list?serviceName=pipe HTTP/1.1\r\nConnection: close\r\n\r\n";
    let out = raw(&server, requests.as_bytes());
    let responses: Vec<&str> = out.split("HTTP/1.1 ").filter(|s| !s.is_empty()).collect();
    assert_eq!(responses.len(), 4, "{out}");
    assert!(responses[0].ends_with("\r\n\r\nok"));
    assert!(responses[1].contains("\"port\":1"), "{}", responses[1]);
    assert!(responses[2].ends_with("\r\n\r\nok"));
    assert!(responses[3].contains("\"hosts\":[]"), "{}", responses[3]);
}

/// A body split across writes, and a client expecting 100-continue, are both served.
#[test]
fn split_body_and_expect_continue() {
    let server = Server::start();
    let body = "serviceName=split&ip=10.0.0.1&port=1";
    let head = format!("POST /nacos/v1/ns/instance HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n", body.len());
    let mut stream = TcpStream::connect(("127.0.0.1", server.http_port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    let mut buf = [0u8; 256];
    let n = stream.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 100 Continue"));
    stream.write_all(&body.as_bytes()[..10]).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    stream.write_all(&body.as_bytes()[10..]).unwrap();
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    assert!(String::from_utf8_lossy(&out).ends_with("\r\n\r\nok"));
    let (_, list) = server.http("GET", "/nacos/v1/ns/instance/list?serviceName=split", None);
    assert!(list.contains("\"port\":1"), "{list}");
}

/// A client that never finishes its head is dropped after the head timeout, while other
/// clients are served meanwhile.
#[test]
fn slow_header_client_is_dropped() {
    let server = Server::start();
    let mut slow = TcpStream::connect(("127.0.0.1", server.http_port)).unwrap();
    slow.write_all(b"GET /nacos/v1/ns/operator/metrics HTTP/1.1\r\nX-Slow: ")
        .unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let started = Instant::now();
    assert_eq!(
        server.http("GET", "/nacos/v1/ns/operator/metrics", None).0,
        200
    );
    let mut buf = [0u8; 64];
    let closed = matches!(slow.read(&mut buf), Ok(0) | Err(_));
    assert!(
        closed,
        "the slow client got an answer instead of being dropped"
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(9) && waited < Duration::from_secs(15),
        "dropped after {waited:?}"
    );
}

/// A chunked form body (as some HTTP libraries stream it) is read like a sized one.
#[test]
fn chunked_form_body_is_accepted() {
    let server = Server::start();
    let body = "serviceName=chunky&ip=10.0.0.1&port=9";
    let (a, b) = body.split_at(12);
    let request = format!(
        "POST /nacos/v1/ns/instance HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\n\r\n",
        a.len(),
        b.len()
    );
    let out = raw(&server, request.as_bytes());
    assert!(
        out.starts_with("HTTP/1.1 200 ") && out.ends_with("ok"),
        "{out}"
    );
    let (_, list) = server.http("GET", "/nacos/v1/ns/instance/list?serviceName=chunky", None);
    assert!(list.contains("\"port\":9"), "{list}");
}
