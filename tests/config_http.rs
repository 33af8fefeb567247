//! The config center's HTTP API of the real binary, by raw requests: get/publish/delete with
//! Nacos's headers and error shapes, CAS, grays, and long polling (held, woken by a change,
//! timed out, No-Hangup, short polling, malformed records).

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::{send, HttpReply, Server};

const CONFIGS: &str = "/nacos/v1/cs/configs";
const LISTENER: &str = "/nacos/v1/cs/configs/listener";
const GROUP: &str = "HTTP_CFG";

fn md5_of(server: &Server, data_id: &str) -> String {
    let reply = request(
        server,
        "GET",
        &format!("{CONFIGS}?dataId={data_id}&group={GROUP}"),
    );
    assert_eq!(reply.status, 200, "{reply:?}");
    reply.header("content-md5").unwrap_or_default().to_string()
}

fn request(server: &Server, method: &str, path: &str) -> HttpReply {
    send(server, method, path, &[], None)
}

fn publish(server: &Server, data_id: &str, content: &str) {
    let body = format!("dataId={data_id}&group={GROUP}&content={content}");
    let reply = send(server, "POST", CONFIGS, &[], Some(&body));
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (200, "true"),
        "{reply:?}"
    );
}

/// `Listening-Configs` for `(dataId, md5, tenant)` records, form-encoded.
fn listening(records: &[(&str, &str, Option<&str>)]) -> String {
    let mut value = String::new();
    for (data_id, md5, tenant) in records {
        value.push_str(&format!("{data_id}\u{2}{GROUP}\u{2}{md5}"));
        if let Some(tenant) = tenant {
            value.push_str(&format!("\u{2}{tenant}"));
        }
        value.push('\u{1}');
    }
    let encoded: String = value
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("Listening-Configs={encoded}")
}

fn long_poll(server: &Server, body: &str, timeout_ms: &str) -> (HttpReply, Duration) {
    let started = Instant::now();
    let reply = send(
        server,
        "POST",
        LISTENER,
        &[("Long-Pulling-Timeout", timeout_ms)],
        Some(body),
    );
    (reply, started.elapsed())
}

