//! Config-center queries of the real binary, by raw requests: paged search (accurate, blur,
//! filters, searchDetail) merged across the test server's two cores, `show=all`, the beta
//! query, catalog, delete by ids, the listener queries and zip export; bad input answers
//! Nacos's status and changes nothing.

mod common;

use std::io::{Cursor, Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use common::{send, try_http_with, HttpReply, Server};
use nacore::config::key::ConfigKey;
use nacore::shard::owner_of_parts;
use serde_json::Value;

const CONFIGS: &str = "/nacos/v1/cs/configs";
/// The test server's cores (`tests/common`: `--cores 2`).
const CORES: usize = 2;

fn get(server: &Server, path: &str) -> HttpReply {
    send(server, "GET", path, &[], None)
}

fn json_of(reply: &HttpReply) -> Value {
    assert_eq!(reply.status, 200, "{reply:?}");
    serde_json::from_str(&reply.body).unwrap_or_else(|e| panic!("{e}: {reply:?}"))
}

/// Publishes `dataId` in `group` with extra form fields (already encoded).
fn publish(server: &Server, group: &str, data_id: &str, extra: &str) {
    let body = format!("dataId={data_id}&group={group}&content=content-of-{data_id}{extra}");
    let reply = send(server, "POST", CONFIGS, &[], Some(&body));
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (200, "true"),
        "{reply:?}"
    );
}

fn search(server: &Server, query: &str) -> Value {
    json_of(&get(server, &format!("{CONFIGS}?{query}")))
}

