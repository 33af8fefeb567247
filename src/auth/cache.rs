//! Verified credentials, so requests that carry `username`+`password` (Nacos allows it on
//! every API) do not run bcrypt each time. Keyed by a SHA-256 of the pair (the password itself
//! is never kept); an entry holds the hash it was verified against, so a changed password (a
//! new hash) no longer matches. Bounded: emptied when full.

use hashbrown::HashMap;
use sha2::{Digest, Sha256};

use crate::limits::AUTH_CREDENTIAL_CACHE_ENTRIES_MAX;

#[derive(Debug, Default)]
pub struct CredentialCache {
    verified: HashMap<[u8; 32], String>,
}

fn key_of(username: &str, password: &str) -> [u8; 32] {
    let mut digest = Sha256::new();
    digest.update(username.as_bytes());
    digest.update([0u8]);
    digest.update(password.as_bytes());
    digest.finalize().into()
}

impl CredentialCache {
    pub fn new() -> CredentialCache {
        CredentialCache::default()
    }

    /// Whether this pair was verified against `hash` (the user's current one).
    pub fn verified(&self, username: &str, password: &str, hash: &str) -> bool {
        self.verified
            .get(&key_of(username, password))
            .is_some_and(|stored| stored == hash)
    }

    pub fn remember(&mut self, username: &str, password: &str, hash: &str) {
        if self.verified.len() >= AUTH_CREDENTIAL_CACHE_ENTRIES_MAX {
            self.verified.clear();
        }
        self.verified
            .insert(key_of(username, password), hash.to_string());
        debug_assert!(self.verified.len() <= AUTH_CREDENTIAL_CACHE_ENTRIES_MAX);
    }

    pub fn len(&self) -> usize {
        self.verified.len()
    }

    pub fn is_empty(&self) -> bool {
        self.verified.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_hash_invalidates() {
        let mut c = CredentialCache::new();
        c.remember("u", "p", "h1");
        assert!(c.verified("u", "p", "h1"));
        assert!(!c.verified("u", "p", "h2"));
        assert!(!c.verified("u", "q", "h1"));
    }

    #[test]
    fn bounded() {
        let mut c = CredentialCache::new();
        for i in 0..AUTH_CREDENTIAL_CACHE_ENTRIES_MAX + 1 {
            c.remember("u", &i.to_string(), "h");
        }
        assert!(c.len() <= AUTH_CREDENTIAL_CACHE_ENTRIES_MAX);
    }
}
