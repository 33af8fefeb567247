//! The web console in a real headless browser: `tests/clients/py_console.py` drives chromium
//! through selenium against the real binary while nacos-sdk-python registers instances and
//! watches a config, and checks that what is done in the console reaches those clients.
//!
//! The modules without DOM are also checked in Node. The browser test needs chromium,
//! chromedriver and selenium (`scripts/setup-browser.sh`, run here). When they cannot be
//! installed the test fails; `NACORE_SKIP_BROWSER=1` skips it on purpose.

mod common;

use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use common::{assert_client_ok, ensure_clients, repo_root, run_python, run_with_timeout, Server};

/// Runs `scripts/setup-browser.sh` once per test process; panics with its output on failure.
fn ensure_browser() {
    static RESULT: OnceLock<Result<(), String>> = OnceLock::new();
    let result = RESULT.get_or_init(|| {
        let script = repo_root().join("scripts").join("setup-browser.sh");
        match Command::new("bash")
            .arg(&script)
            .current_dir(repo_root())
            .stdin(Stdio::null())
            .output()
        {
            Ok(out) if out.status.success() => Ok(()),
            Ok(out) => Err(format!(
                "{} failed ({}); the console browser test needs chromium, chromedriver and \
                 selenium (NACORE_SKIP_BROWSER=1 skips it):\n--- stdout ---\n{}\n--- stderr \
                 ---\n{}",
                script.display(),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )),
            Err(e) => Err(format!("cannot run {}: {e}", script.display())),
        }
    });
    if let Err(message) = result {
        panic!("{message}");
    }
}

fn skipped() -> bool {
    let skip = std::env::var("NACORE_SKIP_BROWSER").is_ok_and(|v| v == "1");
    if skip {
        eprintln!("NACORE_SKIP_BROWSER=1: the console browser test is skipped");
    }
    skip
}

/// Services (counts, search), a weight and enabled change seen by the client's
/// `instance/list`, config create with JSON validation, edit seen by a watcher, history diff
/// and rollback seen by the watcher, listeners, and the cluster page's UP member.
#[test]
fn console_in_chromium() {
    if skipped() {
        return;
    }
    ensure_clients();
    ensure_browser();
    let server = Server::start();
    let address = format!("127.0.0.1:{}", server.http_port);
    let out = run_python("py_console.py", &["--server", &address]);
    assert_client_ok("py_console.py", &out, "PY_CONSOLE_OK", &server);
}

/// With auth on (`--auth-enabled`): the login screen, a wrong password refused, the screens
/// after login (a service registered with credentials listed), back to the login screen when
/// the token is refused, and log out.
#[test]
fn console_with_auth() {
    if skipped() {
        return;
    }
    ensure_clients();
    ensure_browser();
    let secret = "nacore-console-test-secret-0123456789abcdef";
    let server = Server::start_with(&["--auth-enabled", "--auth-token-secret", secret]);
    let (status, body) = server.http(
        "POST",
        "/nacos/v1/auth/users/admin",
        Some("password=console-pw"),
    );
    assert_eq!(status, 200, "{body}");
    let address = format!("127.0.0.1:{}", server.http_port);
    let args = ["--server", &address, "--login", "nacos:console-pw"];
    let out = run_python("py_console.py", &args);
    assert_client_ok("py_console.py --login", &out, "PY_CONSOLE_OK", &server);
}

/// A three-member cluster on the cluster page: every member UP (green) with one Raft leader;
/// once a member is killed, it turns SUSPICIOUS (amber) or DOWN (red) and the others stay UP.
#[test]
fn console_cluster_page() {
    if skipped() {
        return;
    }
    ensure_clients();
    ensure_browser();
    let mut servers = Server::start_cluster(3, &["--cores", "1"]);
    let address = format!("127.0.0.1:{}", servers[0].http_port);
    let out = run_python("py_console.py", &["--server", &address, "--cluster", "3"]);
    assert_client_ok(
        "py_console.py --cluster 3",
        &out,
        "PY_CONSOLE_OK",
        &servers[0],
    );
    let down = format!("127.0.0.1:{}", servers[2].http_port);
    servers[2].kill9();
    let args = ["--server", &address, "--cluster", "3", "--down", &down];
    let out = run_python("py_console.py", &args);
    assert_client_ok("py_console.py --down", &out, "PY_CONSOLE_OK", &servers[0]);
}

/// The console's pure modules (the LCS line diff, the per-type validation, highlighting) pass
/// their unit checks in Node (`tests/clients/node_console_units.mjs`; no browser needed).
#[test]
fn console_modules_in_node() {
    let script = repo_root()
        .join("tests")
        .join("clients")
        .join("node_console_units.mjs");
    let mut command = Command::new("node");
    command.arg(&script);
    let out = run_with_timeout(command, Duration::from_secs(30));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.lines().any(|l| l.trim() == "CONSOLE_UNITS_OK"),
        "{} failed ({}):\n{stdout}\n{}",
        script.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}