fn data_ids(page: &Value) -> Vec<String> {
    page["pageItems"]
        .as_array()
        .unwrap_or_else(|| panic!("no pageItems in {page}"))
        .iter()
        .map(|i| i["dataId"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn ids(page: &Value) -> Vec<u64> {
    page["pageItems"]
        .as_array()
        .unwrap_or_else(|| panic!("no pageItems in {page}"))
        .iter()
        .map(|i| i["id"].as_str().and_then(|s| s.parse().ok()).unwrap_or(0))
        .collect()
}

/// Both cores own some of these keys, so a search that finds them all merged both.
fn assert_spread(group: &str, data_ids: &[String]) {
    let owners: Vec<usize> = data_ids
        .iter()
        .map(|d| {
            let key = ConfigKey::from_parts("", group, d);
            owner_of_parts(&key.parts(), CORES)
        })
        .collect();
    assert!(owners.contains(&0) && owners.contains(&1), "{owners:?}");
}

/// Search finds configs on both cores, orders them by id, pages them, and filters by
/// dataId (exact and blur), tenant, appName, tags, types and content.
#[test]
fn search_merges_cores_filters_and_pages() {
    let server = Server::start();
    let group = "SRCH";
    let names: Vec<String> = (0..12).map(|i| format!("s{i}")).collect();
    assert_spread(group, &names);
    for (i, name) in names.iter().enumerate() {
        let extra = match i {
            0 => "&appName=billing&config_tags=red,blue&type=yaml",
            1 => "&type=json",
            _ => "",
        };
        publish(&server, group, name, extra);
    }
    publish(
        &server,
        group,
        "s0",
        "&appName=billing&config_tags=red,blue&type=yaml",
    );
    publish(&server, "OTHER", "s0", "");
    publish(&server, group, "s0", "&tenant=dev");

    let base = format!("search=accurate&dataId=&group={group}&pageSize=5");
    let first = search(&server, &format!("{base}&pageNo=1"));
    assert_eq!(first["totalCount"], 12, "{first}");
    assert_eq!(
        (
            first["pageNumber"].as_u64(),
            first["pagesAvailable"].as_u64()
        ),
        (Some(1), Some(3))
    );
    assert!(first["pageItems"][0]["id"].is_string(), "{first}");
    let mut all = Vec::new();
    let mut all_ids = Vec::new();
    for page_no in 1..=3 {
        let page = search(&server, &format!("{base}&pageNo={page_no}"));
        all.extend(data_ids(&page));
        all_ids.extend(ids(&page));
    }
    assert_eq!(
        all, names,
        "ids follow publish order, republishing keeps the id"
    );
    assert!(all_ids.windows(2).all(|w| w[0] < w[1]), "{all_ids:?}");
    let past = search(&server, &format!("{base}&pageNo=4"));
    assert_eq!(
        (past["totalCount"].as_u64(), data_ids(&past).len()),
        (Some(12), 0)
    );

    let one = search(
        &server,
        &format!("search=accurate&dataId=s0&group={group}&pageNo=1&pageSize=10"),
    );
    let item = &one["pageItems"][0];
    assert_eq!(one["totalCount"], 1);
    assert_eq!(
        (item["content"].as_str(), item["appName"].as_str()),
        (Some("content-of-s0"), Some("billing"))
    );
    assert_eq!(
        (item["type"].as_str(), item["tenant"].as_str()),
        (Some("yaml"), Some(""))
    );
    assert_eq!(item["md5"].as_str().map(str::len), Some(32));
    assert!(item.get("encryptedDataKey").is_some());

    let blur = search(
        &server,
        &format!("search=blur&dataId=s1*&group={group}&pageNo=1&pageSize=10"),
    );
    assert_eq!(data_ids(&blur), ["s1", "s10", "s11"]);
    let no_star = search(
        &server,
        &format!("search=blur&dataId=s1&group={group}&pageNo=1&pageSize=10"),
    );
    assert_eq!(
        data_ids(&no_star),
        ["s1"],
        "without `*` a blur pattern is LIKE itself"
    );
    let any_group = search(
        &server,
        "search=accurate&dataId=s0&group=&pageNo=1&pageSize=10",
    );
    assert_eq!(
        any_group["totalCount"], 2,
        "default namespace only: {any_group}"
    );
    let dev = search(
        &server,
        "search=accurate&dataId=&group=&tenant=dev&pageNo=1&pageSize=10",
    );
    assert_eq!(
        (
            dev["totalCount"].as_u64(),
            dev["pageItems"][0]["tenant"].as_str()
        ),
        (Some(1), Some("dev"))
    );
    let filtered = |extra: &str| {
        let page = search(
            &server,
            &format!("search=accurate&dataId=&group={group}&pageNo=1&pageSize=50{extra}"),
        );
        data_ids(&page)
    };
    assert_eq!(filtered("&appName=billing"), ["s0"]);
    assert_eq!(filtered("&config_tags=blue"), ["s0"]);
    assert_eq!(filtered("&types=json,yaml"), ["s0", "s1"]);
    assert_eq!(filtered("&appName=nobody"), Vec::<String>::new());
    let detail = json_of(&get(
        &server,
        &format!("{CONFIGS}/searchDetail?search=blur&dataId=&group={group}&config_detail=*of-s11&pageNo=1&pageSize=10"),
    ));
    assert_eq!(data_ids(&detail), ["s11"]);
    let clamped = search(
        &server,
        &format!("search=accurate&dataId=&group={group}&pageNo=1&pageSize=100000"),
    );
    assert_eq!(
        (clamped["pagesAvailable"].as_u64(), data_ids(&clamped).len()),
        (Some(1), 12)
    );
}

/// Bad search parameters answer 400 with a message naming the parameter.
#[test]
fn search_rejects_bad_parameters() {
    let server = Server::start();
    let cases = [
        ("search=accurate&dataId=&group=&pageSize=10", "pageNo"),
        ("search=accurate&group=&pageNo=1&pageSize=10", "dataId"),
        (
            "search=accurate&dataId=&group=&pageNo=0&pageSize=10",
            "pageNo",
        ),
        (
            "search=accurate&dataId=&group=&pageNo=1&pageSize=ten",
            "pageSize",
        ),
        (
            "search=accurate&dataId=a%20b&group=&pageNo=1&pageSize=10",
            "dataId",
        ),
        (
            "search=blur&dataId=*&group=a%2Fb&pageNo=1&pageSize=10",
            "group",
        ),
        (
            "search=accurate&dataId=&group=&tenant=a%20b&pageNo=1&pageSize=10",
            "namespaceId",
        ),
    ];
    for (query, param) in cases {
        let reply = get(&server, &format!("{CONFIGS}?{query}"));
        assert_eq!(reply.status, 400, "{query}: {reply:?}");
        assert!(reply.body.contains(param), "{query}: {reply:?}");
    }
    let blur_star = search(&server, "search=blur&dataId=*&group=&pageNo=1&pageSize=10");
    assert_eq!(blur_star["totalCount"], 0);
}

/// `show=all` gives ConfigAllInfo, `beta=true` the beta gray (or null), catalog the advance
/// info (or null); a missing config is an empty 200 for `show=all`.
#[test]
fn show_all_beta_and_catalog() {
    let server = Server::start();
    let extra = "&appName=app1&desc=about&use=usage&effect=eff&schema=sch&config_tags=t1,t2&type=properties&src_user=alice";
    publish(&server, "SHOW", "full", extra);
    let all = json_of(&get(
        &server,
        &format!("{CONFIGS}?show=all&dataId=full&group=SHOW"),
    ));
    for (field, want) in [
        ("dataId", "full"),
        ("group", "SHOW"),
        ("content", "content-of-full"),
        ("appName", "app1"),
        ("desc", "about"),
        ("use", "usage"),
        ("effect", "eff"),
        ("schema", "sch"),
        ("configTags", "t1,t2"),
        ("type", "properties"),
        ("createUser", "alice"),
        ("createIp", "127.0.0.1"),
        ("tenant", ""),
    ] {
        assert_eq!(all[field].as_str(), Some(want), "{field} in {all}");
    }
    assert!(
        all["id"].is_string() && all["createTime"].is_u64() && all["modifyTime"].is_u64(),
        "{all}"
    );
    let missing = get(
        &server,
        &format!("{CONFIGS}?show=all&dataId=none&group=SHOW"),
    );
    assert_eq!((missing.status, missing.body.as_str()), (200, ""));
    let bad = get(&server, &format!("{CONFIGS}?show=all&dataId=full"));
    assert_eq!(bad.status, 400, "{bad:?}");

    let no_beta = json_of(&get(
        &server,
        &format!("{CONFIGS}?beta=true&dataId=full&group=SHOW"),
    ));
    assert_eq!(
        (no_beta["code"].as_u64(), no_beta["message"].as_str()),
        (Some(200), Some("query beta ok"))
    );
    assert!(no_beta["data"].is_null(), "{no_beta}");
    let body = "dataId=full&group=SHOW&content=beta-content";
    let reply = send(
        &server,
        "POST",
        CONFIGS,
        &[("betaIps", "10.0.0.1,10.0.0.2")],
        Some(body),
    );
    assert_eq!(reply.body, "true");
    let beta = json_of(&get(
        &server,
        &format!("{CONFIGS}?beta=true&dataId=full&group=SHOW"),
    ));
    assert_eq!(
        beta["data"]["betaIps"].as_str(),
        Some("10.0.0.1,10.0.0.2"),
        "{beta}"
    );
    assert_eq!(beta["data"]["content"].as_str(), Some("beta-content"));
    let all_after = json_of(&get(
        &server,
        &format!("{CONFIGS}?show=all&dataId=full&group=SHOW"),
    ));
    assert_eq!(
        all_after["content"].as_str(),
        Some("content-of-full"),
        "show=all is the formal version"
    );

    let catalog = json_of(&get(
        &server,
        &format!("{CONFIGS}/catalog?dataId=full&group=SHOW"),
    ));
    assert_eq!(catalog["code"], 200);
    assert!(catalog["message"].is_null());
    assert_eq!(
        (
            catalog["data"]["desc"].as_str(),
            catalog["data"]["configTags"].as_str()
        ),
        (Some("about"), Some("t1,t2"))
    );
    assert!(catalog["data"].get("content").is_none(), "{catalog}");
    let none = json_of(&get(
        &server,
        &format!("{CONFIGS}/catalog?dataId=none&group=SHOW"),
    ));
    assert!(none["data"].is_null(), "{none}");
    let bad = get(
        &server,
        &format!("{CONFIGS}/catalog?dataId=a%20b&group=SHOW"),
    );
    assert_eq!(bad.status, 400, "{bad:?}");
}

fn exists(server: &Server, group: &str, data_id: &str) -> bool {
    get(server, &format!("{CONFIGS}?dataId={data_id}&group={group}")).status == 200
}

/// `delType=ids` removes the configs with those ids on both cores and skips unknown ids; a
/// malformed id list removes nothing.
#[test]
fn delete_by_ids() {
    let server = Server::start();
    let group = "DELIDS";
    let names: Vec<String> = (0..8).map(|i| format!("d{i}")).collect();
    assert_spread(group, &names[..4]);
    for name in &names {
        publish(&server, group, name, "");
    }
    let page = search(
        &server,
        &format!("search=accurate&dataId=&group={group}&pageNo=1&pageSize=10"),
    );
    let all_ids = ids(&page);
    assert_eq!(data_ids(&page), names);

    let bad = send(
        &server,
        "DELETE",
        &format!("{CONFIGS}?delType=ids&ids={},x", all_ids[0]),
        &[],
        None,
    );
    assert_eq!(bad.status, 400, "{bad:?}");
    assert!(bad.body.contains("invalid ids : x"), "{bad:?}");
    let missing = send(
        &server,
        "DELETE",
        &format!("{CONFIGS}?delType=ids"),
        &[],
        None,
    );
    assert_eq!(missing.status, 400, "{missing:?}");
    assert!(
        names.iter().all(|n| exists(&server, group, n)),
        "bad requests deleted nothing"
    );

    let doomed: Vec<String> = all_ids[..4].iter().map(u64::to_string).collect();
    let path = format!("{CONFIGS}?delType=ids&ids={},999999999", doomed.join(","));
    let reply = send(&server, "DELETE", &path, &[], None);
    let value = json_of(&reply);
    assert_eq!(
        (value["code"].as_u64(), value["data"].as_bool()),
        (Some(200), Some(true)),
        "{value}"
    );
    assert!(value["message"].is_null());
    for (i, name) in names.iter().enumerate() {
        assert_eq!(exists(&server, group, name), i >= 4, "{name}");
    }
    // In a form body too, as nacos_rust_client sends DELETE parameters.
    let body = format!("delType=ids&ids={}", all_ids[4]);
    assert_eq!(
        json_of(&send(&server, "DELETE", CONFIGS, &[], Some(&body)))["data"],
        true
    );
    assert!(!exists(&server, group, &names[4]));
}

/// A held long poll shows in both listener queries, with the md5 it holds; tenant keys only
/// with `all=true` or a matching `tenant`.
#[test]
fn listener_queries_show_held_polls() {
    let server = Server::start();
    let port = server.http_port;
    // d␂g␂md5␁ and d␂g␂md5␂tenant␁, form-encoded; the md5 "" matches the absent configs.
    let records = "Listening-Configs=lq1%02LQ%02%01lq2%02LQ%02%02dev%01";
    let poll = thread::spawn(move || {
        try_http_with(
            port,
            "POST",
            "/nacos/v1/cs/configs/listener",
            &[("Long-Pulling-Timeout", "30000")],
            Some(records),
            Duration::from_secs(60),
        )
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        let status = json_of(&get(
            &server,
            &format!("{CONFIGS}/listener?dataId=lq1&group=LQ"),
        ));
        if status["lisentersGroupkeyStatus"]
            .as_object()
            .is_some_and(|m| !m.is_empty())
        {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the poll never registered: {status}"
        );
        thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status["collectStatus"], 200);
    assert_eq!(
        status["lisentersGroupkeyStatus"]["127.0.0.1"].as_str(),
        Some(""),
        "{status}"
    );
    let tenant_key = json_of(&get(
        &server,
        &format!("{CONFIGS}/listener?dataId=lq2&group=LQ&tenant=dev"),
    ));
    assert!(
        tenant_key["lisentersGroupkeyStatus"]["127.0.0.1"].is_string(),
        "{tenant_key}"
    );
    let nobody = json_of(&get(
        &server,
        &format!("{CONFIGS}/listener?dataId=lq3&group=LQ"),
    ));
    assert_eq!(nobody["lisentersGroupkeyStatus"], serde_json::json!({}));

    let by_ip = |extra: &str| {
        let value = json_of(&get(
            &server,
            &format!("/nacos/v1/cs/listener?ip=127.0.0.1{extra}"),
        ));
        assert_eq!(value["collectStatus"], 200);
        let map = value["lisentersGroupkeyStatus"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let mut keys: Vec<String> = map.keys().cloned().collect();
        keys.sort();
        keys
    };
    assert_eq!(by_ip(""), ["lq1+LQ"]);
    assert_eq!(by_ip("&all=true"), ["lq1+LQ", "lq2+LQ+dev"]);
    assert_eq!(by_ip("&tenant=dev"), ["lq1+LQ", "lq2+LQ+dev"]);
    assert!(
        by_ip("").len() == 1
            && get(&server, "/nacos/v1/cs/listener?ip=10.9.9.9")
                .body
                .contains("{}")
    );
    assert_eq!(get(&server, "/nacos/v1/cs/listener").status, 400);
    assert_eq!(
        get(&server, &format!("{CONFIGS}/listener?group=LQ")).status,
        400
    );

    publish(&server, "LQ", "lq1", "");
    let woke = poll.join().expect("poll thread").expect("poll reply");
    assert_eq!(woke.status, 200, "{woke:?}");
    assert!(woke.body.contains("lq1"), "{woke:?}");
}

/// GET with the raw body bytes (a zip is not text).
fn get_bytes(server: &Server, path: &str) -> (u16, String, Vec<u8>) {
    let mut stream = TcpStream::connect(("127.0.0.1", server.http_port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).expect("write");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("head end");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head[9..12].parse().expect("status");
    (status, head, raw[split + 4..].to_vec())
}

fn zip_entries(bytes: &[u8]) -> Vec<(String, String)> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).expect("a zip");
    let mut entries = Vec::new();
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).expect("entry");
        let mut text = String::new();
        file.read_to_string(&mut text).expect("utf-8 entry");
        entries.push((String::from_utf8_lossy(file.name_raw()).into_owned(), text));
    }
    entries.sort();
    entries
}

/// `export=true` and `exportV2=true` download a zip of the selected configs (by group, by a
/// dataId pattern, by ids) from both cores, with Java's metadata entry.
#[test]
fn export_zips() {
    let server = Server::start();
    let names: Vec<String> = (0..6).map(|i| format!("e{i}.yaml")).collect();
    assert_spread("EXP", &names);
    for name in &names {
        publish(&server, "EXP", name, "&appName=shop&type=yaml");
    }
    publish(&server, "NOPE", "x.txt", "");
    publish(&server, "EXP", "ns.txt", "&tenant=dev");

    let (status, head, body) =
        get_bytes(&server, &format!("{CONFIGS}?export=true&group=EXP&tenant="));
    assert_eq!(status, 200, "{head}");
    assert!(
        head.contains("attachment;filename=nacos_config_export_"),
        "{head}"
    );
    let entries = zip_entries(&body);
    let names_in: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
    let mut want: Vec<String> = names.iter().map(|n| format!("EXP/{n}")).collect();
    want.insert(0, ".meta.yml".to_string());
    assert_eq!(names_in, want);
    assert_eq!(entries[1].1, "content-of-e0.yaml");
    assert!(
        entries[0].1.contains("EXP.e0~yaml.app=shop"),
        "{:?}",
        entries[0]
    );

    let (_, _, v2) = get_bytes(
        &server,
        &format!("{CONFIGS}?exportV2=true&group=EXP&dataId=e1*"),
    );
    let entries = zip_entries(&v2);
    assert_eq!(
        entries.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        [".metadata.yml", "EXP/e1.yaml"]
    );
    assert!(entries[0].1.contains("appName: shop"), "{:?}", entries[0]);

    let page = search(
        &server,
        "search=accurate&dataId=&group=&tenant=dev&pageNo=1&pageSize=10",
    );
    let dev_id = ids(&page)[0];
    let (_, _, by_id) = get_bytes(&server, &format!("{CONFIGS}?export=true&ids={dev_id}"));
    assert_eq!(
        zip_entries(&by_id)
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>(),
        ["EXP/ns.txt"]
    );

    let (status, _, _) = get_bytes(&server, &format!("{CONFIGS}?export=true&ids=1,x"));
    assert_eq!(status, 400);
    let (status, _, _) = get_bytes(&server, &format!("{CONFIGS}?export=true&group=a%20b"));
    assert_eq!(status, 400);
}

/// POSTs a multipart body with the zip in part `file` (when given) and text fields.
fn post_multipart(
    server: &Server,
    path: &str,
    fields: &[(&str, &str)],
    zip: Option<&[u8]>,
) -> Value {
    const BOUNDARY: &str = "nacoreTestBoundary7MA4YWxk";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    if let Some(zip) = zip {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"c.zip\"\r\n\
                 Content-Type: application/zip\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(zip);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    let mut stream = TcpStream::connect(("127.0.0.1", server.http_port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
         Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).expect("write head");
    stream.write_all(&body).expect("write body");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("head end");
    assert!(head.starts_with("HTTP/1.1 200"), "{text}");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn content(server: &Server, group: &str, data_id: &str) -> Option<String> {
    let reply = get(server, &format!("{CONFIGS}?dataId={data_id}&group={group}"));
    (reply.status == 200).then_some(reply.body)
}

/// `import=true` publishes a v2 export under ABORT, SKIP and OVERWRITE as Java counts them,
/// reports unrecognized entries, and refuses a missing file, a non-zip, an unknown namespace
/// and an unknown policy without storing anything.
#[test]
fn import_zips_with_policies() {
    let server = Server::start();
    let import = format!("{CONFIGS}?import=true");
    for name in ["i0", "i1", "i2"] {
        publish(&server, "IMP", name, "&appName=imp&type=json");
    }
    let (_, _, zip) = get_bytes(&server, &format!("{CONFIGS}?exportV2=true&group=IMP"));
    let reply = send(
        &server,
        "DELETE",
        &format!("{CONFIGS}?dataId=i1&group=IMP"),
        &[],
        None,
    );
    assert_eq!(reply.body, "true");

    let abort = post_multipart(&server, &import, &[], Some(&zip));
    assert_eq!(
        (abort["code"].as_u64(), abort["data"]["succCount"].as_u64()),
        (Some(200), Some(0)),
        "{abort}"
    );
    assert_eq!(abort["data"]["failData"][0]["dataId"], "i0", "{abort}");
    assert_eq!(abort["data"]["skipCount"], 2, "{abort}");
    assert_eq!(
        content(&server, "IMP", "i1"),
        None,
        "ABORT stopped at the first existing config"
    );

    let skip = post_multipart(&server, &format!("{import}&policy=SKIP"), &[], Some(&zip));
    assert_eq!(
        (
            skip["data"]["succCount"].as_u64(),
            skip["data"]["skipCount"].as_u64()
        ),
        (Some(1), Some(2)),
        "{skip}"
    );
    assert_eq!(
        content(&server, "IMP", "i1").as_deref(),
        Some("content-of-i1")
    );
    let all = json_of(&get(
        &server,
        &format!("{CONFIGS}?show=all&dataId=i1&group=IMP"),
    ));
    assert_eq!(
        (all["appName"].as_str(), all["type"].as_str()),
        (Some("imp"), Some("json")),
        "{all}"
    );

    let body = "dataId=i0&group=IMP&content=changed";
    assert_eq!(send(&server, "POST", CONFIGS, &[], Some(body)).body, "true");
    let overwrite = post_multipart(&server, &import, &[("policy", "OVERWRITE")], Some(&zip));
    assert_eq!(overwrite["data"]["succCount"], 3, "{overwrite}");
    assert_eq!(
        content(&server, "IMP", "i0").as_deref(),
        Some("content-of-i0")
    );

    let into_ns = post_multipart(
        &server,
        &format!("{import}&namespace=nowhere"),
        &[],
        Some(&zip),
    );
    assert_eq!(into_ns["code"], 100_001, "{into_ns}");
    let no_file = post_multipart(&server, &import, &[("policy", "SKIP")], None);
    assert_eq!(no_file["code"], 100_005, "{no_file}");
    let not_zip = post_multipart(&server, &import, &[], Some(b"not a zip"));
    assert_eq!(not_zip["code"], 100_004, "{not_zip}");
    let reply = send(
        &server,
        "POST",
        &format!("{import}&policy=bogus"),
        &[],
        None,
    );
    assert_eq!(reply.status, 400, "{reply:?}");

    // A v1 archive with an entry that is not `group/dataId`.
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    writer.start_file("IMP/v1.txt", options).expect("entry");
    writer.write_all(b"from v1").expect("write");
    writer.start_file("stray", options).expect("entry");
    writer.write_all(b"x").expect("write");
    let v1 = writer.finish().expect("zip").into_inner();
    let mixed = post_multipart(&server, &import, &[], Some(&v1));
    assert_eq!(
        (
            mixed["data"]["succCount"].as_u64(),
            mixed["data"]["unrecognizedCount"].as_u64()
        ),
        (Some(1), Some(1)),
        "{mixed}"
    );
    assert_eq!(
        mixed["data"]["unrecognizedData"][0]["itemName"], "stray",
        "{mixed}"
    );
    assert_eq!(
        content(&server, "IMP", "v1.txt").as_deref(),
        Some("from v1")
    );
}

/// In a 3-member cluster a long poll held by member 3 shows in both listener queries asked of
/// member 1 (merged from the peers' `communication` endpoints), and is woken by a write there.
#[test]
fn listener_queries_merge_members() {
    let servers = Server::start_cluster(3, &[]);
    let port = servers[2].http_port;
    let records = "Listening-Configs=mq1%02MQ%02%01";
    let poll = thread::spawn(move || {
        try_http_with(
            port,
            "POST",
            "/nacos/v1/cs/configs/listener",
            &[("Long-Pulling-Timeout", "30000")],
            Some(records),
            Duration::from_secs(60),
        )
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = json_of(&get(
            &servers[0],
            &format!("{CONFIGS}/listener?dataId=mq1&group=MQ"),
        ));
        if status["lisentersGroupkeyStatus"]["127.0.0.1"].is_string() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "member 1 never saw member 3's poll: {status}"
        );
        thread::sleep(Duration::from_millis(20));
    }
    let local = json_of(&get(
        &servers[0],
        "/nacos/v1/cs/communication/configWatchers?dataId=mq1&group=MQ",
    ));
    assert_eq!(
        local["lisentersGroupkeyStatus"],
        serde_json::json!({}),
        "member 1 itself holds nothing"
    );
    let by_ip = json_of(&get(&servers[0], "/nacos/v1/cs/listener?ip=127.0.0.1"));
    assert_eq!(
        by_ip["lisentersGroupkeyStatus"]["mq1+MQ"].as_str(),
        Some(""),
        "{by_ip}"
    );

    // The first write may meet a cluster still electing its leader.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let body = "dataId=mq1&group=MQ&content=now";
        let reply = send(&servers[0], "POST", CONFIGS, &[], Some(body));
        if reply.status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "no write accepted: {reply:?}");
        thread::sleep(Duration::from_millis(100));
    }
    let woke = poll.join().expect("poll thread").expect("poll reply");
    assert!(woke.body.contains("mq1"), "{woke:?}");
}
