//! Drive the real `nacore` binary with real Nacos clients (HTTP v1 naming API):
//! nacos-sdk-python 2.0.11 and the `nacos` npm package 2.6.3, installed on demand by
//! scripts/setup-clients.sh into target/clients (needs python3 + venv, node + npm, and
//! access to PyPI / npm on first run).

mod common;

use common::{assert_client_ok, ensure_clients, run_node, run_python, Server};

#[test]
fn python_v1_client_register_list_beat_deregister() {
    ensure_clients();
    let server = Server::start();
    let addr = server.addr();
    let out = run_python(
        "py_v1.py",
        &["--server", &addr, "--service", "nacore-it-py-v1"],
    );
    assert_client_ok("py_v1.py (nacos-sdk-python)", &out, "PY_V1_OK", &server);
}

#[test]
fn node_v1_client_register_list_deregister_and_beats() {
    ensure_clients();
    let server = Server::start();
    let addr = server.addr();
    let out = run_node(
        "node_v1.js",
        &["--server", &addr, "--service", "nacore-it-node-v1"],
    );
    assert_client_ok("node_v1.js (nacos npm client)", &out, "NODE_V1_OK", &server);
}

/// The npm client subscribes, another client registers, and the subscriber sees the change
/// through UDP push (seconds before its 10 s poll would).
#[test]
fn node_v1_client_sees_changes_through_udp_push() {
    ensure_clients();
    let server = Server::start();
    let addr = server.addr();
    let out = run_node(
        "node_udp_push.js",
        &["--server", &addr, "--service", "nacore-it-node-udp"],
    );
    assert_client_ok(
        "node_udp_push.js (nacos npm client)",
        &out,
        "NODE_UDP_PUSH_OK",
        &server,
    );
}
