//! The Nacos 2.x gRPC protocol of the real binary, driven by the real Python gRPC client:
//! nacos-sdk-python 3.x (module `v2.nacos`), installed on demand by
//! scripts/setup-clients.sh into target/clients/venv3 (needs python3 + venv and access to
//! PyPI on first run). The scenario lives in tests/clients/py_v2_grpc.py: two connections,
//! register / batch register / subscribe with pushes / partial deregister, and removal of a
//! connection's ephemeral instances when the client shuts down.

mod common;

use std::process::Output;

use common::{assert_client_ok, ensure_clients, run_python, run_python3, Server};

#[test]
fn python_v3_grpc_client_register_subscribe_shutdown() {
    run_grpc_scenario(
        run_python3,
        "nacore-it-py-v2-grpc",
        "py_v2_grpc.py (nacos-sdk-python 3.x gRPC)",
    );
}

/// The same scenario with nacos-sdk-python 2.0.11's gRPC module `v2.nacos` (clients that do
/// not negotiate abilities and so get no SetupAck).
#[test]
fn python_2_0_11_grpc_client_register_subscribe_shutdown() {
    run_grpc_scenario(
        run_python,
        "nacore-it-py-2011-grpc",
        "py_v2_grpc.py (nacos-sdk-python 2.0.11 v2 gRPC)",
    );
}

/// Runs tests/clients/py_v2_grpc.py with `python` (one of the venvs) against a fresh server.
fn run_grpc_scenario(python: fn(&str, &[&str]) -> Output, service: &str, label: &str) {
    ensure_clients();
    let server = Server::start();
    let addr = server.addr();
    let grpc_port = server.grpc_port.to_string();
    let args = [
        "--server",
        &addr,
        "--grpc-port",
        &grpc_port,
        "--service",
        service,
    ];
    let out = python("py_v2_grpc.py", &args);
    assert_client_ok(label, &out, "PY_V2_GRPC_OK", &server);
}
