//! Instance selection, the one function every read path uses (HTTP list, gRPC query and
//! subscribe, pushes): clusters filter, enabled only, healthyOnly, protect threshold
//! (Nacos `ServiceUtil.selectInstancesWithHealthyProtection`, nacos-protocol.md §0.4).

use crate::naming::instance::Instance;

/// The result of selection: each chosen instance with the `healthy` value to show for it.
pub struct Selected<'a> {
    pub hosts: Vec<(&'a Instance, bool)>,
    pub reach_protection: bool,
}

/// `clusters` is the comma-separated cluster list of the request; empty means every cluster.
pub fn select<'a>(
    instances: impl Iterator<Item = &'a Instance>,
    clusters: &str,
    healthy_only: bool,
    protect_threshold: f32,
) -> Selected<'a> {
    let wanted: Vec<&str> = clusters
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    let mut eligible: Vec<&Instance> = Vec::new();
    let mut healthy_count = 0usize;
    for instance in instances {
        let in_cluster = wanted.is_empty() || wanted.contains(&&*instance.cluster);
        if in_cluster && instance.enabled {
            healthy_count += usize::from(instance.healthy);
            eligible.push(instance);
        }
    }
    let threshold = protect_threshold.max(0.0);
    // Nacos divides as floats: 0/0 is NaN, which never reaches the threshold.
    let healthy_ratio = healthy_count as f32 / eligible.len() as f32;
    if healthy_ratio <= threshold {
        let hosts = eligible.into_iter().map(|i| (i, true)).collect();
        return Selected {
            hosts,
            reach_protection: true,
        };
    }
    let hosts = eligible
        .into_iter()
        .filter(|i| !healthy_only || i.healthy)
        .map(|i| (i, i.healthy))
        .collect();
    Selected {
        hosts,
        reach_protection: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::naming::instance::{BeatTiming, Metadata};

    fn inst(port: u16, cluster: &str, healthy: bool, enabled: bool) -> Instance {
        Instance {
            ip: "10.0.0.1".into(),
            port,
            cluster: std::rc::Rc::from(cluster),
            weight: 1.0,
            healthy,
            enabled,
            ephemeral: true,
            metadata: std::rc::Rc::new(Metadata::new()),
            timing: BeatTiming::DEFAULT,
            last_beat_ms: 0,
            timer_epoch: 0,
            owner: crate::naming::instance::Owner::Http,
            probe_failures: 0,
            probe_passes: 0,
            version: 0,
            replica: false,
        }
    }

    fn ports(s: &Selected) -> Vec<(u16, bool)> {
        s.hosts.iter().map(|(i, h)| (i.port, *h)).collect()
    }

    /// The clusters filter keeps only listed clusters; disabled instances never show.
    #[test]
    fn clusters_and_enabled() {
        let all = [
            inst(1, "A", true, true),
            inst(2, "B", true, true),
            inst(3, "A", true, false),
        ];
        let s = select(all.iter(), "A", false, 0.0);
        assert_eq!(ports(&s), vec![(1, true)]);
        let s = select(all.iter(), "A, B", false, 0.0);
        assert_eq!(ports(&s), vec![(1, true), (2, true)]);
        let s = select(all.iter(), "", false, 0.0);
        assert_eq!(ports(&s).len(), 2);
    }

    /// healthyOnly drops unhealthy instances while the threshold is not reached.
    #[test]
    fn healthy_only() {
        let all = [inst(1, "A", true, true), inst(2, "A", false, true)];
        let s = select(all.iter(), "", true, 0.0);
        assert_eq!(ports(&s), vec![(1, true)]);
        assert!(!s.reach_protection);
        let s = select(all.iter(), "", false, 0.0);
        assert_eq!(ports(&s), vec![(1, true), (2, false)]);
    }

    /// At or below the threshold every instance is returned, unhealthy ones shown healthy.
    #[test]
    fn protect_threshold() {
        let all = [inst(1, "A", true, true), inst(2, "A", false, true)];
        let s = select(all.iter(), "", true, 0.5);
        assert!(s.reach_protection);
        assert_eq!(ports(&s), vec![(1, true), (2, true)]);
        let none_healthy = [inst(1, "A", false, true)];
        let s = select(none_healthy.iter(), "", false, 0.0);
        assert!(
            s.reach_protection,
            "0 healthy of 1 is <= a 0.0 threshold, as in Nacos"
        );
        let empty: [Instance; 0] = [];
        let s = select(empty.iter(), "", false, 0.0);
        assert!(!s.reach_protection && s.hosts.is_empty());
    }
}
