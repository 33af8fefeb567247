//! The Nacos HTTP v1 naming requests the scenarios send (nacos-protocol.md §1.1, §1.5,
//! §1.6) and how each response is judged: register → `ok`, beat → `code` 10200, list → a
//! JSON object. The config-center operations (`config`) share the operation type, so that
//! the common runner drives them too.

use std::io::Write;

use crate::http::request::{push_encoded, write_request};
use crate::keyspace::{Key, Keyspace, INSTANCE_PORT, SERVICE_NAME_PREFIX};
use crate::scenario::config;
use crate::stats::ErrorKind;

const INSTANCE_PATH: &str = "/nacos/v1/ns/instance";
const BEAT_PATH: &str = "/nacos/v1/ns/instance/beat";
const LIST_PATH: &str = "/nacos/v1/ns/instance/list";

/// `ResponseCode.OK` in a beat reply.
pub const BEAT_CODE_OK: i64 = 10200;

/// Metadata for instances that must outlive the run without beats (read scenarios): one hour
/// before they turn unhealthy or are removed, instead of Nacos's 15 s / 30 s.
const LONG_LIVED_METADATA: &str =
    r#"{"preserved.heart.beat.timeout":"3600000","preserved.ip.delete.timeout":"3600000"}"#;

/// One request of a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `POST instance`; `long_lived` adds `LONG_LIVED_METADATA`.
    Register { long_lived: bool },
    /// `PUT instance/beat` with the full beat JSON, as the Java 1.x client sends it.
    Beat,
    /// `GET instance/list` of the key's service.
    Query,
    /// `GET cs/configs` of config `lg-cfg-{service_index}` (the config keyspace has one
    /// "instance" per config).
    ConfigGet,
    /// `POST cs/configs` of config `lg-cfg-{service_index}`, `content_bytes` of content.
    ConfigPublish {
        content_bytes: u32,
        content: Content,
    },
}

/// Which content a publish writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    /// The connection's next publish sequence: every publish changes the config (servers skip
    /// an unchanged content, and the benchmark would measure that shortcut instead).
    Fresh,
    /// Sequence 0, whose md5 listeners know without asking (the notify and hold setups).
    Initial,
}

/// Reused per-connection buffers for building requests.
#[derive(Debug, Default)]
pub struct RequestBuffers {
    pub request: Vec<u8>,
    target: Vec<u8>,
    body: Vec<u8>,
    scratch: String,
    /// The last `Content::Fresh` publish sequence of this connection; it starts at the
    /// connection's stream number × 2^32, so that no two connections publish the same content.
    publish_sequence: u64,
    content: Vec<u8>,
}

impl RequestBuffers {
    pub fn with_capacity(bytes: usize) -> Self {
        Self::for_stream(bytes, 0)
    }

    /// Buffers of connection `stream` (unique per connection of a run, below 2^32).
    pub fn for_stream(bytes: usize, stream: u64) -> Self {
        assert!(stream < 1 << 32);
        Self {
            request: Vec::with_capacity(bytes),
            target: Vec::with_capacity(bytes / 4),
            body: Vec::with_capacity(bytes / 2),
            scratch: String::with_capacity(bytes / 4),
            publish_sequence: stream << 32,
            content: Vec::new(),
        }
    }
}

/// Builds the request for `op` on `key` into `buffers.request`.
pub fn encode(op: Op, keyspace: &Keyspace, key: Key, host: &str, buffers: &mut RequestBuffers) {
    buffers.target.clear();
    buffers.body.clear();
    if encode_config(op, key, host, buffers) {
        return;
    }
    let [a, b, c, d] = keyspace.ip(key);
    let service = key.service_index;
    let (method, path) = match op {
        Op::Register { long_lived } => {
            let body = &mut buffers.body;
            let _ = write!(body, "serviceName={SERVICE_NAME_PREFIX}{service}");
            let _ = write!(body, "&ip={a}.{b}.{c}.{d}&port={INSTANCE_PORT}");
            body.extend_from_slice(b"&weight=1.0&healthy=true&enabled=true&ephemeral=true");
            if long_lived {
                body.extend_from_slice(b"&metadata=");
                push_encoded(body, LONG_LIVED_METADATA);
            }
            ("POST", INSTANCE_PATH)
        }
        Op::Beat => {
            let target = &mut buffers.target;
            let _ = write!(
                target,
                "?namespaceId=public&serviceName=DEFAULT_GROUP%40%40"
            );
            let _ = write!(target, "{SERVICE_NAME_PREFIX}{service}&clusterName=DEFAULT");
            let _ = write!(target, "&ip={a}.{b}.{c}.{d}&port={INSTANCE_PORT}");
            buffers.scratch.clear();
            write_beat_json(&mut buffers.scratch, [a, b, c, d], service);
            buffers.body.extend_from_slice(b"beat=");
            push_encoded(&mut buffers.body, &buffers.scratch);
            ("PUT", BEAT_PATH)
        }
        Op::Query => {
            let _ = write!(
                buffers.target,
                "?serviceName={SERVICE_NAME_PREFIX}{service}"
            );
            ("GET", LIST_PATH)
        }
        Op::ConfigGet | Op::ConfigPublish { .. } => unreachable!("encoded by encode_config"),
    };
    buffers.scratch.clear();
    buffers.scratch.push_str(path);
    // The target holds only ASCII written above.
    buffers
        .scratch
        .push_str(std::str::from_utf8(&buffers.target).unwrap_or_default());
    write_request(
        &mut buffers.request,
        method,
        &buffers.scratch,
        host,
        &buffers.body,
    );
}

