//! Shared helpers for integration tests that drive the real `nacore` binary.
//!
//! std only. Not every test file uses every helper, hence the `dead_code` allowances.
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

/// How long a server gets to answer readiness with 200.
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// Per-request socket timeout of [`http`].
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// Hard limit for one client script run.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(90);
/// Attempts at starting a server when the picked ports turn out to be taken.
const START_ATTEMPTS: usize = 3;

static DATA_DIR_COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Repository root (the crate's manifest dir).
pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn target_dir() -> PathBuf {
    repo_root().join("target")
}

/// A running `nacore` child process with its own ports and data directory.
/// Dropping it kills the process; the data dir (with `server.log`) is removed unless
/// the current thread is panicking, so failed tests leave their logs behind.
pub struct Server {
    pub http_port: u16,
    pub grpc_port: u16,
    child: Child,
    data_dir: PathBuf,
    args: Vec<String>,
}

impl Server {
    /// Start a server with the default arguments.
    pub fn start() -> Server {
        Server::start_with(&[])
    }

    /// Start a server with extra CLI arguments. `--cores` and `--log-level` given in
    /// `args` replace the defaults (`--cores 2 --log-level warn`).
    pub fn start_with(args: &[&str]) -> Server {
        let mut last_log = String::new();
        for attempt in 1..=START_ATTEMPTS {
            match Server::try_start(args) {
                Ok(server) => return server,
                Err(StartError::PortsTaken(log)) => {
                    eprintln!("nacore could not bind its ports (attempt {attempt}), retrying with new ones");
                    last_log = log;
                }
                Err(StartError::Fatal(msg)) => panic!("{msg}"),
            }
        }
        panic!(
            "nacore failed to bind free ports {START_ATTEMPTS} times; last server log:\n{last_log}"
        );
    }

    fn try_start(args: &[&str]) -> Result<Server, StartError> {
        let (http_port, grpc_port) = pick_two_free_ports();
        let data_dir = fresh_data_dir();
        let mut server = Server {
            http_port,
            grpc_port,
            child: spawn(http_port, grpc_port, &data_dir, args, false),
            data_dir,
            args: args.iter().map(|a| a.to_string()).collect(),
        };
        match server.wait_ready() {
            Ok(()) => Ok(server),
            Err(error) => {
                let _ = server.child.kill();
                let _ = server.child.wait();
                let _ = std::fs::remove_dir_all(&server.data_dir);
                std::mem::forget(server);
                Err(error)
            }
        }
    }

    /// Starts an `n`-member cluster on loopback (`--members` with explicit cluster ports) and
    /// waits until every member is ready.
    pub fn start_cluster(n: usize, args: &[&str]) -> Vec<Server> {
        Server::start_cluster_retrying(|| (0..n).map(|_| pick_member_ports()).collect(), args)
    }

    /// Starts a cluster on the ports `pick` gives, again on new ports while a member finds
    /// one taken (another test may bind it between the pick and the member's bind).
    fn start_cluster_retrying(
        pick: impl Fn() -> Vec<(u16, u16, u16)>,
        args: &[&str],
    ) -> Vec<Server> {
        let mut last_log = String::new();
        for attempt in 1..=START_ATTEMPTS {
            match Server::try_start_cluster_on(&pick(), args) {
                Ok(servers) => return servers,
                Err(StartError::PortsTaken(log)) => {
                    eprintln!("a cluster member could not bind its ports (attempt {attempt}), retrying with new ones");
                    last_log = log;
                }
                Err(StartError::Fatal(msg)) => panic!("cluster member did not start: {msg}"),
            }
        }
        panic!("cluster members failed to bind free ports {START_ATTEMPTS} times; last log:\n{last_log}");
    }

    /// Like [`Server::start_cluster`], but every member's gRPC port is its HTTP port + 1000
    /// (the cluster port stays HTTP + 1001), the port Nacos 2.x gRPC SDKs derive from the
    /// HTTP address: they work with plain `127.0.0.1:<http_port>` server addresses.
    pub fn start_cluster_grpc_offset(n: usize, args: &[&str]) -> Vec<Server> {
        let pick = || {
            let mut ports: Vec<(u16, u16, u16)> = Vec::with_capacity(n);
            while ports.len() < n {
                let picked = pick_offset_member_ports();
                let clash = ports.iter().any(|&(h, g, c)| {
                    [h, g, c]
                        .iter()
                        .any(|p| [picked.0, picked.1, picked.2].contains(p))
                });
                if !clash {
                    ports.push(picked);
                }
            }
            ports
        };
        Server::start_cluster_retrying(pick, args)
    }

    /// Starts one member per (http, grpc, cluster) triple, all with the same `--members`
    /// list, and waits until every member is ready.
    fn try_start_cluster_on(
        ports: &[(u16, u16, u16)],
        args: &[&str],
    ) -> Result<Vec<Server>, StartError> {
        let members: Vec<String> = ports
            .iter()
            .map(|(_, _, c)| format!("127.0.0.1:{c}"))
            .collect();
        let members = members.join(",");
        let mut servers: Vec<Server> = ports
            .iter()
            .map(|&(http_port, grpc_port, cluster_port)| {
                let mut all: Vec<String> = vec![
                    "--members".into(),
                    members.clone(),
                    "--cluster-port".into(),
                    cluster_port.to_string(),
                ];
                all.extend(args.iter().map(|a| a.to_string()));
                let refs: Vec<&str> = all.iter().map(String::as_str).collect();
                let data_dir = fresh_data_dir();
                Server {
                    http_port,
                    grpc_port,
                    child: spawn(http_port, grpc_port, &data_dir, &refs, false),
                    data_dir,
                    args: all,
                }
            })
            .collect();
        for server in servers.iter_mut() {
            // On an error the members are dropped: killed, their data removed.
            server.wait_ready()?;
        }
        Ok(servers)
    }

    /// Starts the server again on the same ports and data dir without waiting for it to be
    /// ready (for members that must not become ready).
    pub fn restart_unready(&mut self) {
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        self.child = spawn(self.http_port, self.grpc_port, &self.data_dir, &args, true);
    }

    /// The value given to `flag` on this server's command line, if any.
    pub fn arg(&self, flag: &str) -> Option<&str> {
        let at = self.args.iter().position(|a| a == flag)?;
        self.args.get(at + 1).map(String::as_str)
    }

    /// Replaces the value of `flag` for the next [`Server::restart`].
    pub fn set_arg(&mut self, flag: &str, value: &str) {
        match self.args.iter().position(|a| a == flag) {
            Some(at) if at + 1 < self.args.len() => self.args[at + 1] = value.to_string(),
            _ => self.args.extend([flag.to_string(), value.to_string()]),
        }
    }

    /// Kills the server with SIGKILL (no clean shutdown) and waits for it to be gone.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the server again on the same ports and data dir, and waits until it is ready.
    pub fn restart(&mut self) {
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        self.child = spawn(self.http_port, self.grpc_port, &self.data_dir, &args, true);
        if let Err(StartError::Fatal(msg) | StartError::PortsTaken(msg)) = self.wait_ready() {
            panic!("restart failed: {msg}");
        }
    }

    fn wait_ready(&mut self) -> Result<(), StartError> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait on nacore") {
                let log = self.log();
                let taken = log.contains("Address already in use")
                    || log.contains("AddrInUse")
                    || log.contains("os error 98");
                return Err(if taken {
                    StartError::PortsTaken(log)
                } else {
                    StartError::Fatal(format!(
                        "nacore exited before becoming ready ({status})\nserver log:\n{log}"
                    ))
                });
            }
            let path = "/nacos/v1/console/health/readiness";
            let last = match try_http(self.http_port, "GET", path, None) {
                Ok((200, _)) => return Ok(()),
                Ok((code, body)) => format!("HTTP {code}: {body}"),
                Err(e) => format!("{e}"),
            };
            if Instant::now() >= deadline {
                return Err(StartError::Fatal(format!(
                    "nacore not ready after {READY_TIMEOUT:?}; last readiness result: {last}\n\
                     server log:\n{}",
                    self.log()
                )));
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// "127.0.0.1:<http_port>"
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.http_port)
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Everything the server wrote to stdout/stderr so far.
    pub fn log(&self) -> String {
        let path = self.data_dir.join("server.log");
        match std::fs::read(&path) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) => format!("<cannot read {}: {e}>", path.display()),
        }
    }

    /// Shorthand for [`http`] against this server.
    pub fn http(
        &self,
        method: &str,
        path_and_query: &str,
        form_body: Option<&str>,
    ) -> (u16, String) {
        http(self.http_port, method, path_and_query, form_body)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.data_dir);
        } else {
            eprintln!(
                "nacore data dir kept for inspection: {}",
                self.data_dir.display()
            );
        }
    }
}

