//! One query to one answer: the name rule picks the target, a service lookup goes to the
//! service's owner core (inline when that is this core), and the chosen hosts become A, AAAA,
//! SRV or TXT records.

use std::net::IpAddr;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::SRV;
use hickory_proto::rr::{Name, RData, Record, RecordType};

use crate::dns::name::{self, Target};
use crate::dns::records::{Answer, Host, Lookup, Want};
use crate::dns::wire::{self, Request, Transport};
use crate::shard::Core;

/// What every answer of this server shares: the zone, the TTL, the record cap.
#[derive(Debug, Clone)]
pub struct Zone {
    pub domain: Name,
    pub ttl_s: u32,
    pub records_max: usize,
}

/// The SRV priority of every instance: one tier, the weights share it out (RFC 2782).
const SRV_PRIORITY: u16 = 1;

pub async fn respond(core: &Core, zone: &Zone, request: &Request, transport: Transport) -> Vec<u8> {
    let empty = |code| wire::encode(request, code, Vec::new(), Vec::new(), transport);
    if !wire::class_ok(request) {
        return empty(ResponseCode::Refused);
    }
    if !core.is_ready() {
        return empty(ResponseCode::ServFail);
    }
    let qname = request.query.name().clone();
    let qtype = request.query.query_type();
    let (key, srv_form) = match name::resolve(&zone.domain, &qname) {
        Target::Outside => return empty(ResponseCode::Refused),
        Target::Apex => return empty(ResponseCode::NoError),
        Target::Invalid => return empty(ResponseCode::NXDomain),
        Target::Address(ip) => {
            let answers = address_records(&qname, ip, qtype, zone.ttl_s);
            return wire::encode(request, ResponseCode::NoError, answers, vec![], transport);
        }
        Target::Service { key, srv_form } => (key, srv_form),
    };
    let want = want_of(qtype, srv_form);
    let lookup = Lookup {
        key,
        want,
        records_max: zone.records_max,
    };
    let hosts = match core.dns_lookup(lookup).await {
        None => return empty(ResponseCode::ServFail),
        Some(Answer::NoService) => return empty(ResponseCode::NXDomain),
        Some(Answer::Hosts(hosts)) => hosts,
    };
    let (answers, additionals) = service_records(zone, &qname, qtype, &hosts);
    wire::encode(
        request,
        ResponseCode::NoError,
        answers,
        additionals,
        transport,
    )
}

/// Which hosts a query type needs; the SRV form holds SRV records only.
fn want_of(qtype: RecordType, srv_form: bool) -> Want {
    match (qtype, srv_form) {
        (RecordType::SRV, _) => Want::All,
        (_, true) => Want::Existence,
        (RecordType::A | RecordType::ANY, false) => Want::V4,
        (RecordType::AAAA, false) => Want::V6,
        (RecordType::TXT, false) => Want::All,
        (_, false) => Want::Existence,
    }
}

/// The records of `hosts` for a `qtype` query of `qname`: (answers, additionals).
fn service_records(
    zone: &Zone,
    qname: &Name,
    qtype: RecordType,
    hosts: &[Host],
) -> (Vec<Record>, Vec<Record>) {
    let ttl = zone.ttl_s;
    let mut answers = Vec::with_capacity(hosts.len());
    let mut additionals = Vec::new();
    for host in hosts {
        match qtype {
            RecordType::SRV => {
                let Some(target) = name::address_name(&zone.domain, host.ip) else {
                    continue;
                };
                let srv = SRV::new(
                    SRV_PRIORITY,
                    srv_weight(host.weight),
                    host.port,
                    target.clone(),
                );
                answers.push(Record::from_rdata(qname.clone(), ttl, RData::SRV(srv)));
                additionals.push(Record::from_rdata(target, ttl, host.address.clone()));
            }
            RecordType::TXT => {
                let txt = RData::clone(&host.txt);
                answers.push(Record::from_rdata(qname.clone(), ttl, txt));
            }
            _ => answers.push(Record::from_rdata(qname.clone(), ttl, host.address.clone())),
        }
    }
    debug_assert!(answers.len() <= hosts.len());
    (answers, additionals)
}

/// The SRV weight of a Nacos weight: ×100, so two decimals survive, within 1..=65535 (a
/// weight-0 instance is never answered at all).
pub fn srv_weight(weight: f64) -> u16 {
    debug_assert!(weight > 0.0);
    (weight * 100.0).round().clamp(1.0, f64::from(u16::MAX)) as u16
}

fn address_records(qname: &Name, ip: IpAddr, qtype: RecordType, ttl: u32) -> Vec<Record> {
    let rdata = match (ip, qtype) {
        (IpAddr::V4(v4), RecordType::A | RecordType::ANY) => RData::A(v4.into()),
        (IpAddr::V6(v6), RecordType::AAAA | RecordType::ANY) => RData::AAAA(v6.into()),
        _ => return Vec::new(),
    };
    vec![Record::from_rdata(qname.clone(), ttl, rdata)]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SRV weights keep two decimals and stay within the field.
    #[test]
    fn srv_weights() {
        assert_eq!(srv_weight(1.0), 100);
        assert_eq!(srv_weight(0.001), 1);
        assert_eq!(srv_weight(2.5), 250);
        assert_eq!(srv_weight(10_000.0), u16::MAX);
    }

    /// Query types map to the hosts they need.
    #[test]
    fn wants() {
        assert_eq!(want_of(RecordType::A, false), Want::V4);
        assert_eq!(want_of(RecordType::AAAA, false), Want::V6);
        assert_eq!(want_of(RecordType::SRV, true), Want::All);
        assert_eq!(want_of(RecordType::SRV, false), Want::All);
        assert_eq!(want_of(RecordType::A, true), Want::Existence);
        assert_eq!(want_of(RecordType::MX, false), Want::Existence);
    }
}
