//! The Nacos HTTP v1 config-center requests the config scenarios send
//! (nacos-config-protocol.md §2.1 get, §2.2 publish, §2.5 long polling), the contents they
//! publish and their md5, and how each response is judged: get → the content, publish →
//! `true`, listener → the form-encoded list of changed keys (or nothing on timeout). No I/O.
//!
//! Config `i` is data id `lg-cfg-{i}` in `DEFAULT_GROUP` of the default namespace (no tenant
//! is sent). Publish `n` writes content that starts with `lg.seq=n`, so a reader can tell
//! which publish it sees, padded with `lg.pad=xxx…` to the content size asked for; its md5 is
//! a function of `n` and the size alone, so that listeners know the md5 of every publish
//! without asking the server.

use std::fmt::Write as _;
use std::io::Write as _;

use md5::{Digest, Md5};

use crate::http::request::{push_encoded, write_request_with_headers};
use crate::limits::{CONFIG_CONTENT_BYTES_MAX, CONFIG_CONTENT_BYTES_MIN, RESPONSE_BODY_BYTES_MAX};
use crate::stats::ErrorKind;

pub const CONFIGS_PATH: &str = "/nacos/v1/cs/configs";
pub const LISTENER_PATH: &str = "/nacos/v1/cs/configs/listener";

/// Data ids are `lg-cfg-{index}`.
pub const DATA_ID_PREFIX: &str = "lg-cfg-";

/// Every config of the load generator is in the default group.
pub const GROUP: &str = "DEFAULT_GROUP";

/// The first line of every published content: `lg.seq=<publish sequence>`.
const CONTENT_SEQUENCE_PREFIX: &[u8] = b"lg.seq=";

/// The padding line's key, after the sequence line.
const CONTENT_PADDING_PREFIX: &[u8] = b"\nlg.pad=";

/// `Listening-Configs` separators (nacos-config-protocol.md §2.5): U+0002 between the fields
/// of a record, U+0001 after each record.
pub const FIELD_SEPARATOR: char = '\u{2}';
pub const RECORD_SEPARATOR: char = '\u{1}';

/// The `Long-Pulling-Timeout` every Nacos client sends, in ms.
pub const LONG_POLL_TIMEOUT_DEFAULT_MS: u64 = 30_000;

/// Writes the content of publish `sequence` into `out` (cleared first): the sequence line, then
/// padding up to `content_bytes` in all (never less than the sequence line itself).
pub fn write_content(out: &mut Vec<u8>, sequence: u64, content_bytes: usize) {
    assert!(content_bytes >= CONFIG_CONTENT_BYTES_MIN);
    assert!(content_bytes <= CONFIG_CONTENT_BYTES_MAX);
    out.clear();
    out.extend_from_slice(CONTENT_SEQUENCE_PREFIX);
    // Writing into a Vec cannot fail.
    let _ = write!(out, "{sequence}");
    out.extend_from_slice(CONTENT_PADDING_PREFIX);
    if out.len() < content_bytes {
        out.resize(content_bytes, b'x');
    }
    debug_assert!(out.len() >= content_bytes);
    debug_assert!(out.starts_with(CONTENT_SEQUENCE_PREFIX));
}

/// The publish sequence of a content `write_content` wrote, or `None` for any other content.
pub fn content_sequence(content: &[u8]) -> Option<u64> {
    let rest = content.strip_prefix(CONTENT_SEQUENCE_PREFIX)?;
    let digits = rest.iter().take_while(|byte| byte.is_ascii_digit()).count();
    if digits == 0 || !rest[digits..].starts_with(CONTENT_PADDING_PREFIX) {
        return None;
    }
    std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()
}

/// Lowercase hex md5 of `bytes`, 32 characters, as Nacos servers compute it (§1.3).
pub fn md5_hex(bytes: &[u8]) -> String {
    let digest = Md5::digest(bytes);
    let mut hex = String::with_capacity(32);
    for byte in digest.iter() {
        let _ = write!(hex, "{byte:02x}");
    }
    debug_assert_eq!(hex.len(), 32);
    hex
}

/// The md5 of the content of publish `sequence` at `content_bytes`.
pub fn content_md5(sequence: u64, content_bytes: usize) -> String {
    let mut content = Vec::with_capacity(content_bytes);
    write_content(&mut content, sequence, content_bytes);
    md5_hex(&content)
}

