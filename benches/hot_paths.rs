//! Criterion benchmarks of the hot paths of the HTTP naming API on one core: request head
//! parsing, parameter decoding, registry register/beat/list (cached and cold), and the
//! timing wheel with a million pending entries. Run: `cargo bench --bench hot_paths`.

use criterion::{black_box, criterion_group, criterion_main, Criterion};

use nacore::health::wheel::TimingWheel;
use nacore::http::codec::parse_head;
use nacore::http::params::Params;
use nacore::naming::instance::InstanceSpec;
use nacore::naming::key::ServiceKey;
use nacore::naming::op::{BeatRequest, NamingOp};
use nacore::naming::registry::Registry;

const LIST_REQUEST: &[u8] = b"GET /nacos/v1/ns/instance/list?serviceName=DEFAULT_GROUP%40%40orders&namespaceId=public&clusters=&healthyOnly=false&udpPort=0&clientIP=10.0.0.1 HTTP/1.1\r\nHost: 127.0.0.1:8848\r\nClient-Version: 2.5.1\r\nUser-Agent: Nacos-Java-Client:v2.5.1\r\nAccept-Encoding: gzip,deflate,sdch\r\nRequester: Keep-Alive\r\nRequestId: 3f2a1c4e-8b9d-4e6f-a1b2-c3d4e5f60718\r\nRequest-Module: Naming\r\n\r\n";

fn spec(port: u16) -> InstanceSpec {
    InstanceSpec {
        ip: "10.0.0.1".to_string(),
        port,
        cluster: "DEFAULT".to_string(),
        weight: 1.0,
        healthy: true,
        enabled: true,
        ephemeral: true,
        metadata: Default::default(),
    }
}

fn http(c: &mut Criterion) {
    c.bench_function("http/parse_head_list", |b| {
        b.iter(|| parse_head(black_box(LIST_REQUEST)))
    });
    let query = "serviceName=DEFAULT_GROUP%40%40orders&ip=10.0.0.1&port=8080&weight=1.0&metadata=%7B%22a%22%3A%22b%22%7D";
    c.bench_function("http/params_register", |b| {
        b.iter(|| Params::parse(black_box(query), None))
    });
    // A Java 1.x beat: the query names the instance, the body carries the escaped BeatInfo.
    let beat_query = "namespaceId=public&serviceName=DEFAULT_GROUP%40%40orders&clusterName=DEFAULT&ip=10.0.3.92&port=8080";
    let beat_body = b"beat=%7B%22ip%22%3A%2210.0.3.92%22%2C%22port%22%3A8080%2C%22cluster%22%3A%22DEFAULT%22%2C%22serviceName%22%3A%22DEFAULT_GROUP%40%40orders%22%2C%22weight%22%3A1.0%2C%22metadata%22%3A%7B%7D%2C%22scheduled%22%3Atrue%2C%22period%22%3A5000%2C%22stopped%22%3Afalse%7D";
    c.bench_function("http/params_beat", |b| {
        b.iter(|| Params::parse(black_box(beat_query), Some(black_box(&beat_body[..]))))
    });
}

fn registry(c: &mut Criterion) {
    let key = ServiceKey::parse(None, None, "orders").unwrap();
    let mut reg = Registry::new(0);
    for port in 0..100 {
        reg.register(&key, spec(port), 0).unwrap();
    }
    c.bench_function("registry/list_100_cached", |b| {
        b.iter(|| reg.apply(list_op(&key), 0))
    });
    // A re-register that changes the instance (its weight flips) invalidates the cached
    // hosts, so the list that follows encodes cold.
    let mut heavy = false;
    c.bench_function("registry/reregister_then_list_100_cold", |b| {
        b.iter(|| {
            reg.register(&key, reweighted(0, &mut heavy), 0).unwrap();
            reg.apply(list_op(&key), 0)
        })
    });
    c.bench_function("registry/beat", |b| {
        let beat = BeatRequest {
            ip: "10.0.0.1".into(),
            port: 7,
            cluster: "DEFAULT".into(),
            reregister: None,
        };
        b.iter(|| reg.beat(&key, beat.clone(), 1))
    });
    let mut heavy = false;
    c.bench_function("registry/reregister_changed", |b| {
        b.iter(|| reg.register(&key, reweighted(3, &mut heavy), 2))
    });
    // Unchanged re-registrations (what clients send again and again) count as beats.
    let mut port = 0u16;
    c.bench_function("registry/reregister_unchanged", |b| {
        b.iter(|| {
            port = (port + 1) % 100;
            reg.register(&key, spec(port), 2)
        })
    });
}

/// `spec(port)` with a weight that differs from the previous call's, so registering it is a
/// change.
fn reweighted(port: u16, heavy: &mut bool) -> InstanceSpec {
    *heavy = !*heavy;
    let weight = if *heavy { 2.0 } else { 1.0 };
    InstanceSpec {
        weight,
        ..spec(port)
    }
}

fn list_op(key: &ServiceKey) -> NamingOp {
    NamingOp::List {
        key: key.clone(),
        clusters: String::new(),
        healthy_only: false,
        udp_subscriber: None,
    }
}

fn wheel(c: &mut Criterion) {
    let mut wheel = TimingWheel::new(0);
    for i in 0..1_000_000u64 {
        wheel.insert(15_000 + i % 15_000, i);
    }
    let mut fired = Vec::new();
    let mut now = 0u64;
    c.bench_function("wheel/advance_1ms_1M_pending", |b| {
        b.iter(|| {
            now += 1;
            if now >= 15_000 {
                now = 0;
                wheel = TimingWheel::new(0);
            }
            wheel.advance_to(now, &mut fired);
            fired.clear();
        })
    });
    let mut wheel = TimingWheel::new(0);
    let mut deadline = 15_000u64;
    c.bench_function("wheel/insert", |b| {
        b.iter(|| {
            deadline += 1;
            wheel.insert(deadline, deadline)
        })
    });
}

criterion_group!(benches, http, registry, wheel);
criterion_main!(benches);
