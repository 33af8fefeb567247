//! Running seeds: one (a panic is its failure), many on all cores, env flags, failure report.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use super::{Sim, Stats, BUDGET, SEEDS_MAX, SEEDS_MIN};
use crate::distro::record::{Bucketed, RecordKey, Stamp};

/// The result of one seed.
pub(super) struct Outcome {
    pub(super) seed: u64,
    members: usize,
    pub(super) trace: u64,
    pub(super) stats: Stats,
    pub(super) result: Result<(), String>,
}

/// Runs one seed; a panic inside (an assertion of the state machines or the sim) is its
/// failure, reported with the seed like any other.
pub(super) fn run_seed(seed: u64) -> Outcome {
    std::panic::catch_unwind(|| simulate(seed)).unwrap_or_else(|panic| {
        let text = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("?");
        Outcome {
            seed,
            members: Sim::new(seed).nodes.len(),
            trace: 0,
            stats: Stats::new(),
            result: Err(format!("panicked: {text}")),
        }
    })
}

fn simulate(seed: u64) -> Outcome {
    let mut sim = Sim::new(seed);
    sim.run();
    let result = sim.check();
    let held: Vec<(RecordKey, Stamp, bool)> = sim.reference_stamps();
    for (key, stamp, owned) in held {
        sim.mix(&[key.stable_hash(), stamp.version, u64::from(owned)]);
    }
    Outcome {
        seed,
        members: sim.nodes.len(),
        trace: sim.trace,
        stats: sim.stats,
        result,
    }
}

impl Sim {
    fn reference_stamps(&self) -> Vec<(RecordKey, Stamp, bool)> {
        self.nodes[0]
            .as_ref()
            .map_or_else(Vec::new, |n| n.shard.stamps())
    }
}

pub(super) fn env_u64(name: &str) -> Option<u64> {
    let text = std::env::var(name).ok()?;
    Some(
        text.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={text}: not a number")),
    )
}

pub(super) fn fail(outcome: &Outcome) -> ! {
    let seed = outcome.seed;
    let why = outcome.result.as_ref().err().map_or("", String::as_str);
    panic!(
        "distro sim: seed {seed} ({} members) failed: {why}\n  replay: \
         NACORE_SIM_SEED={seed} cargo test --lib distro::sim",
        outcome.members
    );
}

/// Runs seeds on all cores: exactly `count` of them, or (without a count) at least
/// `SEEDS_MIN` and more while `BUDGET` lasts. Returns the outcomes sorted by seed.
pub(super) fn run_seeds(count: Option<u64>) -> Vec<Outcome> {
    let started = Instant::now();
    let next = AtomicU64::new(1);
    let outcomes = Mutex::new(Vec::new());
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let seed = next.fetch_add(1, Ordering::Relaxed);
                let more = match count {
                    Some(count) => seed <= count,
                    None => seed <= SEEDS_MIN || (seed <= SEEDS_MAX && started.elapsed() < BUDGET),
                };
                if !more {
                    break;
                }
                let outcome = run_seed(seed);
                outcomes.lock().expect("no worker panics").push(outcome);
            });
        }
    });
    let mut outcomes = outcomes.into_inner().expect("no worker panics");
    outcomes.sort_by_key(|o| o.seed);
    outcomes
}
