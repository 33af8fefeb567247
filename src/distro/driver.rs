//! Core 0's Distro loops around the state machines: reports to every peer every 2 s and the
//! membership view they give (sent to every core on each change), the verify round
//! (digests out, mismatched buckets resent, rebalance, replica expiry), and the snapshot a
//! starting member loads from an UP peer before it reports ready.

use std::time::Duration;

use futures::StreamExt;
use prost::Message as _;

use crate::cluster::proto;
use crate::distro::membership::{MemberState, Report};
use crate::distro::ops::{DistroOp, DistroReply};
use crate::distro::record::{MemberIndex, Origin, DIGEST_BUCKETS};
use crate::distro::responsible::ClusterView;
use crate::distro::shard::{merge_digests, Item};
use crate::distro::wire::{self, Value};
use crate::limits::{
    DISTRO_SNAPSHOT_BUCKETS_PER_CHUNK, DISTRO_SNAPSHOT_CHUNKS_IN_FLIGHT,
    DISTRO_SNAPSHOT_PEER_WAIT_MS, MEMBER_REPORT_INTERVAL_MS, MEMBER_REPORT_TIMEOUT_MS,
};
use crate::shard::owner::owner_core;
use crate::shard::CoreHandle;

/// Buckets per resend message (of 4,096): a million records make ~4,000 per message.
const RESEND_BUCKETS_PER_MESSAGE: usize = 16;
/// How often a starting member looks again for a peer to load its snapshot from.
const SNAPSHOT_RETRY_MS: u64 = 200;

/// Starts the report and verify loops on core 0.
pub fn start(core: &CoreHandle, verify_interval_ms: u64) {
    debug_assert!(core.is_membership_core());
    let reporter = core.clone();
    glommio::spawn_local(async move {
        loop {
            report_round(&reporter).await;
            glommio::timer::sleep(Duration::from_millis(MEMBER_REPORT_INTERVAL_MS)).await;
        }
    })
    .detach();
    let verifier = core.clone();
    glommio::spawn_local(async move {
        loop {
            glommio::timer::sleep(Duration::from_millis(verify_interval_ms)).await;
            if verifier.is_ready() {
                verify_round(&verifier).await;
            }
        }
    })
    .detach();
}

/// This member's report: its run, whether it serves yet, the Raft leader it knows.
fn own_report(core: &CoreHandle) -> Option<Report> {
    let distro = core.distro()?;
    let membership = distro.membership.as_ref()?.borrow();
    let (raft_leader, raft_term) = core.local_raft_status();
    Some(Report {
        origin: membership.me(),
        state: membership.self_state(),
        raft_leader,
        raft_term,
    })
}

pub fn report_to_wire(report: &Report) -> proto::MemberReport {
    proto::MemberReport {
        origin: Some(wire::origin_to_wire(report.origin)),
        state: report.state.code(),
        raft_leader: report.raft_leader,
        raft_term: report.raft_term,
    }
}

pub fn report_from_wire(report: &proto::MemberReport) -> Option<Report> {
    Some(Report {
        origin: wire::origin_from_wire(report.origin.as_ref())?,
        state: MemberState::from_code(report.state)?,
        raft_leader: report.raft_leader,
        raft_term: report.raft_term,
    })
}

/// Core 0: a peer reported; answers with this member's report.
pub fn on_peer_report(core: &crate::shard::Core, report: Report) -> Option<Report> {
    let distro = core.distro()?;
    let membership = distro.membership.as_ref()?;
    let now_ms = core.now_ms();
    let changed = membership.borrow_mut().on_report(report, now_ms);
    let handle = core.handle()?;
    if changed {
        let task = handle.clone();
        glommio::spawn_local(async move { broadcast(&task).await }).detach();
    }
    own_report(&handle)
}

