//! Writes to the auth tables, as Raft commands (`RaftCommand::Auth`), and the table rows
//! (`AuthRecord`) they leave in LMDB. Every member and every core applies the same commands
//! in log order, so all copies of the tables agree.

/// One write. Passwords arrive already hashed (the proposer hashes; the log never holds a
/// password).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum AuthCommand {
    CreateUser {
        username: String,
        hash: String,
    },
    SetPassword {
        username: String,
        hash: String,
    },
    /// Also removes the user's roles.
    DeleteUser {
        username: String,
    },
    /// Creates the default admin with `ROLE_ADMIN`, only while no user holds that role.
    InitAdmin {
        username: String,
        hash: String,
    },
    AddRole {
        role: String,
        username: String,
    },
    /// `username` None removes the role from everyone (and its permissions).
    DeleteRole {
        role: String,
        username: Option<String>,
    },
    AddPermission {
        role: String,
        resource: String,
        action: String,
    },
    DeletePermission {
        role: String,
        resource: String,
        action: String,
    },
    /// Replaces everything (rebuilding a core's copy from the stored rows).
    Load(Vec<AuthRecord>),
    /// Empties the tables (before a snapshot's rows are loaded).
    Clear,
}

/// One stored row, or the deletion of one.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum AuthRecord {
    User {
        username: String,
        hash: String,
    },
    NoUser {
        username: String,
    },
    Role {
        role: String,
        username: String,
    },
    NoRole {
        role: String,
        username: String,
    },
    Permission {
        role: String,
        resource: String,
        action: String,
    },
    NoPermission {
        role: String,
        resource: String,
        action: String,
    },
}

/// Why a command changed nothing (Nacos's messages).
pub type AuthRefusal = String;
