//! Nacos `DistroFilter`: an HTTP ephemeral write for an `ip:port` client this member is not
//! responsible for (nacos-protocol.md §5.2) is proxied to the member that is, and answered
//! with that member's answer.
//!
//! - Forwarded: register (`POST /instance`), deregister (`DELETE /instance`) and beat
//!   (`PUT /instance/beat`), v1 and v2, when ephemeral. Update (`PUT|PATCH /instance`) is not:
//!   in nacore the update overlay goes through Raft for every instance, so any member serves
//!   it. Persistent register/deregister go through Raft as well.
//! - The tag is `ip:port`, from the `ip`/`port` params, for a beat from its `beat` JSON when
//!   one of them is absent. A write whose tag cannot be read is handled here, and fails here
//!   with the usual message.
//! - A request whose User-Agent holds `Nacos-Server` came from a peer: it is never forwarded
//!   again. If this member is not responsible it is refused (400
//!   `receive invalid redirect request from peer <ip>`).
//! - A responsible member that cannot be connected to is replaced by the next healthy one
//!   (`ClusterView::responsible_without`); when that is this member, it handles the write.
//!   The members tried in vain travel in the User-Agent (`Nacos-Server:nacore unreachable=2`),
//!   so the member standing in accepts the write before its own view has marked them DOWN.

use std::borrow::Cow;
use std::net::SocketAddr;

use bytes::Bytes;

use crate::api::form;
use crate::api::instance;
use crate::api::render::{render, Flavor, Reply};
use crate::cluster::proto;
use crate::distro::record::MemberIndex;
use crate::distro::responsible::ClusterView;
use crate::http::client::{self, ClientError, ClientResponse, Outgoing};
use crate::http::codec::Method;
use crate::http::conn::Request;
use crate::http::params::Params;
use crate::http::response::{Body, Response, JSON, TEXT};
use crate::naming::error::{ErrorKind, NamingError};
use crate::naming::op::{NamingOp, NamingReply};
use crate::shard::CoreHandle;

/// What a request from a peer carries in its User-Agent (Nacos `UtilsAndCommons`).
const PEER_AGENT_MARK: &str = "Nacos-Server";
/// The User-Agent of requests this member forwards.
const PEER_AGENT: &str = "Nacos-Server:nacore";
/// Precedes the members a forwarder could not reach, in its User-Agent.
const UNREACHABLE_MARK: &str = " unreachable=";
const FORM: &str = "application/x-www-form-urlencoded";

/// The writes the filter looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    Register,
    Deregister,
    Beat,
}

impl Write {
    /// The forwardable write a naming route is (method as routed, path after `/ns`).
    pub fn of(method: Method, rest: &str) -> Option<Write> {
        match (method, rest) {
            (Method::Post, "/instance") => Some(Write::Register),
            (Method::Delete, "/instance") => Some(Write::Deregister),
            (Method::Put, "/instance/beat") => Some(Write::Beat),
            _ => None,
        }
    }

