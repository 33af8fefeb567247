//! Deterministic simulation of Distro; this file: the constants, `Sim`, its event loop, the tests.
//!
//! A run has 3–5 members, each one `Membership` and one `DistroShard` (one core) driven by a
//! thin glue the way the server drives them, over a simulated network (delays, loss,
//! duplicates, reordering, partitions, one-way cuts), with crashes, restarts and skewed wall
//! clocks. Every choice comes from one seeded RNG.
//!
//! After the fault phase the network heals, the load stops, every member is up, and virtual
//! time runs long enough for reports, rebalance, verify and replica expiry; then `check`
//! verifies that the members agree and that what the clients wrote survived.
//!
//! Replay a seed: `NACORE_SIM_SEED=<seed> cargo test --lib distro::sim` (prints its trace
//! hash); more seeds: `NACORE_SIM_SEEDS=<n>`; an event log: `NACORE_SIM_LOG=1`.
//!
//! Determinism: the shard's maps are hashbrown with foldhash, seeded per process and per map,
//! so every list the shard returns is sorted by key before use, and `take_sync` always gets
//! room for a whole outbox (`OUTBOX_MAX <= SYNC_MAX`), so which keys it takes never depends
//! on hash order. The harness itself iterates only `BTreeMap`s and `Vec`s.
//!
//! - `net`: the seeded RNG, the messages, the network model and RPCs with deadlines.
//! - `member`: a member's run (`Node`) and the glue that drives its state machines.
//! - `clients`: HTTP clients and gRPC connections, and the model of what they wrote.
//! - `faults`: crashes, partitions, one-way cuts, lossy periods; then healing.
//! - `check`: the invariant checked once the cluster is quiet.
//! - `run`: running seeds, the env flags, the failure report.

mod check;
mod clients;
mod faults;
mod member;
mod net;
mod run;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use self::clients::Model;
use self::member::{Node, Values};
use self::net::{Answer, Call, Msg, Net, Rng};
use self::run::{env_u64, fail, run_seed, run_seeds};
use crate::distro::membership::{MemberState, Membership, Report};
use crate::distro::record::{ClientId, MemberIndex, Origin, RecordKey, DIGEST_BUCKETS};
use crate::distro::shard::{Change, DistroShard, Item, ShardSettings};
use crate::limits::{
    DISTRO_SNAPSHOT_BUCKETS_PER_CHUNK, DISTRO_SYNC_DELAY_DEFAULT_MS,
    DISTRO_SYNC_ITEMS_PER_MESSAGE_MAX, DISTRO_VERIFY_INTERVAL_DEFAULT_MS,
    MEMBER_REPORT_INTERVAL_MS,
};
use crate::naming::key::ServiceKey;

type Value = u64;

/// Virtual time starts here (ms), so skewed wall clocks stay positive.
const START_MS: u64 = 1_000_000_000;
/// Wall clocks of members differ by up to this much either way.
const CLOCK_SKEW_MS: u64 = 3_000;
const FAULT_PHASE_MIN_MS: u64 = 20_000;
const FAULT_PHASE_MAX_MS: u64 = 45_000;
/// After healing: reports, joins, rebalance, several verify rounds and replica expiry.
const QUIET_MS: u64 = 50_000;
const TICK_MS: u64 = 100;
const EXPIRE_EVERY_MS: u64 = 1_000;
const SYNC_WINDOW_MS: u64 = DISTRO_SYNC_DELAY_DEFAULT_MS;
const VERIFY_MS: u64 = DISTRO_VERIFY_INTERVAL_DEFAULT_MS;
const REPLICA_EXPIRY_MS: u64 = 20_000;
/// Outbox limits a seed picks from: small, so a partition overflows outboxes and verify has
/// to repair.
const OUTBOX_MAX: [usize; 3] = [4, 16, 64];
const SYNC_MAX: usize = DISTRO_SYNC_ITEMS_PER_MESSAGE_MAX;
const _: () = assert!(
    OUTBOX_MAX[2] <= SYNC_MAX,
    "take_sync must drain a whole outbox"
);
const CHUNK: u16 = DISTRO_SNAPSHOT_BUCKETS_PER_CHUNK;
const CHUNKS: usize = (DIGEST_BUCKETS / CHUNK) as usize;
const _: () = assert!(DIGEST_BUCKETS.is_multiple_of(CHUNK));
/// HTTP client counts and the longest gap between client operations (ms) a seed picks from.
const HTTP_CLIENTS: [u64; 3] = [8, 32, 96];
const OP_GAP_MAX_MS: [u64; 3] = [10, 30, 60];
const SERVICES: usize = 3;
const CONNECTIONS_MAX: usize = 24;

