//! The users, roles and permissions tables of one core (or the Raft core's authoritative
//! copy): ordered maps, so listings page in a stable order. Applying an `AuthCommand` checks it
//! (Nacos's refusals), changes the tables and returns the rows to store.

use std::collections::{BTreeMap, BTreeSet};

use crate::auth::command::{AuthCommand, AuthRecord, AuthRefusal};
use crate::auth::permission::{self, Action};
use crate::auth::GLOBAL_ADMIN_ROLE;
use crate::limits::{AUTH_PERMISSIONS_MAX, AUTH_ROLES_MAX, AUTH_USERS_MAX};

#[derive(Debug, Default, Clone)]
pub struct AuthTables {
    /// Username to bcrypt hash.
    users: BTreeMap<String, String>,
    /// (role, username).
    roles: BTreeSet<(String, String)>,
    /// (role, resource pattern, action).
    permissions: BTreeSet<(String, String, String)>,
}

impl AuthTables {
    pub fn user_hash(&self, username: &str) -> Option<&str> {
        self.users.get(username).map(String::as_str)
    }

    pub fn users(&self) -> impl Iterator<Item = (&String, &String)> {
        self.users.iter()
    }

    pub fn roles(&self) -> impl Iterator<Item = &(String, String)> {
        self.roles.iter()
    }

    pub fn permissions(&self) -> impl Iterator<Item = &(String, String, String)> {
        self.permissions.iter()
    }

    pub fn has_admin(&self) -> bool {
        self.roles.iter().any(|(role, _)| role == GLOBAL_ADMIN_ROLE)
    }

    pub fn is_admin(&self, username: &str) -> bool {
        self.roles
            .contains(&(GLOBAL_ADMIN_ROLE.to_string(), username.to_string()))
    }

    fn role_exists(&self, role: &str) -> bool {
        self.roles.iter().any(|(r, _)| r == role)
    }

    /// Nacos `hasPermission` (see `permission`).
    pub fn allows(&self, username: &str, action: Action, resource: &str) -> bool {
        if self.is_admin(username) {
            return true;
        }
        // Console resources are for the global admin only (Nacos `CONSOLE_RESOURCE_NAME_PREFIX`).
        if resource.starts_with("console/") || resource.starts_with("nacos/admin") {
            return false;
        }
        let roles: Vec<&String> = self
            .roles
            .iter()
            .filter(|(_, user)| user == username)
            .map(|(role, _)| role)
            .collect();
        self.permissions.iter().any(|(role, pattern, granted)| {
            roles.contains(&role) && permission::allows(pattern, granted, action, resource)
        })
    }