/// `GET configs` of config `config_index` into `out` (cleared first).
pub fn encode_get(out: &mut Vec<u8>, config_index: u64, host: &str, target: &mut String) {
    target.clear();
    let _ = write!(
        target,
        "{CONFIGS_PATH}?dataId={DATA_ID_PREFIX}{config_index}&group={GROUP}"
    );
    write_request_with_headers(out, "GET", target, host, &[], b"");
}

/// `POST configs` publishing `content` as config `config_index` into `out` (cleared first);
/// `body` is scratch space for the form.
pub fn encode_publish(
    out: &mut Vec<u8>,
    config_index: u64,
    content: &[u8],
    host: &str,
    body: &mut Vec<u8>,
) {
    debug_assert!(!content.is_empty(), "Nacos refuses blank content");
    body.clear();
    let _ = write!(
        body,
        "dataId={DATA_ID_PREFIX}{config_index}&group={GROUP}&content="
    );
    // Contents are ASCII (write_content), so this is a plain byte-wise encoding.
    push_encoded(body, std::str::from_utf8(content).unwrap_or_default());
    write_request_with_headers(out, "POST", CONFIGS_PATH, host, &[], body);
}

/// The `Listening-Configs` value for one config: `dataId␂group␂md5␁` (no tenant field: the
/// default namespace).
pub fn listening_configs(config_index: u64, md5: &str) -> String {
    debug_assert!(md5.is_empty() || md5.len() == 32);
    format!(
        "{DATA_ID_PREFIX}{config_index}{FIELD_SEPARATOR}{GROUP}{FIELD_SEPARATOR}{md5}\
         {RECORD_SEPARATOR}"
    )
}

/// The long poll of config `config_index` with the md5 the listener holds, as Java 1.x sends
/// it: a form body `Listening-Configs=<encoded records>` and `Long-Pulling-Timeout`.
pub fn encode_listen(out: &mut Vec<u8>, config_index: u64, md5: &str, timeout_ms: u64, host: &str) {
    assert!(timeout_ms > 0);
    let mut body = Vec::with_capacity(96);
    body.extend_from_slice(b"Listening-Configs=");
    push_encoded(&mut body, &listening_configs(config_index, md5));
    let timeout = timeout_ms.to_string();
    let headers = [("Long-Pulling-Timeout", timeout.as_str())];
    write_request_with_headers(out, "POST", LISTENER_PATH, host, &headers, &body);
}

/// A key named in a long-poll answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedKey {
    pub data_id: String,
    pub group: String,
    /// Empty for the default namespace (the server omits the field).
    pub tenant: String,
}

/// The keys a long-poll answer names: the body is the form-encoded `dataId␂group[␂tenant]␁…`
/// followed by a newline; an empty body (the poll timed out) names none. A record with other
/// than 2 or 3 fields, a bad escape or non-UTF-8 text is a protocol error.
pub fn parse_changed_keys(body: &[u8]) -> Result<Vec<ChangedKey>, ErrorKind> {
    if body.len() > RESPONSE_BODY_BYTES_MAX {
        return Err(ErrorKind::Protocol);
    }
    let decoded = form_decode(body.trim_ascii()).ok_or(ErrorKind::Protocol)?;
    let text = String::from_utf8(decoded).map_err(|_| ErrorKind::Protocol)?;
    let mut keys = Vec::new();
    for record in text.split(RECORD_SEPARATOR) {
        if record.is_empty() {
            continue;
        }
        let fields: Vec<&str> = record.split(FIELD_SEPARATOR).collect();
        let (data_id, group, tenant) = match fields.as_slice() {
            [data_id, group] => (*data_id, *group, ""),
            [data_id, group, tenant] => (*data_id, *group, *tenant),
            _ => return Err(ErrorKind::Protocol),
        };
        keys.push(ChangedKey {
            data_id: data_id.to_string(),
            group: group.to_string(),
            tenant: tenant.to_string(),
        });
    }
    Ok(keys)
}

/// Whether a key is config `config_index` of the load generator.
pub fn is_config(key: &ChangedKey, config_index: u64) -> bool {
    let Some(index) = key.data_id.strip_prefix(DATA_ID_PREFIX) else {
        return false;
    };
    index.parse::<u64>().ok() == Some(config_index) && key.group == GROUP
}