/// Default run: at least this many seeds, more while the wall-time budget lasts.
const SEEDS_MIN: u64 = 20;
const SEEDS_MAX: u64 = 2_000;
const BUDGET: Duration = Duration::from_secs(6);

/// What varies between seeds besides the faults themselves.
#[derive(Debug, Clone, Copy)]
struct Profile {
    http_clients: u64,
    outbox_max: usize,
    op_gap_max_ms: u64,
}

#[derive(Debug, Clone, Copy)]
enum Timer {
    Sync,
    Report,
    Tick,
    Verify,
    Expire,
}

#[derive(Debug)]
enum Event {
    Timer {
        member: MemberIndex,
        run: u64,
        timer: Timer,
    },
    Request {
        to: MemberIndex,
        run: u64,
        from: MemberIndex,
        call: u64,
        msg: Msg,
    },
    Reply {
        call: u64,
        answer: Answer,
    },
    Timeout {
        call: u64,
    },
    Client,
    Fault,
    Restart(MemberIndex),
    Heal,
}

impl Event {
    fn code(&self) -> u64 {
        match self {
            Event::Timer { .. } => 1,
            Event::Request { .. } => 2,
            Event::Reply { .. } => 3,
            Event::Timeout { .. } => 4,
            Event::Client => 5,
            Event::Fault => 6,
            Event::Restart(_) => 7,
            Event::Heal => 8,
        }
    }
}

/// Counters of one run (and sums over runs).
type Stats = BTreeMap<&'static str, u64>;

fn bump(stats: &mut Stats, name: &'static str) {
    *stats.entry(name).or_default() += 1;
}

struct Sim {
    rng: Rng,
    profile: Profile,
    now: u64,
    seq: u64,
    queue: BTreeMap<(u64, u64), Event>,
    nodes: Vec<Option<Node>>,
    /// Newest incarnation of each member.
    runs: Vec<u64>,
    offsets: Vec<i64>,
    addresses: Vec<String>,
    services: Vec<ServiceKey>,
    calls: BTreeMap<u64, Call>,
    next_call: u64,
    net: Net,
    model: Model,
    faults: bool,
    heal_at: u64,
    trace: u64,
    stats: Stats,
    /// Invariants broken on the way (checked at the end).
    violations: Vec<String>,
    log: bool,
}

impl Sim {
    fn new(seed: u64) -> Sim {
        let mut rng = Rng(seed);
        let members = rng.range(3, 5) as usize;
        let skew = CLOCK_SKEW_MS as i64;
        let offsets = (0..members)
            .map(|_| rng.range(0, 2 * CLOCK_SKEW_MS) as i64 - skew)
            .collect();
        let heal_at = START_MS + rng.range(FAULT_PHASE_MIN_MS, FAULT_PHASE_MAX_MS);
        let mut choose = |options: [u64; 3]| options[rng.below(3) as usize];
        let profile = Profile {
            http_clients: choose(HTTP_CLIENTS),
            outbox_max: choose(OUTBOX_MAX.map(|n| n as u64)) as usize,
            op_gap_max_ms: choose(OP_GAP_MAX_MS),
        };
        let services = (0..SERVICES)
            .map(|i| ServiceKey::from_parts("public", "DEFAULT_GROUP", &format!("svc-{i}")))
            .collect();
        Sim {
            rng,
            profile,
            now: START_MS,
            seq: 0,
            queue: BTreeMap::new(),
            nodes: (0..members).map(|_| None).collect(),
            runs: vec![0; members],
            offsets,
            addresses: (0..members)
                .map(|m| format!("10.0.0.{}:8848", m + 1))
                .collect(),
            services,
            calls: BTreeMap::new(),
            next_call: 0,
            net: Net {
                groups: vec![0; members],
                ..Net::default()
            },
            model: Model::default(),
            faults: true,
            heal_at,
            trace: 0xcbf2_9ce4_8422_2325,
            stats: Stats::new(),
            violations: Vec::new(),
            log: std::env::var_os("NACORE_SIM_LOG").is_some(),
        }
    }

    fn members(&self) -> MemberIndex {
        self.nodes.len() as MemberIndex
    }

    fn run(&mut self) {
        for m in 0..self.members() {
            let at = START_MS + self.rng.below(500);
            self.schedule(at, Event::Restart(m));
        }
        self.schedule(START_MS + 1_000, Event::Client);
        self.schedule(START_MS + 5_000, Event::Fault);
        self.schedule(self.heal_at, Event::Heal);
        let end = self.heal_at + QUIET_MS;
        while let Some(entry) = self.queue.first_entry() {
            if entry.key().0 > end {
                break;
            }
            let ((at, _), event) = entry.remove_entry();
            self.now = at;
            self.mix(&[at, event.code()]);
            self.handle(event);
        }
        self.now = end;
    }