    /// Checks and applies one command; returns the rows to store, or Nacos's refusal.
    pub fn apply(&mut self, command: &AuthCommand) -> Result<Vec<AuthRecord>, AuthRefusal> {
        match command {
            AuthCommand::CreateUser { username, hash } => {
                if self.users.contains_key(username) {
                    return Err(format!("user '{username}' already exist!"));
                }
                if self.users.len() >= AUTH_USERS_MAX {
                    return Err(format!("at most {AUTH_USERS_MAX} users"));
                }
                Ok(vec![self.put_user(username, hash)])
            }
            AuthCommand::SetPassword { username, hash } => {
                if !self.users.contains_key(username) {
                    return Err(format!("user {username} not exist!"));
                }
                Ok(vec![self.put_user(username, hash)])
            }
            AuthCommand::DeleteUser { username } => {
                if self.users.remove(username).is_none() {
                    return Err(format!("user {username} not exist!"));
                }
                let mut records = vec![AuthRecord::NoUser {
                    username: username.clone(),
                }];
                let held: Vec<(String, String)> = self
                    .roles
                    .iter()
                    .filter(|(_, user)| user == username)
                    .cloned()
                    .collect();
                for (role, user) in held {
                    records.extend(self.remove_role(&role, &user));
                }
                Ok(records)
            }
            AuthCommand::InitAdmin { username, hash } => {
                if self.has_admin() {
                    return Err("have admin user cannot use it".to_string());
                }
                let user = self.put_user(username, hash);
                self.roles
                    .insert((GLOBAL_ADMIN_ROLE.to_string(), username.clone()));
                Ok(vec![
                    user,
                    AuthRecord::Role {
                        role: GLOBAL_ADMIN_ROLE.to_string(),
                        username: username.clone(),
                    },
                ])
            }
            AuthCommand::AddRole { role, username } => self.add_role(role, username),
            AuthCommand::DeleteRole { role, username } => {
                let rows: Vec<(String, String)> = self
                    .roles
                    .iter()
                    .filter(|(r, u)| r == role && username.as_ref().is_none_or(|name| u == name))
                    .cloned()
                    .collect();
                let mut records = Vec::new();
                for (role, user) in rows {
                    records.extend(self.remove_role(&role, &user));
                }
                Ok(records)
            }
            AuthCommand::AddPermission {
                role,
                resource,
                action,
            } => {
                if !self.role_exists(role) {
                    return Err(format!("role {role} not found!"));
                }
                if self.permissions.len() >= AUTH_PERMISSIONS_MAX {
                    return Err(format!("at most {AUTH_PERMISSIONS_MAX} permissions"));
                }
                let row = (role.clone(), resource.clone(), action.clone());
                if !self.permissions.insert(row) {
                    return Err(format!(
                        "permission {role} {resource} {action} already exist!"
                    ));
                }
                Ok(vec![AuthRecord::Permission {
                    role: role.clone(),
                    resource: resource.clone(),
                    action: action.clone(),
                }])
            }
            AuthCommand::DeletePermission {
                role,
                resource,
                action,
            } => {
                let row = (role.clone(), resource.clone(), action.clone());
                if !self.permissions.remove(&row) {
                    return Ok(Vec::new());
                }
                Ok(vec![AuthRecord::NoPermission {
                    role: role.clone(),
                    resource: resource.clone(),
                    action: action.clone(),
                }])
            }
            AuthCommand::Load(records) => {
                for record in records {
                    self.load(record);
                }
                Ok(Vec::new())
            }
            AuthCommand::Clear => {
                *self = AuthTables::default();
                Ok(Vec::new())
            }
        }
    }

    fn put_user(&mut self, username: &str, hash: &str) -> AuthRecord {
        self.users.insert(username.to_string(), hash.to_string());
        AuthRecord::User {
            username: username.to_string(),
            hash: hash.to_string(),
        }
    }

    fn add_role(&mut self, role: &str, username: &str) -> Result<Vec<AuthRecord>, AuthRefusal> {
        if role == GLOBAL_ADMIN_ROLE {
            return Err(format!(
                "role '{GLOBAL_ADMIN_ROLE}' is not permitted to create!"
            ));
        }
        if !self.users.contains_key(username) {
            return Err(format!("user '{username}' not found!"));
        }
        if self.roles.len() >= AUTH_ROLES_MAX {
            return Err(format!("at most {AUTH_ROLES_MAX} role bindings"));
        }
        if !self.roles.insert((role.to_string(), username.to_string())) {
            return Err(format!(
                "user '{username}' already bound to the role '{role}'!"
            ));
        }
        Ok(vec![AuthRecord::Role {
            role: role.to_string(),
            username: username.to_string(),
        }])
    }

    /// Removes one binding; when it was the role's last, its permissions go too.
    fn remove_role(&mut self, role: &str, username: &str) -> Vec<AuthRecord> {
        let mut records = Vec::new();
        if self.roles.remove(&(role.to_string(), username.to_string())) {
            records.push(AuthRecord::NoRole {
                role: role.to_string(),
                username: username.to_string(),
            });
        }
        if !self.role_exists(role) {
            let orphans: Vec<_> = self
                .permissions
                .iter()
                .filter(|(r, _, _)| r == role)
                .cloned()
                .collect();
            for (role, resource, action) in orphans {
                self.permissions
                    .remove(&(role.clone(), resource.clone(), action.clone()));
                records.push(AuthRecord::NoPermission {
                    role,
                    resource,
                    action,
                });
            }
        }
        records
    }