#[test]
fn get_publish_delete_with_nacos_headers() {
    let server = Server::start();
    let miss = request(
        &server,
        "GET",
        &format!("{CONFIGS}?dataId=none&group={GROUP}"),
    );
    assert_eq!(
        (miss.status, miss.body.as_str()),
        (404, "config data not exist\n")
    );
    let body = format!("dataId=h.json&group={GROUP}&content=%7B%22a%22%3A1%7D&type=json");
    assert_eq!(
        send(&server, "POST", CONFIGS, &[], Some(&body)).body,
        "true"
    );
    let got = request(
        &server,
        "GET",
        &format!("{CONFIGS}?dataId=h.json&group={GROUP}"),
    );
    assert_eq!((got.status, got.body.as_str()), (200, r#"{"a":1}"#));
    assert_eq!(got.header("config-type"), Some("json"));
    assert_eq!(
        got.header("content-md5"),
        Some("bb6cb5c68df4652941caf652a366f2d8")
    );
    assert!(got
        .header("last-modified")
        .is_some_and(|v| v.ends_with("GMT")));
    assert_eq!(got.header("cache-control"), Some("no-cache,no-store"));
    let v2 = request(
        &server,
        "GET",
        &format!("/nacos/v2/cs/config?dataId=h.json&group={GROUP}"),
    );
    let value: serde_json::Value = serde_json::from_str(&v2.body).unwrap();
    assert_eq!(
        (value["code"].as_i64(), value["data"].as_str()),
        (Some(0), Some(r#"{"a":1}"#))
    );
    let deleted = request(
        &server,
        "DELETE",
        &format!("{CONFIGS}?dataId=h.json&group={GROUP}"),
    );
    assert_eq!(deleted.body, "true");
    let gone = request(
        &server,
        "GET",
        &format!("{CONFIGS}?dataId=h.json&group={GROUP}"),
    );
    assert_eq!(gone.status, 404);
}

#[test]
fn invalid_writes_are_refused_and_store_nothing() {
    let server = Server::start();
    let cases = [
        format!("dataId=&group={GROUP}&content=x"),
        format!("dataId=bad%20id&group={GROUP}&content=x"),
        format!("dataId=ok&group={GROUP}&content="),
        format!("dataId=ok&group={GROUP}&content=x&tenant=bad%2Ftenant"),
        format!("dataId=ok&group={GROUP}&content=x&tag=way-too-long-a-tag-name"),
    ];
    for body in &cases {
        let reply = send(&server, "POST", CONFIGS, &[], Some(body));
        assert_eq!(reply.status, 400, "{body}: {reply:?}");
    }
    let v2 = send(
        &server,
        "POST",
        "/nacos/v2/cs/config",
        &[],
        Some(&format!("dataId=ok&group={GROUP}")),
    );
    let value: serde_json::Value = serde_json::from_str(&v2.body).unwrap();
    // Java's "parameter missing" for an absent content.
    assert_eq!(
        (v2.status, value["code"].as_i64()),
        (400, Some(10000)),
        "{v2:?}"
    );
    let got = request(
        &server,
        "GET",
        &format!("{CONFIGS}?dataId=ok&group={GROUP}"),
    );
    assert_eq!(got.status, 404, "a refused write stored something");
}

#[test]
fn compare_and_set_and_grays() {
    let server = Server::start();
    publish(&server, "cas", "one");
    let md5 = md5_of(&server, "cas");
    let body = format!("dataId=cas&group={GROUP}&content=two");
    let stale = send(&server, "POST", CONFIGS, &[("casMd5", "0123")], Some(&body));
    assert_eq!(stale.status, 500, "{stale:?}");
    assert!(stale.body.starts_with("caused: "), "{stale:?}");
    let fresh = send(&server, "POST", CONFIGS, &[("casMd5", &md5)], Some(&body));
    assert_eq!(fresh.body, "true");

    // A beta for 10.9.9.9 (the reader names itself through X-Forwarded-For).
    let beta = format!("dataId=cas&group={GROUP}&content=beta");
    let reply = send(
        &server,
        "POST",
        CONFIGS,
        &[("betaIps", "10.9.9.9")],
        Some(&beta),
    );
    assert_eq!(reply.body, "true");
    let path = format!("{CONFIGS}?dataId=cas&group={GROUP}");
    let beta_reader = send(
        &server,
        "GET",
        &path,
        &[("X-Forwarded-For", "10.9.9.9")],
        None,
    );
    assert_eq!(
        (beta_reader.body.as_str(), beta_reader.header("isbeta")),
        ("beta", Some("true"))
    );
    assert_eq!(request(&server, "GET", &path).body, "two");

    // A tag gray: read with the tag, and a tag without a gray reads nothing.
    let tagged = format!("dataId=cas&group={GROUP}&content=tagged&tag=blue");
    assert_eq!(
        send(&server, "POST", CONFIGS, &[], Some(&tagged)).body,
        "true"
    );
    assert_eq!(
        request(&server, "GET", &format!("{path}&tag=blue")).body,
        "tagged"
    );
    assert_eq!(
        request(&server, "GET", &format!("{path}&tag=red")).status,
        404
    );
    // Stopping the beta leaves the formal version.
    let stop = request(&server, "DELETE", &format!("{path}&beta=true"));
    assert_eq!(stop.status, 200, "{stop:?}");
    let after = send(
        &server,
        "GET",
        &path,
        &[("X-Forwarded-For", "10.9.9.9")],
        None,
    );
    assert_eq!(after.body, "two");
}

#[test]
fn long_poll_is_woken_by_a_change_with_only_that_key() {
    // Two cores, many keys: the keys hash to both, the poll is held on one.
    let server = Server::start();
    let ids: Vec<String> = (0..12).map(|i| format!("lp-{i}")).collect();
    for id in &ids {
        publish(&server, id, &format!("v1-{id}"));
    }
    for changed in ["lp-3", "lp-8"] {
        let md5s: Vec<String> = ids.iter().map(|id| md5_of(&server, id)).collect();
        let records: Vec<(&str, &str, Option<&str>)> = ids
            .iter()
            .zip(&md5s)
            .map(|(id, md5)| (id.as_str(), md5.as_str(), None))
            .collect();
        let body = listening(&records);
        let port = server.http_port;
        let writer = thread::spawn(move || {
            // Whether the change lands before or after the poll is held, the answer is the
            // same: registration comes before the comparison.
            thread::sleep(Duration::from_millis(300));
            let body = format!("dataId={changed}&group={GROUP}&content=v2");
            common::http(port, "POST", CONFIGS, Some(&body))
        });
        let (reply, took) = long_poll(&server, &body, "30000");
        assert_eq!(writer.join().unwrap(), (200, "true".to_string()));
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body, format!("{changed}%02{GROUP}%01\n"));
        assert!(took < Duration::from_secs(10), "woken after {took:?}");
        assert_eq!(reply.header("content-type"), None);
        assert_eq!(reply.header("pragma"), Some("no-cache"));
    }
}

#[test]
fn long_poll_echoes_the_tenant_as_the_client_spelled_it() {
    let server = Server::start();
    publish(&server, "spelled", "a");
    // The client holds nothing: the config is new to it, reported at once.
    let body = listening(&[("spelled", "", Some("public"))]);
    let (reply, _) = long_poll(&server, &body, "30000");
    assert_eq!(reply.body, format!("spelled%02{GROUP}%02public%01\n"));
    let body = listening(&[("spelled", "", Some(""))]);
    let (reply, _) = long_poll(&server, &body, "30000");
    assert_eq!(reply.body, format!("spelled%02{GROUP}%01\n"));
    // A missing config and an empty md5 agree: nothing to report (No-Hangup answers now).
    let body = listening(&[("never-published", "", None)]);
    let reply = send(
        &server,
        "POST",
        LISTENER,
        &[
            ("Long-Pulling-Timeout", "30000"),
            ("Long-Pulling-Timeout-No-Hangup", "true"),
        ],
        Some(&body),
    );
    assert_eq!((reply.status, reply.body.as_str()), (200, ""));
}

#[test]
fn long_poll_times_out_empty_after_the_hold() {
    let server = Server::start();
    publish(&server, "quiet", "a");
    let md5 = md5_of(&server, "quiet");
    let body = listening(&[("quiet", &md5, None)]);
    // Asking for 3 s gets Java's minimum hold of 10 s.
    let (reply, took) = long_poll(&server, &body, "3000");
    assert_eq!((reply.status, reply.body.as_str()), (200, ""));
    assert!(
        took >= Duration::from_millis(9_500) && took < Duration::from_secs(15),
        "held {took:?}"
    );
    // The finished poll listens no more: a later change is seen by the next poll only.
    publish(&server, "quiet", "b");
    let (reply, _) = long_poll(&server, &body, "30000");
    assert_eq!(reply.body, format!("quiet%02{GROUP}%01\n"));
}

#[test]
fn short_poll_answers_at_once_in_body_and_header() {
    let server = Server::start();
    publish(&server, "short", "a");
    let md5 = md5_of(&server, "short");
    let changed = listening(&[("short", "stale", None)]);
    let reply = send(&server, "POST", LISTENER, &[], Some(&changed));
    assert_eq!(reply.body, format!("short%02{GROUP}%01\n"));
    assert_eq!(
        reply.header("probe-modify-response-new"),
        Some(format!("short%02{GROUP}%01").as_str())
    );
    let same = listening(&[("short", &md5, None)]);
    let reply = send(
        &server,
        "POST",
        LISTENER,
        &[("Client-Version", "2.3.0")],
        Some(&same),
    );
    assert_eq!((reply.status, reply.body.as_str()), (200, ""));
    assert_eq!(reply.header("probe-modify-response-new"), None);
}

#[test]
fn malformed_listens_are_400_and_the_server_goes_on() {
    let server = Server::start();
    let many: String = (0..10_001).map(|i| format!("d{i}%02G%02%01")).collect();
    let long_id = "d".repeat(300);
    let cases = [
        "Listening-Configs=".to_string(),
        "other=1".to_string(),
        "Listening-Configs=a%02b%02c%02d%02e%01".to_string(),
        "Listening-Configs=onlyone%01".to_string(),
        format!("Listening-Configs={many}"),
        format!("Listening-Configs={long_id}%02G%02%01"),
    ];
    for body in &cases {
        let reply = send(
            &server,
            "POST",
            LISTENER,
            &[("Long-Pulling-Timeout", "30000")],
            Some(body),
        );
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (400, "caused: invalid probeModify;"),
            "{}",
            &body[..body.len().min(80)]
        );
    }
    let body = listening(&[("x", "", None)]);
    let reply = send(
        &server,
        "POST",
        LISTENER,
        &[("Long-Pulling-Timeout", "soon")],
        Some(&body),
    );
    assert_eq!(reply.status, 400, "{reply:?}");
    publish(&server, "still-up", "yes");
}

/// A raw multipart POST (the import upload): (status, body).
fn upload(server: &Server, path: &str, file: Option<&[u8]>) -> (u16, serde_json::Value) {
    use std::io::{Read, Write};
    let boundary = "----nacoreTestBoundary";
    let mut body = Vec::new();
    if let Some(file) = file {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; \
                 filename=\"export.zip\"\r\nContent-Type: application/zip\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(file);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1\r\n--{boundary}--\r\n")
            .as_bytes(),
    );
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", server.http_port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&body).unwrap();
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).unwrap();
    let reply = String::from_utf8_lossy(&reply).into_owned();
    let status: u16 = reply[9..12].parse().unwrap();
    let json = reply
        .split_once("\r\n\r\n")
        .map(|(_, b)| serde_json::from_str(b).unwrap_or(serde_json::Value::Null))
        .unwrap_or_default();
    (status, json)
}