/// Spawns `nacore` with the test defaults (`--cores 2 --log-level warn` unless `args` say
/// otherwise), its output appended to `server.log` in the data dir.
fn spawn(http_port: u16, grpc_port: u16, data_dir: &Path, args: &[&str], append: bool) -> Child {
    let log_path = data_dir.join("server.log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(append)
        .write(true)
        .truncate(!append)
        .open(&log_path)
        .unwrap_or_else(|e| panic!("cannot open {}: {e}", log_path.display()));
    let log_err = log.try_clone().expect("clone log file handle");
    let has = |flag: &str| {
        args.iter()
            .any(|a| *a == flag || a.starts_with(&format!("{flag}=")))
    };
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nacore"));
    cmd.arg("--http-port")
        .arg(http_port.to_string())
        .arg("--grpc-port")
        .arg(grpc_port.to_string())
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--bind")
        .arg("127.0.0.1");
    if !has("--cores") {
        cmd.args(["--cores", "2"]);
    }
    if !has("--log-level") {
        cmd.args(["--log-level", "warn"]);
    }
    cmd.args(args)
        .current_dir(data_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log_err));
    cmd.spawn()
        .unwrap_or_else(|e| panic!("cannot spawn {}: {e}", env!("CARGO_BIN_EXE_nacore")))
}

