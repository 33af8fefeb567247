//! The Nacos auth HTTP API (`UserController`, `RoleController`, `PermissionController` of the
//! default auth plugin): login, the one-time admin initialisation, and users, roles and
//! permissions administration (global admin only when auth is on). Writes go through Raft as
//! `RaftCommand::Auth`; reads use this core's copy of the tables. Served whether auth is on
//! or off, as Nacos does.

// A refusal is the response itself, built once on a rare path: boxing it buys nothing.
#![allow(clippy::result_large_err)]

use serde_json::{json, Value};

use crate::api::auth_gate::{self, client_ip, credentials_of, refusal};
use crate::auth::{AuthCommand, AuthError, DEFAULT_ADMIN_USER};
use crate::http::codec::Method;
use crate::http::conn::Request;
use crate::http::params::Params;
use crate::http::response::Response;
use crate::limits::{
    AUTH_PAGE_SIZE_MAX, AUTH_PASSWORD_BYTES_MAX, AUTH_RESOURCE_BYTES_MAX, AUTH_ROLE_BYTES_MAX,
    AUTH_USERNAME_BYTES_MAX,
};
use crate::naming::op::NamingReply;
use crate::raft::command::RaftCommand;
use crate::shard::CoreHandle;

/// Routes `/nacos/v1/auth/...` and `/nacos/v3/auth/...`; None for other paths.
pub async fn route(core: &CoreHandle, request: &Request, path: &str) -> Option<Response> {
    use Method::*;
    let rest = path
        .strip_prefix("/nacos/v1/auth")
        .or_else(|| path.strip_prefix("/nacos/v3/auth"))?;
    let method = match request.head.method {
        Head => Get,
        other => other,
    };
    Some(match (method, rest) {
        (Post, "/login" | "/users/login" | "/user/login") => login(core, request).await,
        (Post, "/users/admin" | "/user/admin") => init_admin(core, request).await,
        (_, "/users" | "/users/search" | "/roles" | "/roles/search" | "/permissions") => {
            if let Err(response) = require_admin(core, request).await {
                return Some(response);
            }
            admin(core, request, method, rest).await
        }
        _ => return None,
    })
}

async fn login(core: &CoreHandle, request: &Request) -> Response {
    let p = &request.params;
    let (Some(username), Some(password)) = (p.non_blank("username"), p.get("password")) else {
        return refusal(AuthError::UserNotFound);
    };
    let ip = client_ip(request);
    if let Err(error) = auth_gate::verify_password(core, username, password, &ip).await {
        return refusal(error);
    }
    let auth = core.auth();
    let Some(token) = auth.issue_token(username, crate::auth::unix_now_s()) else {
        return Response::text(500, "cannot issue a token");
    };
    let body = json!({
        "accessToken": token,
        "tokenTtl": auth.settings.token_ttl_s,
        "globalAdmin": auth.tables.borrow().is_admin(username),
        "username": username,
    });
    Response::json(200, body.to_string()).with_header("Authorization", format!("Bearer {token}"))
}

/// `POST /v1/auth/users/admin`: creates `nacos` as global admin while there is none; after
/// that Nacos answers `{"code":409,...}` (HTTP 200).
async fn init_admin(core: &CoreHandle, request: &Request) -> Response {
    if core.auth().tables.borrow().has_admin() {
        return conflict();
    }
    let password = match request.params.non_blank("password") {
        Some(password) if password.len() > AUTH_PASSWORD_BYTES_MAX => {
            return Response::text(400, "password is too long");
        }
        Some(password) => password.to_string(),
        None => random_password(),
    };
    let Some(hash) = hash(&password).await else {
        return Response::text(500, "cannot hash the password");
    };
    let command = AuthCommand::InitAdmin {
        username: DEFAULT_ADMIN_USER.to_string(),
        hash,
    };
    match propose(core, command).await {
        Ok(()) => {
            let body = json!({"username": DEFAULT_ADMIN_USER, "password": password});
            Response::json(200, body.to_string())
        }
        Err(response) if response.status == 400 => conflict(),
        Err(response) => response,
    }
}

fn conflict() -> Response {
    let body = json!({"code": 409, "message": "have admin user cannot use it", "data": null});
    Response::json(200, body.to_string())
}

