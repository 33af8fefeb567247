//! Namespaces and config history over HTTP against the real binary: v1
//! `/nacos/v1/console/namespaces` and `/nacos/v1/cs/history*`, v2
//! `/nacos/v2/console/namespace*` and `/nacos/v2/cs/history*`, with bad input refused and
//! nothing stored, both surviving a kill -9, and old history pruned by the leader.

mod common;

use std::time::{Duration, Instant};

use common::Server;
use serde_json::Value;

const NS_V1: &str = "/nacos/v1/console/namespaces";
const NS_V2: &str = "/nacos/v2/console/namespace";
const HISTORY_V1: &str = "/nacos/v1/cs/history";
const HISTORY_V2: &str = "/nacos/v2/cs/history";

fn json_of(server: &Server, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
    let (status, text) = server.http(method, path, body);
    let value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{method} {path}: {status} {text:?} is not JSON: {e}"));
    (status, value)
}

fn publish(server: &Server, data_id: &str, tenant: &str, content: &str) {
    let body = format!("dataId={data_id}&group=G&tenant={tenant}&content={content}");
    let reply = server.http("POST", "/nacos/v1/cs/configs", Some(&body));
    assert_eq!(reply, (200, "true".to_string()));
}

/// The v1 list's ids, in order.
fn namespace_ids(server: &Server) -> Vec<String> {
    let (status, value) = json_of(server, "GET", NS_V1, None);
    assert_eq!(status, 200, "{value}");
    assert_eq!(value["code"], 200);
    value["data"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|n| n["namespace"].as_str().expect("an id").to_string())
        .collect()
}

fn namespace(server: &Server, id: &str) -> Value {
    let (status, value) = json_of(
        server,
        "GET",
        &format!("{NS_V1}?show=all&namespaceId={id}"),
        None,
    );
    assert_eq!(status, 200, "{value}");
    value
}

/// Polls `check` until it holds or `timeout` passes.
fn wait_until(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    check()
}

