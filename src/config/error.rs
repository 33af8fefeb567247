//! What can go wrong in the config center, as kinds the edges render in their own way (v1 text,
//! v2 `{code,message,data}`, gRPC `errorCode`); see nacos-config-protocol.md §1.4.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ConfigErrorKind {
    /// A required parameter is absent.
    MissingParam,
    /// Nacos's parameter checker (runs before the handler): v1 answers the bare message.
    ParamCheck,
    /// `ParamUtils` validation: v1 `caused: <msg>;`, v2 20002.
    Invalid,
    /// The config (or history row, or namespace) does not exist.
    NotFound,
    /// `casMd5` did not match the stored md5.
    CasMismatch,
    /// A history row asked for under another config's name.
    Forbidden,
    /// A limit of `limits.rs` was reached.
    LimitReached,
    /// No Raft leader, or the server is starting.
    Unavailable,
    Internal,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ConfigError {
    pub kind: ConfigErrorKind,
    pub message: String,
}

impl ConfigError {
    pub fn new(kind: ConfigErrorKind, message: impl Into<String>) -> ConfigError {
        ConfigError {
            kind,
            message: message.into(),
        }
    }

    /// Spring's text for an absent `@RequestParam`.
    pub fn missing(param: &str) -> ConfigError {
        ConfigError::new(
            ConfigErrorKind::MissingParam,
            format!("Required request parameter '{param}' for method parameter type String is not present"),
        )
    }

    pub fn invalid(message: impl Into<String>) -> ConfigError {
        ConfigError::new(ConfigErrorKind::Invalid, message)
    }

    pub fn not_found() -> ConfigError {
        ConfigError::new(ConfigErrorKind::NotFound, "config data not exist")
    }

    pub fn cas_mismatch() -> ConfigError {
        ConfigError::new(
            ConfigErrorKind::CasMismatch,
            "Cas publish fail, server md5 may have changed.",
        )
    }

    pub fn internal(message: impl Into<String>) -> ConfigError {
        ConfigError::new(ConfigErrorKind::Internal, message)
    }

    pub fn unavailable(message: impl Into<String>) -> ConfigError {
        ConfigError::new(ConfigErrorKind::Unavailable, message)
    }

    /// A stable name of the kind, for the peer protocol.
    pub fn kind_name(&self) -> &'static str {
        KINDS
            .iter()
            .find(|(k, _)| *k == self.kind)
            .map_or("Internal", |(_, n)| n)
    }

    pub fn kind_from_name(name: &str) -> ConfigErrorKind {
        KINDS
            .iter()
            .find(|(_, n)| *n == name)
            .map_or(ConfigErrorKind::Internal, |(k, _)| *k)
    }
}

const KINDS: [(ConfigErrorKind, &str); 9] = [
    (ConfigErrorKind::MissingParam, "MissingParam"),
    (ConfigErrorKind::ParamCheck, "ParamCheck"),
    (ConfigErrorKind::Invalid, "Invalid"),
    (ConfigErrorKind::NotFound, "NotFound"),
    (ConfigErrorKind::CasMismatch, "CasMismatch"),
    (ConfigErrorKind::Forbidden, "Forbidden"),
    (ConfigErrorKind::LimitReached, "LimitReached"),
    (ConfigErrorKind::Unavailable, "Unavailable"),
    (ConfigErrorKind::Internal, "Internal"),
];

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

pub type ConfigResult<T> = Result<T, ConfigError>;
