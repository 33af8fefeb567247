//! Real Nacos clients against a server with `--auth-enabled`: the `nacos-sdk` crate (gRPC,
//! logging in over HTTP with feature `auth-by-http`) registers, lists, publishes and reads a
//! config with a username and password, keeps working across token expiry (short TTL: it logs
//! in again), and is refused without credentials; nacos-sdk-python 2.0.11 (HTTP) and 3.2.0
//! (gRPC) and the npm `nacos` client do the same through their scripts in `tests/clients/`.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::Server;
use nacos_sdk::api::config::{ConfigService, ConfigServiceBuilder};
use nacos_sdk::api::naming::{NamingService, NamingServiceBuilder, ServiceInstance};
use nacos_sdk::api::props::ClientProps;

const SECRET: &str = "nacore-test-token-secret-0123456789abcdef";
const ADMIN_PASSWORD: &str = "admin-pw-1";
const GROUP: &str = "AUTH_GROUP";

fn auth_server(ttl_s: &str) -> Server {
    let server = Server::start_with(&[
        "--auth-enabled",
        "--auth-token-secret",
        SECRET,
        "--auth-token-ttl-s",
        ttl_s,
    ]);
    let (status, body) = server.http(
        "POST",
        "/nacos/v1/auth/users/admin",
        Some(&format!("password={ADMIN_PASSWORD}")),
    );
    assert_eq!(status, 200, "{body}");
    server
}

/// Logs in as the admin and makes `reader` (password `reader-pw`), whose role may only read
/// (`r`) naming and config resources of `GROUP` in the public namespace.
fn make_reader(server: &Server) {
    let login = format!("username=nacos&password={ADMIN_PASSWORD}");
    let (status, body) = server.http("POST", "/nacos/v1/auth/login", Some(&login));
    assert_eq!(status, 200, "{body}");
    let token: serde_json::Value = serde_json::from_str(&body).unwrap();
    let token = token["accessToken"].as_str().unwrap().to_string();
    for (path, form) in [
        (
            "/nacos/v1/auth/users",
            "username=reader&password=reader-pw".to_string(),
        ),
        (
            "/nacos/v1/auth/roles",
            "role=READER&username=reader".to_string(),
        ),
        (
            "/nacos/v1/auth/permissions",
            format!("role=READER&resource=public:{GROUP}:*&action=r"),
        ),
    ] {
        let (status, body) =
            server.http("POST", &format!("{path}?accessToken={token}"), Some(&form));
        assert_eq!(status, 200, "{path}: {body}");
    }
}

/// The admin's credentials, for `props`, `naming` and `config`.
const ADMIN: Option<(&str, &str)> = Some(("nacos", ADMIN_PASSWORD));

fn props(server: &Server, app: &str, credentials: Option<(&str, &str)>) -> ClientProps {
    let cache_dir = server.data_dir().join(format!("sdk-cache-{app}"));
    let mut props = ClientProps::new()
        .server_addr(format!("127.0.0.1:{}", server.http_port))
        .remote_grpc_port(server.grpc_port)
        .namespace("")
        .app_name(app)
        .env_first(false)
        .load_cache_at_start(false)
        .config_load_cache_at_start(false)
        .naming_push_empty_protection(false)
        .cache_dir(cache_dir.to_string_lossy().to_string());
    if let Some((username, password)) = credentials {
        props = props.auth_username(username).auth_password(password);
    }
    props
}

async fn naming(server: &Server, app: &str, credentials: Option<(&str, &str)>) -> NamingService {
    let mut builder = NamingServiceBuilder::new(props(server, app, credentials));
    if credentials.is_some() {
        builder = builder.enable_auth_plugin_http();
    }
    builder
        .build()
        .await
        .unwrap_or_else(|e| panic!("nacos-sdk naming: {e}\n{}", server.log()))
}

async fn config(server: &Server, app: &str, credentials: Option<(&str, &str)>) -> ConfigService {
    let mut builder = ConfigServiceBuilder::new(props(server, app, credentials));
    if credentials.is_some() {
        builder = builder.enable_auth_plugin_http();
    }
    builder
        .build()
        .await
        .unwrap_or_else(|e| panic!("nacos-sdk config: {e}\n{}", server.log()))
}