    fn load(&mut self, record: &AuthRecord) {
        match record {
            AuthRecord::User { username, hash } => {
                self.users.insert(username.clone(), hash.clone());
            }
            AuthRecord::NoUser { username } => {
                self.users.remove(username);
            }
            AuthRecord::Role { role, username } => {
                self.roles.insert((role.clone(), username.clone()));
            }
            AuthRecord::NoRole { role, username } => {
                self.roles.remove(&(role.clone(), username.clone()));
            }
            AuthRecord::Permission {
                role,
                resource,
                action,
            } => {
                self.permissions
                    .insert((role.clone(), resource.clone(), action.clone()));
            }
            AuthRecord::NoPermission {
                role,
                resource,
                action,
            } => {
                self.permissions
                    .remove(&(role.clone(), resource.clone(), action.clone()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str) -> AuthCommand {
        AuthCommand::CreateUser {
            username: name.into(),
            hash: "h".into(),
        }
    }

    #[test]
    fn permissions_follow_roles() {
        let mut t = AuthTables::default();
        t.apply(&user("u")).unwrap();
        assert!(t.apply(&user("u")).is_err());
        let r = "public:G:naming/s";
        assert!(!t.allows("u", Action::Read, r));
        t.apply(&AuthCommand::AddRole {
            role: "dev".into(),
            username: "u".into(),
        })
        .unwrap();
        t.apply(&AuthCommand::AddPermission {
            role: "dev".into(),
            resource: "public:*:naming/*".into(),
            action: "r".into(),
        })
        .unwrap();
        assert!(t.allows("u", Action::Read, r));
        assert!(!t.allows("u", Action::Write, r));
        assert!(!t.allows("u", Action::Read, "public:G:config/x"));
        // Console resources stay the admin's even under a catch-all permission.
        t.apply(&AuthCommand::AddPermission {
            role: "dev".into(),
            resource: "*".into(),
            action: "rw".into(),
        })
        .unwrap();
        assert!(!t.allows("u", Action::Write, "console/namespaces"));
        t.apply(&AuthCommand::DeletePermission {
            role: "dev".into(),
            resource: "*".into(),
            action: "rw".into(),
        })
        .unwrap();
        let deleted = t
            .apply(&AuthCommand::DeleteUser {
                username: "u".into(),
            })
            .unwrap();
        assert_eq!(deleted.len(), 3, "user, role binding, orphaned permission");
        assert_eq!(t.permissions().count(), 0);
    }

    #[test]
    fn admin_once() {
        let mut t = AuthTables::default();
        let init = AuthCommand::InitAdmin {
            username: "nacos".into(),
            hash: "h".into(),
        };
        assert_eq!(t.apply(&init).unwrap().len(), 2);
        assert!(t.is_admin("nacos"));
        assert!(t.allows("nacos", Action::Write, "x:y:config/z"));
        assert_eq!(t.apply(&init).unwrap_err(), "have admin user cannot use it");
        assert!(t
            .apply(&AuthCommand::AddRole {
                role: GLOBAL_ADMIN_ROLE.into(),
                username: "nacos".into()
            })
            .is_err());
    }

    #[test]
    fn records_reload_to_the_same_tables() {
        let mut t = AuthTables::default();
        let mut rows = t.apply(&user("a")).unwrap();
        rows.extend(
            t.apply(&AuthCommand::AddRole {
                role: "r".into(),
                username: "a".into(),
            })
            .unwrap(),
        );
        let mut copy = AuthTables::default();
        copy.apply(&AuthCommand::Load(rows)).unwrap();
        assert_eq!(copy.user_hash("a"), Some("h"));
        assert_eq!(copy.roles().count(), 1);
        copy.apply(&AuthCommand::Clear).unwrap();
        assert_eq!(copy.users().count(), 0);
    }
}
