//! `Members`: the cluster's member list as given by `--members` (cluster addresses), the Raft
//! node id of each (its position in the sorted list, from 1; every member must be given the
//! same members, in any order), and which one is this node.

use std::net::{IpAddr, SocketAddr};

/// The offset of the cluster port from the HTTP port (Nacos: +1001).
pub const CLUSTER_PORT_OFFSET: u16 = 1001;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Members {
    /// Cluster address of node `i + 1`.
    pub nodes: Vec<SocketAddr>,
    pub self_id: u64,
}

impl Members {
    /// Parses `host:port,...`; this node is the member on `cluster_port` whose IP is `bind`
    /// (or any IP when binding all addresses).
    pub fn parse(list: &str, bind: IpAddr, cluster_port: u16) -> Result<Members, String> {
        let mut nodes = Vec::new();
        for raw in list.split(',').map(str::trim).filter(|m| !m.is_empty()) {
            let addr: SocketAddr = raw
                .parse()
                .map_err(|_| format!("--members: '{raw}' is not an ip:port cluster address"))?;
            if nodes.contains(&addr) {
                return Err(format!("--members lists {addr} twice"));
            }
            nodes.push(addr);
        }
        if nodes.is_empty() {
            return Err("--members is empty".to_string());
        }
        // Ids follow the sorted addresses, so members given the list in different orders
        // (as cluster.conf files often are) still agree on every id.
        nodes.sort();
        let is_self =
            |a: &SocketAddr| a.port() == cluster_port && (bind.is_unspecified() || a.ip() == bind);
        let mut selves = nodes.iter().enumerate().filter(|(_, a)| is_self(a));
        let Some((index, _)) = selves.next() else {
            return Err(format!(
                "--members does not list this node ({bind}:{cluster_port})"
            ));
        };
        if selves.next().is_some() {
            return Err("--members matches this node twice; give each member's IP".to_string());
        }
        Ok(Members {
            nodes,
            self_id: index as u64 + 1,
        })
    }

    pub fn ids(&self) -> Vec<u64> {
        (1..=self.nodes.len() as u64).collect()
    }

    pub fn addr_of(&self, id: u64) -> Option<SocketAddr> {
        let index = usize::try_from(id.checked_sub(1)?).ok()?;
        self.nodes.get(index).copied()
    }

    /// The member's HTTP address (cluster port − 1001), as clients and consoles know it.
    pub fn http_addr_of(&self, id: u64) -> Option<SocketAddr> {
        let cluster = self.addr_of(id)?;
        let port = cluster.port().checked_sub(CLUSTER_PORT_OFFSET)?;
        Some(SocketAddr::new(cluster.ip(), port))
    }

    pub fn peers(&self) -> impl Iterator<Item = u64> + '_ {
        self.ids().into_iter().filter(move |id| *id != self.self_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ids follow list order; this node is found by bind IP and cluster port.
    #[test]
    fn parse_members() {
        let local: IpAddr = "127.0.0.1".parse().unwrap();
        let m =
            Members::parse("127.0.0.1:9849, 127.0.0.1:9859,127.0.0.1:9869", local, 9859).unwrap();
        assert_eq!(m.self_id, 2);
        assert_eq!(m.ids(), vec![1, 2, 3]);
        assert_eq!(m.peers().collect::<Vec<_>>(), vec![1, 3]);
        assert_eq!(m.http_addr_of(3).unwrap().port(), 8868);
        let shuffled =
            Members::parse("127.0.0.1:9869,127.0.0.1:9849,127.0.0.1:9859", local, 9859).unwrap();
        assert_eq!(shuffled, m, "the order of the list does not matter");
        assert!(Members::parse("127.0.0.1:9849", local, 1).is_err());
        assert!(Members::parse("nonsense", local, 1).is_err());
        assert!(Members::parse("127.0.0.1:1,127.0.0.1:1", local, 1).is_err());
        assert!(Members::parse("", local, 1).is_err());
    }
}
