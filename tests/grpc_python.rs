//! The Nacos 2.x gRPC protocol of the real binary, driven by the real Python gRPC client:
//! nacos-sdk-python 3.x (module `v2.nacos`), installed on demand by
//! scripts/setup-clients.sh into target/clients/venv3 (needs python3 + venv and access to
//! PyPI on first run). The scenario lives in tests/clients/py_v2_grpc.py: two connections,
//! register / batch register / subscribe with pushes / partial deregister, and removal of a
//! connection's ephemeral instances when the client shuts down.

mod common;

use std::process::{Command, Output};
use std::time::Duration;

use common::{assert_client_ok, ensure_clients, repo_root, run_with_timeout, Server};

/// Hard limit for one client script run (the script has its own 60 s timeout).
const CLIENT_TIMEOUT: Duration = Duration::from_secs(90);

/// Run `tests/clients/<script>` with the nacos-sdk-python 3.x venv's Python
/// (target/clients/venv3); killed after 90 s.
fn run_python3(script: &str, args: &[&str]) -> Output {
    ensure_clients();
    let python = repo_root()
        .join("target")
        .join("clients")
        .join("venv3")
        .join("bin")
        .join("python");
    let mut cmd = Command::new(python);
    cmd.arg(repo_root().join("tests").join("clients").join(script))
        .args(args)
        .env("PYTHONUNBUFFERED", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1");
    run_with_timeout(cmd, CLIENT_TIMEOUT)
}

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
