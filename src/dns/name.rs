//! The DNS name rule: which registry service (or address) a query name stands for. Pure: no
//! registry, no I/O.
//!
//! Under the zone (`--dns-domain`, default `nacos.local`):
//! - `<service>.<domain>`: `DEFAULT_GROUP` in the `public` namespace;
//! - `<service>.<group>.<domain>`: that group in `public`;
//! - `<service>.<group>.<namespace>.<domain>`: that group in that namespace (id);
//! - `_<service>._tcp.<rest>` (or `._udp`): the SRV form of `<service>.<rest>`;
//! - `<address>.ip.<domain>`: an instance address (SRV targets point here), the IPv4 dots or
//!   IPv6 colons written as `-` (`10-0-0-7.ip.nacos.local`, `fd00--7.ip.nacos.local`).
//!
//! Each label is the Nacos name byte for byte, case-sensitive as Nacos names are (the zone
//! itself matches in any case). A name whose characters no hostname may hold is reached with
//! DNS escapes, which dig, dnspython and zone files all understand: `order\.v1` for the
//! service `order.v1`, `a\@b` or `a\064b` for `a@b`. A name longer than 63 bytes (one DNS
//! label) cannot be asked for.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hickory_proto::rr::Name;

use crate::naming::key::ServiceKey;

/// The label under the zone that holds instance addresses.
pub const ADDRESS_LABEL: &[u8] = b"ip";

/// What a query name stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Not under our zone: REFUSED (we are no recursive resolver).
    Outside,
    /// The zone itself.
    Apex,
    /// Under the zone but no service or address can have this name: NXDOMAIN.
    Invalid,
    /// An instance address (`<address>.ip.<domain>`).
    Address(IpAddr),
    /// A service; `srv_form` when asked as `_<service>._tcp...`.
    Service { key: ServiceKey, srv_form: bool },
}

/// Maps `name` under `zone` to its target.
pub fn resolve(zone: &Name, name: &Name) -> Target {
    if !zone.zone_of(name) {
        return Target::Outside;
    }
    let zone_labels = zone.iter().count();
    let labels: Vec<&[u8]> = name.iter().collect();
    debug_assert!(labels.len() >= zone_labels);
    let relative = &labels[..labels.len() - zone_labels];
    if relative.is_empty() {
        return Target::Apex;
    }
    if relative.len() == 2 && relative[1].eq_ignore_ascii_case(ADDRESS_LABEL) {
        return address_of(relative[0]).map_or(Target::Invalid, Target::Address);
    }
    let (service, rest, srv_form) = match srv_parts(relative) {
        Some((service, rest)) => (service, rest, true),
        None => (relative[0], &relative[1..], false),
    };
    let (group, namespace): (&[u8], &[u8]) = match rest {
        [] => (b"DEFAULT_GROUP", b"public"),
        [group] => (group, b"public"),
        [group, namespace] => (group, namespace),
        _ => return Target::Invalid,
    };
    let (Ok(service), Ok(group), Ok(namespace)) = (
        std::str::from_utf8(service),
        std::str::from_utf8(group),
        std::str::from_utf8(namespace),
    ) else {
        return Target::Invalid;
    };
    match ServiceKey::parse(Some(namespace), Some(group), service) {
        Ok(key) => Target::Service { key, srv_form },
        Err(_) => Target::Invalid,
    }
}

/// `_<service>._tcp.<rest>` → (service, rest).
fn srv_parts<'a>(relative: &'a [&'a [u8]]) -> Option<(&'a [u8], &'a [&'a [u8]])> {
    if relative.len() < 2 {
        return None;
    }
    let protocol = relative[1];
    let is_protocol =
        protocol.eq_ignore_ascii_case(b"_tcp") || protocol.eq_ignore_ascii_case(b"_udp");
    let service = relative[0].strip_prefix(b"_")?;
    if !is_protocol || service.is_empty() {
        return None;
    }
    Some((service, &relative[2..]))
}

/// The label of an instance address: `10-0-0-7`, `fd00--7`.
pub fn address_label(ip: IpAddr) -> String {
    let text = ip.to_string();
    match ip {
        IpAddr::V4(_) => text.replace('.', "-"),
        IpAddr::V6(_) => text.replace(':', "-"),
    }
}

