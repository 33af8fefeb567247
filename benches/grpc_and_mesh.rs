//! Criterion benches that need a running core: an HTTP `instance/list` request parsed and
//! routed end to end on one core (cached hosts), the gRPC payload codec (decode an
//! `InstanceRequest`, encode a `QueryServiceResponse` around cached hosts), and one cross-core
//! op round trip over the glommio channel mesh (core 0 asks core 1, which owns the service).
//! Run: `cargo bench --bench grpc_and_mesh`.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use glommio::channels::channel_mesh::MeshBuilder;
use glommio::{LocalExecutorBuilder, Placement};

use nacore::grpc::{frame, payload};
use nacore::naming::key::ServiceKey;
use nacore::naming::op::NamingOp;
use nacore::shard::core::{spawn_mesh_servers, Envelope};
use nacore::shard::{owner_core, Core};

const INSTANCE_REQUEST: &str = r#"{"headers":{},"namespace":"public","serviceName":"orders","groupName":"DEFAULT_GROUP","type":"registerInstance","instance":{"ip":"10.0.0.5","port":8080,"weight":1.0,"healthy":true,"enabled":true,"ephemeral":true,"clusterName":"DEFAULT","metadata":{"version":"1.2.3","zone":"a"},"instanceHeartBeatInterval":5000,"instanceHeartBeatTimeOut":15000,"ipDeleteTimeout":30000,"instanceIdGenerator":"simple"},"module":"naming"}"#;

fn codec(c: &mut Criterion) {
    let framed = frame::encode(&payload::encode(
        "InstanceRequest",
        INSTANCE_REQUEST.as_bytes().to_vec(),
    ));
    c.bench_function("grpc/decode_instance_request", |b| {
        b.iter(|| {
            let mut buf = bytes::BytesMut::from(&framed[..]);
            let message = frame::decode(&mut buf).unwrap().unwrap();
            payload::decode(black_box(&message)).unwrap()
        })
    });
    let host = r#"{"instanceId":"10.0.0.5#8080#DEFAULT#DEFAULT_GROUP@@orders","ip":"10.0.0.5","port":8080,"weight":1.0,"healthy":true,"enabled":true,"ephemeral":true,"clusterName":"DEFAULT","serviceName":"DEFAULT_GROUP@@orders","metadata":{},"instanceHeartBeatInterval":5000,"instanceHeartBeatTimeOut":15000,"ipDeleteTimeout":30000,"instanceIdGenerator":"simple"}"#;
    let hosts = format!("[{}]", [host; 10].join(","));
    c.bench_function("grpc/encode_query_response_10_hosts", |b| {
        b.iter(|| {
            let head = nacore::naming::encode::ServiceInfoHead {
                name: "orders",
                group: Some("DEFAULT_GROUP"),
                clusters: "",
                cache_millis: 10_000,
                last_ref_time_ms: 1,
                reach_protection: false,
            };
            let info = nacore::naming::encode::encode_service_info(&head, hosts.as_bytes());
            let mut body =
                br#"{"resultCode":200,"errorCode":0,"success":true,"serviceInfo":"#.to_vec();
            body.extend_from_slice(&info);
            body.push(b'}');
            frame::encode(&payload::encode("QueryServiceResponse", body))
        })
    });
}

/// A service key owned by core `owner` of two.
fn key_owned_by(owner: usize) -> ServiceKey {
    (0..)
        .map(|i| ServiceKey::parse(None, None, &format!("svc-{i}")).unwrap())
        .find(|k| owner_core(k, 2) == owner)
        .unwrap()
}

fn mesh(c: &mut Criterion) {
    let (jobs_tx, jobs_rx) = mpsc::channel::<u64>();
    let (done_tx, done_rx) = mpsc::channel::<Duration>();
    let mesh = MeshBuilder::<Envelope, _>::full(2, 1024);
    let mut threads = Vec::new();
    let mut jobs_rx = Some(jobs_rx);
    for core_id in 0..2usize {
        let mesh = mesh.clone();
        let jobs = if core_id == 0 { jobs_rx.take() } else { None };
        let done = done_tx.clone();
        let builder = LocalExecutorBuilder::new(Placement::Unbound).io_memory(512 * 1024);
        threads.push(
            builder
                .spawn(move || async move {
                    let (senders, receivers) = mesh.join().await.unwrap();
                    let id = senders.peer_id();
                    let core = Core::new(id, 2, Some(senders), Instant::now(), Duration::ZERO);
                    spawn_mesh_servers(&core, receivers);
                    let Some(jobs) = jobs else {
                        std::future::pending::<()>().await;
                        return;
                    };
                    let remote = key_owned_by(1 - id);
                    while let Ok(iterations) = jobs.recv() {
                        let started = Instant::now();
                        for _ in 0..iterations {
                            let op = NamingOp::Statuses {
                                key: remote.clone(),
                            };
                            black_box(core.execute(op).await);
                        }
                        done.send(started.elapsed()).unwrap();
                    }
                })
                .unwrap(),
        );
    }
    c.bench_function("mesh/cross_core_round_trip", |b| {
        b.iter_custom(|iterations| {
            jobs_tx.send(iterations).unwrap();
            done_rx.recv().unwrap()
        })
    });
    drop(jobs_tx);
    // The serving core never finishes; the process exits after the benches.
    std::mem::forget(threads);
}

/// Parse + route + encode of `GET instance/list` for a 10-instance service, on one core.
fn route(c: &mut Criterion) {
    let (jobs_tx, jobs_rx) = mpsc::channel::<u64>();
    let (done_tx, done_rx) = mpsc::channel::<Duration>();
    let builder = LocalExecutorBuilder::new(Placement::Unbound).io_memory(512 * 1024);
    let thread = builder
        .spawn(move || async move {
            let core = Core::new(0, 1, None, Instant::now(), Duration::ZERO);
            core.apply_local(NamingOp::MarkReady);
            let key = ServiceKey::parse(None, None, "orders").unwrap();
            for port in 0..10u16 {
                let spec = nacore::naming::instance::InstanceSpec {
                    ip: "10.0.0.1".into(),
                    port,
                    cluster: "DEFAULT".into(),
                    weight: 1.0,
                    healthy: true,
                    enabled: true,
                    ephemeral: true,
                    metadata: Default::default(),
                };
                core.apply_local(NamingOp::Register { key: key.clone(), spec });
            }
            let raw = b"GET /nacos/v1/ns/instance/list?serviceName=DEFAULT_GROUP%40%40orders&namespaceId=public&clusters=&healthyOnly=false HTTP/1.1\r\nUser-Agent: Nacos-Java-Client:v2.5.1\r\n\r\n";
            while let Ok(iterations) = jobs_rx.recv() {
                let started = Instant::now();
                for _ in 0..iterations {
                    let head = nacore::http::codec::parse_head(raw).unwrap().unwrap();
                    let params = nacore::http::params::Params::parse(head.query(), None);
                    let request = nacore::http::conn::Request { head, params, multipart_body: None, local_addr: None, remote_addr: None };
                    let response = nacore::api::route(&core, &request).await;
                    let mut out = Vec::with_capacity(2048);
                    response.write_to(&mut out, true, false);
                    black_box(out);
                }
                done_tx.send(started.elapsed()).unwrap();
            }
        })
        .unwrap();
    c.bench_function("http/parse_route_list_10_cached", |b| {
        b.iter_custom(|iterations| {
            jobs_tx.send(iterations).unwrap();
            done_rx.recv().unwrap()
        })
    });
    drop(jobs_tx);
    thread.join().unwrap();
}

criterion_group!(benches, route, codec, mesh);
criterion_main!(benches);
