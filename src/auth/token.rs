//! Access tokens: HS256 JWTs with `sub` (the username) and `exp` (Unix seconds), as Nacos's
//! `JwtTokenManager` makes them. Only HS256 verifies: `alg: none`, other algorithms, a wrong
//! key, a cut or altered token are all `TokenInvalid`; a past `exp` is `TokenExpired`.

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};

use crate::auth::{AuthError, Secret};

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Claims {
    sub: String,
    exp: u64,
}

pub fn issue(secret: &Secret, username: &str, expires_at_s: u64) -> Option<String> {
    let claims = Claims {
        sub: username.to_string(),
        exp: expires_at_s,
    };
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.bytes()),
    )
    .ok()
}

/// The token's username, checked against the key and `now_s`.
pub fn verify(secret: &Secret, token: &str, now_s: u64) -> Result<String, AuthError> {
    if token.is_empty() || token.len() > crate::limits::AUTH_TOKEN_BYTES_MAX {
        return Err(AuthError::TokenInvalid);
    }
    let mut validation = Validation::new(Algorithm::HS256);
    // Expiry is checked below against our clock, without leeway.
    validation.validate_exp = false;
    validation.leeway = 0;
    validation.set_required_spec_claims(&["exp", "sub"]);
    let data = decode::<Claims>(
        token,
        &DecodingKey::from_secret(secret.bytes()),
        &validation,
    )
    .map_err(|_| AuthError::TokenInvalid)?;
    if data.claims.exp <= now_s {
        return Err(AuthError::TokenExpired);
    }
    if data.claims.sub.is_empty() {
        return Err(AuthError::TokenInvalid);
    }
    Ok(data.claims.sub)
}

#[cfg(test)]
mod tests {
    use base64::Engine;

    use super::*;

    fn secret() -> Secret {
        Secret::raw("0123456789abcdef0123456789abcdef")
    }

    #[test]
    fn round_trip() {
        let token = issue(&secret(), "alice", 2_000).unwrap();
        assert_eq!(verify(&secret(), &token, 1_000), Ok("alice".to_string()));
    }

    #[test]
    fn expired() {
        let token = issue(&secret(), "alice", 2_000).unwrap();
        assert_eq!(
            verify(&secret(), &token, 2_000),
            Err(AuthError::TokenExpired)
        );
    }

    #[test]
    fn forged_truncated_and_garbage() {
        let token = issue(&secret(), "alice", 2_000).unwrap();
        let other = Secret::raw("another-key-another-key-another-k");
        let forged = issue(&other, "alice", 2_000).unwrap();
        assert_eq!(verify(&secret(), &forged, 1), Err(AuthError::TokenInvalid));
        let cut = &token[..token.len() - 3];
        assert_eq!(verify(&secret(), cut, 1), Err(AuthError::TokenInvalid));
        assert_eq!(verify(&secret(), "abc", 1), Err(AuthError::TokenInvalid));
        assert_eq!(verify(&secret(), "", 1), Err(AuthError::TokenInvalid));
        let long = "a".repeat(crate::limits::AUTH_TOKEN_BYTES_MAX + 1);
        assert_eq!(verify(&secret(), &long, 1), Err(AuthError::TokenInvalid));
    }

    #[test]
    fn alg_none_refused() {
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = engine.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let body = engine.encode(br#"{"sub":"nacos","exp":99999999999}"#);
        for token in [format!("{header}.{body}."), format!("{header}.{body}")] {
            assert_eq!(verify(&secret(), &token, 1), Err(AuthError::TokenInvalid));
        }
    }

    /// A token with a changed payload but the old signature does not verify.
    #[test]
    fn altered_payload() {
        let token = issue(&secret(), "alice", 2_000).unwrap();
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let parts: Vec<&str> = token.split('.').collect();
        let body = engine.encode(br#"{"sub":"nacos","exp":2000}"#);
        let altered = format!("{}.{}.{}", parts[0], body, parts[2]);
        assert_eq!(verify(&secret(), &altered, 1), Err(AuthError::TokenInvalid));
    }
}