fn random_password() -> String {
    let mut bytes = [0u8; 12];
    if let Ok(mut file) = std::fs::File::open("/dev/urandom") {
        let _ = std::io::Read::read_exact(&mut file, &mut bytes);
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// With auth on, the admin APIs need the global admin (a user may change their own password).
async fn require_admin(core: &CoreHandle, request: &Request) -> Result<(), Response> {
    if !core.auth().settings.enabled || auth_gate::is_server(core, request) {
        return Ok(());
    }
    let username = auth_gate::identify(core, &credentials_of(request), &client_ip(request))
        .await
        .map_err(refusal)?;
    if core.auth().tables.borrow().is_admin(&username) {
        return Ok(());
    }
    let own_password = request.head.method == Method::Put
        && request
            .head
            .path()
            .trim_end_matches('/')
            .ends_with("/users")
        && request.params.get("username") == Some(username.as_str());
    if own_password {
        return Ok(());
    }
    Err(refusal(AuthError::Forbidden))
}

async fn admin(core: &CoreHandle, request: &Request, method: Method, rest: &str) -> Response {
    use Method::*;
    let p = &request.params;
    let outcome = match (method, rest) {
        (Get, "/users") => return list_users(core, p),
        (Get, "/users/search") => return search(core, p, "username", true),
        (Get, "/roles") => return list_roles(core, p),
        (Get, "/roles/search") => return search(core, p, "role", false),
        (Get, "/permissions") => return list_permissions(core, p),
        (Post, "/users") => create_user(core, p).await,
        (Put, "/users") => update_user(core, p).await,
        (Delete, "/users") => delete_user(core, p).await,
        (Post, "/roles") => add_role(core, p).await,
        (Delete, "/roles") => delete_role(core, p).await,
        (Post, "/permissions") => add_permission(core, p).await,
        (Delete, "/permissions") => delete_permission(core, p).await,
        _ => return Response::text(405, "method not allowed"),
    };
    match outcome {
        Ok(message) => Response::json(
            200,
            json!({"code": 200, "message": null, "data": message}).to_string(),
        ),
        Err(response) => response,
    }
}

fn required<'a>(p: &'a Params, name: &str, max_bytes: usize) -> Result<&'a str, Response> {
    let value = p.non_blank(name).ok_or_else(|| {
        Response::text(400, format!("Required parameter '{name}' is not present"))
    })?;
    if value.len() > max_bytes {
        return Err(Response::text(
            400,
            format!("'{name}' is longer than {max_bytes} bytes"),
        ));
    }
    if value.contains('\0') {
        return Err(Response::text(400, format!("'{name}' holds a NUL")));
    }
    Ok(value)
}

async fn hash(password: &str) -> Option<String> {
    let password = password.to_string();
    glommio::executor()
        .spawn_blocking(move || crate::auth::password::hash(&password))
        .await
}

async fn propose(core: &CoreHandle, command: AuthCommand) -> Result<(), Response> {
    match core.propose_applied(RaftCommand::Auth(command)).await.reply {
        NamingReply::Done => Ok(()),
        NamingReply::Error(error) => {
            let status = match error.kind {
                crate::naming::error::ErrorKind::Unavailable => 503,
                crate::naming::error::ErrorKind::Internal => 500,
                _ => 400,
            };
            Err(Response::text(status, error.message))
        }
        _ => Err(Response::text(500, "unexpected reply")),
    }
}

async fn create_user(core: &CoreHandle, p: &Params) -> Result<&'static str, Response> {
    let username = required(p, "username", AUTH_USERNAME_BYTES_MAX)?.to_string();
    let password = required(p, "password", AUTH_PASSWORD_BYTES_MAX)?;
    if core.auth().tables.borrow().user_hash(&username).is_some() {
        return Err(Response::text(
            400,
            format!("user '{username}' already exist!"),
        ));
    }
    let hash = hash(password)
        .await
        .ok_or_else(|| Response::text(500, "cannot hash"))?;
    propose(core, AuthCommand::CreateUser { username, hash }).await?;
    Ok("create user ok!")
}

async fn update_user(core: &CoreHandle, p: &Params) -> Result<&'static str, Response> {
    let username = required(p, "username", AUTH_USERNAME_BYTES_MAX)?.to_string();
    let password = required(p, "newPassword", AUTH_PASSWORD_BYTES_MAX)?;
    let hash = hash(password)
        .await
        .ok_or_else(|| Response::text(500, "cannot hash"))?;
    propose(core, AuthCommand::SetPassword { username, hash }).await?;
    Ok("update user ok!")
}

async fn delete_user(core: &CoreHandle, p: &Params) -> Result<&'static str, Response> {
    let username = required(p, "username", AUTH_USERNAME_BYTES_MAX)?.to_string();
    if core.auth().tables.borrow().is_admin(&username) {
        return Err(Response::text(
            400,
            format!("cannot delete admin: {username}"),
        ));
    }
    propose(core, AuthCommand::DeleteUser { username }).await?;
    Ok("delete user ok!")
}