enum StartError {
    PortsTaken(String),
    Fatal(String),
}

/// Two distinct free ports on 127.0.0.1 (both listeners are held until both are known).
fn pick_two_free_ports() -> (u16, u16) {
    let a = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let b = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let pa = a.local_addr().expect("local_addr").port();
    let pb = b.local_addr().expect("local_addr").port();
    (pa, pb)
}

/// Free (http, grpc, cluster) ports with cluster = http + 1001, as members derive each
/// other's HTTP address from the cluster port.
fn pick_member_ports() -> (u16, u16, u16) {
    for _ in 0..100 {
        let http = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let http_port = http.local_addr().expect("local_addr").port();
        let Some(cluster_port) = http_port.checked_add(1001) else {
            continue;
        };
        let Ok(cluster) = TcpListener::bind(("127.0.0.1", cluster_port)) else {
            continue;
        };
        let grpc = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let grpc_port = grpc.local_addr().expect("local_addr").port();
        drop((http, cluster, grpc));
        return (http_port, grpc_port, cluster_port);
    }
    panic!("no free port pair (p, p + 1001) found");
}

/// Free (http, grpc, cluster) ports with grpc = http + 1000 and cluster = http + 1001.
fn pick_offset_member_ports() -> (u16, u16, u16) {
    for _ in 0..200 {
        let http = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let http_port = http.local_addr().expect("local_addr").port();
        let (Some(grpc_port), Some(cluster_port)) =
            (http_port.checked_add(1000), http_port.checked_add(1001))
        else {
            continue;
        };
        let Ok(grpc) = TcpListener::bind(("127.0.0.1", grpc_port)) else {
            continue;
        };
        let Ok(cluster) = TcpListener::bind(("127.0.0.1", cluster_port)) else {
            continue;
        };
        drop((http, grpc, cluster));
        return (http_port, grpc_port, cluster_port);
    }
    panic!("no free port triple (p, p + 1000, p + 1001) found");
}

