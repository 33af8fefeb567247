//! Criterion bench of durable write throughput: persistent-instance registrations proposed to a
//! single-node Raft group over LMDB (fsync on every commit), `batch` proposals in flight at a
//! time, so that group commit puts many of them into one transaction.
//! Run: `cargo bench --bench raft_propose`.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use futures::future::join_all;
use glommio::{LocalExecutorBuilder, Placement};

use nacore::limits::LMDB_MAP_BYTES;
use nacore::naming::instance::InstanceSpec;
use nacore::naming::key::ServiceKey;
use nacore::naming::op::{DurableCommand, NamingReply};
use nacore::raft::node::RaftSettings;
use nacore::raft::storage::LmdbStorage;
use nacore::shard::Core;
use raft::prelude::ConfState;

fn command(i: u64) -> DurableCommand {
    let key = ServiceKey::parse(None, None, &format!("bench-{}", i % 64)).unwrap();
    let spec = InstanceSpec {
        ip: "10.0.0.1".to_string(),
        port: (i % 60_000) as u16 + 1,
        cluster: "DEFAULT".to_string(),
        weight: 1.0,
        healthy: true,
        enabled: true,
        ephemeral: false,
        metadata: Default::default(),
    };
    DurableCommand::RegisterInstance { key, spec }
}

/// Proposes `iterations` commands, `batch` at a time, and returns the time taken.
fn run(iterations: u64, batch: u64) -> Duration {
    // A fresh directory per run: the driver task of a finished run may still hold its env.
    static RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("nacore-bench-raft-{}-{run}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let builder = LocalExecutorBuilder::new(Placement::Unbound).io_memory(512 * 1024);
    let handle = builder
        .spawn(move || async move {
            let storage = LmdbStorage::open(&dir, LMDB_MAP_BYTES).unwrap();
            let voters = ConfState {
                voters: vec![1],
                ..Default::default()
            };
            storage.set_conf_state(&voters).unwrap();
            let core = Core::new(0, 1, None, Instant::now(), Duration::ZERO);
            let settings = RaftSettings {
                node_id: 1,
                compact_after_entries: 10_000,
            };
            let (sender, caught_up) =
                nacore::raft::node::start(storage, settings, core.clone(), None).unwrap();
            core.set_raft(std::rc::Rc::new(sender));
            caught_up.await.unwrap();
            let started = Instant::now();
            let mut next = 0;
            while next < iterations {
                let end = (next + batch).min(iterations);
                let replies = join_all((next..end).map(|i| core.propose(command(i)))).await;
                assert!(replies.iter().all(|r| matches!(r, NamingReply::Done)));
                next = end;
            }
            let elapsed = started.elapsed();
            let _ = std::fs::remove_dir_all(&dir);
            elapsed
        })
        .unwrap();
    handle.join().unwrap()
}

fn proposals(c: &mut Criterion) {
    let mut group = c.benchmark_group("raft/propose_persistent_register");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    for batch in [1u64, 64, 512] {
        group.throughput(Throughput::Elements(1));
        group.bench_with_input(BenchmarkId::from_parameter(batch), &batch, |b, &batch| {
            b.iter_custom(|iterations| run(iterations, batch));
        });
    }
    group.finish();
}

criterion_group!(benches, proposals);
criterion_main!(benches);