    fn schedule(&mut self, at: u64, event: Event) {
        self.seq += 1;
        self.queue.insert((at, self.seq), event);
    }

    /// Folds facts into the trace hash that proves a replay identical.
    fn mix(&mut self, words: &[u64]) {
        for &word in words {
            self.trace = (self.trace ^ word).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn note(&self, text: impl FnOnce() -> String) {
        if self.log {
            eprintln!("{:>9} {}", self.now - START_MS, text());
        }
    }

    fn node(&mut self, m: MemberIndex) -> &mut Node {
        self.nodes[usize::from(m)].as_mut().expect("a live member")
    }

    fn run_of(&self, m: MemberIndex) -> Option<u64> {
        self.nodes[usize::from(m)]
            .as_ref()
            .map(|n| n.origin.incarnation)
    }

    fn is_run(&self, m: MemberIndex, run: u64) -> bool {
        self.run_of(m) == Some(run)
    }

    fn handle(&mut self, event: Event) {
        bump(&mut self.stats, "events");
        match event {
            Event::Timer { member, run, timer } => {
                if self.is_run(member, run) {
                    self.on_timer(member, timer);
                }
            }
            Event::Request {
                to,
                run,
                from,
                call,
                msg,
            } => self.on_request(to, run, from, call, msg),
            Event::Reply { call, answer } => self.on_reply(call, answer),
            Event::Timeout { call } => {
                if let Some(call) = self.calls.remove(&call) {
                    self.on_failed(call);
                }
            }
            Event::Client => self.on_client(),
            Event::Fault => self.on_fault(),
            Event::Restart(m) => {
                if self.nodes[usize::from(m)].is_none() {
                    self.start_node(m);
                }
            }
            Event::Heal => self.heal(),
        }
    }

    fn start_node(&mut self, m: MemberIndex) {
        let offset = self.offsets[usize::from(m)];
        let wall = self.now.saturating_add_signed(offset);
        let incarnation = wall.max(self.runs[usize::from(m)] + 1);
        self.runs[usize::from(m)] = incarnation;
        let origin = Origin {
            member: m,
            incarnation,
        };
        let addresses = self.addresses.clone();
        let node = Node::new(origin, offset, addresses, self.profile.outbox_max, self.now);
        self.nodes[usize::from(m)] = Some(node);
        self.note(|| format!("start {m} run {incarnation}"));
        self.mix(&[u64::from(m), incarnation]);
        let now = self.now;
        self.timer(m, now, Timer::Report);
        let phases = [
            (Timer::Tick, TICK_MS),
            (Timer::Verify, VERIFY_MS),
            (Timer::Expire, EXPIRE_EVERY_MS),
        ];
        for (timer, period) in phases {
            let at = now + self.rng.below(period);
            self.timer(m, at, timer);
        }
    }

    fn timer(&mut self, member: MemberIndex, at: u64, timer: Timer) {
        let run = self.run_of(member).expect("a live member");
        self.schedule(at, Event::Timer { member, run, timer });
    }

    fn on_timer(&mut self, m: MemberIndex, timer: Timer) {
        let now = self.now;
        match timer {
            Timer::Sync => self.sync_window(m),
            Timer::Report => {
                self.report_round(m);
                self.timer(m, now + MEMBER_REPORT_INTERVAL_MS, Timer::Report);
            }
            Timer::Tick => {
                self.tick(m);
                self.timer(m, now + TICK_MS, Timer::Tick);
            }
            Timer::Verify => {
                self.verify_round(m);
                self.timer(m, now + VERIFY_MS, Timer::Verify);
            }
            Timer::Expire => {
                let node = self.node(m);
                let wall = node.wall(now);
                let changes = node.shard.expire(wall);
                self.apply(m, changes);
                self.timer(m, now + EXPIRE_EVERY_MS, Timer::Expire);
            }
        }
    }
}

/// Many seeds (or the one in `NACORE_SIM_SEED`): after faults and a quiet phase the members
/// agree on every (key, stamp) and value, every record has exactly the right owner, live
/// connections' records are everywhere and dead ones' nowhere, and each HTTP client's last
/// acknowledged write is held unless its loss is a kind the protocol allows (counted).
#[test]
fn seeds_converge() {
    let started = Instant::now();
    let outcomes = match env_u64("NACORE_SIM_SEED") {
        Some(seed) => vec![run_seed(seed)],
        None => run_seeds(env_u64("NACORE_SIM_SEEDS")),
    };
    let mut total = Stats::new();
    for outcome in &outcomes {
        for (name, count) in &outcome.stats {
            *total.entry(name).or_default() += count;
        }
    }
    println!(
        "distro sim: {} seeds in {:.1} s",
        outcomes.len(),
        started.elapsed().as_secs_f64()
    );
    for (name, count) in &total {
        println!("  {name}: {count}");
    }
    if let [one] = &outcomes[..] {
        println!("  seed {} trace {:016x}", one.seed, one.trace);
    }
    if let Some(failed) = outcomes.iter().find(|o| o.result.is_err()) {
        fail(failed);
    }
}

/// A seed replays exactly: two runs of it give the same trace hash (every event, message and
/// change, and the final stamps), although the shard's hash maps are seeded anew each time.
#[test]
fn replay_is_exact() {
    if std::env::var_os("NACORE_SIM_SEED").is_some() {
        return;
    }
    let (a, b) = (run_seed(7), run_seed(7));
    assert_eq!(a.trace, b.trace, "seed 7 replays differently");
    assert_eq!(a.stats, b.stats);
}

/// Regression (seed 31; seed 93 of an earlier version of this sim lost acknowledged writes
/// to it): a restarting member that saw its peers SUSPICIOUS (they had been UP, so they held
/// records) took `all_peers_heard()` for a new cluster and started empty at once; when such a
/// peer then crashed, writes only it and the joiner were to hold were lost. `all_peers_heard`
/// now wants every peer STARTING; the sim flags any empty start that is neither a new cluster
/// nor past the wait.
#[test]
fn regression_seed_31_no_empty_start_beside_a_suspicious_peer() {
    if std::env::var_os("NACORE_SIM_SEED").is_some() {
        return;
    }
    let outcome = run_seed(31);
    if outcome.result.is_err() {
        fail(&outcome);
    }
    let origin = |member, incarnation| Origin {
        member,
        incarnation,
    };
    let report = |member, state| Report {
        origin: origin(member, 5),
        state,
        raft_leader: 0,
        raft_term: 0,
    };
    let addresses = vec!["a".to_string(), "b".to_string(), "c".to_string()];
    let mut joiner = Membership::new(origin(0, 9), addresses);
    joiner.on_report(report(1, MemberState::Up), 0);
    joiner.on_report_failed(1, 1);
    joiner.on_report(report(2, MemberState::Starting), 1);
    assert_eq!(joiner.state_of(1), MemberState::Suspicious);
    assert!(joiner.up_peers().is_empty());
    assert!(
        !joiner.all_peers_heard(),
        "a SUSPICIOUS peer holds records to load"
    );
}

/// Regression (found reading `requeue` for the sim; verify repairs it within a round, so no
/// seed fails on it): a failed sync with a put, requeued after the record was removed, hid
/// the removal's own failed sync requeued after it, so the removal never reached the peer.
#[test]
fn regression_requeued_put_does_not_hide_a_failed_removal() {
    let origin = |member| Origin {
        member,
        incarnation: 1,
    };
    let settings = ShardSettings {
        replica_expiry_ms: REPLICA_EXPIRY_MS,
        outbox_records_max: OUTBOX_MAX[2],
    };
    let healthy = || {
        let members = vec![("a".to_string(), 0), ("b".to_string(), 1)];
        crate::distro::responsible::Healthy::new(members)
    };
    let (mut a, mut b) = (
        DistroShard::new(origin(0), 2, settings),
        DistroShard::new(origin(1), 2, settings),
    );
    for shard in [&mut a, &mut b] {
        let _: Vec<Change<Value>> = shard.on_membership(&[true, true], healthy(), &[1, 1]);
    }
    let key = RecordKey {
        service: ServiceKey::from_parts("public", "DEFAULT_GROUP", "svc"),
        client: ClientId::Http {
            ip: "10.0.0.9".into(),
            port: 80,
        },
    };
    let mut store = Values::default();
    store.0.insert(key.clone(), 1);
    a.local_put(key.clone(), 10);
    b.on_items(0, a.take_sync(1, SYNC_MAX, &store), 0);
    store.0.insert(key.clone(), 2);
    a.local_put(key.clone(), 11);
    let update = a.take_sync(1, SYNC_MAX, &store);
    store.0.remove(&key);
    a.local_remove(&key);
    let removal = a.take_sync(1, SYNC_MAX, &store);
    // Both calls time out, in the order they were sent.
    a.requeue(1, update);
    a.requeue(1, removal);
    let retry = a.take_sync(1, SYNC_MAX, &store);
    assert!(matches!(retry[..], [Item::Delete { .. }]), "{retry:?}");
    b.on_items(0, retry, 0);
    assert_eq!(b.stamp(&key), None);
}
