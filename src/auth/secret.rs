//! Secrets (token key, cluster secret) that never print: `Debug` shows only their length.

use base64::Engine;

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret(<{} bytes redacted>)", self.0.len())
    }
}

impl Secret {
    pub fn raw(value: &str) -> Secret {
        Secret(value.as_bytes().to_vec())
    }

    /// A token key as Nacos takes `nacos.core.auth.plugin.nacos.token.secret.key`: base64
    /// decoded when it is valid base64 of at least `min_bytes`, else the raw string. Refused
    /// when shorter than `min_bytes` either way.
    pub fn token_key(value: &str, min_bytes: usize) -> Result<Secret, String> {
        let decoded = base64::engine::general_purpose::STANDARD.decode(value.trim());
        if let Ok(bytes) = decoded {
            if bytes.len() >= min_bytes {
                return Ok(Secret(bytes));
            }
        }
        if value.len() >= min_bytes {
            return Ok(Secret(value.as_bytes().to_vec()));
        }
        Err(format!(
            "--auth-token-secret must be at least {min_bytes} bytes (raw, or base64 of that many)"
        ))
    }

    /// What a member presents to prove it holds the cluster secret (a header value: hex of a
    /// SHA-256 over a fixed label and the secret), so the secret itself never goes on the wire.
    pub fn proof(&self) -> String {
        use sha2::Digest;
        let mut digest = sha2::Sha256::new();
        digest.update(b"nacore-cluster-identity-v1\0");
        digest.update(&self.0);
        digest
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// Constant-time comparison with presented bytes (no early exit on the first mismatch).
    pub fn matches(&self, presented: &[u8]) -> bool {
        let mut difference = (self.0.len() != presented.len()) as u8;
        for (i, byte) in self.0.iter().enumerate() {
            difference |= byte ^ presented.get(i).copied().unwrap_or(!byte);
        }
        difference == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_printed() {
        let secret = Secret::raw("hunter2-hunter2-hunter2-hunter2-x");
        assert!(!format!("{secret:?}").contains("hunter2"));
    }

    #[test]
    fn raw_or_base64() {
        let raw = "SecretKey012345678901234567890123456789012345678901234567890123456789";
        let b64 = base64::engine::general_purpose::STANDARD.encode(raw);
        assert_eq!(Secret::token_key(&b64, 32).unwrap().bytes(), raw.as_bytes());
        assert_eq!(Secret::token_key(raw, 32).unwrap().bytes(), raw.as_bytes());
        assert!(Secret::token_key("short", 32).is_err());
        assert!(Secret::token_key("", 32).is_err());
    }

    #[test]
    fn proof_hides_the_secret() {
        let secret = Secret::raw("peer-secret");
        let proof = secret.proof();
        assert_eq!(proof.len(), 64);
        assert!(!proof.contains("peer-secret"));
        assert_ne!(proof, Secret::raw("other").proof());
    }

    #[test]
    fn constant_time_match() {
        let secret = Secret::raw("abc");
        assert!(secret.matches(b"abc"));
        assert!(!secret.matches(b"abd"));
        assert!(!secret.matches(b"ab"));
        assert!(!secret.matches(b"abcd"));
        assert!(!secret.matches(b""));
    }
}
