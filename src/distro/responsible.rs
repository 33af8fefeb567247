//! Which member answers for an HTTP `ip:port` client: Nacos `DistroMapper`. The healthy
//! members (UP or SUSPICIOUS) sorted by address; the index is
//! `abs(javaHashCode(tag) % Integer.MAX_VALUE) % size`, so a fleet that mixes nacore with Java
//! members would agree on it.

use crate::distro::record::MemberIndex;

/// The healthy members as the responsibility rule sees them: their `ip:httpPort` addresses,
/// sorted as strings (Java's `String.compareTo` on ASCII is byte order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Healthy {
    /// (address, member), sorted by address; never empty (this member is always in it).
    members: Vec<(String, MemberIndex)>,
}

impl Healthy {
    pub fn new(mut members: Vec<(String, MemberIndex)>) -> Healthy {
        assert!(!members.is_empty(), "a member always counts itself healthy");
        members.sort();
        members.dedup();
        Healthy { members }
    }

    /// A single node: responsible for everything.
    pub fn alone(member: MemberIndex) -> Healthy {
        Healthy::new(vec![(String::new(), member)])
    }

    /// The member that answers for `tag` (`ip:port`).
    pub fn responsible(&self, tag: &str) -> MemberIndex {
        debug_assert!(!self.members.is_empty());
        let index = distro_index(tag, self.members.len());
        self.members[index].1
    }

    /// The member that answers for the HTTP client `ip:port`, without building the tag.
    pub fn responsible_for(&self, ip: &str, port: u16) -> MemberIndex {
        let mut digits = itoa::Buffer::new();
        let hash = java_hash_continue(java_string_hash(ip), ":");
        let hash = java_hash_continue(hash, digits.format(port));
        self.members[fold_index(hash, self.members.len())].1
    }

    pub fn contains(&self, member: MemberIndex) -> bool {
        self.members.iter().any(|(_, m)| *m == member)
    }

    pub fn members(&self) -> impl Iterator<Item = MemberIndex> + '_ {
        self.members.iter().map(|(_, m)| *m)
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
}

/// What every core knows of the cluster for routing HTTP writes: refreshed by core 0 on each
/// membership change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterView {
    pub me: MemberIndex,
    pub healthy: Healthy,
    /// HTTP address of every member, by index.
    pub http_addrs: Vec<std::net::SocketAddr>,
    pub epoch: u64,
}

impl ClusterView {
    /// The member that answers for `tag` (`ip:port`).
    pub fn responsible(&self, tag: &str) -> MemberIndex {
        self.healthy.responsible(tag)
    }

    /// The member that answers for `tag` once `unreachable` members are left out (a
    /// responsible member that cannot be reached is replaced by the next healthy one); this
    /// member itself is never left out.
    pub fn responsible_without(&self, tag: &str, unreachable: &[MemberIndex]) -> MemberIndex {
        let members: Vec<(String, MemberIndex)> = self
            .healthy
            .members
            .iter()
            .filter(|(_, m)| *m == self.me || !unreachable.contains(m))
            .cloned()
            .collect();
        Healthy::new(members).responsible(tag)
    }

    pub fn http_addr(&self, member: MemberIndex) -> Option<std::net::SocketAddr> {
        self.http_addrs.get(usize::from(member)).copied()
    }
}

/// Java `String.hashCode`: `s[0]*31^(n-1) + ... + s[n-1]` over UTF-16 code units, wrapping.
pub fn java_string_hash(text: &str) -> i32 {
    java_hash_continue(0, text)
}

/// The hash of a string that continues one whose hash is `hash` (Java's hash of a
/// concatenation is the fold of its parts).
fn java_hash_continue(hash: i32, text: &str) -> i32 {
    text.encode_utf16().fold(hash, |h, unit| {
        h.wrapping_mul(31).wrapping_add(i32::from(unit))
    })
}

/// Nacos `DistroMapper.distroHash(tag) % size`: `Math.abs(hash % Integer.MAX_VALUE)`.
pub fn distro_index(tag: &str, size: usize) -> usize {
    fold_index(java_string_hash(tag), size)
}

fn fold_index(hash: i32, size: usize) -> usize {
    assert!(size > 0);
    // `hash % i32::MAX` lies in (-MAX, MAX), so its absolute value cannot overflow.
    let folded = (hash % i32::MAX).unsigned_abs() as usize;
    let index = folded % size;
    debug_assert!(index < size);
    index
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values computed with Java's `String.hashCode` (javac 17: `"...".hashCode()`).
    #[test]
    fn java_hash_matches_java() {
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(java_string_hash("a"), 97);
        assert_eq!(java_string_hash("hello"), 99_162_322);
        assert_eq!(java_string_hash("127.0.0.1:8080"), -35_736_627);
        assert_eq!(java_string_hash("10.0.0.1:80"), 1_106_668_620);
        // Non-ASCII hashes its UTF-16 units ("é" is one unit, U+00E9).
        assert_eq!(java_string_hash("é"), 0xE9);
    }

    /// The index is the abs of the folded hash modulo the size; min/max hashes stay in range.
    #[test]
    fn distro_index_rule() {
        assert_eq!(distro_index("a", 3), 97 % 3);
        assert_eq!(distro_index("127.0.0.1:8080", 3), 35_736_627 % 3);
        for size in 1..10 {
            assert!(distro_index("x", size) < size);
        }
        let healthy = Healthy::new(vec![
            ("127.0.0.1:8868".into(), 2),
            ("127.0.0.1:8848".into(), 0),
            ("127.0.0.1:8858".into(), 1),
        ]);
        let picked = healthy.responsible("a");
        assert_eq!(picked, [0, 1, 2][97 % 3]);
        assert_eq!(Healthy::alone(4).responsible("anything"), 4);
        for port in [0, 7, 80, 8848, 65535] {
            let tag = format!("10.0.0.1:{port}");
            assert_eq!(
                healthy.responsible_for("10.0.0.1", port),
                healthy.responsible(&tag)
            );
        }
    }
}
