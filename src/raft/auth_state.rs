//! The auth tables' rows as state-table entries, beside the naming and config ones (their
//! kind bytes differ): users `U\0name` -> bcrypt hash, role bindings `R\0role\0user`,
//! permissions `P\0role\0resource\0action` (empty values). Raft snapshots carry the whole
//! state table, so they carry these rows too.

use crate::auth::AuthRecord;
use crate::raft::state::{key_of, parts_of, TableChange};

pub const USER: u8 = b'U';
pub const ROLE: u8 = b'R';
pub const PERMISSION: u8 = b'P';

pub fn is_auth_kind(key: &[u8]) -> bool {
    matches!(key.first(), Some(&USER | &ROLE | &PERMISSION))
}

pub fn change_of(record: &AuthRecord) -> TableChange {
    match record {
        AuthRecord::User { username, hash } => {
            TableChange::Put(key_of(USER, &[username]), hash.as_bytes().to_vec())
        }
        AuthRecord::NoUser { username } => TableChange::Delete(key_of(USER, &[username])),
        AuthRecord::Role { role, username } => {
            TableChange::Put(key_of(ROLE, &[role, username]), Vec::new())
        }
        AuthRecord::NoRole { role, username } => {
            TableChange::Delete(key_of(ROLE, &[role, username]))
        }
        AuthRecord::Permission {
            role,
            resource,
            action,
        } => TableChange::Put(key_of(PERMISSION, &[role, resource, action]), Vec::new()),
        AuthRecord::NoPermission {
            role,
            resource,
            action,
        } => TableChange::Delete(key_of(PERMISSION, &[role, resource, action])),
    }
}

/// Decodes one stored auth row; `None` for other kinds or unreadable rows.
pub fn record_of(key: &[u8], value: &[u8]) -> Option<AuthRecord> {
    let kind = *key.first()?;
    let mut parts = parts_of(key)?.into_iter();
    match kind {
        USER => Some(AuthRecord::User {
            username: parts.next()?,
            hash: String::from_utf8(value.to_vec()).ok()?,
        }),
        ROLE => Some(AuthRecord::Role {
            role: parts.next()?,
            username: parts.next()?,
        }),
        PERMISSION => Some(AuthRecord::Permission {
            role: parts.next()?,
            resource: parts.next()?,
            action: parts.next()?,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip() {
        let records = [
            AuthRecord::User {
                username: "u".into(),
                hash: "$2a$10$x".into(),
            },
            AuthRecord::Role {
                role: "r".into(),
                username: "u".into(),
            },
            AuthRecord::Permission {
                role: "r".into(),
                resource: "public:*:*".into(),
                action: "rw".into(),
            },
        ];
        for record in records {
            let TableChange::Put(key, value) = change_of(&record) else {
                panic!("a put");
            };
            assert!(is_auth_kind(&key));
            assert_eq!(record_of(&key, &value), Some(record));
        }
    }
}
