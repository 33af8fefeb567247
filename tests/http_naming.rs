//! The Nacos HTTP v1/v2 naming API of the real binary, driven with raw HTTP: the behaviour
//! real clients rely on, endpoint by endpoint.

mod common;

use common::Server;
use serde_json::Value;

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

fn list(server: &Server, query: &str) -> Value {
    let (status, body) = server.http("GET", &format!("/nacos/v1/ns/instance/list?{query}"), None);
    assert_eq!(status, 200, "{body}");
    json(&body)
}

fn ports(info: &Value) -> Vec<u64> {
    let mut ports: Vec<u64> = info["hosts"]
        .as_array()
        .unwrap_or_else(|| panic!("no hosts in {info}"))
        .iter()
        .map(|h| h["port"].as_u64().unwrap())
        .collect();
    ports.sort();
    ports
}

/// Register, list (with every ServiceInfo field), get, deregister over v1.
#[test]
fn v1_register_list_get_deregister() {
    let server = Server::start();
    let q = "serviceName=orders&ip=10.0.0.1&port=8080&weight=2.5&metadata=%7B%22v%22%3A%221%22%7D";
    assert_eq!(
        server.http("POST", &format!("/nacos/v1/ns/instance?{q}"), None),
        (200, "ok".into())
    );
    let body = "serviceName=orders&ip=10.0.0.2&port=8080&clusterName=az-1";
    assert_eq!(
        server.http("POST", "/nacos/v1/ns/instance", Some(body)).0,
        200
    );

    let info = list(&server, "serviceName=orders");
    assert_eq!(info["name"], "DEFAULT_GROUP@@orders");
    assert_eq!(info["groupName"], "DEFAULT_GROUP");
    assert_eq!(info["clusters"], "");
    assert_eq!(info["cacheMillis"], 10000);
    assert_eq!(info["checksum"], "");
    assert_eq!(info["valid"], true);
    assert_eq!(info["reachProtectionThreshold"], false);
    assert!(info["lastRefTime"].as_u64().unwrap() > 1_600_000_000_000);
    let hosts = info["hosts"].as_array().unwrap();
    assert_eq!(hosts.len(), 2);
    let first = hosts.iter().find(|h| h["ip"] == "10.0.0.1").unwrap();
    assert_eq!(
        first["instanceId"],
        "10.0.0.1#8080#DEFAULT#DEFAULT_GROUP@@orders"
    );
    assert_eq!(first["weight"], 2.5);
    assert_eq!(first["metadata"]["v"], "1");
    assert_eq!(first["healthy"], true);
    assert_eq!(first["ephemeral"], true);
    assert_eq!(first["serviceName"], "DEFAULT_GROUP@@orders");
    assert_eq!(first["instanceHeartBeatTimeOut"], 15000);

    let info = list(&server, "serviceName=orders&clusters=az-1");
    assert_eq!(info["clusters"], "az-1", "clusters echoed verbatim");
    assert_eq!(info["hosts"].as_array().unwrap().len(), 1);
    assert_eq!(info["hosts"][0]["clusterName"], "az-1");

    let (status, body) = server.http(
        "GET",
        "/nacos/v1/ns/instance?serviceName=orders&ip=10.0.0.1&port=8080",
        None,
    );
    assert_eq!(status, 200, "{body}");
    let one = json(&body);
    assert_eq!(one["service"], "DEFAULT_GROUP@@orders");
    assert_eq!(one["clusterName"], "DEFAULT");
    let (status, body) = server.http(
        "GET",
        "/nacos/v1/ns/instance?serviceName=orders&ip=10.9.9.9&port=1",
        None,
    );
    assert_eq!((status, body.as_str()), (404, "no matched ip found!"));

    let (status, _) = server.http(
        "DELETE",
        "/nacos/v1/ns/instance?serviceName=orders&ip=10.0.0.1&port=8080",
        None,
    );
    assert_eq!(status, 200);
    assert_eq!(ports(&list(&server, "serviceName=orders")), vec![8080]);
    let info = list(&server, "serviceName=orders");
    assert_eq!(info["hosts"][0]["ip"], "10.0.0.2");
    // Deregistering an unknown instance is not an error.
    let (status, body) = server.http(
        "DELETE",
        "/nacos/v1/ns/instance?serviceName=orders&ip=1.1.1.1&port=1",
        None,
    );
    assert_eq!((status, body.as_str()), (200, "ok"));
}

