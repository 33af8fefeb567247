//! Naming errors: what went wrong, in protocol-neutral terms. The edges (api/) map each kind to
//! the HTTP status, the v2 `code` and, later, the gRPC `errorCode` that Nacos uses for it.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A required parameter is absent (Nacos: `Param 'x' is required.`).
    MissingParam,
    /// A parameter has the wrong syntax or is out of range.
    InvalidParam,
    InvalidWeight,
    InvalidMetadata,
    InvalidServiceName,
    InvalidCluster,
    ServiceNotFound,
    ServiceExists,
    ServiceNotEmpty,
    InstanceNotFound,
    /// Registering an ephemeral instance into a persistent service, or the reverse.
    KindConflict,
    /// A limit of `limits.rs` was reached.
    LimitReached,
    /// The server cannot take the request now (starting, or no Raft leader).
    Unavailable,
    Internal,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamingError {
    pub kind: ErrorKind,
    pub message: String,
}

impl NamingError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> NamingError {
        NamingError {
            kind,
            message: message.into(),
        }
    }

    pub fn missing(param: &str) -> NamingError {
        NamingError::new(
            ErrorKind::MissingParam,
            format!("Param '{param}' is required."),
        )
    }

    pub fn invalid(message: impl Into<String>) -> NamingError {
        NamingError::new(ErrorKind::InvalidParam, message)
    }
}

impl fmt::Display for NamingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for NamingError {}

pub type NamingResult<T> = Result<T, NamingError>;
