//! Nacos `Payload` messages (nacos-protocol.md §3.2): `metadata.type` is the Java simple class
//! name, the body is JSON in `Any.value` with an empty `type_url`.

use bytes::Bytes;
use prost::Message;
use serde_json::Value;

use crate::grpc::frame;
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

/// `frame::encode(&encode(kind, json))` in one buffer, written once: the gRPC frame header,
/// then the `Payload` fields by hand (`metadata` = 2 holding `type` = 3, `body` = 3 holding
/// `Any.value` = 2), so an answer's JSON is copied once instead of three times.
pub fn encode_framed(kind: &str, json: &[u8]) -> Bytes {
    use prost::encoding::{encode_key, encode_varint, encoded_len_varint, WireType};
    // proto3 leaves empty fields out, as prost does.
    let type_field = if kind.is_empty() {
        0
    } else {
        1 + encoded_len_varint(kind.len() as u64) + kind.len()
    };
    let value_field = if json.is_empty() {
        0
    } else {
        1 + encoded_len_varint(json.len() as u64) + json.len()
    };
    let metadata_field = 1 + encoded_len_varint(type_field as u64) + type_field;
    let body_field = 1 + encoded_len_varint(value_field as u64) + value_field;
    let message_len = metadata_field + body_field;
    let mut out = Vec::with_capacity(frame::FRAME_HEADER_BYTES + message_len);
    out.push(0);
    out.extend_from_slice(&(message_len as u32).to_be_bytes());
    encode_key(2, WireType::LengthDelimited, &mut out);
    encode_varint(type_field as u64, &mut out);
    if !kind.is_empty() {
        encode_key(3, WireType::LengthDelimited, &mut out);
        encode_varint(kind.len() as u64, &mut out);
        out.extend_from_slice(kind.as_bytes());
    }
    encode_key(3, WireType::LengthDelimited, &mut out);
    encode_varint(value_field as u64, &mut out);
    if !json.is_empty() {
        encode_key(2, WireType::LengthDelimited, &mut out);
        encode_varint(json.len() as u64, &mut out);
        out.extend_from_slice(json);
    }
    debug_assert_eq!(out.len(), frame::FRAME_HEADER_BYTES + message_len);
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hand-written encoding is byte for byte what prost and the framing give.
    #[test]
    fn framed_encoding_matches_prost() {
        let big = vec![b'x'; 70_000];
        let cases: [(&str, &[u8]); 4] = [
            ("QueryServiceResponse", br#"{"resultCode":200}"#),
            ("", b"{}"),
            ("HealthCheckResponse", b""),
            ("NotifySubscriberRequest", &big),
        ];
        for (kind, json) in cases {
            let expected = frame::encode(&encode(kind, json.to_vec()));
            assert_eq!(encode_framed(kind, json), expected, "kind {kind:?}");
        }
    }

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