/// A fresh, empty `target/test-data/<pid>-<counter>` directory.
fn fresh_data_dir() -> PathBuf {
    let n = DATA_DIR_COUNTER.fetch_add(1, Ordering::SeqCst);
    let dir = target_dir()
        .join("test-data")
        .join(format!("{}-{}", std::process::id(), n));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

// --------------------------------------------------------------------------- raw HTTP

/// One HTTP/1.1 request over a fresh connection (`Connection: close`). `form_body` is sent
/// as `application/x-www-form-urlencoded`. Returns (status, body). Panics on I/O errors.
pub fn http(
    port: u16,
    method: &str,
    path_and_query: &str,
    form_body: Option<&str>,
) -> (u16, String) {
    try_http(port, method, path_and_query, form_body)
        .unwrap_or_else(|e| panic!("HTTP {method} 127.0.0.1:{port}{path_and_query} failed: {e}"))
}

/// Like [`http`] but returns I/O and protocol errors instead of panicking.
pub fn try_http(
    port: u16,
    method: &str,
    path_and_query: &str,
    form_body: Option<&str>,
) -> io::Result<(u16, String)> {
    let reply = try_http_with(port, method, path_and_query, &[], form_body, HTTP_TIMEOUT)?;
    Ok((reply.status, reply.body))
}

/// A response with its headers (names lowercased).
#[derive(Debug)]
pub struct HttpReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpReply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One request to `server` with extra headers, read for up to 60 s (long polls are held up to
/// 30 s); panics on I/O errors.
pub fn send(
    server: &Server,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> HttpReply {
    try_http_with(
        server.http_port,
        method,
        path,
        headers,
        body,
        Duration::from_secs(60),
    )
    .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

/// One request with extra headers and a read timeout of its own (for held long polls).
pub fn try_http_with(
    port: u16,
    method: &str,
    path_and_query: &str,
    extra_headers: &[(&str, &str)],
    form_body: Option<&str>,
    read_timeout: Duration,
) -> io::Result<HttpReply> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, HTTP_TIMEOUT)?;
    stream.set_read_timeout(Some(read_timeout))?;
    stream.set_write_timeout(Some(HTTP_TIMEOUT))?;
    let _ = stream.set_nodelay(true);

    let mut req = format!(
        "{method} {path_and_query} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
         User-Agent: nacore-tests\r\nAccept: */*\r\n"
    );
    for (name, value) in extra_headers {
        req.push_str(&format!("{name}: {value}\r\n"));
    }
    match form_body {
        Some(body) => {
            let typed = extra_headers
                .iter()
                .any(|(name, _)| name.eq_ignore_ascii_case("content-type"));
            if !typed {
                req.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
            }
            req.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
            req.push_str(body);
        }
        None => {
            if !matches!(method, "GET" | "HEAD") {
                req.push_str("Content-Length: 0\r\n");
            }
            req.push_str("\r\n");
        }
    }
    stream.write_all(req.as_bytes())?;
    stream.flush()?;

    // Read the head.
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(pos) = find(&buf, b"\r\n\r\n") {
            break pos;
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(proto(format!(
                "connection closed before end of response head (got {:?})",
                String::from_utf8_lossy(&buf)
            )));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut rest = buf[head_end + 4..].to_vec();

    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/1.") {
        return Err(proto(format!("bad status line {status_line:?}")));
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| proto(format!("bad status line {status_line:?}")))?;

    let mut content_length: Option<usize> = None;
    let mut chunked = false;
    let mut headers = Vec::new();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        headers.push((name.to_ascii_lowercase(), value.to_string()));
        if name.eq_ignore_ascii_case("content-length") {
            content_length = Some(
                value
                    .parse()
                    .map_err(|_| proto(format!("bad Content-Length {value:?}")))?,
            );
        } else if name.eq_ignore_ascii_case("transfer-encoding")
            && value.to_ascii_lowercase().contains("chunked")
        {
            chunked = true;
        }
    }

    let body: Vec<u8> =
        if method == "HEAD" || status == 204 || status == 304 || (100..200).contains(&status) {
            Vec::new()
        } else if chunked {
            // Read to EOF (Connection: close), then decode.
            stream.read_to_end(&mut rest)?;
            decode_chunked(&rest)?
        } else if let Some(len) = content_length {
            while rest.len() < len {
                let n = stream.read(&mut chunk)?;
                if n == 0 {
                    return Err(proto(format!(
                        "connection closed after {} of {len} body bytes",
                        rest.len()
                    )));
                }
                rest.extend_from_slice(&chunk[..n]);
            }
            rest.truncate(len);
            rest
        } else {
            stream.read_to_end(&mut rest)?;
            rest
        };
    let _ = stream.shutdown(Shutdown::Both);
    Ok(HttpReply {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn proto(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn decode_chunked(mut data: &[u8]) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = find(data, b"\r\n").ok_or_else(|| proto("truncated chunk size".into()))?;
        let size_str = String::from_utf8_lossy(&data[..line_end]);
        let size_str = size_str.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_str, 16)
            .map_err(|_| proto(format!("bad chunk size {size_str:?}")))?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if data.len() < size + 2 {
            return Err(proto("truncated chunk".into()));
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

// --------------------------------------------------------------------------- real clients

/// Install the real Nacos clients (scripts/setup-clients.sh) once per test process.
pub fn ensure_clients() {
    static RESULT: OnceLock<Result<(), String>> = OnceLock::new();
    let result = RESULT.get_or_init(|| {
        let script = repo_root().join("scripts").join("setup-clients.sh");
        match Command::new("bash")
            .arg(&script)
            .current_dir(repo_root())
            .stdin(Stdio::null())
            .output()
        {
            Ok(out) if out.status.success() => Ok(()),
            Ok(out) => Err(format!(
                "{} failed ({}):\n--- stdout ---\n{}\n--- stderr ---\n{}",
                script.display(),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )),
            Err(e) => Err(format!("cannot run {}: {e}", script.display())),
        }
    });
    if let Err(msg) = result {
        panic!("{msg}");
    }
}

/// Run `tests/clients/<script>` with the venv's Python (kills it after 90 s).
pub fn run_python(script: &str, args: &[&str]) -> Output {
    run_python_in("venv", script, args)
}

/// Like [`run_python`] with the nacos-sdk-python 3.x venv (`target/clients/venv3`).
pub fn run_python3(script: &str, args: &[&str]) -> Output {
    run_python_in("venv3", script, args)
}

fn run_python_in(venv: &str, script: &str, args: &[&str]) -> Output {
    ensure_clients();
    let python = target_dir()
        .join("clients")
        .join(venv)
        .join("bin")
        .join("python");
    let mut cmd = Command::new(python);
    cmd.arg(repo_root().join("tests").join("clients").join(script))
        .args(args)
        .env("PYTHONUNBUFFERED", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1");
    run_with_timeout(cmd, CLIENT_TIMEOUT)
}

/// Run `node tests/clients/<script>` with NODE_PATH set to the installed clients (kills it after 90 s).
pub fn run_node(script: &str, args: &[&str]) -> Output {
    ensure_clients();
    let mut cmd = Command::new("node");
    cmd.arg(repo_root().join("tests").join("clients").join(script))
        .args(args)
        .env(
            "NODE_PATH",
            target_dir()
                .join("clients")
                .join("node")
                .join("node_modules"),
        );
    run_with_timeout(cmd, CLIENT_TIMEOUT)
}

/// Run a command with captured output; kill it (and its whole process group, so no
/// grandchild keeps the pipes open) if it outlives `timeout` (a note is appended to its
/// stderr in that case).
pub fn run_with_timeout(mut cmd: Command, timeout: Duration) -> Output {
    use std::os::unix::process::CommandExt;
    let desc = format!("{cmd:?}");
    let mut child = cmd
        .process_group(0)
        .current_dir(repo_root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot spawn {desc}: {e}"));
    let mut out_pipe = child.stdout.take().expect("stdout pipe");
    let mut err_pipe = child.stderr.take().expect("stderr pipe");
    let out_reader = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out_pipe.read_to_end(&mut v);
        v
    });
    let err_reader = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err_pipe.read_to_end(&mut v);
        v
    });

    let deadline = Instant::now() + timeout;
    let mut timed_out = false;
    let status: ExitStatus = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(e) => panic!("try_wait on {desc}: {e}"),
        }
        if Instant::now() >= deadline {
            timed_out = true;
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            let _ = child.kill();
            break child
                .wait()
                .unwrap_or_else(|e| panic!("wait on {desc}: {e}"));
        }
        thread::sleep(Duration::from_millis(50));
    };
    let stdout = out_reader.join().unwrap_or_default();
    let mut stderr = err_reader.join().unwrap_or_default();
    if timed_out {
        stderr.extend_from_slice(
            format!("\n[killed after {timeout:?} timeout: {desc}]\n").as_bytes(),
        );
    }
    Output {
        status,
        stdout,
        stderr,
    }
}

/// Panic with the client's output and the server log unless the client exited 0 and
/// printed `marker` on stdout.
pub fn assert_client_ok(what: &str, out: &Output, marker: &str, server: &Server) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() || !stdout.lines().any(|l| l.trim() == marker) {
        panic!(
            "{what} failed ({}; expected {marker:?} on stdout)\n--- client stdout ---\n{stdout}\n\
             --- client stderr ---\n{stderr}\n--- server log ({}) ---\n{}",
            out.status,
            server.data_dir().join("server.log").display(),
            server.log()
        );
    }
}

/// The `hosts` of `GET /nacos/v1/ns/instance/list?serviceName=<service>` (panics on errors).
pub fn list_hosts(server: &Server, service: &str) -> Vec<serde_json::Value> {
    let path = format!("/nacos/v1/ns/instance/list?serviceName={service}");
    let (status, body) = server.http("GET", &path, None);
    assert_eq!(status, 200, "{body}");
    let info: serde_json::Value = serde_json::from_str(&body)
        .unwrap_or_else(|e| panic!("instance/list is not JSON ({e}): {body}"));
    info["hosts"].as_array().cloned().unwrap_or_default()
}

/// (port, healthy) of every host of `service`, sorted.
pub fn port_health(server: &Server, service: &str) -> Vec<(u64, bool)> {
    let mut out: Vec<(u64, bool)> = list_hosts(server, service)
        .iter()
        .map(|h| {
            (
                h["port"].as_u64().unwrap_or(0),
                h["healthy"].as_bool().unwrap_or(false),
            )
        })
        .collect();
    out.sort();
    out
}

// --- dns ---
impl Server {
    /// The server's process id (to read its CPU time from /proc).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}
