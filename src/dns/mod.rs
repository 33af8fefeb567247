//! The built-in DNS server: services resolvable by name from the live registry, weighted.
//!
//! - `name`: the name rule (query name → service key or instance address), pure.
//! - `records`: the owner core's per-service record sets and the weighted choice per query.
//! - `wire`: parsing queries and encoding answers with `hickory-proto`, size limits, TC.
//! - `respond`: one query to one answer (routing the lookup to the service's owner core).
//! - `serve`: the per-core UDP socket and TCP listener (SO_REUSEPORT), bounded.
//!
//! `naming/` knows nothing of DNS: a lookup reads the owner core's registry like any read.

pub mod name;
pub mod records;
pub mod respond;
pub mod serve;
pub mod wire;

pub use records::{Answer, Lookup, Want};

use crate::limits::{DNS_ANSWER_RECORDS_MAX, DNS_TTL_MAX_S};

/// The DNS flags, checked (`--dns-port` and friends).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsSettings {
    pub port: u16,
    /// The zone, lowercase, without the trailing dot (`nacos.local`).
    pub domain: String,
    pub ttl_s: u32,
    pub answer_records_max: usize,
    /// 0: seeded from the clock.
    pub seed: u64,
}

impl DnsSettings {
    /// `None` when `port` is not given (DNS off).
    pub fn from_flags(
        port: Option<u16>,
        domain: &str,
        ttl_s: u32,
        answer_records_max: usize,
        seed: u64,
    ) -> Result<Option<DnsSettings>, String> {
        let Some(port) = port else {
            return Ok(None);
        };
        if port == 0 {
            return Err("--dns-port must be 1..=65535".to_string());
        }
        if ttl_s > DNS_TTL_MAX_S {
            return Err(format!("--dns-ttl-s must be at most {DNS_TTL_MAX_S}"));
        }
        if !(1..=DNS_ANSWER_RECORDS_MAX).contains(&answer_records_max) {
            return Err(format!(
                "--dns-answer-records-max must be 1..={DNS_ANSWER_RECORDS_MAX}"
            ));
        }
        let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
        if domain.is_empty() || zone_name(&domain).is_none() {
            return Err(format!("--dns-domain {domain:?} is not a domain name"));
        }
        Ok(Some(DnsSettings {
            port,
            domain,
            ttl_s,
            answer_records_max,
            seed,
        }))
    }
}

/// The zone as a fully qualified name.
pub fn zone_name(domain: &str) -> Option<hickory_proto::rr::Name> {
    let name = hickory_proto::rr::Name::from_ascii(format!("{domain}.")).ok()?;
    name.is_fqdn().then_some(name)
}

/// Runs on the owner core of `lookup.key`: answers from its registry and record sets.
pub fn answer_on_owner(core: &crate::shard::Core, lookup: Lookup) -> Answer {
    core.with_registry(|registry| records::answer(registry, &lookup))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Off without a port; bounds on TTL, record count and domain.
    #[test]
    fn flags() {
        assert_eq!(DnsSettings::from_flags(None, "x", 1, 1, 0), Ok(None));
        let on = DnsSettings::from_flags(Some(8853), "Nacos.Local.", 1, 3, 0).unwrap();
        assert_eq!(on.unwrap().domain, "nacos.local");
        assert!(DnsSettings::from_flags(Some(0), "a", 1, 1, 0).is_err());
        assert!(DnsSettings::from_flags(Some(53), "a", DNS_TTL_MAX_S + 1, 1, 0).is_err());
        assert!(DnsSettings::from_flags(Some(53), "a", 1, 0, 0).is_err());
        assert!(DnsSettings::from_flags(Some(53), "a", 1, DNS_ANSWER_RECORDS_MAX + 1, 0).is_err());
        assert!(DnsSettings::from_flags(Some(53), "", 1, 1, 0).is_err());
        assert!(DnsSettings::from_flags(Some(53), "a..b", 1, 1, 0).is_err());
    }
}