fn instance(port: i32) -> ServiceInstance {
    ServiceInstance {
        ip: "10.7.7.7".to_string(),
        port,
        metadata: HashMap::new(),
        ..Default::default()
    }
}

fn s(text: &str) -> String {
    text.to_string()
}

/// Registers, lists, publishes and reads with credentials; once its token is past the TTL
/// (3 s) the server refuses it with `token expired!` and the SDK recovers by logging in again
/// (its login task runs every 30 s); without credentials every call is refused.
#[test]
fn rust_sdk_with_credentials_and_without() {
    let server = auth_server("3");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let names = naming(&server, "auth-rust", ADMIN).await;
        let configs = config(&server, "auth-rust-cfg", ADMIN).await;
        let register =
            |port: i32| names.register_instance(s("auth-rust-svc"), Some(s(GROUP)), instance(port));
        register(8000)
            .await
            .unwrap_or_else(|e| panic!("register: {e}\n{}", server.log()));
        let all = names
            .get_all_instances(s("auth-rust-svc"), Some(s(GROUP)), Vec::new(), false)
            .await
            .unwrap_or_else(|e| panic!("list: {e}"));
        assert!(all.iter().any(|i| i.port == 8000), "{all:?}");
        let ok = configs
            .publish_config(s("auth-rust.cfg"), s(GROUP), s("content-1"), None)
            .await
            .unwrap_or_else(|e| panic!("publish: {e}"));
        assert!(ok);
        let read = configs
            .get_config(s("auth-rust.cfg"), s(GROUP))
            .await
            .unwrap_or_else(|e| panic!("get config: {e}"));
        assert_eq!(read.content(), "content-1");

        // Past the TTL the token is refused...
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut port = 8001;
        loop {
            match register(port).await {
                Err(e) if e.to_string().contains("token expired!") => break,
                Err(e) => panic!("unexpected refusal: {e}"),
                Ok(()) => {}
            }
            assert!(Instant::now() < deadline, "the token never expired");
            port += 1;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        // ...until the SDK logs in again.
        let deadline = Instant::now() + Duration::from_secs(45);
        while register(port).await.is_err() {
            assert!(Instant::now() < deadline, "the SDK never logged in again");
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        // The config service logs in on its own schedule.
        let deadline = Instant::now() + Duration::from_secs(45);
        loop {
            let published = configs
                .publish_config(s("auth-rust.cfg"), s(GROUP), s("content-2"), None)
                .await;
            if matches!(published, Ok(true)) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "config never recovered: {published:?}"
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }

        let anonymous = naming(&server, "auth-anon", None).await;
        let refused = anonymous
            .register_instance(s("auth-rust-svc"), Some(s(GROUP)), instance(9999))
            .await;
        let error = refused
            .expect_err("registered without credentials")
            .to_string();
        assert!(error.contains("403"), "{error}");
        let anonymous_config = config(&server, "auth-anon-cfg", None).await;
        let refused = anonymous_config
            .publish_config(s("auth-anon.cfg"), s(GROUP), s("x"), None)
            .await;
        assert!(
            !matches!(refused, Ok(true)),
            "published without credentials"
        );
    });
}