/// Decodes `application/x-www-form-urlencoded` bytes: `+` is a space, `%XX` a byte. `None` on
/// a truncated or non-hex escape.
pub fn form_decode(encoded: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(encoded.len());
    let mut position = 0;
    // Each pass consumes one or three bytes, so the loop ends.
    while position < encoded.len() {
        let byte = encoded[position];
        match byte {
            b'+' => {
                out.push(b' ');
                position += 1;
            }
            b'%' => {
                let high = hex_value(*encoded.get(position + 1)?)?;
                let low = hex_value(*encoded.get(position + 2)?)?;
                out.push(high << 4 | low);
                position += 3;
            }
            _ => {
                out.push(byte);
                position += 1;
            }
        }
    }
    debug_assert!(out.len() <= encoded.len());
    Some(out)
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// A get succeeds with 200 and a content the load generator published.
pub fn check_get(status: u16, body: &[u8]) -> Result<(), ErrorKind> {
    if !(200..300).contains(&status) {
        return Err(ErrorKind::Status(status));
    }
    match content_sequence(body) {
        Some(_) => Ok(()),
        None => Err(ErrorKind::Nacos),
    }
}

/// A publish succeeds with 200 and the body `true`.
pub fn check_publish(status: u16, body: &[u8]) -> Result<(), ErrorKind> {
    if !(200..300).contains(&status) {
        return Err(ErrorKind::Status(status));
    }
    if body.trim_ascii() == b"true" {
        Ok(())
    } else {
        Err(ErrorKind::Nacos)
    }
}

/// A long-poll answer is usable with 200 and a body that parses (`parse_changed_keys`).
pub fn check_listen(status: u16, body: &[u8]) -> Result<(), ErrorKind> {
    if status != 200 {
        return Err(ErrorKind::Status(status));
    }
    parse_changed_keys(body).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(bytes: &[u8]) -> &str {
        std::str::from_utf8(bytes).unwrap()
    }

    /// Contents carry their sequence and have the size asked for; the sequence reads back.
    #[test]
    fn contents() {
        let mut out = Vec::new();
        write_content(&mut out, 42, 1024);
        assert_eq!(out.len(), 1024);
        assert!(text(&out).starts_with("lg.seq=42\nlg.pad=xxx"));
        assert_eq!(content_sequence(&out), Some(42));
        // Smaller than the header: the header alone.
        write_content(&mut out, 123_456_789, CONFIG_CONTENT_BYTES_MIN);
        assert_eq!(content_sequence(&out), Some(123_456_789));
        assert!(out.len() >= CONFIG_CONTENT_BYTES_MIN);
        assert_eq!(content_sequence(b"lg.seq=\nlg.pad="), None);
        assert_eq!(content_sequence(b"lg.seq=12x\nlg.pad="), None);
        assert_eq!(content_sequence(b"other"), None);
    }

    /// md5 is 32 lowercase hex characters (RFC 1321 test vectors), and a content's md5
    /// depends on its sequence.
    #[test]
    fn md5_values() {
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5_hex(b"abc"), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(content_md5(1, 64), content_md5(1, 64));
        assert_ne!(content_md5(1, 64), content_md5(2, 64));
        assert_ne!(content_md5(1, 64), content_md5(1, 65));
    }

    /// Get is a body-less GET of the data id and group.
    #[test]
    fn get_request() {
        let (mut out, mut target) = (Vec::new(), String::new());
        encode_get(&mut out, 7, "127.0.0.1:8848", &mut target);
        let request = text(&out);
        assert!(request.starts_with(
            "GET /nacos/v1/cs/configs?dataId=lg-cfg-7&group=DEFAULT_GROUP HTTP/1.1\r\n"
        ));
        assert!(!request.contains("Content-Length"));
        assert!(request.ends_with("\r\n\r\n"));
    }

    /// Publish is a form POST with the content percent-encoded (the newline as %0A).
    #[test]
    fn publish_request() {
        let (mut out, mut body, mut content) = (Vec::new(), Vec::new(), Vec::new());
        write_content(&mut content, 3, 40);
        encode_publish(&mut out, 9, &content, "h", &mut body);
        let request = text(&out);
        assert!(request.starts_with("POST /nacos/v1/cs/configs HTTP/1.1\r\n"));
        let form = request.split("\r\n\r\n").nth(1).unwrap();
        assert!(
            form.starts_with("dataId=lg-cfg-9&group=DEFAULT_GROUP&content=lg.seq%3D3%0Alg.pad%3Dx")
        );
        let content_field = form.split("&content=").nth(1).unwrap();
        assert_eq!(form_decode(content_field.as_bytes()).unwrap(), content);
        assert!(request.contains(&format!("Content-Length: {}\r\n", form.len())));
    }

    /// The long-poll body is `Listening-Configs=dataId%02group%02md5%01`, form-encoded, with
    /// the timeout header; an empty md5 leaves its field empty.
    #[test]
    fn listen_request() {
        let md5 = content_md5(0, 1024);
        let mut out = Vec::new();
        encode_listen(&mut out, 0, &md5, 30_000, "h");
        let request = text(&out);
        assert!(request.starts_with("POST /nacos/v1/cs/configs/listener HTTP/1.1\r\n"));
        assert!(request.contains("\r\nLong-Pulling-Timeout: 30000\r\n"));
        assert!(request.contains("Content-Type: application/x-www-form-urlencoded\r\n"));
        let body = request.split("\r\n\r\n").nth(1).unwrap();
        assert_eq!(
            body,
            format!("Listening-Configs=lg-cfg-0%02DEFAULT_GROUP%02{md5}%01")
        );
        assert_eq!(
            listening_configs(12, ""),
            "lg-cfg-12\u{2}DEFAULT_GROUP\u{2}\u{1}"
        );
    }

    /// Answers name keys with or without a tenant, tolerate the trailing newline and `+`, and
    /// an empty answer (timeout) names none.
    #[test]
    fn changed_keys() {
        let keys = parse_changed_keys(b"lg-cfg-0%02DEFAULT_GROUP%01\n").unwrap();
        assert_eq!(
            keys,
            vec![ChangedKey {
                data_id: "lg-cfg-0".into(),
                group: "DEFAULT_GROUP".into(),
                tenant: String::new(),
            }]
        );
        assert!(is_config(&keys[0], 0));
        assert!(!is_config(&keys[0], 1));
        let two = parse_changed_keys(b"a%02g%02dev%01lg-cfg-3%02DEFAULT_GROUP%01").unwrap();
        assert_eq!(two.len(), 2);
        assert_eq!(two[0].tenant, "dev");
        assert!(is_config(&two[1], 3));
        let spaced = parse_changed_keys(b"a+b%02g%01").unwrap();
        assert_eq!(spaced[0].data_id, "a b");
        assert_eq!(parse_changed_keys(b"").unwrap(), vec![]);
        assert_eq!(parse_changed_keys(b"\n").unwrap(), vec![]);
    }

    /// Malformed answers are protocol errors: one field, four fields, bad escapes.
    #[test]
    fn changed_keys_refusals() {
        for body in [
            &b"lg-cfg-0%01"[..],
            b"a%02b%02c%02d%01",
            b"a%02b%2",
            b"a%02b%zz%01",
            b"%ff%fe%02g%01",
        ] {
            assert_eq!(
                parse_changed_keys(body),
                Err(ErrorKind::Protocol),
                "{body:?}"
            );
        }
        assert!(!is_config(
            &ChangedKey {
                data_id: "lg-cfg-0".into(),
                group: "OTHER".into(),
                tenant: String::new(),
            },
            0
        ));
    }

    /// Each reply's success condition, statuses before bodies.
    #[test]
    fn checks() {
        let mut content = Vec::new();
        write_content(&mut content, 5, 64);
        assert_eq!(check_get(200, &content), Ok(()));
        assert_eq!(
            check_get(200, b"config data not exist"),
            Err(ErrorKind::Nacos)
        );
        assert_eq!(
            check_get(404, b"config data not exist\n"),
            Err(ErrorKind::Status(404))
        );
        assert_eq!(check_publish(200, b"true"), Ok(()));
        assert_eq!(check_publish(200, b"false"), Err(ErrorKind::Nacos));
        assert_eq!(check_publish(500, b"true"), Err(ErrorKind::Status(500)));
        assert_eq!(check_listen(200, b""), Ok(()));
        assert_eq!(check_listen(200, b"x%02y%01\n"), Ok(()));
        assert_eq!(
            check_listen(204, b"error:listener empty"),
            Err(ErrorKind::Status(204))
        );
        assert_eq!(check_listen(200, b"x%01"), Err(ErrorKind::Protocol));
    }
}