/// Reports to every peer at once; their answers (or failures) update the view, which goes to
/// every core when it changed.
pub async fn report_round(core: &CoreHandle) {
    let (Some(distro), Some(report)) = (core.distro(), own_report(core)) else {
        return;
    };
    let Some(membership) = distro.membership.as_ref() else {
        return;
    };
    let peers: Vec<MemberIndex> = membership.borrow().peer_indices().collect();
    let body = report_to_wire(&report).encode_to_vec();
    let calls = peers.into_iter().map(|peer| {
        let (links, body) = (distro.links.clone(), body.clone());
        async move {
            let answer = links
                .call_within(peer, "/Cluster/Report", body, MEMBER_REPORT_TIMEOUT_MS)
                .await;
            (peer, answer)
        }
    });
    let answers = futures::future::join_all(calls).await;
    let now_ms = core.now_ms();
    let before = membership.borrow().epoch();
    for (peer, answer) in answers {
        let report = answer
            .ok()
            .and_then(|bytes| proto::MemberReport::decode(bytes).ok())
            .and_then(|r| report_from_wire(&r))
            .filter(|r| r.origin.member == peer);
        let mut view = membership.borrow_mut();
        match report {
            Some(report) => view.on_report(report, now_ms),
            None => view.on_report_failed(peer, now_ms),
        };
    }
    membership.borrow_mut().tick(now_ms);
    if membership.borrow().epoch() != before || distro.needs_broadcast() {
        broadcast(core).await;
    }
}

/// Sends the current membership view to every core.
pub async fn broadcast(core: &CoreHandle) {
    let Some(distro) = core.distro() else {
        return;
    };
    let Some(membership) = distro.membership.as_ref() else {
        return;
    };
    let (targets, incarnations, view) = {
        let m = membership.borrow();
        let view = ClusterView {
            me: m.me().member,
            healthy: m.healthy(),
            http_addrs: distro.http_addrs.clone(),
            epoch: m.epoch(),
        };
        (m.sync_targets(), m.incarnations(), view)
    };
    let epoch = view.epoch;
    distro.mark_broadcast(epoch);
    core.distro_everywhere(|| DistroOp::Membership {
        targets: targets.clone(),
        incarnations: incarnations.clone(),
        view: view.clone(),
    })
    .await;
    tracing::debug!(
        epoch,
        healthy = view.healthy.len(),
        "membership view sent to every core"
    );
}

/// Digests of this member's records (every core) to each peer; the buckets a peer reports
/// different are resent whole. Then every core rebalances and expires silent replicas.
pub async fn verify_round(core: &CoreHandle) {
    let Some(distro) = core.distro() else {
        return;
    };
    let Some(membership) = distro.membership.as_ref() else {
        return;
    };
    let me = membership.borrow().me();
    let mut own = Vec::new();
    for reply in core.distro_everywhere(|| DistroOp::OwnDigests).await {
        if let DistroReply::Digests(part) = reply {
            merge_digests(&mut own, &part);
        }
    }
    let body = wire::digests_to_wire(me, &own).encode_to_vec();
    let targets = membership.borrow().sync_targets();
    for (peer, target) in targets.into_iter().enumerate() {
        if !target {
            continue;
        }
        let peer = peer as MemberIndex;
        let answer = distro
            .links
            .call(peer, "/Cluster/DistroVerify", body.clone())
            .await;
        let buckets = match answer.map(proto::DistroVerifyReply::decode) {
            Ok(Ok(reply)) => wire::buckets_from_wire(&reply.buckets),
            _ => continue,
        };
        if !buckets.is_empty() {
            tracing::debug!(peer, buckets = buckets.len(), "verify: resending buckets");
            resend(core, me, peer, &buckets).await;
        }
    }
    core.distro_everywhere(|| DistroOp::Rebalance).await;
    core.distro_everywhere(|| DistroOp::Expire).await;
}

async fn resend(core: &CoreHandle, me: Origin, peer: MemberIndex, buckets: &[u16]) {
    let Some(distro) = core.distro() else {
        return;
    };
    for group in buckets.chunks(RESEND_BUCKETS_PER_MESSAGE) {
        let mut items: Vec<Item<Value>> = Vec::new();
        let replies = core
            .distro_everywhere(|| DistroOp::OwnBucketItems {
                buckets: group.to_vec(),
            })
            .await;
        for reply in replies {
            if let DistroReply::Items(part) = reply {
                items.extend(part);
            }
        }
        let message = proto::DistroResend {
            from: Some(wire::origin_to_wire(me)),
            buckets: group.iter().map(|&b| u32::from(b)).collect(),
            items: items.iter().map(wire::item_to_wire).collect(),
        };
        let sent = distro
            .links
            .call(peer, "/Cluster/DistroResend", message.encode_to_vec())
            .await;
        if let Err(error) = sent {
            tracing::debug!(peer, %error, "resend failed; the next verify tries again");
            return;
        }
    }
}