/// The same ip:port registering again replaces its instance (one per client and service).
#[test]
fn reregister_replaces() {
    let server = Server::start();
    for (cluster, weight) in [("A", "1"), ("B", "3")] {
        let q = format!("serviceName=s&ip=10.0.0.1&port=1&clusterName={cluster}&weight={weight}");
        assert_eq!(
            server
                .http("POST", &format!("/nacos/v1/ns/instance?{q}"), None)
                .0,
            200
        );
    }
    let info = list(&server, "serviceName=s");
    assert_eq!(info["hosts"].as_array().unwrap().len(), 1);
    assert_eq!(info["hosts"][0]["clusterName"], "B");
    assert_eq!(info["hosts"][0]["weight"], 3.0);
}

/// Blank, "public" and "null" namespaces are one; other namespaces and groups are separate;
/// grouped service names work in place of groupName.
#[test]
fn namespaces_and_groups() {
    let server = Server::start();
    let reg = |q: &str| {
        assert_eq!(
            server
                .http("POST", &format!("/nacos/v1/ns/instance?{q}"), None)
                .0,
            200
        )
    };
    reg("serviceName=svc&ip=1.0.0.1&port=1&namespaceId=");
    reg("serviceName=svc&ip=1.0.0.2&port=1&namespaceId=null");
    reg("serviceName=svc&ip=1.0.0.3&port=1&namespaceId=public");
    reg("serviceName=svc&ip=1.0.0.4&port=1&namespaceId=dev");
    reg("serviceName=G1%40%40svc&ip=1.0.0.5&port=1");
    reg("serviceName=svc&groupName=G1&ip=1.0.0.6&port=1");
    assert_eq!(
        list(&server, "serviceName=svc")["hosts"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        list(&server, "serviceName=svc&namespaceId=dev")["hosts"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let g1 = list(&server, "serviceName=svc&groupName=G1");
    assert_eq!(g1["name"], "G1@@svc");
    assert_eq!(g1["groupName"], "G1");
    assert_eq!(g1["hosts"].as_array().unwrap().len(), 2);
    assert_eq!(
        list(&server, "serviceName=G1%40%40svc")["hosts"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // A service that does not exist lists empty, not an error.
    assert_eq!(
        list(&server, "serviceName=nothing")["hosts"],
        serde_json::json!([])
    );
}

/// Beats: light beat of an unknown instance is 20404; beat JSON re-registers; the reply
/// carries the instance's interval; v2 beat is not wrapped.
#[test]
fn beats() {
    let server = Server::start();
    let (status, body) = server.http(
        "PUT",
        "/nacos/v1/ns/instance/beat?serviceName=b&ip=10.0.0.1&port=9",
        None,
    );
    assert_eq!(status, 200);
    assert_eq!(
        json(&body),
        serde_json::json!({"clientBeatInterval":5000,"code":20404,"lightBeatEnabled":true})
    );
    let beat = r#"{"ip":"10.0.0.1","port":9,"serviceName":"DEFAULT_GROUP@@b","cluster":"c1","weight":1.0,"metadata":{"preserved.heart.beat.interval":"2000"},"scheduled":false,"period":5000,"stopped":false}"#;
    let form = format!("serviceName=DEFAULT_GROUP%40%40b&beat={}", urlencode(beat));
    let (status, body) = server.http("PUT", "/nacos/v1/ns/instance/beat", Some(&form));
    assert_eq!(status, 200, "{body}");
    let reply = json(&body);
    assert_eq!(reply["code"], 10200);
    assert_eq!(reply["clientBeatInterval"], 2000);
    let info = list(&server, "serviceName=b");
    assert_eq!(info["hosts"][0]["clusterName"], "c1");
    let (status, body) = server.http(
        "PUT",
        "/nacos/v2/ns/instance/beat?serviceName=b&ip=10.0.0.1&port=9",
        None,
    );
    assert_eq!(status, 200);
    assert_eq!(json(&body)["code"], 10200, "v2 beat is unwrapped: {body}");
}

fn urlencode(raw: &str) -> String {
    raw.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// PUT and DELETE read form bodies too, including unencoded JSON as Go clients send it.
#[test]
fn form_bodies_for_every_method() {
    let server = Server::start();
    assert_eq!(
        server
            .http(
                "POST",
                "/nacos/v1/ns/instance",
                Some("serviceName=f&ip=10.0.0.1&port=1")
            )
            .0,
        200
    );
    let raw_json = r#"serviceName=f&ip=10.0.0.1&port=1&weight=4&metadata={"k":"v"}"#;
    let (status, body) = server.http("PUT", "/nacos/v1/ns/instance", Some(raw_json));
    assert_eq!((status, body.as_str()), (200, "ok"));
    let info = list(&server, "serviceName=f");
    assert_eq!(info["hosts"][0]["weight"], 4.0);
    assert_eq!(info["hosts"][0]["metadata"]["k"], "v");
    let (status, _) = server.http(
        "PATCH",
        "/nacos/v1/ns/instance",
        Some(r#"serviceName=f&ip=10.0.0.1&port=1&metadata={"k2":"v2"}"#),
    );
    assert_eq!(status, 200);
    let info = list(&server, "serviceName=f");
    assert_eq!(
        info["hosts"][0]["metadata"]["k"], "v",
        "patch merges metadata"
    );
    assert_eq!(info["hosts"][0]["metadata"]["k2"], "v2");
    assert_eq!(info["hosts"][0]["weight"], 4.0, "patch keeps the weight");
    let (status, _) = server.http(
        "DELETE",
        "/nacos/v1/ns/instance",
        Some("serviceName=f&ip=10.0.0.1&port=1"),
    );
    assert_eq!(status, 200);
    assert_eq!(
        list(&server, "serviceName=f")["hosts"],
        serde_json::json!([])
    );
    let (status, body) = server.http(
        "PUT",
        "/nacos/v1/ns/instance",
        Some("serviceName=none&ip=10.0.0.1&port=1"),
    );
    assert_eq!(status, 400);
    assert!(body.contains("service not found"), "{body}");
}

/// Services: create (persistent), conflict with ephemeral registration, get, update, list,
/// delete rules.
#[test]
fn service_crud_and_kinds() {
    let server = Server::start();
    let (status, body) = server.http(
        "POST",
        "/nacos/v1/ns/service?serviceName=p&protectThreshold=0.5&metadata=k%3Dv",
        None,
    );
    assert_eq!((status, body.as_str()), (200, "ok"));
    let (status, body) = server.http("POST", "/nacos/v1/ns/service?serviceName=p", None);
    assert_eq!(status, 400);
    assert_eq!(body, "specified service DEFAULT_GROUP@@p already exists!");
    let (status, body) = server.http(
        "POST",
        "/nacos/v1/ns/instance?serviceName=p&ip=10.0.0.1&port=1",
        None,
    );
    assert_eq!(status, 400);
    assert!(body.contains("Current service DEFAULT_GROUP@@p is persistent service, can't register ephemeral instance."), "{body}");
    assert_eq!(
        list(&server, "serviceName=p")["hosts"],
        serde_json::json!([]),
        "nothing stored"
    );
    let (status, _) = server.http(
        "POST",
        "/nacos/v1/ns/instance?serviceName=p&ip=10.0.0.1&port=1&ephemeral=false",
        None,
    );
    assert_eq!(status, 200);
    let (status, body) = server.http("GET", "/nacos/v1/ns/service?serviceName=p", None);
    assert_eq!(status, 200);
    let detail = json(&body);
    assert_eq!(detail["name"], "p");
    assert_eq!(detail["groupName"], "DEFAULT_GROUP");
    assert_eq!(detail["protectThreshold"], 0.5);
    assert_eq!(detail["metadata"]["k"], "v");
    assert_eq!(detail["clusters"][0]["name"], "DEFAULT");
    let (status, body) = server.http("PUT", "/nacos/v1/ns/service?serviceName=p", None);
    assert_eq!(
        (status, body.as_str()),
        (400, "Param 'protectThreshold' is required.")
    );
    assert_eq!(
        server
            .http(
                "PUT",
                "/nacos/v1/ns/service?serviceName=p&protectThreshold=0.1",
                None
            )
            .0,
        200
    );
    let (status, body) = server.http("DELETE", "/nacos/v1/ns/service?serviceName=p", None);
    assert_eq!(status, 400);
    assert!(body.contains("is not empty"), "{body}");
    server.http(
        "DELETE",
        "/nacos/v1/ns/instance?serviceName=p&ip=10.0.0.1&port=1&ephemeral=false",
        None,
    );
    assert_eq!(
        server
            .http("DELETE", "/nacos/v1/ns/service?serviceName=p", None)
            .0,
        200
    );
    let (status, body) = server.http("DELETE", "/nacos/v1/ns/service?serviceName=p", None);
    assert_eq!(
        (status, body.as_str()),
        (400, "service DEFAULT_GROUP@@p not found!")
    );
    let (status, body) = server.http("GET", "/nacos/v1/ns/service?serviceName=p", None);
    assert_eq!(status, 400);
    assert!(body.starts_with("service not found"), "{body}");
}

/// Services spread over both cores: every op reaches its owner, and list/metrics aggregate
/// over all cores.
#[test]
fn services_across_cores() {
    let server = Server::start_with(&["--cores", "2"]);
    for i in 0..40 {
        let q = format!("serviceName=svc-{i:02}&ip=10.0.0.1&port={}", 1000 + i);
        assert_eq!(
            server
                .http("POST", &format!("/nacos/v1/ns/instance?{q}"), None)
                .0,
            200
        );
    }
    for i in 0..40 {
        assert_eq!(
            ports(&list(&server, &format!("serviceName=svc-{i:02}"))),
            vec![1000 + i]
        );
    }
    let (status, body) = server.http(
        "GET",
        "/nacos/v1/ns/service/list?pageNo=2&pageSize=15",
        None,
    );
    assert_eq!(status, 200);
    let page = json(&body);
    assert_eq!(page["count"], 40);
    let doms: Vec<&str> = page["doms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    assert_eq!(doms.len(), 15);
    assert_eq!(doms[0], "svc-15");
    let (_, body) = server.http(
        "GET",
        "/nacos/v2/ns/service/list?pageNo=1&pageSize=1000",
        None,
    );
    let v2 = json(&body);
    assert_eq!(v2["data"]["count"], 40);
    assert_eq!(v2["data"]["services"].as_array().unwrap().len(), 40);
    let (_, body) = server.http(
        "GET",
        "/nacos/v1/ns/operator/metrics?onlyStatus=false",
        None,
    );
    let metrics = json(&body);
    assert_eq!(metrics["status"], "UP");
    assert_eq!(metrics["serviceCount"], 40);
    assert_eq!(metrics["instanceCount"], 40);
}

/// v2 OpenAPI: wrapper on success and errors, v2 field names.
#[test]
fn v2_openapi() {
    let server = Server::start();
    let (status, body) = server.http(
        "POST",
        "/nacos/v2/ns/instance",
        Some("serviceName=v&ip=10.0.0.1&port=1&groupName=G"),
    );
    assert_eq!(status, 200);
    assert_eq!(
        json(&body),
        serde_json::json!({"code":0,"message":"success","data":"ok"})
    );
    let (_, body) = server.http(
        "GET",
        "/nacos/v2/ns/instance/list?serviceName=v&groupName=G",
        None,
    );
    let wrapped = json(&body);
    assert_eq!(wrapped["code"], 0);
    assert_eq!(wrapped["data"]["name"], "G@@v");
    assert_eq!(wrapped["data"]["hosts"][0]["ip"], "10.0.0.1");
    let (_, body) = server.http(
        "GET",
        "/nacos/v2/ns/instance?serviceName=v&groupName=G&ip=10.0.0.1&port=1",
        None,
    );
    assert_eq!(json(&body)["data"]["serviceName"], "G@@v");
    let (status, body) = server.http(
        "POST",
        "/nacos/v2/ns/instance",
        Some("serviceName=v&port=1"),
    );
    assert_eq!(status, 400);
    let err = json(&body);
    assert_eq!(err["code"], 10000);
    assert_eq!(
        err["data"],
        "Required parameter 'ip' type String is not present"
    );
    let (status, body) = server.http(
        "POST",
        "/nacos/v2/ns/instance",
        Some("serviceName=v&ip=10.0.0.1&port=1&weight=20000"),
    );
    assert_eq!(status, 400);
    assert_eq!(json(&body)["code"], 21001);
    let (status, body) = server.http("GET", "/nacos/v2/ns/service?serviceName=nothing", None);
    assert_eq!(status, 404);
    assert_eq!(json(&body)["code"], 21008);
    let (status, body) = server.http(
        "POST",
        "/nacos/v2/ns/service",
        Some("serviceName=v2svc&protectThreshold=0.3"),
    );
    assert_eq!(
        (status, json(&body)["data"].clone()),
        (200, Value::from("ok"))
    );
    let (_, body) = server.http("GET", "/nacos/v2/ns/service?serviceName=v2svc", None);
    let detail = json(&body);
    assert_eq!(detail["data"]["serviceName"], "v2svc");
    assert_eq!(detail["data"]["ephemeral"], false);
    let (_, body) = server.http("GET", "/nacos/v2/ns/operator/metrics", None);
    assert_eq!(json(&body)["data"]["status"], "UP");
}

/// Operator, console and cluster endpoints.
#[test]
fn operator_and_console() {
    let server = Server::start();
    assert_eq!(
        server.http("GET", "/nacos/v1/ns/operator/metrics", None),
        (200, r#"{"status":"UP"}"#.into())
    );
    assert_eq!(
        server.http("GET", "/nacos/v1/console/health/liveness", None),
        (200, "OK".into())
    );
    assert_eq!(
        server.http("GET", "/nacos/v1/console/health/readiness", None),
        (200, "OK".into())
    );
    let (status, body) = server.http("GET", "/nacos/v1/core/cluster/nodes", None);
    assert_eq!(status, 200);
    let nodes = json(&body);
    assert_eq!(nodes["code"], 200);
    assert_eq!(nodes["data"][0]["state"], "UP");
    assert_eq!(nodes["data"][0]["port"], server.http_port);
    let (_, body) = server.http("GET", "/nacos/v1/ns/operator/switches", None);
    let switches = json(&body);
    assert_eq!(
        switches["name"],
        "00-00---000-NACOS_SWITCH_DOMAIN-000---00-00"
    );
    assert_eq!(switches["lightBeatEnabled"], true);
    let (status, _) = server.http(
        "PUT",
        "/nacos/v1/ns/operator/switches?entry=clientBeatInterval&value=7000",
        None,
    );
    assert_eq!(status, 200);
    // Every core must see the change: register services owned by either core and beat.
    for i in 0..8 {
        let svc = format!("sw-{i}");
        server.http(
            "POST",
            &format!("/nacos/v1/ns/instance?serviceName={svc}&ip=10.0.0.1&port=1"),
            None,
        );
        let (_, body) = server.http(
            "PUT",
            &format!("/nacos/v1/ns/instance/beat?serviceName={svc}&ip=10.0.0.1&port=1"),
            None,
        );
        assert_eq!(json(&body)["clientBeatInterval"], 7000, "{svc}");
    }
    let (status, body) = server.http(
        "PUT",
        "/nacos/v1/ns/operator/switches?entry=bogus&value=1",
        None,
    );
    assert_eq!(
        (status, body.as_str()),
        (400, "update entry not found: bogus")
    );
    let (status, body) = server.http(
        "GET",
        "/nacos/v1/ns/instance/statuses?key=DEFAULT_GROUP%40%40sw-0",
        None,
    );
    assert_eq!(status, 200);
    assert_eq!(json(&body), serde_json::json!({"ips":["10.0.0.1:1_true"]}));
}

/// Protect threshold: at or below it, every instance is returned as healthy.
#[test]
fn protect_threshold_applies() {
    let server = Server::start();
    server.http(
        "POST",
        "/nacos/v1/ns/service?serviceName=pt&protectThreshold=0.6",
        None,
    );
    server.http(
        "POST",
        "/nacos/v1/ns/instance?serviceName=pt&ip=10.0.0.1&port=1&ephemeral=false",
        None,
    );
    server.http(
        "POST",
        "/nacos/v1/ns/instance?serviceName=pt&ip=10.0.0.2&port=1&ephemeral=false&healthy=false",
        None,
    );
    let info = list(&server, "serviceName=pt&healthyOnly=true");
    assert_eq!(info["reachProtectionThreshold"], true);
    assert_eq!(info["hosts"].as_array().unwrap().len(), 2);
    assert!(info["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .all(|h| h["healthy"] == true));
    server.http(
        "PUT",
        "/nacos/v1/ns/service?serviceName=pt&protectThreshold=0.2",
        None,
    );
    let info = list(&server, "serviceName=pt&healthyOnly=true");
    assert_eq!(info["reachProtectionThreshold"], false);
    assert_eq!(ports(&info), vec![1]);
    assert_eq!(info["hosts"][0]["ip"], "10.0.0.1");
}