/// A user whose role may only read `GROUP`: the Rust SDK (gRPC) lists and reads configs the
/// admin wrote, and is refused (403) when it registers or publishes; nacos-sdk-python 2.0.11
/// (HTTP) likewise, and is refused reading another group.
#[test]
fn a_missing_permission_refuses_real_clients() {
    let server = auth_server("18000");
    make_reader(&server);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let admin_names = naming(&server, "perm-admin", ADMIN).await;
        admin_names
            .register_instance(s("perm-svc"), Some(s(GROUP)), instance(8100))
            .await
            .unwrap_or_else(|e| panic!("admin register: {e}\n{}", server.log()));
        let admin_configs = config(&server, "perm-admin-cfg", ADMIN).await;
        let published = admin_configs
            .publish_config(s("perm.cfg"), s(GROUP), s("readable"), None)
            .await;
        assert!(matches!(published, Ok(true)), "{published:?}");

        let reader = Some(("reader", "reader-pw"));
        let names = naming(&server, "perm-reader", reader).await;
        let all = names
            .get_all_instances(s("perm-svc"), Some(s(GROUP)), Vec::new(), false)
            .await
            .unwrap_or_else(|e| panic!("reader list: {e}\n{}", server.log()));
        assert!(all.iter().any(|i| i.port == 8100), "{all:?}");
        let error = names
            .register_instance(s("perm-svc"), Some(s(GROUP)), instance(8101))
            .await
            .expect_err("a reader registered")
            .to_string();
        assert!(error.contains("403"), "{error}");
        let configs = config(&server, "perm-reader-cfg", reader).await;
        let read = configs
            .get_config(s("perm.cfg"), s(GROUP))
            .await
            .unwrap_or_else(|e| panic!("reader get config: {e}"));
        assert_eq!(read.content(), "readable");
        let published = configs
            .publish_config(s("perm.cfg"), s(GROUP), s("overwritten"), None)
            .await;
        assert!(!matches!(published, Ok(true)), "a reader published");
    });
    let (status, body) = server.http(
        "GET",
        &format!("/nacos/v1/cs/configs?dataId=perm.cfg&group={GROUP}&username=nacos&password={ADMIN_PASSWORD}"),
        None,
    );
    assert_eq!((status, body.as_str()), (200, "readable"));
    let addr = format!("127.0.0.1:{}", server.http_port);
    let args = ["--server", &addr, "--group", GROUP];
    let out = common::run_python("py_auth_reader.py", &args);
    common::assert_client_ok("py_auth_reader.py", &out, "PY_AUTH_READER_OK", &server);
}

/// nacos-sdk-python 2.0.11 (HTTP v1): registers, lists, publishes and reads with a login;
/// a token kept past the TTL is refused and a new login recovers; refused without
/// credentials or with a wrong password (py_auth_v1.py).
#[test]
fn python_v1_client() {
    let server = auth_server("3");
    let addr = format!("127.0.0.1:{}", server.http_port);
    let args = [
        "--server",
        &addr,
        "--username",
        "nacos",
        "--password",
        ADMIN_PASSWORD,
        "--ttl",
        "3",
    ];
    let out = common::run_python("py_auth_v1.py", &args);
    common::assert_client_ok("py_auth_v1.py", &out, "PY_AUTH_V1_OK", &server);
}

/// nacos-sdk-python 3.2.0 (gRPC, token in the metadata headers): registers, lists, publishes
/// and reads across several token lifetimes; refused without credentials (py_auth_v2.py).
#[test]
fn python_v2_grpc_client() {
    let server = auth_server("3");
    let addr = format!("127.0.0.1:{}", server.http_port);
    let grpc = server.grpc_port.to_string();
    let args = [
        "--server",
        &addr,
        "--grpc-port",
        &grpc,
        "--username",
        "nacos",
        "--password",
        ADMIN_PASSWORD,
        "--ttl",
        "3",
    ];
    let out = common::run_python3("py_auth_v2.py", &args);
    common::assert_client_ok("py_auth_v2.py", &out, "PY_AUTH_V2_OK", &server);
}

/// npm `nacos` 2.6.3 (username+password on every request): registers, lists, publishes and
/// reads; without credentials or with a wrong password refused (node_auth.js, twice).
#[test]
fn node_client() {
    let server = auth_server("18000");
    let addr = format!("127.0.0.1:{}", server.http_port);
    let args = [
        "--server",
        &addr,
        "--username",
        "nacos",
        "--password",
        ADMIN_PASSWORD,
    ];
    let out = common::run_node("node_auth.js", &args);
    common::assert_client_ok("node_auth.js", &out, "NODE_AUTH_OK", &server);
    let mut anonymous = args.to_vec();
    anonymous.extend(["--anonymous", "yes"]);
    let out = common::run_node("node_auth.js", &anonymous);
    common::assert_client_ok("node_auth.js --anonymous", &out, "NODE_AUTH_OK", &server);
}
