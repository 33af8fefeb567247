//! Password hashes: bcrypt, as Nacos's `BCryptPasswordEncoder` stores them (`$2a$10$...`).
//! Any of the `$2a$`, `$2b$`, `$2y$` variants verifies.

/// A new hash of `password` (`$2a$`, Nacos's variant, so a Java server reads it too).
pub fn hash(password: &str) -> Option<String> {
    let parts = bcrypt::hash_with_result(password, crate::limits::AUTH_BCRYPT_COST).ok()?;
    Some(parts.format_for_version(bcrypt::Version::TwoA))
}

/// Whether `password` matches the stored hash; false for malformed hashes.
pub fn verify(password: &str, hash: &str) -> bool {
    if password.len() > crate::limits::AUTH_PASSWORD_BYTES_MAX {
        return false;
    }
    bcrypt::verify(password, hash).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let stored = hash("s3cret").unwrap();
        assert!(stored.starts_with("$2a$10$"));
        assert!(verify("s3cret", &stored));
        assert!(!verify("s3cret!", &stored));
        assert!(!verify("s3cret", "not a hash"));
    }

    /// Nacos's shipped hash of the password `nacos`, and its 2b/2y spellings.
    #[test]
    fn java_hashes_verify() {
        let java = "$2a$10$EuWPZHzz32dJN7jexM34MOeYirDdFAZm2kuWj7VEOJhhZkDrxfvUu";
        assert!(verify("nacos", java));
        assert!(verify("nacos", &java.replacen("$2a$", "$2b$", 1)));
        assert!(verify("nacos", &java.replacen("$2a$", "$2y$", 1)));
        assert!(!verify("nacos1", java));
    }
}
