//! The web console's routes on the real binary, by raw requests: the page and its assets
//! (content types, caching, 404 for an unknown asset, 405 for a write) and the console
//! catalog endpoints (`/nacos/v1/ns/catalog/services` and `.../instances`) gathered from both
//! cores, with their bad input answered 400 and a clear message; with auth on, the page is
//! open and the catalog needs a token.

mod common;

use common::{send, HttpReply, Server};
use serde_json::Value;

fn get(server: &Server, path: &str) -> HttpReply {
    send(server, "GET", path, &[], None)
}

fn json_of(reply: &HttpReply) -> Value {
    assert_eq!(reply.status, 200, "{reply:?}");
    serde_json::from_str(&reply.body).unwrap_or_else(|e| panic!("{e}: {reply:?}"))
}

fn register(server: &Server, query: &str) {
    let reply = send(
        server,
        "POST",
        &format!("/nacos/v1/ns/instance?{query}"),
        &[],
        None,
    );
    assert_eq!((reply.status, reply.body.as_str()), (200, "ok"), "{query}");
}

/// `/nacos/`, `/nacos` and `/nacos/index.html` serve the page; each asset it loads is served
/// with its content type, `no-cache` and an ETag that revalidates to a 304; an unknown asset
/// is a 404, a POST a 405.
#[test]
fn page_and_assets() {
    let server = Server::start();
    for path in ["/nacos/", "/nacos", "/nacos/index.html"] {
        let reply = get(&server, path);
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(
            reply.header("content-type"),
            Some("text/html;charset=UTF-8")
        );
        assert_eq!(reply.header("cache-control"), Some("no-cache"));
        assert!(reply.body.contains("/nacos/assets/app.js"), "{path}");
        assert!(reply.body.contains("data-testid=\"login-form\""));
    }
    let assets = [
        ("app.js", "text/javascript;charset=UTF-8"),
        ("api.js", "text/javascript;charset=UTF-8"),
        ("dom.js", "text/javascript;charset=UTF-8"),
        ("services.js", "text/javascript;charset=UTF-8"),
        ("configs.js", "text/javascript;charset=UTF-8"),
        ("namespaces.js", "text/javascript;charset=UTF-8"),
        ("cluster.js", "text/javascript;charset=UTF-8"),
        ("diff.js", "text/javascript;charset=UTF-8"),
        ("editor.js", "text/javascript;charset=UTF-8"),
        ("style.css", "text/css;charset=UTF-8"),
    ];
    for (name, content_type) in assets {
        let reply = get(&server, &format!("/nacos/assets/{name}"));
        assert_eq!(reply.status, 200, "{name}");
        assert_eq!(reply.header("content-type"), Some(content_type), "{name}");
        assert_eq!(reply.header("cache-control"), Some("no-cache"), "{name}");
        assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
        assert!(!reply.body.is_empty());
    }
    for path in [
        "/nacos/assets/nope.js",
        "/nacos/assets/",
        "/nacos/assets/../index.html",
    ] {
        assert_eq!(get(&server, path).status, 404, "{path}");
    }
    let reply = send(&server, "POST", "/nacos/assets/app.js", &[], Some("x=1"));
    assert_eq!(reply.status, 405);
    let reply = send(&server, "DELETE", "/nacos/index.html", &[], None);
    assert_eq!(reply.status, 405);
    let head = send(&server, "HEAD", "/nacos/assets/style.css", &[], None);
    assert_eq!((head.status, head.body.as_str()), (200, ""));

    // Revalidation: the ETag held by the browser answers 304 without a body; another is a 200.
    for path in ["/nacos/assets/app.js", "/nacos/"] {
        let first = get(&server, path);
        let etag = first.header("etag").expect("an ETag").to_string();
        assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
        let again = send(&server, "GET", path, &[("If-None-Match", &etag)], None);
        assert_eq!((again.status, again.body.as_str()), (304, ""), "{path}");
        assert_eq!(again.header("etag"), Some(etag.as_str()));
        let listed = format!("\"other\", {etag}");
        let again = send(&server, "GET", path, &[("If-None-Match", &listed)], None);
        assert_eq!(again.status, 304, "{path}");
        let stale = send(
            &server,
            "GET",
            path,
            &[("If-None-Match", "\"other\"")],
            None,
        );
        assert_eq!(
            (stale.status, stale.body.len()),
            (200, first.body.len()),
            "{path}"
        );
    }
    let script = get(&server, "/nacos/assets/app.js")
        .header("etag")
        .map(str::to_string);
    let style = get(&server, "/nacos/assets/style.css")
        .header("etag")
        .map(str::to_string);
    assert_ne!(script, style, "each asset has its own ETag");
}