/// The address an address label stands for.
fn address_of(label: &[u8]) -> Option<IpAddr> {
    let text = std::str::from_utf8(label).ok()?;
    if let Ok(v4) = text.replace('-', ".").parse::<Ipv4Addr>() {
        return Some(IpAddr::V4(v4));
    }
    text.replace('-', ":")
        .parse::<Ipv6Addr>()
        .ok()
        .map(IpAddr::V6)
}

/// `<address>.ip.<domain>`, the SRV target of an instance.
pub fn address_name(zone: &Name, ip: IpAddr) -> Option<Name> {
    let label = address_label(ip);
    let name = Name::from_labels([label.as_bytes(), ADDRESS_LABEL]).ok()?;
    name.append_domain(zone).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone() -> Name {
        Name::from_ascii("nacos.local.").unwrap()
    }

    fn target(name: &str) -> Target {
        resolve(&zone(), &Name::from_ascii(name).unwrap())
    }

    /// A name from raw labels, as a parsed query carries them (escapes already undone).
    fn target_of(labels: &[&[u8]]) -> Target {
        let name = Name::from_labels(labels.iter().copied()).unwrap();
        resolve(&zone(), &name.append_domain(&zone()).unwrap())
    }

    fn service(ns: &str, group: &str, service: &str, srv_form: bool) -> Target {
        let key = ServiceKey::from_parts(ns, group, service);
        Target::Service { key, srv_form }
    }

    /// The four name shapes map to the keys the registry uses.
    #[test]
    fn service_names() {
        let default = service("public", "DEFAULT_GROUP", "orders", false);
        assert_eq!(target("orders.nacos.local."), default);
        assert_eq!(
            target("orders.NACOS.Local."),
            default,
            "the zone is case-blind"
        );
        let grouped = service("public", "shop", "orders", false);
        assert_eq!(target("orders.shop.nacos.local."), grouped);
        let spaced = service("dev", "shop", "orders", false);
        assert_eq!(target("orders.shop.dev.nacos.local."), spaced);
        let srv = service("dev", "shop", "orders", true);
        assert_eq!(target("_orders._tcp.shop.dev.nacos.local."), srv);
        let srv_default = service("public", "DEFAULT_GROUP", "orders", true);
        assert_eq!(target("_orders._TCP.nacos.local."), srv_default);
        let plain_underscore = service("public", "DEFAULT_GROUP", "_orders", false);
        assert_eq!(target("_orders.nacos.local."), plain_underscore);
    }

    /// Escaped dots and other bytes reach services whose names no hostname can hold.
    #[test]
    fn escaped_labels() {
        let dotted = service("public", "DEFAULT_GROUP", "order.v1", false);
        assert_eq!(target("order\\.v1.nacos.local."), dotted);
        assert_eq!(target_of(&[b"order.v1"]), dotted);
        let colon = service("public", "DEFAULT_GROUP", "providers:com.a.B", false);
        assert_eq!(target_of(&[b"providers:com.a.B"]), colon);
    }

    /// Outside the zone, the apex, too many labels, bad bytes.
    #[test]
    fn other_names() {
        assert_eq!(target("example.com."), Target::Outside);
        assert_eq!(target("local."), Target::Outside);
        assert_eq!(target("nacos.local."), Target::Apex);
        assert_eq!(target("a.b.c.d.nacos.local."), Target::Invalid);
        assert_eq!(target_of(&[b"a\xff"]), Target::Invalid, "not UTF-8");
    }

    /// Address labels round-trip for IPv4 and IPv6.
    #[test]
    fn address_names() {
        for ip in ["10.0.0.7", "fd00::7", "::1", "2001:db8:0:1:2:3:4:5"] {
            let ip: IpAddr = ip.parse().unwrap();
            let name = address_name(&zone(), ip).unwrap();
            assert_eq!(resolve(&zone(), &name), Target::Address(ip), "{name}");
        }
        assert_eq!(target("10-0-0-999.ip.nacos.local."), Target::Invalid);
        assert_eq!(
            target("10-0-0-1.IP.nacos.local."),
            Target::Address("10.0.0.1".parse().unwrap())
        );
    }
}
