//! DNS messages in and out, through `hickory-proto` only: a query parsed from untrusted bytes
//! (never a panic, anything odd answered FORMERR or dropped) and an answer encoded within the
//! transport's size limit (over it: the TC bit, no records, so the client retries over TCP).

use hickory_proto::op::{Edns, Header, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Record};

use crate::limits::{DNS_UDP_EDNS_BYTES_MAX, DNS_UDP_PLAIN_BYTES_MAX};

/// The payload size we announce in our OPT record.
const EDNS_PAYLOAD_BYTES: u16 = DNS_UDP_EDNS_BYTES_MAX as u16;

/// A parsed query, what the answer needs of it.
#[derive(Debug, Clone)]
pub struct Request {
    pub id: u16,
    pub recursion_desired: bool,
    pub query: Query,
    /// The client's EDNS0 payload size, when it sent an OPT record.
    pub edns_payload: Option<u16>,
}

/// What to do with a datagram or TCP message.
#[derive(Debug)]
pub enum Parsed {
    /// Not worth an answer (too short for a header, or itself a response).
    Drop,
    /// An answer that needs no lookup (FORMERR, NOTIMP).
    Immediate(Vec<u8>),
    Query(Request),
}

/// How large an answer may be on its transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

pub fn parse(bytes: &[u8]) -> Parsed {
    // A header is 12 bytes; without one there is no id to answer to.
    if bytes.len() < 12 {
        return Parsed::Drop;
    }
    // The QR bit: never answer a response, or two servers could echo each other forever.
    if bytes[2] & 0x80 != 0 {
        return Parsed::Drop;
    }
    let id = u16::from_be_bytes([bytes[0], bytes[1]]);
    let message = match Message::from_vec(bytes) {
        Ok(message) => message,
        Err(_) => return Parsed::Immediate(error_only(id, ResponseCode::FormErr)),
    };
    if message.op_code() != OpCode::Query {
        return Parsed::Immediate(error_only(id, ResponseCode::NotImp));
    }
    let single_query = message.queries().len() == 1;
    let sections_empty = message.answers().is_empty() && message.name_servers().is_empty();
    if !single_query || !sections_empty {
        return Parsed::Immediate(error_only(id, ResponseCode::FormErr));
    }
    let query = message.queries()[0].clone();
    let edns = message.extensions().as_ref();
    let request = Request {
        id,
        recursion_desired: message.recursion_desired(),
        query,
        edns_payload: edns.map(Edns::max_payload),
    };
    // RFC 6891 §6.1.3: an EDNS version we do not implement is answered BADVERS (with our
    // OPT, version 0).
    if edns.is_some_and(|e| e.version() > 0) {
        let code = ResponseCode::BADVERS;
        return Parsed::Immediate(encode(&request, code, vec![], vec![], Transport::Udp));
    }
    Parsed::Query(request)
}

/// A header-only answer with `code` (no question: it may be what failed to parse).
pub fn error_only(id: u16, code: ResponseCode) -> Vec<u8> {
    let message = Message::error_msg(id, OpCode::Query, code);
    // Encoding a header-only message cannot fail; an empty answer would be dropped anyway.
    message.to_vec().unwrap_or_default()
}

/// Whether the query's class is one we answer (IN, or ANY as some tools send).
pub fn class_ok(request: &Request) -> bool {
    matches!(request.query.query_class(), DNSClass::IN | DNSClass::ANY)
}

/// The answer to `request`: `code`, `answers`, `additionals`, within `transport`'s size.
pub fn encode(
    request: &Request,
    code: ResponseCode,
    answers: Vec<Record>,
    additionals: Vec<Record>,
    transport: Transport,
) -> Vec<u8> {
    let mut message = response_shell(request, code);
    message.insert_answers(answers);
    message.insert_additionals(additionals);
    let limit = size_limit(request, transport);
    if let Ok(bytes) = message.to_vec() {
        if bytes.len() <= limit {
            return bytes;
        }
    }
    // Too large (or not encodable): the question alone with TC, so the client asks over TCP.
    let mut truncated = response_shell(request, code);
    truncated.set_truncated(true);
    let bytes = truncated.to_vec().unwrap_or_default();
    debug_assert!(bytes.len() <= limit);
    bytes
}

fn response_shell(request: &Request, code: ResponseCode) -> Message {
    let mut header = Header::response_from_request(&Header::new());
    header
        .set_id(request.id)
        .set_message_type(MessageType::Response)
        .set_op_code(OpCode::Query)
        .set_authoritative(true)
        .set_recursion_desired(request.recursion_desired)
        .set_recursion_available(false);
    let mut message = Message::new();
    message.set_header(header);
    message.set_response_code(code);
    message.add_query(request.query.clone());
    if request.edns_payload.is_some() {
        let mut edns = Edns::new();
        edns.set_max_payload(EDNS_PAYLOAD_BYTES).set_version(0);
        message.set_edns(edns);
    }
    message
}