    fn method(self) -> &'static str {
        match self {
            Write::Register => "POST",
            Write::Deregister => "DELETE",
            Write::Beat => "PUT",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// This member handles the request.
    Local,
    /// `member` answers for `tag`: the request goes there.
    Forward { member: MemberIndex, tag: String },
    /// A peer forwarded a request this member is not responsible for either.
    RefusePeerRedirect,
}

/// Runs the filter for a forwardable write: `Some(answer)` when the request was refused or
/// answered by the responsible member, `None` when this member handles it. Always `None` in
/// single-node mode (no cluster view).
pub async fn filter(
    core: &CoreHandle,
    request: &Request,
    write: Write,
    flavor: Flavor,
) -> Option<Response> {
    let view = core.cluster_view()?;
    let default_ephemeral = core.with_switches(|s| s.default_instance_ephemeral);
    let user_agent = request.head.user_agent();
    match decide(&view, write, &request.params, user_agent, default_ephemeral) {
        Decision::Local => None,
        Decision::RefusePeerRedirect => Some(refuse(request)),
        Decision::Forward { member, tag } => {
            if let Some(answer) = answer_here(core, request, write, member, flavor).await {
                return Some(answer);
            }
            proxy(&view, request, write, &tag, member, flavor).await
        }
    }
}

/// A beat, or a re-registration that changes nothing, for a client another member answers
/// for, when this member holds the instance (every member holds every instance): answered
/// here, and the beat relayed to that member in a batch instead of a proxied round trip per
/// beat (beats are most of an HTTP fleet's traffic). Anything else (an unknown instance, a
/// changed registration, a full relay queue) is proxied as it came, so the responsible
/// member decides (20404, re-registration from the beat JSON).
async fn answer_here(
    core: &CoreHandle,
    request: &Request,
    write: Write,
    member: MemberIndex,
    flavor: Flavor,
) -> Option<Response> {
    let params = &request.params;
    let key = form::service_key(params).ok()?;
    let (op, ip, port, cluster) = match write {
        Write::Beat => {
            let mut beat = form::beat(params).ok()?;
            crate::naming::key::check_ip(&beat.ip).ok()?;
            beat.reregister = None;
            let (ip, port, cluster) = (beat.ip.clone(), beat.port, beat.cluster.clone());
            let op = NamingOp::Beat {
                key: key.clone(),
                beat,
            };
            (op, ip, port, cluster)
        }
        Write::Register => {
            let ephemeral = core.with_switches(|s| s.default_instance_ephemeral);
            let spec = form::instance_spec(params, ephemeral).ok()?;
            let (ip, port, cluster) = (spec.ip.clone(), spec.port, spec.cluster.clone());
            let op = NamingOp::SameRegistration {
                key: key.clone(),
                spec,
            };
            (op, ip, port, cluster)
        }
        Write::Deregister => return None,
    };
    let NamingReply::Beat {
        found: true,
        beat_interval_ms,
    } = core.execute(op).await
    else {
        return None;
    };
    let notice = proto::DistroBeat {
        namespace: key.namespace().to_string(),
        group: key.group().to_string(),
        service: key.service().to_string(),
        ip,
        port: u32::from(port),
        cluster,
    };
    if !core.relay_beat(member, notice) {
        return None;
    }
    let reply = match write {
        Write::Beat => instance::beat_reply(core, true, beat_interval_ms),
        _ => Reply::Ok,
    };
    Some(render(Ok(reply), flavor))
}

/// Who answers `write`, with no I/O.
pub fn decide(
    view: &ClusterView,
    write: Write,
    params: &Params,
    user_agent: &str,
    default_ephemeral: bool,
) -> Decision {
    // A beat always concerns an ephemeral instance (it refreshes only ephemeral ones and
    // registers ephemeral ones); register and deregister say so in `ephemeral`.
    if write != Write::Beat && !form::flag(params, "ephemeral", default_ephemeral) {
        return Decision::Local;
    }
    let Some(tag) = tag(write, params) else {
        return Decision::Local;
    };
    if user_agent.contains(PEER_AGENT_MARK) {
        let unreachable = unreachable_in(user_agent);
        if view.responsible_without(&tag, &unreachable) == view.me {
            return Decision::Local;
        }
        return Decision::RefusePeerRedirect;
    }
    match view.responsible(&tag) {
        member if member == view.me => Decision::Local,
        member => Decision::Forward { member, tag },
    }
}

/// The `ip:port` the write is about, as Nacos `DistroIpPortTagGenerator` reads it: the
/// params, or for a beat missing one of them its `beat` JSON (as `form::beat` reads it).
pub fn tag(write: Write, params: &Params) -> Option<String> {
    let ip = params.non_blank("ip").map(str::trim);
    let port = params.non_blank("port");
    if let (Some(ip), Some(port)) = (ip, port) {
        return Some(format!("{ip}:{}", form::port(port).ok()?));
    }
    if write != Write::Beat {
        return None;
    }
    #[derive(serde::Deserialize)]
    struct BeatAddress<'a> {
        #[serde(borrow)]
        ip: Option<Cow<'a, str>>,
        port: Option<i64>,
    }
    let beat: BeatAddress = serde_json::from_str(params.non_blank("beat")?).ok()?;
    let ip = match beat.ip.filter(|ip| !ip.trim().is_empty()) {
        Some(ip) => ip.trim().to_string(),
        None => ip?.to_string(),
    };
    let port = match beat.port {
        Some(port) => u16::try_from(port).ok()?,
        None => form::port(port?).ok()?,
    };
    Some(format!("{ip}:{port}"))
}