#[test]
fn import_publishes_an_export_zip_under_each_policy() {
    use nacore::config::archive::{export_zip, ArchiveItem};
    let server = Server::start();
    let item = |data_id: &str, content: &str| ArchiveItem {
        group: GROUP.into(),
        data_id: data_id.into(),
        content: content.into(),
        config_type: "yaml".into(),
        ..ArchiveItem::default()
    };
    let zip = export_zip(&[item("imp-a", "a: 1"), item("imp-b", "b: 1")], true).unwrap();
    let path = format!("{CONFIGS}?import=true&namespace=");
    let (status, reply) = upload(&server, &path, Some(&zip));
    assert_eq!(
        (status, reply["code"].as_u64()),
        (200, Some(200)),
        "{reply}"
    );
    assert_eq!(reply["data"]["succCount"].as_u64(), Some(2), "{reply}");
    let got = request(
        &server,
        "GET",
        &format!("{CONFIGS}?dataId=imp-b&group={GROUP}"),
    );
    assert_eq!(
        (got.body.as_str(), got.header("config-type")),
        ("b: 1", Some("yaml"))
    );

    // ABORT (the default) stops at the first config that exists.
    let zip = export_zip(&[item("imp-a", "a: 2"), item("imp-c", "c: 1")], true).unwrap();
    let (_, reply) = upload(&server, &path, Some(&zip));
    assert_eq!(reply["data"]["succCount"].as_u64(), Some(0), "{reply}");
    assert_eq!(reply["data"]["failData"][0]["dataId"], "imp-a", "{reply}");
    assert_eq!(reply["data"]["skipData"][0]["dataId"], "imp-c", "{reply}");
    // SKIP keeps what exists and imports the rest; OVERWRITE replaces.
    let (_, reply) = upload(&server, &format!("{path}&policy=SKIP"), Some(&zip));
    assert_eq!(reply["data"]["succCount"].as_u64(), Some(1), "{reply}");
    assert_eq!(
        request(
            &server,
            "GET",
            &format!("{CONFIGS}?dataId=imp-a&group={GROUP}")
        )
        .body,
        "a: 1"
    );
    let (_, reply) = upload(&server, &format!("{path}&policy=OVERWRITE"), Some(&zip));
    assert_eq!(reply["data"]["succCount"].as_u64(), Some(2), "{reply}");
    assert_eq!(
        request(
            &server,
            "GET",
            &format!("{CONFIGS}?dataId=imp-a&group={GROUP}")
        )
        .body,
        "a: 2"
    );

    // Bad uploads are answered with Java's result codes and import nothing.
    let (status, reply) = upload(&server, &path, Some(b"not a zip"));
    assert_eq!(
        (status, reply["code"].as_u64()),
        (200, Some(100_004)),
        "{reply}"
    );
    let (_, reply) = upload(&server, &path, None);
    assert_eq!(reply["code"].as_u64(), Some(100_005), "{reply}");
    let (status, _) = upload(&server, &format!("{path}&policy=MERGE"), Some(&zip));
    assert_eq!(status, 400);
    // A form body carries no file, as in Java.
    let not_multipart = send(&server, "POST", &path, &[], Some("file=x"));
    let value: serde_json::Value = serde_json::from_str(&not_multipart.body).unwrap();
    assert_eq!(value["code"].as_u64(), Some(100_005), "{not_multipart:?}");
}