/// Builds a config operation's request; false for the naming operations.
fn encode_config(op: Op, key: Key, host: &str, buffers: &mut RequestBuffers) -> bool {
    let config_index = key.service_index;
    match op {
        Op::ConfigGet => {
            config::encode_get(
                &mut buffers.request,
                config_index,
                host,
                &mut buffers.scratch,
            );
            true
        }
        Op::ConfigPublish {
            content_bytes,
            content,
        } => {
            let sequence = match content {
                Content::Initial => 0,
                Content::Fresh => {
                    buffers.publish_sequence += 1;
                    buffers.publish_sequence
                }
            };
            config::write_content(&mut buffers.content, sequence, content_bytes as usize);
            let (request, body) = (&mut buffers.request, &mut buffers.body);
            config::encode_publish(request, config_index, &buffers.content, host, body);
            true
        }
        Op::Register { .. } | Op::Beat | Op::Query => false,
    }
}

/// The `BeatInfo` JSON of the Java 1.x client (nacos-protocol.md §1.6).
fn write_beat_json(out: &mut String, ip: [u8; 4], service_index: u64) {
    use std::fmt::Write as _;
    let [a, b, c, d] = ip;
    let _ = write!(
        out,
        "{{\"ip\":\"{a}.{b}.{c}.{d}\",\"port\":{INSTANCE_PORT},\
         \"serviceName\":\"DEFAULT_GROUP@@{SERVICE_NAME_PREFIX}{service_index}\",\
         \"cluster\":\"DEFAULT\",\"weight\":1.0,\"metadata\":{{}},\
         \"scheduled\":true,\"period\":5000,\"stopped\":false}}"
    );
}

/// Judges a complete response to `op`.
pub fn check(op: Op, status: u16, body: &[u8]) -> Result<(), ErrorKind> {
    match op {
        Op::ConfigGet => return config::check_get(status, body),
        Op::ConfigPublish { .. } => return config::check_publish(status, body),
        Op::Register { .. } | Op::Beat | Op::Query => {}
    }
    if !(200..300).contains(&status) {
        return Err(ErrorKind::Status(status));
    }
    let nacos_ok = match op {
        Op::Register { .. } => body.trim_ascii() == b"ok",
        Op::Beat => json_integer_field(body, b"code") == Some(BEAT_CODE_OK),
        Op::Query => body.trim_ascii_start().starts_with(b"{"),
        Op::ConfigGet | Op::ConfigPublish { .. } => unreachable!("checked above"),
    };
    if nacos_ok {
        Ok(())
    } else {
        Err(ErrorKind::Nacos)
    }
}

