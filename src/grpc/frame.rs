//! gRPC message framing (length-prefixed messages, gRPC over HTTP/2 §"Length-Prefixed-Message"):
//! a 1-byte compressed flag, a 4-byte big-endian length, then the message. No I/O here: bytes
//! go in, whole messages come out, partial input is `Ok(None)`.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::limits::GRPC_MESSAGE_BYTES_MAX;

pub const FRAME_HEADER_BYTES: usize = 5;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// The compressed flag is set; nacore negotiates no compression.
    Compressed,
    /// The declared length exceeds `GRPC_MESSAGE_BYTES_MAX`.
    TooLarge(usize),
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::Compressed => f.write_str("compressed gRPC messages are not supported"),
            FrameError::TooLarge(n) => write!(
                f,
                "gRPC message of {n} bytes exceeds the limit of {GRPC_MESSAGE_BYTES_MAX} bytes"
            ),
        }
    }
}

/// Takes one whole message off the front of `buf`, if one is there.
pub fn decode(buf: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
    decode_with_limit(buf, GRPC_MESSAGE_BYTES_MAX)
}

/// `decode` with another message size limit (peer traffic carries bigger snapshots).
pub fn decode_with_limit(
    buf: &mut BytesMut,
    max_bytes: usize,
) -> Result<Option<Bytes>, FrameError> {
    if buf.len() < FRAME_HEADER_BYTES {
        return Ok(None);
    }
    if buf[0] != 0 {
        return Err(FrameError::Compressed);
    }
    let length = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
    if length > max_bytes {
        return Err(FrameError::TooLarge(length));
    }
    if buf.len() < FRAME_HEADER_BYTES + length {
        return Ok(None);
    }
    buf.advance(FRAME_HEADER_BYTES);
    let message = buf.split_to(length).freeze();
    debug_assert_eq!(message.len(), length);
    Ok(Some(message))
}

/// Frames `message` for sending.
pub fn encode(message: &[u8]) -> Bytes {
    assert!(message.len() <= u32::MAX as usize);
    let mut out = BytesMut::with_capacity(FRAME_HEADER_BYTES + message.len());
    out.put_u8(0);
    out.put_u32(message.len() as u32);
    out.put_slice(message);
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Messages round-trip; partial input waits; several messages come out one by one.
    #[test]
    fn round_trip_and_partial() {
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&encode(b"hello"));
        buf.extend_from_slice(&encode(b""));
        let whole = buf.clone();
        let mut partial = BytesMut::from(&whole[..7]);
        assert_eq!(decode(&mut partial).unwrap(), None);
        assert_eq!(
            decode(&mut buf).unwrap().unwrap(),
            Bytes::from_static(b"hello")
        );
        assert_eq!(decode(&mut buf).unwrap().unwrap(), Bytes::new());
        assert_eq!(decode(&mut buf).unwrap(), None);
    }

    /// Compressed and oversized messages are refused before their body is buffered.
    #[test]
    fn refusals() {
        let mut compressed = BytesMut::from(&[1u8, 0, 0, 0, 1, 9][..]);
        assert_eq!(decode(&mut compressed), Err(FrameError::Compressed));
        let too_big = (GRPC_MESSAGE_BYTES_MAX as u32 + 1).to_be_bytes();
        let mut header = BytesMut::from(&[0u8, too_big[0], too_big[1], too_big[2], too_big[3]][..]);
        assert!(matches!(decode(&mut header), Err(FrameError::TooLarge(_))));
        let at_max = (GRPC_MESSAGE_BYTES_MAX as u32).to_be_bytes();
        let mut header = BytesMut::from(&[0u8, at_max[0], at_max[1], at_max[2], at_max[3]][..]);
        assert_eq!(
            decode(&mut header),
            Ok(None),
            "a maximal message is waited for"
        );
    }
}