/// The id of a formal config, from `show=all`.
fn id_of(server: &Server, data_id: &str) -> u64 {
    let reply = request(
        server,
        "GET",
        &format!("{CONFIGS}?dataId={data_id}&group={GROUP}&show=all"),
    );
    let value: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    value["id"]
        .as_u64()
        .or_else(|| value["id"].as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| panic!("no id in {value}"))
}

fn clone_into(server: &Server, query: &str, body: &str) -> (u16, serde_json::Value) {
    let headers = [("Content-Type", "application/json;charset=UTF-8")];
    let path = format!("{CONFIGS}?clone=true&{query}");
    let reply = send(server, "POST", &path, &headers, Some(body));
    let value = serde_json::from_str(&reply.body).unwrap_or(serde_json::Value::Null);
    (reply.status, value)
}

#[test]
fn clone_copies_configs_by_id_into_a_namespace() {
    let server = Server::start();
    publish(&server, "cl-a", "a=1");
    publish(&server, "cl-b", "b=1");
    let created = send(
        &server,
        "POST",
        "/nacos/v1/console/namespaces",
        &[],
        Some("customNamespaceId=cl-ns&namespaceName=clones"),
    );
    assert_eq!(created.body, "true", "{created:?}");
    let (a, b) = (id_of(&server, "cl-a"), id_of(&server, "cl-b"));
    let body = format!(
        r#"[{{"cfgId":{a},"dataId":"","group":""}},{{"cfgId":"{b}","dataId":"cl-b2","group":"CLONED"}}]"#
    );
    let (status, reply) = clone_into(&server, "tenant=cl-ns&policy=ABORT", &body);
    assert_eq!(
        (status, reply["code"].as_u64()),
        (200, Some(200)),
        "{reply}"
    );
    assert_eq!(reply["message"], "Clone Completed Successfully", "{reply}");
    assert_eq!(reply["data"]["succCount"].as_u64(), Some(2), "{reply}");
    let read = |query: &str| request(&server, "GET", &format!("{CONFIGS}?{query}")).body;
    assert_eq!(
        read(&format!("dataId=cl-a&group={GROUP}&tenant=cl-ns")),
        "a=1"
    );
    assert_eq!(read("dataId=cl-b2&group=CLONED&tenant=cl-ns"), "b=1");
    // The originals stay where they were.
    assert_eq!(read(&format!("dataId=cl-b&group={GROUP}")), "b=1");

    // Cloning again aborts at the first copy that exists; SKIP skips it.
    let (_, reply) = clone_into(&server, "tenant=cl-ns", &body);
    assert_eq!(reply["data"]["succCount"].as_u64(), Some(0), "{reply}");
    assert_eq!(reply["data"]["failData"][0]["dataId"], "cl-a", "{reply}");
    let (_, reply) = clone_into(&server, "tenant=cl-ns&policy=SKIP", &body);
    assert_eq!(reply["data"]["skipCount"].as_u64(), Some(2), "{reply}");

    // Refusals store nothing.
    let one = format!(r#"[{{"cfgId":{a}}}]"#);
    let (_, reply) = clone_into(&server, "tenant=no-such-ns", &one);
    assert_eq!(reply["code"].as_u64(), Some(100_001), "{reply}");
    let (_, reply) = clone_into(&server, "tenant=cl-ns", "[]");
    assert_eq!(reply["code"].as_u64(), Some(100_002), "{reply}");
    let (_, reply) = clone_into(&server, "tenant=cl-ns", r#"[{"cfgId":987654321}]"#);
    assert_eq!(reply["code"].as_u64(), Some(100_005), "{reply}");
    for (query, body) in [
        ("tenant=cl-ns", "{not json"),
        ("tenant=cl-ns", r#"[{"dataId":"x"}]"#),
        ("tenant=cl-ns&policy=MERGE", one.as_str()),
        ("policy=ABORT", one.as_str()),
    ] {
        let (status, reply) = clone_into(&server, query, body);
        assert_eq!(status, 400, "{query} {body}: {reply}");
    }
    let count = request(&server, "GET", "/nacos/v1/console/namespaces");
    let value: serde_json::Value = serde_json::from_str(&count.body).unwrap();
    let ns = value["data"]
        .as_array()
        .and_then(|all| all.iter().find(|n| n["namespace"] == "cl-ns"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(ns["configCount"].as_u64(), Some(2), "{value}");
}

#[test]
fn capacity_reports_java_defaults_with_live_usage() {
    let server = Server::start();
    for i in 0..5 {
        publish(&server, &format!("cap-{i}"), "x");
    }
    let reply = request(
        &server,
        "GET",
        &format!("/nacos/v1/cs/capacity?group={GROUP}"),
    );
    let value: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(value["code"].as_u64(), Some(200), "{value}");
    let data = &value["data"];
    assert_eq!(
        (data["usage"].as_u64(), data["quota"].as_u64()),
        (Some(5), Some(200)),
        "{value}"
    );
    assert_eq!(
        (data["maxSize"].as_u64(), data["group"].as_str()),
        (Some(102_400), Some(GROUP))
    );
    let tenant = request(&server, "GET", "/nacos/v1/cs/capacity?tenant=public");
    let value: serde_json::Value = serde_json::from_str(&tenant.body).unwrap();
    assert_eq!(value["data"]["usage"].as_u64(), Some(5), "{value}");
    let neither = request(&server, "GET", "/nacos/v1/cs/capacity");
    let value: serde_json::Value = serde_json::from_str(&neither.body).unwrap();
    assert_eq!(value["code"].as_u64(), Some(400), "{value}");
    let set = send(
        &server,
        "POST",
        "/nacos/v1/cs/capacity",
        &[],
        Some("group=G&quota=5"),
    );
    assert_eq!(set.status, 400, "{set:?}");
}
