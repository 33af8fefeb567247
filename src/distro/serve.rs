//! What a member does with the membership and Distro calls its peers make on the cluster port
//! (any core may take them): decode and check, route to the owner cores (or to core 0 for
//! membership), answer. A malformed message is refused with gRPC INVALID_ARGUMENT and changes
//! nothing.

use prost::Message as _;

use crate::cluster::proto;
use crate::distro::driver::{deliver_items, report_from_wire, report_to_wire, split_by_owner};
use crate::distro::ops::{DistroOp, DistroReply};
use crate::distro::record::{Origin, DIGEST_BUCKETS};
use crate::distro::shard::{merge_digests, mismatched, Item};
use crate::distro::wire::{self, Value};
use crate::limits::{DISTRO_ITEMS_PER_MESSAGE_MAX, DISTRO_RESEND_BUCKETS_PER_ROUND_MAX};
use crate::naming::key::ServiceKey;
use crate::naming::op::{BeatRequest, NamingOp};
use crate::shard::CoreHandle;

/// A refused call: the reason goes back in `grpc-message`.
pub type Refusal = &'static str;

/// A peer's report; the answer is this member's own report.
pub async fn report(core: &CoreHandle, message: bytes::Bytes) -> Result<Vec<u8>, Refusal> {
    let wire = proto::MemberReport::decode(message).map_err(|_| "not a MemberReport")?;
    let report = report_from_wire(&wire).ok_or("malformed report")?;
    check_member(core, report.origin)?;
    match core.distro_on(0, DistroOp::Report(report)).await {
        DistroReply::Report(Some(own)) => Ok(report_to_wire(&own).encode_to_vec()),
        _ => Err("not in cluster mode"),
    }
}

/// A batch of record changes from the member that made them.
pub async fn sync(core: &CoreHandle, message: bytes::Bytes) -> Result<Vec<u8>, Refusal> {
    let wire = proto::DistroSync::decode(message).map_err(|_| "not a DistroSync")?;
    let from = wire::origin_from_wire(wire.from.as_ref()).ok_or("sync without its origin")?;
    check_member(core, from)?;
    let items = decode_items(wire.items)?;
    deliver_items(core, from.member, items).await;
    Ok(proto::Ack {}.encode_to_vec())
}

/// A peer's digests of its own records: answered with the buckets that differ here.
pub async fn verify(core: &CoreHandle, message: bytes::Bytes) -> Result<Vec<u8>, Refusal> {
    let wire = proto::DistroVerify::decode(message).map_err(|_| "not a DistroVerify")?;
    let origin = wire::origin_from_wire(wire.from.as_ref()).ok_or("verify without its origin")?;
    check_member(core, origin)?;
    let theirs = wire::digests_from_wire(&wire);
    let mut ours = Vec::new();
    for reply in core
        .distro_everywhere(|| DistroOp::DigestsOf { origin })
        .await
    {
        if let DistroReply::Digests(part) = reply {
            merge_digests(&mut ours, &part);
        }
    }
    let mut buckets = mismatched(&ours, &theirs);
    buckets.truncate(DISTRO_RESEND_BUCKETS_PER_ROUND_MAX);
    let reply = proto::DistroVerifyReply {
        buckets: buckets.into_iter().map(u32::from).collect(),
    };
    Ok(reply.encode_to_vec())
}

/// Every record the origin holds in some buckets: applied on every core (each drops what it
/// holds of the origin there that the resend does not list).
pub async fn resend(core: &CoreHandle, message: bytes::Bytes) -> Result<Vec<u8>, Refusal> {
    let wire = proto::DistroResend::decode(message).map_err(|_| "not a DistroResend")?;
    let origin = wire::origin_from_wire(wire.from.as_ref()).ok_or("resend without its origin")?;
    check_member(core, origin)?;
    let buckets = wire::buckets_from_wire(&wire.buckets);
    let items = decode_items(wire.items)?;
    if items
        .iter()
        .any(|i| !buckets.contains(&crate::distro::record::Bucketed::bucket(i.key())))
    {
        return Err("resend lists records outside its buckets");
    }
    let parts = split_by_owner(core.cores, items);
    for (owner, part) in parts.into_iter().enumerate() {
        let op = DistroOp::Resend {
            origin,
            buckets: buckets.clone(),
            items: part,
        };
        core.distro_on(owner, op).await;
    }
    Ok(proto::Ack {}.encode_to_vec())
}

/// A joining member's request for every record in a bucket range.
pub async fn snapshot(core: &CoreHandle, message: bytes::Bytes) -> Result<Vec<u8>, Refusal> {
    let wire =
        proto::DistroSnapshotRequest::decode(message).map_err(|_| "not a snapshot request")?;
    let (Ok(from), Ok(to)) = (
        u16::try_from(wire.bucket_from),
        u16::try_from(wire.bucket_to),
    ) else {
        return Err("bucket range out of bounds");
    };
    if from >= to || to > DIGEST_BUCKETS {
        return Err("bucket range out of bounds");
    }
    let mut items: Vec<Item<Value>> = Vec::new();
    for reply in core
        .distro_everywhere(|| DistroOp::Snapshot { from, to })
        .await
    {
        if let DistroReply::Items(part) = reply {
            items.extend(part);
        }
    }
    let chunk = proto::DistroSnapshotChunk {
        items: items.iter().map(wire::item_to_wire).collect(),
    };
    Ok(chunk.encode_to_vec())
}

/// Beats another member took for HTTP clients this member answers for: each refreshes its
/// instance on the owner core, as a light beat would.
pub async fn beats(core: &CoreHandle, message: bytes::Bytes) -> Result<Vec<u8>, Refusal> {
    let wire = proto::DistroBeats::decode(message).map_err(|_| "not DistroBeats")?;
    let from = wire::origin_from_wire(wire.from.as_ref()).ok_or("beats without their origin")?;
    check_member(core, from)?;
    if wire.beats.len() > DISTRO_ITEMS_PER_MESSAGE_MAX {
        return Err("too many beats in one message");
    }
    for beat in wire.beats {
        let Some(op) = beat_op(beat) else {
            continue;
        };
        core.execute(op).await;
    }
    Ok(proto::Ack {}.encode_to_vec())
}

fn beat_op(beat: proto::DistroBeat) -> Option<NamingOp> {
    let key = ServiceKey::parse(Some(&beat.namespace), Some(&beat.group), &beat.service).ok()?;
    crate::naming::key::check_ip(&beat.ip).ok()?;
    crate::naming::key::check_cluster(&beat.cluster).ok()?;
    let beat = BeatRequest {
        ip: beat.ip,
        port: u16::try_from(beat.port).ok()?,
        cluster: beat.cluster,
        reregister: None,
    };
    Some(NamingOp::Beat { key, beat })
}

/// A member index in this cluster's list, and never this member itself.
fn check_member(core: &CoreHandle, origin: Origin) -> Result<(), Refusal> {
    let Some(view) = core.cluster_view() else {
        return Err("not in cluster mode");
    };
    if usize::from(origin.member) >= view.http_addrs.len() {
        return Err("unknown member");
    }
    if origin.member == view.me {
        return Err("a member cannot speak for this member");
    }
    Ok(())
}

fn decode_items(items: Vec<proto::DistroItem>) -> Result<Vec<Item<Value>>, Refusal> {
    if items.len() > DISTRO_ITEMS_PER_MESSAGE_MAX {
        return Err("too many items in one message");
    }
    Ok(items.into_iter().filter_map(wire::item_from_wire).collect())
}