async fn add_role(core: &CoreHandle, p: &Params) -> Result<&'static str, Response> {
    let role = required(p, "role", AUTH_ROLE_BYTES_MAX)?.to_string();
    let username = required(p, "username", AUTH_USERNAME_BYTES_MAX)?.to_string();
    propose(core, AuthCommand::AddRole { role, username }).await?;
    Ok("add role ok!")
}

async fn delete_role(core: &CoreHandle, p: &Params) -> Result<&'static str, Response> {
    let role = required(p, "role", AUTH_ROLE_BYTES_MAX)?.to_string();
    let username = p.non_blank("username").map(str::to_string);
    let message = if username.is_some() {
        "delete role of user ok!"
    } else {
        "delete role ok!"
    };
    propose(core, AuthCommand::DeleteRole { role, username }).await?;
    Ok(message)
}

fn permission_params(p: &Params) -> Result<(String, String, String), Response> {
    let role = required(p, "role", AUTH_ROLE_BYTES_MAX)?.to_string();
    let resource = required(p, "resource", AUTH_RESOURCE_BYTES_MAX)?.to_string();
    let action = required(p, "action", 2)?.to_string();
    if !matches!(action.as_str(), "r" | "w" | "rw") {
        return Err(Response::text(400, "action must be r, w or rw"));
    }
    Ok((role, resource, action))
}

async fn add_permission(core: &CoreHandle, p: &Params) -> Result<&'static str, Response> {
    let (role, resource, action) = permission_params(p)?;
    let command = AuthCommand::AddPermission {
        role,
        resource,
        action,
    };
    propose(core, command).await?;
    Ok("add permission ok!")
}

async fn delete_permission(core: &CoreHandle, p: &Params) -> Result<&'static str, Response> {
    let (role, resource, action) = permission_params(p)?;
    let command = AuthCommand::DeletePermission {
        role,
        resource,
        action,
    };
    propose(core, command).await?;
    Ok("delete permission ok!")
}

/// Whether `value` passes the list filter: exact by default, substring with `search=blur`.
fn filter(p: &Params, name: &str, value: &str) -> bool {
    let Some(wanted) = p.non_blank(name) else {
        return true;
    };
    if p.get("search") == Some("blur") {
        let wanted = wanted.trim_matches('*');
        return value.contains(wanted);
    }
    value == wanted
}

/// Nacos's `Page` of `items`, after `pageNo` (from 1) and `pageSize`.
fn page(p: &Params, items: Vec<Value>) -> Response {
    let page_no = p
        .get("pageNo")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let page_size = p
        .get("pageSize")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(100)
        .clamp(1, AUTH_PAGE_SIZE_MAX);
    let total = items.len();
    let pages = total.div_ceil(page_size);
    let start = (page_no - 1).saturating_mul(page_size);
    let page_items: Vec<Value> = items.into_iter().skip(start).take(page_size).collect();
    let body = json!({
        "totalCount": total,
        "pageNumber": page_no,
        "pagesAvailable": pages,
        "pageItems": page_items,
    });
    Response::json(200, body.to_string())
}

fn list_users(core: &CoreHandle, p: &Params) -> Response {
    let auth = core.auth();
    let tables = auth.tables.borrow();
    let items = tables
        .users()
        .filter(|(name, _)| filter(p, "username", name))
        .map(|(name, hash)| json!({"username": name, "password": hash}))
        .collect();
    page(p, items)
}

fn list_roles(core: &CoreHandle, p: &Params) -> Response {
    let auth = core.auth();
    let tables = auth.tables.borrow();
    let items = tables
        .roles()
        .filter(|(role, user)| filter(p, "role", role) && filter(p, "username", user))
        .map(|(role, user)| json!({"role": role, "username": user}))
        .collect();
    page(p, items)
}

fn list_permissions(core: &CoreHandle, p: &Params) -> Response {
    let auth = core.auth();
    let tables = auth.tables.borrow();
    let items = tables
        .permissions()
        .filter(|(role, _, _)| filter(p, "role", role))
        .map(|(role, resource, action)| {
            json!({"role": role, "resource": resource, "action": action})
        })
        .collect();
    page(p, items)
}

/// `/users/search?username=` and `/roles/search?role=`: the names containing the text.
fn search(core: &CoreHandle, p: &Params, name: &str, users: bool) -> Response {
    let wanted = p.get(name).unwrap_or("");
    let auth = core.auth();
    let tables = auth.tables.borrow();
    let mut names: Vec<&str> = if users {
        tables.users().map(|(n, _)| n.as_str()).collect()
    } else {
        tables.roles().map(|(r, _)| r.as_str()).collect()
    };
    names.dedup();
    let found: Vec<&str> = names.into_iter().filter(|n| n.contains(wanted)).collect();
    Response::json(200, json!(found).to_string())
}
