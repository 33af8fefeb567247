//! Authentication over HTTP with `--auth-enabled`: the first admin, login, tokens by param and
//! by `Authorization: Bearer`, the 403 bodies Nacos answers for missing, forged, `alg: none`,
//! cut and expired tokens, the login throttle, users/roles/permissions administration, the
//! permission check on naming and config, and users surviving kill -9.

mod common;

use std::time::{Duration, Instant};

use base64::Engine;
use common::{send, Server};
use serde_json::Value;

const SECRET: &str = "nacore-test-token-secret-0123456789abcdef";
const ADMIN_PASSWORD: &str = "admin-pw-1";

fn auth_args(ttl_s: &str) -> Vec<&str> {
    vec![
        "--auth-enabled",
        "--auth-token-secret",
        SECRET,
        "--auth-token-ttl-s",
        ttl_s,
    ]
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// Creates the admin `nacos` and returns its token.
fn init_admin(server: &Server) -> String {
    let (status, body) = server.http(
        "POST",
        "/nacos/v1/auth/users/admin",
        Some(&format!("password={ADMIN_PASSWORD}")),
    );
    assert_eq!(status, 200, "{body}");
    let created = json(&body);
    assert_eq!(created["username"], "nacos");
    assert_eq!(created["password"], ADMIN_PASSWORD);
    login(server, "nacos", ADMIN_PASSWORD)
}

fn login(server: &Server, username: &str, password: &str) -> String {
    let reply = send(
        server,
        "POST",
        &format!("/nacos/v1/auth/users/login?username={username}"),
        &[],
        Some(&format!("password={password}")),
    );
    assert_eq!(reply.status, 200, "login of {username}: {}", reply.body);
    let body = json(&reply.body);
    let token = body["accessToken"].as_str().unwrap().to_string();
    assert_eq!(body["username"], username);
    assert!(body["tokenTtl"].as_u64().unwrap() > 0);
    assert_eq!(
        reply.header("authorization"),
        Some(format!("Bearer {token}").as_str())
    );
    token
}

const LIST: &str = "/nacos/v1/ns/instance/list?serviceName=auth-svc";

/// Without a token: 403 `user not found!`; with one by param or header: served. A second
/// admin initialisation is answered with Nacos's 409 result.
#[test]
fn tokens_by_param_and_bearer() {
    let server = Server::start_with(&auth_args("18000"));
    assert_eq!(
        server.http("GET", LIST, None),
        (403, "user not found!".to_string())
    );
    let token = init_admin(&server);
    let (status, body) = server.http("POST", "/nacos/v1/auth/users/admin", Some("password=x"));
    assert_eq!(status, 200);
    assert_eq!(json(&body)["code"], 409, "{body}");
    let (status, body) = server.http("GET", &format!("{LIST}&accessToken={token}"), None);
    assert_eq!(status, 200, "{body}");
    let bearer = format!("Bearer {token}");
    let reply = send(&server, "GET", LIST, &[("Authorization", &bearer)], None);
    assert_eq!(reply.status, 200, "{}", reply.body);
    // The v1 alias and the v3 login answer the same.
    for path in ["/nacos/v1/auth/login", "/nacos/v3/auth/user/login"] {
        let body = format!("username=nacos&password={ADMIN_PASSWORD}");
        let (status, answer) = server.http("POST", path, Some(&body));
        assert_eq!(status, 200, "{path}: {answer}");
        assert_eq!(json(&answer)["globalAdmin"], true);
    }
    // username+password on the request itself.
    let q = format!("{LIST}&username=nacos&password={ADMIN_PASSWORD}");
    assert_eq!(server.http("GET", &q, None).0, 200);
    let q = format!("{LIST}&username=nacos&password=wrong");
    assert_eq!(
        server.http("GET", &q, None),
        (403, "user not found!".to_string())
    );
    // Login stays open, health and metrics too.
    let (status, _) = server.http("GET", "/nacos/v1/ns/operator/metrics", None);
    assert_eq!(status, 200);
}

/// Bad tokens get Nacos's bodies; a token past its TTL is `token expired!`.
#[test]
fn bad_and_expired_tokens() {
    let server = Server::start_with(&auth_args("2"));
    let token = init_admin(&server);
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = engine.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let claims = engine.encode(br#"{"sub":"nacos","exp":99999999999}"#);
    let none = format!("{header}.{claims}.");
    let parts: Vec<&str> = token.split('.').collect();
    let forged = format!("{}.{}.{}", parts[0], claims, parts[2]);
    let cut = token[..token.len() - 4].to_string();
    let long = "a".repeat(5000);
    for bad in [
        none.as_str(),
        forged.as_str(),
        cut.as_str(),
        "garbage",
        long.as_str(),
    ] {
        let (status, body) = server.http("GET", &format!("{LIST}&accessToken={bad}"), None);
        assert_eq!((status, body.as_str()), (403, "token invalid!"), "{bad}");
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = server.http("GET", &format!("{LIST}&accessToken={token}"), None);
        if (status, body.as_str()) == (403, "token expired!") {
            break;
        }
        assert_eq!(status, 200, "{body}");
        assert!(Instant::now() < deadline, "the token never expired");
        std::thread::sleep(Duration::from_millis(200));
    }
    // A fresh login works again.
    let fresh = login(&server, "nacos", ADMIN_PASSWORD);
    assert_eq!(
        server
            .http("GET", &format!("{LIST}&accessToken={fresh}"), None)
            .0,
        200
    );
}

/// Oversized credentials are refused without work; repeated failed logins from one IP are
/// refused for a while, even with the right password.
#[test]
fn oversized_credentials_and_login_flood() {
    let mut args = auth_args("18000");
    args.extend(["--cores", "1"]);
    let server = Server::start_with(&args);
    init_admin(&server);
    let long_user = "u".repeat(200);
    let long_password = "p".repeat(200);
    let body = format!("username={long_user}&password=x");
    assert_eq!(
        server.http("POST", "/nacos/v1/auth/login", Some(&body)).0,
        403
    );
    let body = format!("username=nacos&password={long_password}");
    assert_eq!(
        server.http("POST", "/nacos/v1/auth/login", Some(&body)).0,
        403
    );
    let mut refused = false;
    for _ in 0..10 {
        let (status, _) = server.http(
            "POST",
            "/nacos/v1/auth/login",
            Some("username=nacos&password=wrong"),
        );
        if status == 429 {
            refused = true;
            break;
        }
        assert_eq!(status, 403);
    }
    assert!(refused, "failed logins were never throttled");
    let body = format!("username=nacos&password={ADMIN_PASSWORD}");
    assert_eq!(
        server.http("POST", "/nacos/v1/auth/login", Some(&body)).0,
        429
    );
}

fn admin_call(server: &Server, token: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    let bearer = format!("Bearer {token}");
    let reply = send(
        server,
        method,
        path,
        &[("Authorization", &bearer)],
        Some(body),
    );
    (reply.status, reply.body)
}

/// Users, roles and permissions: created, paged, searched and deleted by the admin; a user
/// without a permission gets `authorization failed!`, with it the request is served; only
/// the admin may administer.
#[test]
fn users_roles_permissions() {
    let server = Server::start_with(&auth_args("18000"));
    let admin = init_admin(&server);
    for i in 0..5 {
        let body = format!("username=user{i}&password=pw{i}");
        let (status, answer) = admin_call(&server, &admin, "POST", "/nacos/v1/auth/users", &body);
        assert_eq!(status, 200, "{answer}");
        assert_eq!(json(&answer)["data"], "create user ok!");
    }
    let (status, answer) = admin_call(
        &server,
        &admin,
        "POST",
        "/nacos/v1/auth/users",
        "username=user0&password=x",
    );
    assert_eq!(
        (status, answer.as_str()),
        (400, "user 'user0' already exist!")
    );
    let (status, page) = admin_call(
        &server,
        &admin,
        "GET",
        "/nacos/v1/auth/users?pageNo=2&pageSize=4",
        "",
    );
    assert_eq!(status, 200);
    let page = json(&page);
    assert_eq!(page["totalCount"], 6);
    assert_eq!(page["pageNumber"], 2);
    assert_eq!(page["pagesAvailable"], 2);
    assert_eq!(page["pageItems"].as_array().unwrap().len(), 2);
    assert!(page["pageItems"][0]["password"]
        .as_str()
        .unwrap()
        .starts_with("$2a$"));
    let (_, blur) = admin_call(
        &server,
        &admin,
        "GET",
        "/nacos/v1/auth/users?pageNo=1&pageSize=10&username=ser3&search=blur",
        "",
    );
    assert_eq!(json(&blur)["totalCount"], 1);
    let (_, found) = admin_call(
        &server,
        &admin,
        "GET",
        "/nacos/v1/auth/users/search?username=user",
        "",
    );
    assert_eq!(json(&found).as_array().unwrap().len(), 5);

    // Per-request credentials (cached once verified) stop working once the password changes;
    // a user may change their own password.
    let with_old = "/nacos/v1/ns/instance/list?serviceName=auth-svc&username=user2&password=pw2";
    let with_new =
        "/nacos/v1/ns/instance/list?serviceName=auth-svc&username=user2&password=pw2-new";
    let identified = (403, "authorization failed!".to_string());
    let unknown = (403, "user not found!".to_string());
    assert_eq!(
        server.http("GET", with_old, None),
        identified,
        "user2 has no permission"
    );
    let user2 = login(&server, "user2", "pw2");
    let own = "/nacos/v1/auth/users?username=user2&newPassword=pw2-new";
    let (status, body) = admin_call(&server, &user2, "PUT", own, "");
    assert_eq!(status, 200, "{body}");
    assert_eq!(server.http("GET", with_old, None), unknown);
    assert_eq!(server.http("GET", with_new, None), identified);
    let user = login(&server, "user1", "pw1");
    // Not an admin: no administration.
    let (status, body) = admin_call(
        &server,
        &user,
        "GET",
        "/nacos/v1/auth/users?pageNo=1&pageSize=10",
        "",
    );
    assert_eq!((status, body.as_str()), (403, "authorization failed!"));
    // No permission yet.
    let read = format!("{LIST}&accessToken={user}");
    assert_eq!(
        server.http("GET", &read, None),
        (403, "authorization failed!".to_string())
    );
    let (status, body) = admin_call(
        &server,
        &admin,
        "POST",
        "/nacos/v1/auth/roles",
        "role=dev&username=user1",
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = admin_call(
        &server,
        &admin,
        "POST",
        "/nacos/v1/auth/permissions",
        "role=dev&resource=public:*:naming/*&action=r",
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(server.http("GET", &read, None).0, 200);
    let register = format!(
        "/nacos/v1/ns/instance?serviceName=auth-svc&ip=10.0.0.1&port=80&accessToken={user}"
    );
    assert_eq!(
        server.http("POST", &register, None),
        (403, "authorization failed!".to_string())
    );
    let config = format!("/nacos/v1/cs/configs?dataId=d1&group=G&accessToken={user}");
    let publish = format!("{config}&content=hello");
    assert_eq!(
        server.http("POST", &publish, None),
        (403, "authorization failed!".to_string())
    );
    let (status, _) = admin_call(
        &server,
        &admin,
        "POST",
        "/nacos/v1/auth/permissions",
        "role=dev&resource=public:G:config/*&action=rw",
    );
    assert_eq!(status, 200);
    assert_eq!(
        server.http("POST", &publish, None),
        (200, "true".to_string())
    );
    assert_eq!(
        server.http("GET", &config, None),
        (200, "hello".to_string())
    );
    let (_, roles) = admin_call(
        &server,
        &admin,
        "GET",
        "/nacos/v1/auth/roles?pageNo=1&pageSize=10&username=user1",
        "",
    );
    assert_eq!(json(&roles)["pageItems"][0]["role"], "dev");
    let (_, perms) = admin_call(
        &server,
        &admin,
        "GET",
        "/nacos/v1/auth/permissions?pageNo=1&pageSize=10&role=dev",
        "",
    );
    assert_eq!(json(&perms)["totalCount"], 2);
    let (status, _) = admin_call(
        &server,
        &admin,
        "DELETE",
        "/nacos/v1/auth/permissions?role=dev&resource=public:*:naming/*&action=r",
        "",
    );
    assert_eq!(status, 200);
    assert_eq!(
        server.http("GET", &read, None),
        (403, "authorization failed!".to_string())
    );
    // Deleting the user makes its token name nobody.
    let (status, _) = admin_call(
        &server,
        &admin,
        "DELETE",
        "/nacos/v1/auth/users?username=user1",
        "",
    );
    assert_eq!(status, 200);
    assert_eq!(
        server.http("GET", &config, None),
        (403, "user not found!".to_string())
    );
    let (status, body) = admin_call(
        &server,
        &admin,
        "DELETE",
        "/nacos/v1/auth/users?username=nacos",
        "",
    );
    assert_eq!((status, body.as_str()), (400, "cannot delete admin: nacos"));
}

/// A user created before kill -9 logs in after the restart.
#[test]
fn users_survive_kill9() {
    let mut server = Server::start_with(&auth_args("18000"));
    let admin = init_admin(&server);
    let (status, _) = admin_call(
        &server,
        &admin,
        "POST",
        "/nacos/v1/auth/users",
        "username=keep&password=kept-pw",
    );
    assert_eq!(status, 200);
    server.kill9();
    server.restart();
    login(&server, "keep", "kept-pw");
    login(&server, "nacos", ADMIN_PASSWORD);
    let (status, body) = server.http("POST", "/nacos/v1/auth/users/admin", Some("password=x"));
    assert_eq!(status, 200);
    assert_eq!(json(&body)["code"], 409);
}

/// With auth on and no (or a short) token secret the server refuses to start, saying why.
#[test]
fn refuses_to_start_without_a_secret() {
    for extra in [vec![], vec!["--auth-token-secret", "too-short"]] {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_nacore"));
        cmd.args(["--auth-enabled", "--cores", "1", "--http-port", "1"]);
        cmd.args(&extra);
        cmd.env_remove("NACORE_AUTH_TOKEN_SECRET");
        let out = common::run_with_timeout(cmd, Duration::from_secs(20));
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("--auth-token-secret"), "{stderr}");
    }
}
