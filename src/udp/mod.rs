//! UDP push to Nacos 1.x-style subscribers (nacos-protocol.md §1.9): each core owns one UDP
//! socket; a change is sent as `{"type":"dom","data":"<ServiceInfo JSON>","lastRefTime":n}`
//! (gzip from 1 KiB), the client's `push-ack` is matched by `lastRefTime`, and an unanswered
//! push is retransmitted once.

use std::cell::{Cell, RefCell};
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use glommio::net::UdpSocket;
use hashbrown::HashMap;

use crate::limits::{
    UDP_ACK_TIMEOUT_MS, UDP_DATAGRAM_BYTES_MAX, UDP_GZIP_THRESHOLD_BYTES,
    UDP_PENDING_ACKS_PER_CORE_MAX,
};

struct Pending {
    target: SocketAddr,
    datagram: Bytes,
    sent_at_ms: u64,
    retransmitted: bool,
}

pub struct UdpPusher {
    socket: UdpSocket,
    pending: RefCell<HashMap<u64, Pending>>,
    last_ref_time: Cell<u64>,
}

/// The `dom` datagram around a `ServiceInfo` (grouped name, no `groupName`); gzip-compressed
/// when it reaches 1 KiB, as Nacos does.
pub fn encode_datagram(service_info_json: &[u8], last_ref_time: u64) -> Vec<u8> {
    let data = String::from_utf8_lossy(service_info_json);
    let body = serde_json::json!({"type": "dom", "data": data, "lastRefTime": last_ref_time});
    let raw = body.to_string().into_bytes();
    if raw.len() < UDP_GZIP_THRESHOLD_BYTES {
        return raw;
    }
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    match encoder.write_all(&raw).and_then(|_| encoder.finish()) {
        Ok(compressed) => compressed,
        Err(_) => raw,
    }
}

/// The `lastRefTime` of a `push-ack` (a string or a number, both are seen in the wild).
pub fn parse_ack(datagram: &[u8]) -> Option<u64> {
    let value: serde_json::Value = serde_json::from_slice(datagram).ok()?;
    if value.get("type")?.as_str()? != "push-ack" {
        return None;
    }
    match value.get("lastRefTime")? {
        serde_json::Value::String(s) => s.trim().parse().ok(),
        serde_json::Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

impl UdpPusher {
    pub fn bind(ip: IpAddr) -> std::io::Result<Rc<UdpPusher>> {
        let socket = UdpSocket::bind(SocketAddr::new(ip, 0))?;
        let pusher = Rc::new(UdpPusher {
            socket,
            pending: RefCell::new(HashMap::new()),
            last_ref_time: Cell::new(0),
        });
        glommio::spawn_local(receive_acks(pusher.clone())).detach();
        Ok(pusher)
    }

    /// A `lastRefTime` unique on this core and increasing (wall-clock ns, as Nacos sends).
    fn next_ref_time(&self) -> u64 {
        let wall_ns = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let next = wall_ns.max(self.last_ref_time.get() + 1);
        self.last_ref_time.set(next);
        next
    }

    pub async fn push(&self, target: SocketAddr, service_info_json: &[u8], now_ms: u64) {
        let last_ref_time = self.next_ref_time();
        let datagram = Bytes::from(encode_datagram(service_info_json, last_ref_time));
        if datagram.len() > UDP_DATAGRAM_BYTES_MAX {
            tracing::warn!(%target, bytes = datagram.len(), "UDP push too large to send");
            return;
        }
        if self.socket.send_to(&datagram, target).await.is_err() {
            return;
        }
        let mut pending = self.pending.borrow_mut();
        if pending.len() < UDP_PENDING_ACKS_PER_CORE_MAX {
            let entry = Pending {
                target,
                datagram,
                sent_at_ms: now_ms,
                retransmitted: false,
            };
            pending.insert(last_ref_time, entry);
        }
    }

    /// Retransmits each push unanswered for the ack timeout once, then gives up on it.
    pub async fn retransmit_due(&self, now_ms: u64) {
        let due: Vec<(SocketAddr, Bytes)> = {
            let mut pending = self.pending.borrow_mut();
            let mut due = Vec::new();
            pending.retain(|_, p| {
                if now_ms.saturating_sub(p.sent_at_ms) < UDP_ACK_TIMEOUT_MS {
                    return true;
                }
                if p.retransmitted {
                    return false;
                }
                p.retransmitted = true;
                p.sent_at_ms = now_ms;
                due.push((p.target, p.datagram.clone()));
                true
            });
            due
        };
        for (target, datagram) in due {
            let _ = self.socket.send_to(&datagram, target).await;
        }
    }

    pub fn pending_acks(&self) -> usize {
        self.pending.borrow().len()
    }
}

async fn receive_acks(pusher: Rc<UdpPusher>) {
    let mut buf = vec![0u8; UDP_DATAGRAM_BYTES_MAX];
    loop {
        match pusher.socket.recv_from(&mut buf).await {
            Ok((n, _from)) => {
                if let Some(last_ref_time) = parse_ack(&buf[..n]) {
                    pusher.pending.borrow_mut().remove(&last_ref_time);
                }
            }
            Err(error) => {
                tracing::debug!(%error, "UDP ack receive failed");
                glommio::timer::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// Small pushes are plain JSON with `data` as a string; big ones are gzip.
    #[test]
    fn datagram_encoding() {
        let small = encode_datagram(br#"{"name":"G@@s","hosts":[]}"#, 42);
        let v: serde_json::Value = serde_json::from_slice(&small).unwrap();
        assert_eq!(v["type"], "dom");
        assert_eq!(v["lastRefTime"], 42);
        assert_eq!(v["data"], r#"{"name":"G@@s","hosts":[]}"#);
        let big_info = format!(
            r#"{{"name":"G@@s","hosts":[],"pad":"{}"}}"#,
            "x".repeat(2000)
        );
        let big = encode_datagram(big_info.as_bytes(), 7);
        assert_eq!(&big[..2], &[0x1f, 0x8b], "gzip magic");
        let mut text = String::new();
        flate2::read::GzDecoder::new(&big[..])
            .read_to_string(&mut text)
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["data"], big_info);
    }

    /// Acks carry lastRefTime as a string or a number; other datagrams are not acks.
    #[test]
    fn ack_parsing() {
        assert_eq!(
            parse_ack(br#"{"type":"push-ack","lastRefTime":"123","data":""}"#),
            Some(123)
        );
        assert_eq!(
            parse_ack(br#"{"type":"push-ack","lastRefTime":124,"data":""}"#),
            Some(124)
        );
        assert_eq!(parse_ack(br#"{"type":"dump-ack","lastRefTime":"1"}"#), None);
        assert_eq!(parse_ack(b"garbage"), None);
    }
}