/// The members a forwarding peer could not reach, from its User-Agent.
fn unreachable_in(user_agent: &str) -> Vec<MemberIndex> {
    let Some((_, list)) = user_agent.split_once(UNREACHABLE_MARK) else {
        return Vec::new();
    };
    list.split(',')
        .filter_map(|m| m.trim().parse().ok())
        .take(usize::from(MemberIndex::MAX))
        .collect()
}

/// The User-Agent of a forwarded request that had to skip `unreachable`.
fn peer_agent(unreachable: &[MemberIndex]) -> String {
    let mut agent = String::from(PEER_AGENT);
    for (i, member) in unreachable.iter().enumerate() {
        agent.push_str(if i == 0 { UNREACHABLE_MARK } else { "," });
        agent.push_str(itoa::Buffer::new().format(*member));
    }
    agent
}

fn refuse(request: &Request) -> Response {
    let from = request
        .remote_addr
        .map_or_else(|| "unknown".to_string(), |a| a.ip().to_string());
    tracing::warn!(%from, path = request.head.path(), "receive invalid redirect request from peer");
    Response::text(400, format!("{REDIRECT_REFUSAL} {from}"))
}

/// Sends the request to `first`, or to the next healthy member while members cannot be
/// connected to; `None` when that leads back to this member.
/// What a member answers a peer's forwarded write for a client it does not answer for.
const REDIRECT_REFUSAL: &str = "receive invalid redirect request from peer";

async fn proxy(
    view: &ClusterView,
    request: &Request,
    write: Write,
    tag: &str,
    first: MemberIndex,
    flavor: Flavor,
) -> Option<Response> {
    let body = form_body(&request.params);
    let client_agent = header_safe(request.head.user_agent());
    let mut unreachable: Vec<MemberIndex> = Vec::new();
    let mut member = first;
    // Each round leaves one more member out; with all others out `member` is this one.
    for _ in 0..=view.healthy.len() {
        if member == view.me {
            return None;
        }
        if let Some(addr) = view.http_addr(member) {
            let agent = peer_agent(&unreachable);
            let mut headers = vec![("User-Agent", agent.as_str())];
            if !client_agent.is_empty() {
                headers.push(("X-Forwarded-User-Agent", client_agent.as_str()));
            }
            // --- auth ---
            let peer_headers = crate::api::auth_gate::peer_headers(request);
            let peer_headers: Vec<(&str, String)> = peer_headers
                .into_iter()
                .map(|(name, value)| (name, header_safe(&value)))
                .collect();
            headers.extend(peer_headers.iter().map(|(n, v)| (*n, v.as_str())));
            let outgoing = Outgoing {
                method: write.method(),
                target: request.head.path(),
                headers: &headers,
                content_type: FORM,
                body: &body,
            };
            match client::send(addr, &client::encode(addr, &outgoing)).await {
                // The member does not see itself responsible: the two views differ for a
                // moment (a member just joined or left). This member takes the write, and
                // the records move to the responsible member once the views agree.
                Ok(answer) if is_redirect_refusal(&answer) => {
                    tracing::debug!(member, "views differ; handling the write here");
                    return None;
                }
                Ok(answer) => return Some(relay(answer)),
                Err(ClientError::Connect(error)) => {
                    tracing::warn!(member, %addr, %error, "responsible member unreachable");
                }
                Err(ClientError::Exchange(message)) => {
                    return Some(failed(member, addr, &message, flavor));
                }
            }
        }
        debug_assert!(!unreachable.contains(&member));
        unreachable.push(member);
        member = view.responsible_without(tag, &unreachable);
    }
    debug_assert!(false, "responsible_without never leaves this member out");
    None
}

fn is_redirect_refusal(answer: &ClientResponse) -> bool {
    answer.status == 400 && answer.body.starts_with(REDIRECT_REFUSAL.as_bytes())
}

/// The peer's answer as this member's: status, body, and its type as TEXT or JSON.
fn relay(answer: ClientResponse) -> Response {
    let json = answer.content_type.to_ascii_lowercase().contains("json");
    Response {
        status: answer.status,
        content_type: if json { JSON } else { TEXT },
        body: Body::from(Bytes::from(answer.body)),
        headers: Vec::new(),
    }
}