/// The catalog lists the services of a namespace from both cores, sorted by group and name,
/// with cluster, instance and healthy counts and totals; name and group filters are
/// substrings; paging slices; namespaces stay apart.
#[test]
fn catalog_services() {
    let server = Server::start();
    for (service, port, extra) in [
        ("cat-a", 1, "&healthy=false"),
        ("cat-a", 2, "&clusterName=c2"),
        ("cat-b", 1, ""),
        ("other", 1, "&groupName=G2"),
        ("cat-c", 1, "&namespaceId=ns1"),
    ] {
        register(
            &server,
            &format!("serviceName={service}&ip=10.1.0.{port}&port=80{extra}"),
        );
    }
    let path = "/nacos/v1/ns/catalog/services?withInstances=false&pageNo=1&pageSize=10";
    let all = json_of(&get(&server, path));
    assert_eq!(all["count"], 3, "{all}");
    assert_eq!(
        (&all["instanceCount"], &all["healthyInstanceCount"]),
        (&4.into(), &3.into())
    );
    let list = all["serviceList"].as_array().unwrap();
    let names: Vec<(&str, &str)> = list
        .iter()
        .map(|s| {
            (
                s["groupName"].as_str().unwrap(),
                s["name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("DEFAULT_GROUP", "cat-a"),
            ("DEFAULT_GROUP", "cat-b"),
            ("G2", "other")
        ]
    );
    let a = &list[0];
    assert_eq!((&a["clusterCount"], &a["ipCount"]), (&2.into(), &2.into()));
    assert_eq!(
        (&a["healthyInstanceCount"], &a["triggerFlag"]),
        (&1.into(), &"false".into())
    );

    let filtered = json_of(&get(&server, &format!("{path}&serviceNameParam=at-")));
    assert_eq!(filtered["count"], 2, "{filtered}");
    let grouped = json_of(&get(&server, &format!("{path}&groupNameParam=G2")));
    assert_eq!(grouped["serviceList"][0]["name"], "other", "{grouped}");
    let paged = "/nacos/v1/ns/catalog/services?withInstances=false&pageNo=2&pageSize=2";
    let page = json_of(&get(&server, paged));
    assert_eq!(page["count"], 3);
    assert_eq!(page["serviceList"][0]["name"], "other", "{page}");
    let ns = json_of(&get(&server, &format!("{path}&namespaceId=ns1")));
    assert_eq!(
        (&ns["count"], &ns["serviceList"][0]["name"]),
        (&1.into(), &"cat-c".into())
    );
    // Nacos's default is withInstances=false.
    let default = json_of(&get(&server, "/nacos/v1/ns/catalog/services?pageSize=10"));
    assert_eq!(default["count"], 3, "{default}");
    let none = json_of(&get(&server, &format!("{path}&serviceNameParam=zzz")));
    assert_eq!(
        (&none["count"], &none["serviceList"]),
        (&0.into(), &Value::Array(vec![]))
    );
}

/// The instances of a service include disabled ones (which `instance/list` leaves out), with
/// the weight and enabled flag set through `PUT /instance`; `clusterName` filters.
#[test]
fn catalog_instances() {
    let server = Server::start();
    register(&server, "serviceName=inst&ip=10.2.0.1&port=80");
    register(
        &server,
        "serviceName=inst&ip=10.2.0.2&port=80&clusterName=c2",
    );
    let update =
        "/nacos/v1/ns/instance?serviceName=inst&ip=10.2.0.1&port=80&weight=3.5&enabled=false";
    let reply = send(&server, "PUT", update, &[], None);
    assert_eq!((reply.status, reply.body.as_str()), (200, "ok"));
    let path = "/nacos/v1/ns/catalog/instances?serviceName=inst&pageNo=1&pageSize=10";
    let all = json_of(&get(&server, path));
    assert_eq!(all["count"], 2, "{all}");
    let first = &all["list"][0];
    assert_eq!(
        (&first["ip"], &first["weight"]),
        (&"10.2.0.1".into(), &3.5.into())
    );
    assert_eq!(
        (&first["enabled"], &first["ephemeral"]),
        (&false.into(), &true.into())
    );
    assert_eq!(
        first["instanceId"],
        "10.2.0.1#80#DEFAULT#DEFAULT_GROUP@@inst"
    );
    let listed = json_of(&get(&server, "/nacos/v1/ns/instance/list?serviceName=inst"));
    assert_eq!(listed["hosts"].as_array().unwrap().len(), 1, "{listed}");
    let c2 = json_of(&get(&server, &format!("{path}&clusterName=c2")));
    assert_eq!(
        (&c2["count"], &c2["list"][0]["ip"]),
        (&1.into(), &"10.2.0.2".into())
    );
}

/// Bad input to the catalog answers 400 with a message naming the parameter; an unknown
/// service is a 400 too (as v1 answers it elsewhere); writes are 405.
#[test]
fn catalog_bad_input() {
    let server = Server::start();
    let services = "/nacos/v1/ns/catalog/services";
    let instances = "/nacos/v1/ns/catalog/instances";
    let long = "x".repeat(513);
    let cases = [
        (format!("{services}?instance=10.0.0.1:80"), "instance"),
        (format!("{services}?withInstances=true"), "withInstances"),
        (
            format!("{services}?withInstances=false&pageSize=1001"),
            "pageSize",
        ),
        (
            format!("{services}?withInstances=false&pageSize=0"),
            "pageSize",
        ),
        (
            format!("{services}?withInstances=false&pageNo=-1"),
            "pageNo",
        ),
        (format!("{services}?withInstances=false&pageNo=x"), "pageNo"),
        (
            format!("{services}?withInstances=false&serviceNameParam={long}"),
            "serviceNameParam",
        ),
        (
            format!("{services}?withInstances=false&groupNameParam={long}"),
            "groupNameParam",
        ),
        (instances.to_string(), "serviceName"),
        (
            format!("{instances}?serviceName=a&pageSize=5000"),
            "pageSize",
        ),
    ];
    for (path, named) in cases {
        let reply = get(&server, &path);
        assert_eq!(reply.status, 400, "{path}: {reply:?}");
        assert!(reply.body.contains(named), "{path}: {}", reply.body);
    }
    let reply = get(&server, &format!("{instances}?serviceName=nope"));
    assert_eq!(reply.status, 400, "{reply:?}");
    assert!(reply.body.contains("service not found"), "{}", reply.body);
    let reply = send(&server, "POST", services, &[], Some("withInstances=false"));
    assert_eq!(reply.status, 405);
}

/// With auth on, the page and its assets are served without a login (the login screen is
/// part of them) while the catalog needs a token like the rest of `/ns`, and answers with one.
#[test]
fn catalog_needs_a_token_with_auth_on() {
    let secret = "nacore-console-test-secret-0123456789abcdef";
    let server = Server::start_with(&["--auth-enabled", "--auth-token-secret", secret]);
    let reply = send(
        &server,
        "POST",
        "/nacos/v1/auth/users/admin",
        &[],
        Some("password=pw-1"),
    );
    assert_eq!(reply.status, 200, "{reply:?}");
    for path in ["/nacos/", "/nacos/assets/app.js", "/nacos/assets/style.css"] {
        assert_eq!(get(&server, path).status, 200, "{path}");
    }
    let catalog = "/nacos/v1/ns/catalog/services?withInstances=false";
    assert_eq!(get(&server, catalog).status, 403);
    let instances = "/nacos/v1/ns/catalog/instances?serviceName=a";
    assert_eq!(get(&server, instances).status, 403);
    let login = send(
        &server,
        "POST",
        "/nacos/v1/auth/login",
        &[],
        Some("username=nacos&password=pw-1"),
    );
    let token = json_of(&login)["accessToken"].as_str().unwrap().to_string();
    let page = json_of(&get(&server, &format!("{catalog}&accessToken={token}")));
    assert_eq!(page["count"], 0, "{page}");
}
