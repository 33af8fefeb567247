//! Nacos gRPC bytes without I/O: the two-message proto (`Payload`, `Metadata`,
//! nacos-protocol.md §3.1), gRPC length-prefixed framing, and payload encoding with the JSON
//! body in `Any.value` and the Java class name in `metadata.type` (§3.2).
//!
//! The messages are declared here with prost's derive rather than taken from the nacore crate,
//! so the load generator stays a client of the wire protocol only and builds without the
//! server's dependencies (LMDB, Raft).

use std::collections::HashMap;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use prost::Message;

use crate::limits::GRPC_MESSAGE_BYTES_MAX;
use crate::stats::ErrorKind;

/// Compressed flag (1 byte) and big-endian length (4 bytes) before every gRPC message.
pub const FRAME_HEADER_BYTES: usize = 5;

/// `Metadata` of `nacos_grpc_service.proto`.
#[derive(Clone, PartialEq, Message)]
pub struct Metadata {
    #[prost(string, tag = "3")]
    pub r#type: String,
    #[prost(string, tag = "8")]
    pub client_ip: String,
    #[prost(map = "string, string", tag = "7")]
    pub headers: HashMap<String, String>,
}

/// `Payload` of `nacos_grpc_service.proto`.
#[derive(Clone, PartialEq, Message)]
pub struct Payload {
    #[prost(message, optional, tag = "2")]
    pub metadata: Option<Metadata>,
    #[prost(message, optional, tag = "3")]
    pub body: Option<prost_types::Any>,
}

/// A received payload: the Java class name and the raw JSON body (not parsed: the scenarios
/// scan it for the few fields they check, which costs far less than a parse per reply).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    pub kind: String,
    pub body: Vec<u8>,
}

/// Frames a message for sending: flag 0 (uncompressed), length, message.
pub fn frame(message: &[u8]) -> Bytes {
    assert!(message.len() <= GRPC_MESSAGE_BYTES_MAX);
    let mut out = BytesMut::with_capacity(FRAME_HEADER_BYTES + message.len());
    out.put_u8(0);
    out.put_u32(message.len() as u32);
    out.put_slice(message);
    debug_assert_eq!(out.len(), FRAME_HEADER_BYTES + message.len());
    out.freeze()
}

/// Takes one whole message off the front of `buf`: `Ok(None)` while it is incomplete, an error
/// for a compressed message (we negotiate no compression) or one over the size limit.
pub fn unframe(buf: &mut BytesMut) -> Result<Option<Bytes>, ErrorKind> {
    if buf.len() < FRAME_HEADER_BYTES {
        return Ok(None);
    }
    if buf[0] != 0 {
        return Err(ErrorKind::Protocol);
    }
    let length = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
    if length > GRPC_MESSAGE_BYTES_MAX {
        return Err(ErrorKind::Protocol);
    }
    if buf.len() < FRAME_HEADER_BYTES + length {
        return Ok(None);
    }
    buf.advance(FRAME_HEADER_BYTES);
    let message = buf.split_to(length).freeze();
    debug_assert_eq!(message.len(), length);
    Ok(Some(message))
}

/// A framed `Payload` of type `kind` around an already serialised JSON body, as the Java client
/// sends it: empty `type_url`, empty `clientIp` and headers.
pub fn encode_payload(kind: &str, json: Vec<u8>) -> Bytes {
    debug_assert!(!kind.is_empty());
    let payload = Payload {
        metadata: Some(Metadata {
            r#type: kind.to_string(),
            client_ip: String::new(),
            headers: HashMap::new(),
        }),
        body: Some(prost_types::Any {
            type_url: String::new(),
            value: json,
        }),
    };
    frame(&payload.encode_to_vec())
}

/// Decodes one unframed `Payload`. A payload without metadata has an empty kind, which no
/// check accepts.
pub fn decode_payload(message: &[u8]) -> Result<Incoming, ErrorKind> {
    let payload = Payload::decode(message).map_err(|_| ErrorKind::Protocol)?;
    let kind = payload.metadata.map(|m| m.r#type).unwrap_or_default();
    let body = payload.body.map(|any| any.value).unwrap_or_default();
    Ok(Incoming { kind, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A payload survives framing and protobuf with its type and body; partial frames wait.
    #[test]
    fn payload_round_trip() {
        let framed = encode_payload("HealthCheckRequest", b"{\"module\":\"internal\"}".to_vec());
        let mut partial = BytesMut::from(&framed[..framed.len() - 1]);
        assert_eq!(unframe(&mut partial), Ok(None));
        let mut buf = BytesMut::from(&framed[..]);
        buf.extend_from_slice(&frame(b""));
        let message = unframe(&mut buf).unwrap().unwrap();
        let incoming = decode_payload(&message).unwrap();
        assert_eq!(incoming.kind, "HealthCheckRequest");
        assert_eq!(incoming.body, b"{\"module\":\"internal\"}");
        assert_eq!(unframe(&mut buf).unwrap().unwrap(), Bytes::new());
        assert!(buf.is_empty());
    }

    /// The field numbers are the Nacos proto's: type 3, headers 7, clientIp 8 in metadata;
    /// metadata 2 and body 3 in the payload.
    #[test]
    fn field_numbers() {
        let payload = Payload {
            metadata: Some(Metadata {
                r#type: "A".into(),
                client_ip: String::new(),
                headers: HashMap::new(),
            }),
            body: None,
        };
        // Field 2 (metadata), length 3, holding field 3 (type), length 1, "A".
        assert_eq!(payload.encode_to_vec(), vec![0x12, 3, 0x1a, 1, b'A']);
    }

    /// Compressed, oversized and undecodable messages are protocol errors; a maximal length
    /// is waited for rather than refused.
    #[test]
    fn refusals() {
        let mut compressed = BytesMut::from(&[1u8, 0, 0, 0, 1, 9][..]);
        assert_eq!(unframe(&mut compressed), Err(ErrorKind::Protocol));
        let too_big = (GRPC_MESSAGE_BYTES_MAX as u32 + 1).to_be_bytes();
        let mut header = BytesMut::from(&[0, too_big[0], too_big[1], too_big[2], too_big[3]][..]);
        assert_eq!(unframe(&mut header), Err(ErrorKind::Protocol));
        let at_max = (GRPC_MESSAGE_BYTES_MAX as u32).to_be_bytes();
        let mut header = BytesMut::from(&[0, at_max[0], at_max[1], at_max[2], at_max[3]][..]);
        assert_eq!(unframe(&mut header), Ok(None));
        assert_eq!(decode_payload(&[0xff, 0xff]), Err(ErrorKind::Protocol));
    }
}