/// A starting member: loads every record from an UP peer before it reports ready. A fresh
/// cluster (every peer answered, none UP) or no answer within the wait starts with nothing.
pub async fn load_snapshot(core: &CoreHandle) -> Option<(MemberIndex, usize)> {
    let started_ms = core.now_ms();
    loop {
        report_round(core).await;
        let (up, all_heard) = {
            let distro = core.distro()?;
            let membership = distro.membership.as_ref()?.borrow();
            (membership.up_peers(), membership.all_peers_heard())
        };
        for peer in up {
            match load_from(core, peer).await {
                Ok(records) => return Some((peer, records)),
                Err(error) => tracing::warn!(peer, %error, "snapshot load failed; trying another"),
            }
        }
        if all_heard {
            tracing::info!("no member is UP yet: a new cluster, nothing to load");
            return None;
        }
        if core.now_ms().saturating_sub(started_ms) > DISTRO_SNAPSHOT_PEER_WAIT_MS {
            tracing::warn!("no UP member answered; starting without a Distro snapshot");
            return None;
        }
        glommio::timer::sleep(Duration::from_millis(SNAPSHOT_RETRY_MS)).await;
    }
}

/// Fetches the snapshot in bucket ranges, a few at once, and applies each chunk on the
/// owner cores as it arrives. Returns the number of records.
async fn load_from(core: &CoreHandle, peer: MemberIndex) -> Result<usize, String> {
    let distro = core.distro().ok_or("not in cluster mode")?;
    let ranges: Vec<(u16, u16)> = (0..DIGEST_BUCKETS)
        .step_by(usize::from(DISTRO_SNAPSHOT_BUCKETS_PER_CHUNK))
        .map(|from| {
            (
                from,
                from.saturating_add(DISTRO_SNAPSHOT_BUCKETS_PER_CHUNK)
                    .min(DIGEST_BUCKETS),
            )
        })
        .collect();
    let fetches = ranges.into_iter().map(|(from, to)| {
        let links = distro.links.clone();
        async move {
            let request = proto::DistroSnapshotRequest {
                bucket_from: u32::from(from),
                bucket_to: u32::from(to),
            };
            let bytes = links
                .call(peer, "/Cluster/DistroSnapshot", request.encode_to_vec())
                .await?;
            proto::DistroSnapshotChunk::decode(bytes).map_err(|e| e.to_string())
        }
    });
    let mut chunks =
        futures::stream::iter(fetches).buffer_unordered(DISTRO_SNAPSHOT_CHUNKS_IN_FLIGHT);
    let mut records = 0;
    while let Some(chunk) = chunks.next().await {
        let items: Vec<Item<Value>> = chunk?
            .items
            .into_iter()
            .filter_map(wire::item_from_wire)
            .collect();
        records += items.len();
        deliver_items(core, peer, items).await;
    }
    Ok(records)
}

/// Routes items to the owner cores of their services.
pub async fn deliver_items(core: &CoreHandle, from: MemberIndex, items: Vec<Item<Value>>) {
    for (owner, part) in split_by_owner(core.cores, items).into_iter().enumerate() {
        if !part.is_empty() {
            core.distro_on(owner, DistroOp::Items { from, items: part })
                .await;
        }
    }
}

/// Items grouped by the owner core of their service, indexed by core.
pub fn split_by_owner(cores: usize, items: Vec<Item<Value>>) -> Vec<Vec<Item<Value>>> {
    let mut parts: Vec<Vec<Item<Value>>> = (0..cores).map(|_| Vec::new()).collect();
    for item in items {
        parts[owner_core(&item.key().service, cores)].push(item);
    }
    parts
}

/// After a snapshot: this member serves, says so to its peers, and takes over the HTTP
/// clients the hash gives it.
pub async fn mark_ready(core: &CoreHandle) {
    let Some(distro) = core.distro() else {
        return;
    };
    if let Some(membership) = distro.membership.as_ref() {
        membership.borrow_mut().set_ready();
    }
    broadcast(core).await;
    core.distro_everywhere(|| DistroOp::Rebalance).await;
    report_round(core).await;
}
