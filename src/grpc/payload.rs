//! Nacos `Payload` messages (nacos-protocol.md §3.2): `metadata.type` is the Java simple class
//! name, the body is JSON in `Any.value` with an empty `type_url`.

use bytes::Bytes;
use prost::Message;
use serde_json::Value;

use crate::grpc::proto::{Metadata, Payload};

/// A decoded payload: its type name, JSON body, and the client's IP from the metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    pub kind: String,
    pub body: Value,
    pub client_ip: String,
    // --- auth ---
    /// `metadata.headers` (the access token travels there).
    pub headers: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadError {
    /// Not a protobuf `Payload`.
    Undecodable(String),
    /// A `Payload` whose body is not a JSON object.
    BadJson { kind: String, reason: String },
}

pub fn decode(message: &[u8]) -> Result<Incoming, PayloadError> {
    let payload = Payload::decode(message).map_err(|e| PayloadError::Undecodable(e.to_string()))?;
    let metadata = payload.metadata.unwrap_or_default();
    let raw = payload.body.map(|any| any.value).unwrap_or_default();
    let body: Value = if raw.is_empty() {
        Value::Object(Default::default())
    } else {
        serde_json::from_slice(&raw).map_err(|e| PayloadError::BadJson {
            kind: metadata.r#type.clone(),
            reason: e.to_string(),
        })?
    };
    if !body.is_object() {
        return Err(PayloadError::BadJson {
            kind: metadata.r#type,
            reason: "the body is not a JSON object".to_string(),
        });
    }
    Ok(Incoming {
        kind: metadata.r#type,
        body,
        client_ip: metadata.client_ip,
        headers: metadata.headers.into_iter().collect(),
    })
}

/// Encodes a payload of type `kind` around an already serialised JSON body.
pub fn encode(kind: &str, json: Vec<u8>) -> Bytes {
    let payload = Payload {
        metadata: Some(Metadata {
            r#type: kind.to_string(),
            client_ip: String::new(),
            headers: Default::default(),
        }),
        body: Some(prost_types::Any {
            type_url: String::new(),
            value: json,
        }),
    };
    Bytes::from(payload.encode_to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A payload round-trips through protobuf with its type and JSON body.
    #[test]
    fn round_trip() {
        let bytes = encode(
            "HealthCheckRequest",
            br#"{"headers":{},"module":"internal"}"#.to_vec(),
        );
        let incoming = decode(&bytes).unwrap();
        assert_eq!(incoming.kind, "HealthCheckRequest");
        assert_eq!(incoming.body["module"], "internal");
    }

    /// Garbage is undecodable; a non-object or broken JSON body is a JSON error.
    #[test]
    fn errors() {
        assert!(matches!(
            decode(&[0xff, 0xff, 0xff]),
            Err(PayloadError::Undecodable(_))
        ));
        let bytes = encode("InstanceRequest", b"[1,2]".to_vec());
        assert!(matches!(decode(&bytes), Err(PayloadError::BadJson { .. })));
        let bytes = encode("InstanceRequest", b"{broken".to_vec());
        assert!(matches!(decode(&bytes), Err(PayloadError::BadJson { .. })));
    }
}