/// RFC 6891 §6.2.5: at least 512, at most what the client offers, and never more than we
/// send without fragmenting; TCP is bounded by its 16-bit length prefix.
fn size_limit(request: &Request, transport: Transport) -> usize {
    match (transport, request.edns_payload) {
        (Transport::Tcp, _) => u16::MAX as usize,
        (Transport::Udp, None) => DNS_UDP_PLAIN_BYTES_MAX,
        (Transport::Udp, Some(offered)) => {
            (offered as usize).clamp(DNS_UDP_PLAIN_BYTES_MAX, DNS_UDP_EDNS_BYTES_MAX)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::rdata::A;
    use hickory_proto::rr::{Name, RData, RecordType};

    fn query_bytes(edns: bool) -> Vec<u8> {
        let mut message = Message::new();
        message.set_id(0x4242).set_recursion_desired(true);
        let name = Name::from_ascii("orders.nacos.local.").unwrap();
        message.add_query(Query::query(name, RecordType::A));
        if edns {
            let mut e = Edns::new();
            e.set_max_payload(4096);
            message.set_edns(e);
        }
        message.to_vec().unwrap()
    }

    fn request(edns: bool) -> Request {
        match parse(&query_bytes(edns)) {
            Parsed::Query(request) => request,
            other => panic!("{other:?}"),
        }
    }

    /// A query parses; its answer carries its id, question, and OPT when the query had one.
    #[test]
    fn query_round_trip() {
        let request = request(true);
        assert_eq!(request.id, 0x4242);
        assert_eq!(request.edns_payload, Some(4096));
        let name = request.query.name().clone();
        let record = Record::from_rdata(name, 1, RData::A(A("10.0.0.1".parse().unwrap())));
        let bytes = encode(
            &request,
            ResponseCode::NoError,
            vec![record],
            vec![],
            Transport::Udp,
        );
        let answer = Message::from_vec(&bytes).unwrap();
        assert_eq!(answer.id(), 0x4242);
        assert_eq!(answer.answers().len(), 1);
        assert_eq!(answer.queries().len(), 1);
        assert!(answer.extensions().is_some());
        assert!(!answer.truncated());
    }

    /// Without EDNS0, more than 512 bytes of answers become an empty answer with TC; with
    /// EDNS0 the limit is 1232; over TCP there is none short of 64 KiB.
    #[test]
    fn truncation() {
        let records = |request: &Request| -> Vec<Record> {
            (0..60u8)
                .map(|i| {
                    let rdata = RData::A(A([10, 0, 0, i].into()));
                    Record::from_rdata(request.query.name().clone(), 1, rdata)
                })
                .collect()
        };
        for (edns, transport, truncated) in [
            (false, Transport::Udp, true),
            (true, Transport::Udp, false),
            (false, Transport::Tcp, false),
        ] {
            let request = request(edns);
            let answers = records(&request);
            let bytes = encode(&request, ResponseCode::NoError, answers, vec![], transport);
            let answer = Message::from_vec(&bytes).unwrap();
            assert_eq!(answer.truncated(), truncated, "edns {edns} {transport:?}");
            assert_eq!(answer.answers().is_empty(), truncated);
        }
    }

    /// An EDNS version above 0 is answered BADVERS, its high bits in our OPT record.
    #[test]
    fn edns_version() {
        let mut message = Message::from_vec(&query_bytes(true)).unwrap();
        let edns = message.extensions_mut().get_or_insert_with(Edns::new);
        edns.set_version(1);
        let Parsed::Immediate(bytes) = parse(&message.to_vec().unwrap()) else {
            panic!("EDNS version 1 is answered at once");
        };
        let answer = Message::from_vec(&bytes).unwrap();
        // BADVERS shares code 16 with BADSIG (RFC 6891 §9), which is how hickory reads it.
        assert_eq!(u16::from(answer.response_code()), 16);
        assert_eq!(answer.extensions().as_ref().map(Edns::version), Some(0));
    }

    /// Short, response and garbage packets never panic: dropped or FORMERR.
    #[test]
    fn bad_packets() {
        assert!(matches!(parse(b"short"), Parsed::Drop));
        let mut response = query_bytes(false);
        response[2] |= 0x80;
        assert!(matches!(parse(&response), Parsed::Drop));
        let mut cut = query_bytes(false);
        cut.truncate(cut.len() - 3);
        let Parsed::Immediate(bytes) = parse(&cut) else {
            panic!("a cut query is FORMERR");
        };
        let answer = Message::from_vec(&bytes).unwrap();
        assert_eq!(answer.response_code(), ResponseCode::FormErr);
        assert_eq!(answer.id(), 0x4242);
        let mut state = 1u32;
        for len in 0..300 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    (state >> 16) as u8
                })
                .collect();
            let _ = parse(&bytes);
        }
    }
}
