//! The Nacos 2.x gRPC protocol of the real binary, driven by the real Python gRPC client:
//! nacos-sdk-python 3.x (module `v2.nacos`), installed on demand by
//! scripts/setup-clients.sh into target/clients/venv3 (needs python3 + venv and access to
//! PyPI on first run). The scenario lives in tests/clients/py_v2_grpc.py: two connections,
//! register / batch register / subscribe with pushes / partial deregister, and removal of a
//! connection's ephemeral instances when the client shuts down.

mod common;

use common::{assert_client_ok, ensure_clients, run_python3, Server};

#[test]
fn python_v3_grpc_client_register_subscribe_shutdown() {
    ensure_clients();
    let server = Server::start();
    let addr = server.addr();
    let grpc_port = server.grpc_port.to_string();
    let out = run_python3(
        "py_v2_grpc.py",
        &[
            "--server",
            &addr,
            "--grpc-port",
            &grpc_port,
            "--service",
            "nacore-it-py-v2-grpc",
        ],
    );
    assert_client_ok(
        "py_v2_grpc.py (nacos-sdk-python 3.x gRPC)",
        &out,
        "PY_V2_GRPC_OK",
        &server,
    );
}

/// The same scenario with nacos-sdk-python 2.0.11's gRPC module `v2.nacos` (clients that do
/// not negotiate abilities and so get no SetupAck).
#[test]
fn python_2_0_11_grpc_client_register_subscribe_shutdown() {
    ensure_clients();
    let server = Server::start();
    let addr = server.addr();
    let grpc_port = server.grpc_port.to_string();
    let out = common::run_python(
        "py_v2_grpc.py",
        &[
            "--server",
            &addr,
            "--grpc-port",
            &grpc_port,
            "--service",
            "nacore-it-py-2011-grpc",
        ],
    );
    assert_client_ok(
        "py_v2_grpc.py (nacos-sdk-python 2.0.11 v2 gRPC)",
        &out,
        "PY_V2_GRPC_OK",
        &server,
    );
}
