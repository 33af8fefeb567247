//! Authentication and permissions, Nacos-style (nacos-protocol.md §6): bcrypt password hashes,
//! HS256 JWT access tokens, users/roles/permissions tables and the `namespace:group:type/name`
//! permission match. Knows nothing of HTTP or gRPC: `api::auth` and `api::auth_gate` call it.
//!
//! Each core keeps its own copy of the tables (`AuthTables`), rebuilt from LMDB at start and
//! changed by every applied `AuthCommand` (broadcast by the Raft core), plus its own login
//! throttle and credential cache: no locks on the request path.

pub mod cache;
pub mod command;
pub mod password;
pub mod permission;
pub mod secret;
pub mod tables;
pub mod throttle;
pub mod token;

use std::cell::RefCell;

pub use command::{AuthCommand, AuthRecord};
pub use secret::Secret;
pub use tables::AuthTables;

/// The role that may do anything (Nacos `AuthConstants.GLOBAL_ADMIN_ROLE`).
pub const GLOBAL_ADMIN_ROLE: &str = "ROLE_ADMIN";
/// The user `/v1/auth/users/admin` creates (Nacos `AuthConstants.DEFAULT_USER`).
pub const DEFAULT_ADMIN_USER: &str = "nacos";

/// Auth flags, resolved.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub enabled: bool,
    pub token_secret: Option<Secret>,
    pub token_ttl_s: u64,
    /// Shared by the members: presented on the cluster port and in the server identity
    /// header of requests between members.
    pub cluster_secret: Option<Secret>,
}

impl AuthSettings {
    pub fn disabled() -> AuthSettings {
        AuthSettings {
            enabled: false,
            token_secret: None,
            token_ttl_s: crate::limits::AUTH_TOKEN_TTL_DEFAULT_S,
            cluster_secret: None,
        }
    }
}

/// Why a request has no identity or no permission; `message` is Nacos's body for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthError {
    TokenInvalid,
    TokenExpired,
    UserNotFound,
    Forbidden,
    /// Too many failed logins from this IP lately.
    Throttled,
}

impl AuthError {
    pub fn message(self) -> &'static str {
        match self {
            AuthError::TokenInvalid => "token invalid!",
            AuthError::TokenExpired => "token expired!",
            AuthError::UserNotFound => "user not found!",
            AuthError::Forbidden => "authorization failed!",
            AuthError::Throttled => "too many failed logins, try again later",
        }
    }
}

/// One core's auth state: settings, its copy of the tables, its throttle and cache.
pub struct AuthState {
    pub settings: AuthSettings,
    pub tables: RefCell<AuthTables>,
    pub throttle: RefCell<throttle::LoginThrottle>,
    pub cache: RefCell<cache::CredentialCache>,
}

impl AuthState {
    pub fn new(settings: AuthSettings) -> AuthState {
        AuthState {
            settings,
            tables: RefCell::new(AuthTables::default()),
            throttle: RefCell::new(throttle::LoginThrottle::new()),
            cache: RefCell::new(cache::CredentialCache::new()),
        }
    }

    /// A token for `username`, valid for the configured TTL from `now_s` (Unix seconds).
    pub fn issue_token(&self, username: &str, now_s: u64) -> Option<String> {
        let secret = self.settings.token_secret.as_ref()?;
        token::issue(secret, username, now_s + self.settings.token_ttl_s)
    }

    /// The username a token names, if the token is valid and its user still exists.
    pub fn check_token(&self, token: &str, now_s: u64) -> Result<String, AuthError> {
        let Some(secret) = self.settings.token_secret.as_ref() else {
            return Err(AuthError::TokenInvalid);
        };
        let username = token::verify(secret, token, now_s)?;
        if self.tables.borrow().user_hash(&username).is_none() {
            return Err(AuthError::UserNotFound);
        }
        Ok(username)
    }
}

/// Unix time in seconds.
pub fn unix_now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
