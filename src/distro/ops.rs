//! `DistroOp`: what one core asks of another core's Distro shard (or of core 0's membership),
//! over the channel mesh, and `DistroReply`, the answer. Every op is handled at once, without
//! waiting, on the core it reaches.

use crate::distro::membership::{MemberView, Report};
use crate::distro::record::{BucketDigest, MemberIndex, Origin};
use crate::distro::responsible::ClusterView;
use crate::distro::shard::Item;
use crate::distro::wire::Value;

#[derive(Debug)]
pub enum DistroOp {
    /// Items a peer sent, for the records of this core's services.
    Items {
        from: MemberIndex,
        items: Vec<Item<Value>>,
    },
    /// A resend of `origin`'s records in `buckets` (the part of them on this core).
    Resend {
        origin: Origin,
        buckets: Vec<u16>,
        items: Vec<Item<Value>>,
    },
    /// Digests of this member's own records on this core.
    OwnDigests,
    /// Digests of `origin`'s records on this core; `origin` is renewed (it just verified).
    DigestsOf { origin: Origin },
    /// This member's own records in `buckets` on this core, with values.
    OwnBucketItems { buckets: Vec<u16> },
    /// Every record in buckets `[from, to)` on this core, for a joining member.
    Snapshot { from: u16, to: u16 },
    /// A new membership view.
    Membership {
        targets: Vec<bool>,
        incarnations: Vec<u64>,
        view: ClusterView,
    },
    /// Adopt or let go of HTTP clients by responsibility.
    Rebalance,
    /// Drop replicas of silent origins.
    Expire,
    /// Core 0: a peer's report; answered with this member's own.
    Report(Report),
    /// Core 0: every member as this member sees it.
    MemberViews,
}

#[derive(Debug)]
pub enum DistroReply {
    Done,
    Digests(Vec<BucketDigest>),
    Items(Vec<Item<Value>>),
    Report(Option<Report>),
    Members(Vec<MemberView>),
}