/// The integer value of the first `"name": <int>` in a flat JSON object, found by scanning
/// (beat replies are three fields; a full JSON parse per beat would cost more than the check).
pub fn json_integer_field(body: &[u8], name: &[u8]) -> Option<i64> {
    let mut quoted = Vec::with_capacity(name.len() + 2);
    quoted.push(b'"');
    quoted.extend_from_slice(name);
    quoted.push(b'"');
    let start = body
        .windows(quoted.len())
        .position(|w| w == quoted.as_slice())?;
    let rest = body[start + quoted.len()..].trim_ascii_start();
    let rest = rest.strip_prefix(b":")?.trim_ascii_start();
    let negative = rest.first() == Some(&b'-');
    let digits = if negative { &rest[1..] } else { rest };
    let length = digits
        .iter()
        .take_while(|byte| byte.is_ascii_digit())
        .count();
    let text = std::str::from_utf8(&digits[..length]).ok()?;
    let value: i64 = text.parse().ok()?;
    Some(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(op: Op) -> String {
        let keyspace = Keyspace::new(10, 300).unwrap();
        let mut buffers = RequestBuffers::with_capacity(1024);
        let key = keyspace.key(2 * 300 + 260);
        encode(op, &keyspace, key, "127.0.0.1:8848", &mut buffers);
        String::from_utf8(buffers.request).unwrap()
    }

    /// Register is a form POST of the key's service, IP and port.
    #[test]
    fn register_request() {
        let text = encoded(Op::Register { long_lived: false });
        assert!(text.starts_with("POST /nacos/v1/ns/instance HTTP/1.1\r\n"));
        assert!(text.ends_with(
            "\r\n\r\nserviceName=lg-svc-2&ip=10.0.3.92&port=8080\
             &weight=1.0&healthy=true&enabled=true&ephemeral=true"
        ));
        let long_lived = encoded(Op::Register { long_lived: true });
        assert!(long_lived.contains("&metadata=%7B%22preserved.heart.beat.timeout%22"));
    }

    /// Beat puts the instance in the query and the Java 1.x beat JSON in the form body.
    #[test]
    fn beat_request() {
        let text = encoded(Op::Beat);
        assert!(text.starts_with(
            "PUT /nacos/v1/ns/instance/beat?namespaceId=public\
             &serviceName=DEFAULT_GROUP%40%40lg-svc-2&clusterName=DEFAULT&ip=10.0.3.92&port=8080 "
        ));
        assert!(text.contains("\r\n\r\nbeat=%7B%22ip%22%3A%2210.0.3.92%22%2C%22port%22%3A8080"));
        assert!(text.contains("%22scheduled%22%3Atrue%2C%22period%22%3A5000"));
    }

    /// Query is a body-less GET of the service's instance list.
    #[test]
    fn query_request() {
        let text = encoded(Op::Query);
        assert!(text.starts_with("GET /nacos/v1/ns/instance/list?serviceName=lg-svc-2 HTTP/1.1"));
        assert!(text.ends_with("\r\n\r\n"));
    }

    /// Each operation's success condition, and statuses before bodies.
    #[test]
    fn checks() {
        let beat = br#"{"clientBeatInterval":5000,"code":10200,"lightBeatEnabled":true}"#;
        assert_eq!(check(Op::Beat, 200, beat), Ok(()));
        assert_eq!(
            check(Op::Beat, 200, br#"{"code":20404}"#),
            Err(ErrorKind::Nacos)
        );
        assert_eq!(check(Op::Beat, 500, beat), Err(ErrorKind::Status(500)));
        assert_eq!(
            check(Op::Register { long_lived: false }, 200, b"ok"),
            Ok(())
        );
        assert_eq!(
            check(Op::Register { long_lived: true }, 200, b"no"),
            Err(ErrorKind::Nacos)
        );
        assert_eq!(check(Op::Query, 200, b" {\"hosts\":[]}"), Ok(()));
        assert_eq!(check(Op::Query, 200, b""), Err(ErrorKind::Nacos));
    }

    /// Config operations take the config index from the key's service; fresh publishes
    /// differ from each other and from other connections', the initial one is sequence 0.
    #[test]
    fn config_requests() {
        let keyspace = Keyspace::new(10, 1).unwrap();
        let key = keyspace.key(4);
        let mut buffers = RequestBuffers::for_stream(1024, 3);
        encode(Op::ConfigGet, &keyspace, key, "h", &mut buffers);
        let get = String::from_utf8(buffers.request.clone()).unwrap();
        assert!(get.starts_with("GET /nacos/v1/cs/configs?dataId=lg-cfg-4&group=DEFAULT_GROUP "));
        let fresh = Op::ConfigPublish {
            content_bytes: 64,
            content: Content::Fresh,
        };
        let mut bodies = Vec::new();
        for _ in 0..2 {
            encode(fresh, &keyspace, key, "h", &mut buffers);
            bodies.push(String::from_utf8(buffers.request.clone()).unwrap());
        }
        let first_sequence = (3u64 << 32) + 1;
        assert!(bodies[0].contains(&format!("&content=lg.seq%3D{first_sequence}%0A")));
        assert_ne!(bodies[0], bodies[1]);
        let initial = Op::ConfigPublish {
            content_bytes: 64,
            content: Content::Initial,
        };
        encode(initial, &keyspace, key, "h", &mut buffers);
        let text = String::from_utf8(buffers.request.clone()).unwrap();
        assert!(text.contains("dataId=lg-cfg-4&group=DEFAULT_GROUP&content=lg.seq%3D0%0A"));
        assert_eq!(check(initial, 200, b"true"), Ok(()));
        assert_eq!(check(Op::ConfigGet, 404, b""), Err(ErrorKind::Status(404)));
    }

    /// The integer scan tolerates spaces and signs and rejects non-integers.
    #[test]
    fn integer_field_scan() {
        assert_eq!(json_integer_field(b"{\"code\" : -5}", b"code"), Some(-5));
        assert_eq!(
            json_integer_field(b"{\"x\":1,\"code\":10200}", b"code"),
            Some(10200)
        );
        assert_eq!(json_integer_field(b"{\"code\":\"10200\"}", b"code"), None);
        assert_eq!(json_integer_field(b"{}", b"code"), None);
    }
}