/// 503 for a forward that reached the member but got no usable answer.
fn failed(member: MemberIndex, addr: SocketAddr, message: &str, flavor: Flavor) -> Response {
    tracing::warn!(member, %addr, message, "forwarding to the responsible member failed");
    let message =
        format!("forwarding to the responsible member {member} ({addr}) failed: {message}");
    render(
        Err(NamingError::new(ErrorKind::Unavailable, message)),
        flavor,
    )
}

/// A header value with only visible ASCII, spaces and tabs.
fn header_safe(value: &str) -> String {
    value
        .chars()
        .filter(|c| *c == ' ' || *c == '\t' || c.is_ascii_graphic())
        .collect()
}

/// Every param, in order, as an `application/x-www-form-urlencoded` body: read by the peer,
/// it gives the same params (the query's come first, so the same value wins).
pub fn form_body(params: &Params) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 * params.len());
    for (i, (name, value)) in params.iter().enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        percent_encode(name, &mut out);
        out.push(b'=');
        percent_encode(value, &mut out);
    }
    out
}

fn percent_encode(text: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &byte in text.as_bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte);
        } else {
            out.extend_from_slice(&[
                b'%',
                HEX[usize::from(byte >> 4)],
                HEX[usize::from(byte & 15)],
            ]);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::distro::responsible::Healthy;
    use crate::http::codec::parse_head;
    use crate::http::test_peer::{self, answer, Step};
    use crate::naming::op::NamingOp;
    use crate::shard::Core;

    fn view(me: MemberIndex, addrs: &[SocketAddr]) -> ClusterView {
        let members = addrs.iter().enumerate();
        let healthy = members
            .map(|(i, a)| (a.to_string(), i as MemberIndex))
            .collect();
        ClusterView {
            me,
            healthy: Healthy::new(healthy),
            http_addrs: addrs.to_vec(),
            epoch: 1,
        }
    }

    fn addrs(ports: &[u16]) -> Vec<SocketAddr> {
        ports
            .iter()
            .map(|p| SocketAddr::from(([127, 0, 0, 1], *p)))
            .collect()
    }

    /// A port whose tag `10.0.0.1:port` `view` gives to `member`, and once `member` is left
    /// out, to `then` (when given).
    fn port_of(view: &ClusterView, member: MemberIndex, then: Option<MemberIndex>) -> u16 {
        (1..u16::MAX)
            .find(|port| {
                let tag = format!("10.0.0.1:{port}");
                view.responsible(&tag) == member
                    && then.is_none_or(|t| view.responsible_without(&tag, &[member]) == t)
            })
            .unwrap()
    }

    fn p(query: &str) -> Params {
        Params::parse(query, None)
    }

    fn decide_on(view: &ClusterView, write: Write, query: &str, agent: &str) -> Decision {
        decide(view, write, &p(query), agent, true)
    }

    /// The routes the filter looks at: register, deregister, beat; not update or reads.
    #[test]
    fn forwarded_routes() {
        assert_eq!(Write::of(Method::Post, "/instance"), Some(Write::Register));
        assert_eq!(
            Write::of(Method::Delete, "/instance"),
            Some(Write::Deregister)
        );
        assert_eq!(Write::of(Method::Put, "/instance/beat"), Some(Write::Beat));
        assert_eq!(Write::of(Method::Put, "/instance"), None);
        assert_eq!(Write::of(Method::Patch, "/instance"), None);
        assert_eq!(Write::of(Method::Get, "/instance"), None);
    }

    /// The responsible member of the params' `ip:port` answers; this member handles its own.
    #[test]
    fn decides_by_ip_port_params() {
        let v = view(0, &addrs(&[8848, 8858, 8868]));
        let mine = port_of(&v, 0, None);
        let theirs = port_of(&v, 2, None);
        let q = |port: u16| format!("serviceName=s&ip=+10.0.0.1+&port={port}");
        assert_eq!(
            decide_on(&v, Write::Register, &q(mine), ""),
            Decision::Local
        );
        let forward = Decision::Forward {
            member: 2,
            tag: format!("10.0.0.1:{theirs}"),
        };
        assert_eq!(decide_on(&v, Write::Register, &q(theirs), ""), forward);
        assert_eq!(decide_on(&v, Write::Deregister, &q(theirs), ""), forward);
        assert_eq!(decide_on(&v, Write::Beat, &q(theirs), "Go"), forward);
        // Without a readable tag the local handler answers the error.
        let bad = "serviceName=s&ip=10.0.0.1&port=x";
        assert_eq!(decide_on(&v, Write::Register, bad, ""), Decision::Local);
        let none = "serviceName=s&ip=10.0.0.1";
        assert_eq!(decide_on(&v, Write::Register, none, ""), Decision::Local);
        // One member: always responsible.
        let alone = view(0, &addrs(&[8848]));
        assert_eq!(
            decide_on(&alone, Write::Register, &q(theirs), ""),
            Decision::Local
        );
    }

    /// Persistent register/deregister stay here (Raft); a beat is always ephemeral.
    #[test]
    fn persistent_writes_stay_local() {
        let v = view(0, &addrs(&[8848, 8858, 8868]));
        let port = port_of(&v, 1, None);
        let q = format!("ip=10.0.0.1&port={port}&ephemeral=false");
        assert_eq!(decide_on(&v, Write::Register, &q, ""), Decision::Local);
        assert_eq!(decide_on(&v, Write::Deregister, &q, ""), Decision::Local);
        assert!(matches!(
            decide_on(&v, Write::Beat, &q, ""),
            Decision::Forward { member: 1, .. }
        ));
        // The switch decides when `ephemeral` is absent.
        let q = format!("ip=10.0.0.1&port={port}");
        assert_eq!(
            decide(&v, Write::Register, &p(&q), "", false),
            Decision::Local
        );
        let forward = decide(&v, Write::Register, &p(&q), "", true);
        assert!(matches!(forward, Decision::Forward { member: 1, .. }));
    }

    /// A beat without ip/port params is tagged from its JSON; params fill what it lacks.
    #[test]
    fn beat_tag_from_json() {
        let beat = |json: &str| {
            format!(
                "beat={}",
                String::from_utf8(form_body(&p(&format!("x={json}"))))
                    .unwrap()
                    .trim_start_matches("x=")
            )
        };
        let tag = |q: &str| super::tag(Write::Beat, &p(q));
        let full = beat(r#"{"ip":"10.0.0.2","port":81,"cluster":"c","metadata":{"k":"v"}}"#);
        assert_eq!(tag(&full).as_deref(), Some("10.0.0.2:81"));
        let no_port = beat(r#"{"ip":"10.0.0.2"}"#);
        assert_eq!(
            tag(&format!("{no_port}&port=82")).as_deref(),
            Some("10.0.0.2:82")
        );
        let no_ip = beat(r#"{"port":83}"#);
        assert_eq!(
            tag(&format!("{no_ip}&ip=10.0.0.3")).as_deref(),
            Some("10.0.0.3:83")
        );
        // The params win when both are there (Nacos reads the params first).
        assert_eq!(
            tag(&format!("{full}&ip=10.0.0.4&port=84")).as_deref(),
            Some("10.0.0.4:84")
        );
        assert_eq!(tag(&beat(r#"{"ip":"10.0.0.2","port":70000}"#)), None);
        assert_eq!(tag(&beat("{bad")), None);
        assert_eq!(tag(&no_port), None);
        assert_eq!(tag("serviceName=s"), None);
        // Only a beat reads JSON.
        assert_eq!(super::tag(Write::Register, &p(&full)), None);
    }

    /// A peer's request is never forwarded again: refused unless this member answers for it,
    /// also once the members the peer could not reach are left out.
    #[test]
    fn peer_requests_are_not_forwarded_again() {
        let v = view(0, &addrs(&[8848, 8858, 8868]));
        let q = |port: u16| format!("ip=10.0.0.1&port={port}");
        let java = "Nacos-Server:v2.3.0";
        let theirs = q(port_of(&v, 1, None));
        let refused = Decision::RefusePeerRedirect;
        assert_eq!(decide_on(&v, Write::Register, &theirs, java), refused);
        assert_eq!(decide_on(&v, Write::Beat, &theirs, PEER_AGENT), refused);
        let mine = q(port_of(&v, 0, None));
        assert_eq!(decide_on(&v, Write::Register, &mine, java), Decision::Local);
        let standing_in = q(port_of(&v, 1, Some(0)));
        let skipped = peer_agent(&[1]);
        assert_eq!(skipped, "Nacos-Server:nacore unreachable=1");
        assert_eq!(
            decide_on(&v, Write::Register, &standing_in, &skipped),
            Decision::Local
        );
        let elsewhere = q(port_of(&v, 1, Some(2)));
        assert_eq!(
            decide_on(&v, Write::Register, &elsewhere, &skipped),
            refused
        );
        assert_eq!(unreachable_in(&peer_agent(&[2, 0, 1])), [2, 0, 1]);
        assert_eq!(unreachable_in("Nacos-Server:nacore unreachable=x,3"), [3]);
        assert!(unreachable_in(java).is_empty());
    }

    /// The re-encoded body gives the peer the very params this member read.
    #[test]
    fn form_body_round_trips() {
        let query = "serviceName=a%40%40b&ip=1.1.1.1&x=%E4%B8%AD+%26%3D%2B%25&flag";
        let raw_go = br#"metadata={"a":"b c"}&port=80&ip=2.2.2.2&beat=100%"#;
        let params = Params::parse(query, Some(raw_go));
        let body = form_body(&params);
        assert!(body.is_ascii() && !body.contains(&b' '));
        let again = Params::parse("", Some(&body));
        assert_eq!(
            again.iter().collect::<Vec<_>>(),
            params.iter().collect::<Vec<_>>()
        );
        assert_eq!(again.get("ip"), Some("1.1.1.1"));
        assert_eq!(again.get("metadata"), Some(r#"{"a":"b c"}"#));
        assert_eq!(again.get("x"), Some("中 &=+%"));
        assert!(form_body(&Params::default()).is_empty());
        assert_eq!(header_safe("Go\r\nX: y\u{7f}é"), "GoX: y");
    }

    fn run(test: impl std::future::Future<Output = ()> + 'static) {
        let executor = glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
            .io_memory(512 * 1024)
            .make()
            .unwrap();
        executor.run(test);
    }

    fn ready_core(view: Option<ClusterView>) -> CoreHandle {
        let core = Core::new(0, 1, None, Instant::now(), Duration::ZERO);
        core.apply_local(NamingOp::MarkReady);
        if let Some(view) = view {
            core.set_cluster_view(view);
        }
        core
    }

    /// A request as the connection would hand it over: query and form body.
    fn request(method: &str, path: &str, query: &str, body: &str, agent: &str) -> Request {
        let raw = format!(
            "{method} {path}?{query} HTTP/1.1\r\nUser-Agent: {agent}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let head = parse_head(raw.as_bytes()).unwrap().unwrap();
        let params = Params::parse(head.query(), Some(body.as_bytes()));
        Request {
            head,
            params,
            body: bytes::Bytes::new(),
            local_addr: None,
            remote_addr: Some(SocketAddr::from(([10, 1, 2, 3], 40000))),
        }
    }

    fn text(response: &Response) -> String {
        String::from_utf8(response.body.to_vec()).unwrap()
    }

    /// A register and a beat for the peer's client go there as form bodies with the original
    /// method and path and the peer User-Agent; its status, body and type come back. Both
    /// share one pooled connection.
    #[test]
    fn proxies_to_the_responsible_member() {
        run(async {
            let peer = test_peer::start(vec![
                Step::Answer(answer(200, "text/plain;charset=UTF-8", "peer-ok")),
                Step::Answer(answer(200, "application/json", r#"{"code":10200}"#)),
            ]);
            let v = view(0, &[SocketAddr::from(([127, 0, 0, 1], 1)), peer.addr]);
            let port = port_of(&v, 1, None);
            let core = ready_core(Some(v));
            let query = "serviceName=s&ip=10.0.0.1";
            let body = format!("port={port}&metadata=%7B%22a%22%3A%22b+c%22%7D");
            let register = request("POST", "/nacos/v1/ns/instance", query, &body, "Java/1.8");
            let response = crate::api::route(&core, &register).await;
            assert_eq!(
                (response.status, text(&response)),
                (200, "peer-ok".to_string())
            );
            assert_eq!(response.content_type, TEXT);
            let beat = request("PUT", "/nacos/v2/ns/instance/beat", query, &body, "");
            let response = crate::api::route(&core, &beat).await;
            assert_eq!((response.status, response.content_type), (200, JSON));
            assert_eq!(text(&response), r#"{"code":10200}"#);
            assert_eq!(peer.accepted.get(), 1);
            let seen = peer.requests.borrow();
            assert_eq!(seen[0].method, "POST");
            assert_eq!(seen[0].path, "/nacos/v1/ns/instance");
            assert_eq!(seen[0].header("user-agent"), Some(PEER_AGENT));
            assert_eq!(seen[0].header("x-forwarded-user-agent"), Some("Java/1.8"));
            assert_eq!(seen[0].header("content-type"), Some(FORM));
            let sent = Params::parse("", Some(&seen[0].body));
            assert_eq!(
                sent.iter().collect::<Vec<_>>(),
                register.params.iter().collect::<Vec<_>>()
            );
            assert_eq!(sent.get("metadata"), Some(r#"{"a":"b c"}"#));
            assert_eq!(
                (seen[1].method.as_str(), seen[1].path.as_str()),
                ("PUT", "/nacos/v2/ns/instance/beat")
            );
            assert_eq!(seen[1].header("x-forwarded-user-agent"), None);
        });
    }

    /// An unreachable responsible member is replaced by the next healthy one; when that is
    /// this member, it registers the instance itself.
    #[test]
    fn unreachable_member_is_replaced() {
        run(async {
            let peer = test_peer::start(vec![Step::Answer(answer(200, "text/plain", "peer-ok"))]);
            let dead = glommio::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap();
            let v = view(0, &[SocketAddr::from(([127, 0, 0, 1], 1)), dead, peer.addr]);
            let (to_peer, to_me) = (port_of(&v, 1, Some(2)), port_of(&v, 1, Some(0)));
            let core = ready_core(Some(v));
            let query = |port: u16| format!("serviceName=s&ip=10.0.0.1&port={port}");
            let path = "/nacos/v1/ns/instance";
            let response =
                crate::api::route(&core, &request("POST", path, &query(to_peer), "", "")).await;
            assert_eq!(text(&response), "peer-ok");
            let seen = peer.requests.borrow()[0].clone();
            assert_eq!(
                seen.header("user-agent"),
                Some("Nacos-Server:nacore unreachable=1")
            );
            let response =
                crate::api::route(&core, &request("POST", path, &query(to_me), "", "")).await;
            assert_eq!((response.status, text(&response)), (200, "ok".to_string()));
            assert_eq!(peer.requests.borrow().len(), 1);
        });
    }

    /// A peer's misdirected request is refused with Nacos's message; persistent writes and
    /// single-node mode are handled here.
    #[test]
    fn refusals_and_local_writes() {
        run(async {
            let peer = test_peer::start(vec![]);
            let v = view(0, &[SocketAddr::from(([127, 0, 0, 1], 1)), peer.addr]);
            let port = port_of(&v, 1, None);
            let core = ready_core(Some(v));
            let query = format!("serviceName=s&ip=10.0.0.1&port={port}");
            let path = "/nacos/v1/ns/instance";
            let from_peer = request("DELETE", path, &query, "", "Nacos-Server:v2.3.0");
            let response = crate::api::route(&core, &from_peer).await;
            assert_eq!(response.status, 400);
            assert_eq!(
                text(&response),
                "receive invalid redirect request from peer 10.1.2.3"
            );
            let persistent = request("POST", path, &query, "ephemeral=false", "");
            let response = crate::api::route(&core, &persistent).await;
            assert!(text(&response).contains("raft"), "{}", text(&response));
            assert!(peer.requests.borrow().is_empty());
            let alone = ready_core(None);
            let response = crate::api::route(&alone, &request("POST", path, &query, "", "")).await;
            assert_eq!((response.status, text(&response)), (200, "ok".to_string()));
        });
    }

    /// A member that takes the request but never answers: 503, in v2 inside the wrapper.
    #[test]
    fn silent_member_answers_503() {
        run(async {
            let peer = test_peer::start(vec![Step::Silent]);
            let v = view(0, &[SocketAddr::from(([127, 0, 0, 1], 1)), peer.addr]);
            let port = port_of(&v, 1, None);
            let core = ready_core(Some(v));
            let query = format!("serviceName=s&ip=10.0.0.1&port={port}");
            let register = request("POST", "/nacos/v2/ns/instance", &query, "", "");
            let response = crate::api::route(&core, &register).await;
            assert_eq!(response.status, 503);
            let body: serde_json::Value = serde_json::from_slice(&response.body.to_vec()).unwrap();
            assert_eq!(body["code"], 23000);
            let data = body["data"].as_str().unwrap();
            assert!(
                data.contains("forwarding to the responsible member 1")
                    && data.contains("no answer"),
                "{data}"
            );
        });
    }
}