/// v1: list with public first, create (given and generated ids), check, show, rename,
/// delete; refusals answer `false` or 400 and store nothing.
#[test]
fn namespaces_v1() {
    let server = Server::start();
    let (_, list) = json_of(&server, "GET", NS_V1, None);
    let public = &list["data"][0];
    assert_eq!(public["namespace"], "");
    assert_eq!(public["namespaceShowName"], "public");
    assert_eq!(
        (public["type"].as_u64(), public["quota"].as_u64()),
        (Some(0), Some(200))
    );
    assert_eq!(list["data"].as_array().map(Vec::len), Some(1));

    let create = "customNamespaceId=dev&namespaceName=Dev&namespaceDesc=development";
    assert_eq!(
        server.http("POST", NS_V1, Some(create)),
        (200, "true".into())
    );
    publish(&server, "a", "dev", "x");
    publish(&server, "b", "dev", "x");
    publish(&server, "c", "", "x");
    let dev = namespace(&server, "dev");
    assert_eq!(dev["namespaceShowName"], "Dev");
    assert_eq!(dev["namespaceDesc"], "development");
    assert_eq!(
        (dev["type"].as_u64(), dev["configCount"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(namespace(&server, "")["configCount"], 1);
    assert_eq!(namespace(&server, "public")["namespace"], "");

    let check = |id: &str| {
        server.http(
            "GET",
            &format!("{NS_V1}?checkNamespaceIdExist=true&customNamespaceId={id}"),
            None,
        )
    };
    assert_eq!(check("dev"), (200, "true".into()));
    assert_eq!(check("nope"), (200, "false".into()));

    // Refused: a taken id, a bad id, a too-long id, an illegal name, the default's spelling.
    let long = "x".repeat(129);
    for body in [
        "customNamespaceId=dev&namespaceName=Again".to_string(),
        "customNamespaceId=a%20b&namespaceName=N".to_string(),
        format!("customNamespaceId={long}&namespaceName=N"),
        "customNamespaceId=ok1&namespaceName=a%23b".to_string(),
        "customNamespaceId=public&namespaceName=N".to_string(),
    ] {
        assert_eq!(
            server.http("POST", NS_V1, Some(&body)),
            (200, "false".into()),
            "{body}"
        );
    }
    let (status, text) = server.http("POST", NS_V1, Some("customNamespaceId=ok2"));
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("namespaceName"), "{text}");
    assert_eq!(namespace_ids(&server), ["", "dev"]);
    assert_eq!(namespace(&server, "dev")["namespaceShowName"], "Dev");

    // A blank id gets a UUID.
    assert_eq!(
        server.http("POST", NS_V1, Some("customNamespaceId=&namespaceName=Gen")),
        (200, "true".into())
    );
    let ids = namespace_ids(&server);
    assert_eq!(ids.len(), 3);
    let generated = ids
        .iter()
        .find(|id| id.len() == 36)
        .expect("a generated id");
    assert_eq!(generated.matches('-').count(), 4);

    let (status, text) = server.http("GET", &format!("{NS_V1}?show=all&namespaceId=nope"), None);
    assert_eq!(
        (status, text.as_str()),
        (500, "caused: namespaceId [ nope ] not exist;")
    );

    let rename = "namespace=dev&namespaceShowName=Development&namespaceDesc=d2";
    assert_eq!(
        server.http("PUT", NS_V1, Some(rename)),
        (200, "true".into())
    );
    assert_eq!(
        namespace(&server, "dev")["namespaceShowName"],
        "Development"
    );
    assert_eq!(
        server.http("PUT", NS_V1, Some("namespace=dev&namespaceShowName=a*b")),
        (200, "false".into())
    );
    assert_eq!(server.http("PUT", NS_V1, Some("namespace=dev")).0, 400);
    assert_eq!(
        namespace(&server, "dev")["namespaceShowName"],
        "Development"
    );

    assert_eq!(server.http("DELETE", NS_V1, Some("")).0, 400);
    assert_eq!(
        server.http("DELETE", &format!("{NS_V1}?namespaceId=dev"), None),
        (200, "true".into())
    );
    assert_eq!(
        server.http("DELETE", &format!("{NS_V1}?namespaceId={generated}"), None),
        (200, "true".into())
    );
    assert_eq!(namespace_ids(&server), [""]);
    assert_eq!(check("dev"), (200, "false".into()));
}

/// v2: the `{code,message,data}` wrapper and the 22000–22002 / 10000 error codes.
#[test]
fn namespaces_v2() {
    let server = Server::start();
    let create = "namespaceId=prod&namespaceName=Prod&namespaceDesc=p";
    let (status, value) = json_of(&server, "POST", NS_V2, Some(create));
    assert_eq!(
        (status, &value["code"], &value["data"]),
        (200, &0.into(), &true.into())
    );
    let (status, value) = json_of(&server, "GET", &format!("{NS_V2}/list"), None);
    assert_eq!((status, value["message"].as_str()), (200, Some("success")));
    assert_eq!(value["data"][0]["namespace"], "");
    assert_eq!(value["data"][1]["namespace"], "prod");
    let (_, value) = json_of(&server, "GET", &format!("{NS_V2}?namespaceId=prod"), None);
    assert_eq!(value["data"]["namespaceShowName"], "Prod");

    let error = |method: &str, path: &str, body: Option<&str>| {
        let (status, value) = json_of(&server, method, path, body);
        (status, value["code"].as_u64().unwrap_or(0))
    };
    assert_eq!(
        error("GET", &format!("{NS_V2}?namespaceId=nope"), None),
        (404, 22001)
    );
    assert_eq!(
        error("POST", NS_V2, Some("namespaceId=prod&namespaceName=P")),
        (500, 22002)
    );
    assert_eq!(
        error("POST", NS_V2, Some("namespaceId=a%20b&namespaceName=P")),
        (400, 22000)
    );
    assert_eq!(
        error("POST", NS_V2, Some("namespaceId=ok&namespaceName=a%40b")),
        (400, 22000)
    );
    assert_eq!(error("POST", NS_V2, Some("namespaceId=ok")), (400, 10000));
    assert_eq!(error("PUT", NS_V2, Some("namespaceName=X")), (400, 10000));
    assert_eq!(error("DELETE", NS_V2, None), (400, 10000));
    assert_eq!(error("GET", NS_V2, None), (400, 10000));
    assert_eq!(namespace_ids(&server), ["", "prod"]);

    let (status, value) = json_of(
        &server,
        "PUT",
        NS_V2,
        Some("namespaceId=prod&namespaceName=Production"),
    );
    assert_eq!((status, &value["data"]), (200, &true.into()));
    assert_eq!(
        namespace(&server, "prod")["namespaceShowName"],
        "Production"
    );
    let (status, value) = json_of(
        &server,
        "DELETE",
        &format!("{NS_V2}?namespaceId=prod"),
        None,
    );
    assert_eq!((status, &value["data"]), (200, &true.into()));
    assert_eq!(namespace_ids(&server), [""]);
}

/// The rows of `a` in `tenant` through the v1 list.
fn history_page(server: &Server, query: &str) -> Value {
    let (status, value) = json_of(
        server,
        "GET",
        &format!("{HISTORY_V1}?search=accurate&dataId=a&group=G{query}"),
        None,
    );
    assert_eq!(status, 200, "{value}");
    value
}

fn is_iso(time: &Value) -> bool {
    let text = time.as_str().unwrap_or("");
    text.len() == 29 && text.ends_with("+00:00") && text.as_bytes()[10] == b'T'
}

/// v1 and v2 history: list (newest first, paged, no content), detail with the content as
/// stored (an update's row holds the old content), previous, configs, and refusals.
#[test]
fn history_v1_and_v2() {
    // Four cores, so rows are read from owner cores other than the one serving, and contents
    // from core 0 over the mesh.
    let server = Server::start_with(&["--cores", "4"]);
    for content in ["v1", "v2", "v3"] {
        publish(&server, "a", "ns1", content);
    }
    let page = history_page(&server, "&tenant=ns1");
    assert_eq!(page["totalCount"], 3);
    assert_eq!(
        (page["pageNumber"].as_u64(), page["pagesAvailable"].as_u64()),
        (Some(1), Some(1))
    );
    let items = page["pageItems"].as_array().expect("items").clone();
    let ops: Vec<&str> = items
        .iter()
        .map(|i| i["opType"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(ops, ["U", "U", "I"]);
    let nids: Vec<u64> = items
        .iter()
        .map(|i| {
            i["id"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .expect("a string nid")
        })
        .collect();
    assert!(nids[0] > nids[1] && nids[1] > nids[2], "{nids:?}");
    let first = &items[0];
    assert!(
        first["content"].is_null() && first["md5"].is_null(),
        "{first}"
    );
    assert_eq!(
        (first["dataId"].as_str(), first["tenant"].as_str()),
        (Some("a"), Some("ns1"))
    );
    assert_eq!(
        (first["publishType"].as_str(), first["lastId"].as_i64()),
        (Some("formal"), Some(-1))
    );
    assert!(
        is_iso(&first["createdTime"]) && is_iso(&first["lastModifiedTime"]),
        "{first}"
    );
    // Another tenant's key of the same name has no history.
    assert_eq!(history_page(&server, "")["totalCount"], 0);

    let paged = history_page(&server, "&tenant=ns1&pageNo=2&pageSize=2");
    assert_eq!(
        (
            paged["pagesAvailable"].as_u64(),
            paged["pageItems"].as_array().map(Vec::len)
        ),
        (Some(2), Some(1))
    );
    assert_eq!(
        paged["pageItems"][0]["id"].as_str(),
        Some(nids[2].to_string().as_str())
    );
    assert_eq!(
        history_page(&server, "&tenant=ns1&pageSize=100000")["pageItems"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );

    let detail = |nid: u64| {
        json_of(
            &server,
            "GET",
            &format!("{HISTORY_V1}?dataId=a&group=G&tenant=ns1&nid={nid}"),
            None,
        )
    };
    let (status, newest) = detail(nids[0]);
    assert_eq!(status, 200, "{newest}");
    assert_eq!(
        newest["content"], "v2",
        "an update's row holds the content it replaced"
    );
    assert_eq!(newest["md5"].as_str().map(str::len), Some(32));
    assert!(newest["encryptedDataKey"].is_string());
    assert_eq!(detail(nids[2]).1["content"], "v1");

    // Refusals: another key's nid, a bad nid, missing dataId, a bad tenant.
    let (status, text) = server.http(
        "GET",
        &format!("{HISTORY_V1}?dataId=b&group=G&tenant=ns1&nid={}", nids[0]),
        None,
    );
    assert_eq!(
        (status, text.as_str()),
        (403, "Please check dataId, group or namespaceId.")
    );
    assert_eq!(
        server
            .http("GET", &format!("{HISTORY_V1}?dataId=a&group=G&nid=x"), None)
            .0,
        400
    );
    assert_eq!(
        server
            .http("GET", &format!("{HISTORY_V1}?dataId=a&group=G"), None)
            .0,
        400
    );
    assert_eq!(
        server
            .http(
                "GET",
                &format!("{HISTORY_V1}?search=accurate&group=G"),
                None
            )
            .0,
        400
    );
    assert_eq!(
        server
            .http(
                "GET",
                &format!("{HISTORY_V1}?search=accurate&dataId=a&group=G&tenant=a%20b"),
                None
            )
            .0,
        400
    );

    let (status, configs) = json_of(
        &server,
        "GET",
        &format!("{HISTORY_V1}/configs?tenant=ns1"),
        None,
    );
    assert_eq!(status, 200, "{configs}");
    let config = &configs[0];
    assert_eq!(
        (config["dataId"].as_str(), config["type"].as_str()),
        (Some("a"), Some("text"))
    );
    let id = config["id"].as_str().expect("a string id").to_string();
    assert!(config["lastModified"].as_u64().is_some());
    assert_eq!(
        server.http("GET", &format!("{HISTORY_V1}/configs"), None).0,
        400
    );
    assert_eq!(
        json_of(
            &server,
            "GET",
            &format!("{HISTORY_V1}/configs?tenant="),
            None
        )
        .1,
        Value::Array(vec![])
    );

    let (status, previous) = json_of(
        &server,
        "GET",
        &format!("{HISTORY_V1}/previous?dataId=a&group=G&tenant=ns1&id={id}"),
        None,
    );
    assert_eq!(
        (status, previous["id"].as_str()),
        (200, Some(nids[0].to_string().as_str()))
    );
    assert_eq!(previous["content"], "v2");
    assert_eq!(
        server
            .http(
                "GET",
                &format!("{HISTORY_V1}/previous?dataId=a&group=G&tenant=ns1&id=999999"),
                None
            )
            .0,
        403
    );

    // v2: the same data in the wrapper, `namespaceId` naming the tenant.
    let v2 = |path: &str| {
        let (status, value) = json_of(&server, "GET", path, None);
        assert_eq!(
            (status, value["code"].as_u64()),
            (200, Some(0)),
            "{path}: {value}"
        );
        value["data"].clone()
    };
    let list = v2(&format!(
        "{HISTORY_V2}/list?dataId=a&group=G&namespaceId=ns1&pageSize=2"
    ));
    assert_eq!(
        (
            list["totalCount"].as_u64(),
            list["pageItems"].as_array().map(Vec::len)
        ),
        (Some(3), Some(2))
    );
    assert_eq!(
        v2(&format!(
            "{HISTORY_V2}?dataId=a&group=G&namespaceId=ns1&nid={}",
            nids[1]
        ))["content"],
        "v1"
    );
    assert_eq!(
        v2(&format!(
            "{HISTORY_V2}/previous?dataId=a&group=G&namespaceId=ns1&id={id}"
        ))["content"],
        "v2"
    );
    assert_eq!(
        v2(&format!("{HISTORY_V2}/configs?namespaceId=ns1"))[0]["dataId"],
        "a"
    );
    let (status, value) = json_of(
        &server,
        "GET",
        &format!(
            "{HISTORY_V2}?dataId=b&group=G&namespaceId=ns1&nid={}",
            nids[0]
        ),
        None,
    );
    assert_eq!((status, value["code"].as_u64()), (403, Some(10001)));
    let (status, value) = json_of(&server, "GET", &format!("{HISTORY_V2}/list?group=G"), None);
    assert_eq!((status, value["code"].as_u64()), (400, Some(10000)));
    let (status, value) = json_of(&server, "GET", &format!("{HISTORY_V2}/configs"), None);
    assert_eq!((status, value["code"].as_u64()), (400, Some(10000)));
}

/// Namespaces and history rows (with their contents, read back from LMDB) survive kill -9.
#[test]
fn namespaces_and_history_survive_restart() {
    let mut server = Server::start();
    let create = "customNamespaceId=keep&namespaceName=Keep";
    assert_eq!(
        server.http("POST", NS_V1, Some(create)),
        (200, "true".into())
    );
    publish(&server, "a", "keep", "one");
    publish(&server, "a", "keep", "two");
    let before = history_page(&server, "&tenant=keep");
    assert_eq!(before["totalCount"], 2);
    server.kill9();
    server.restart();
    assert_eq!(namespace_ids(&server), ["", "keep"]);
    assert_eq!(namespace(&server, "keep")["configCount"], 1);
    let after = history_page(&server, "&tenant=keep");
    assert_eq!(after["pageItems"], before["pageItems"]);
    let nid = after["pageItems"][0]["id"]
        .as_str()
        .expect("a nid")
        .to_string();
    let (status, row) = json_of(
        &server,
        "GET",
        &format!("{HISTORY_V1}?dataId=a&group=G&tenant=keep&nid={nid}"),
        None,
    );
    assert_eq!((status, &row["content"]), (200, &Value::from("one")));
}

/// With a retention of 0 days the leader's next prune drops every row; the config stays.
#[test]
fn old_history_is_pruned() {
    let server = Server::start_with(&[
        "--config-history-retention-days",
        "0",
        "--config-history-prune-interval-ms",
        "200",
    ]);
    publish(&server, "a", "", "one");
    publish(&server, "a", "", "two");
    let pruned = wait_until(Duration::from_secs(10), || {
        history_page(&server, "")["totalCount"] == 0
    });
    assert!(pruned, "history still there: {}", history_page(&server, ""));
    let (status, content) = server.http("GET", "/nacos/v1/cs/configs?dataId=a&group=G", None);
    assert_eq!((status, content.as_str()), (200, "two"));
}

/// In a 3-member cluster a namespace and a config's history written on one member are read on
/// every member, contents included (each member reads its own LMDB).
#[test]
fn cluster_members_agree_on_namespaces_and_history() {
    let servers = Server::start_cluster(3, &[]);
    let create = "customNamespaceId=shared&namespaceName=Shared";
    let created = wait_until(Duration::from_secs(15), || {
        servers[0].http("POST", NS_V1, Some(create)) == (200, "true".to_string())
    });
    assert!(created, "no leader took the namespace");
    publish(&servers[1], "a", "shared", "one");
    publish(&servers[2], "a", "shared", "two");
    for server in &servers {
        let seen = wait_until(Duration::from_secs(10), || {
            namespace_ids(server) == ["", "shared"]
                && history_page(server, "&tenant=shared")["totalCount"] == 2
        });
        assert!(seen, "member {} did not catch up", server.http_port);
        let page = history_page(server, "&tenant=shared");
        let nid = page["pageItems"][0]["id"]
            .as_str()
            .expect("a nid")
            .to_string();
        let path = format!("{HISTORY_V1}?dataId=a&group=G&tenant=shared&nid={nid}");
        let (status, row) = json_of(server, "GET", &path, None);
        assert_eq!((status, &row["content"]), (200, &Value::from("one")));
    }
}

/// With a 0-day retention the leader's prune empties the history on every member.
#[test]
fn cluster_prunes_everywhere() {
    let servers = Server::start_cluster(
        3,
        &[
            "--config-history-retention-days",
            "0",
            "--config-history-prune-interval-ms",
            "200",
        ],
    );
    let body = "dataId=a&group=G&content=one";
    let published = wait_until(Duration::from_secs(15), || {
        servers[0].http("POST", "/nacos/v1/cs/configs", Some(body)) == (200, "true".to_string())
    });
    assert!(published, "no leader took the publish");
    let pruned = wait_until(Duration::from_secs(15), || {
        servers
            .iter()
            .all(|s| history_page(s, "")["totalCount"] == 0)
    });
    assert!(pruned, "history not pruned on every member");
    for server in &servers {
        let read = wait_until(Duration::from_secs(10), || {
            server.http("GET", "/nacos/v1/cs/configs?dataId=a&group=G", None)
                == (200, "one".to_string())
        });
        assert!(read, "member {} lost the config", server.http_port);
    }
}
