//! The built-in DNS server against real resolvers: `dig` (Debian dnsutils) for A, AAAA, SRV,
//! TXT, NXDOMAIN, empty answers, names and TC over UDP then TCP; dnspython with instances
//! registered by nacos-sdk-python 2.0.11 for the same records, healthy-only and the weight
//! distribution (tests/clients/py_dns.py); and a flood of random and cut packets after which
//! the server still answers and does not spin.

mod common;

use std::net::{TcpListener, TcpStream, UdpSocket};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{run_with_timeout, Server};

/// Installs dig and dnspython (scripts/setup-dns.sh) once per test process.
fn ensure_dns_tools() {
    static RESULT: OnceLock<Result<(), String>> = OnceLock::new();
    let result = RESULT.get_or_init(|| {
        let script = common::repo_root().join("scripts").join("setup-dns.sh");
        let out = Command::new("bash").arg(&script).output();
        match out {
            Ok(out) if out.status.success() => Ok(()),
            Ok(out) => Err(format!(
                "{} failed:\n{}",
                script.display(),
                String::from_utf8_lossy(&out.stderr)
            )),
            Err(e) => Err(format!("cannot run {}: {e}", script.display())),
        }
    });
    if let Err(msg) = result {
        panic!("{msg}");
    }
}

/// A port free for both UDP and TCP on loopback.
fn free_dns_port() -> u16 {
    for _ in 0..100 {
        let tcp = TcpListener::bind("127.0.0.1:0").expect("bind tcp");
        let port = tcp.local_addr().expect("addr").port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no port free for both UDP and TCP");
}

struct DnsServer {
    server: Server,
    dns_port: u16,
}

fn start(extra: &[&str]) -> DnsServer {
    ensure_dns_tools();
    let dns_port = free_dns_port();
    let port = dns_port.to_string();
    let mut args = vec!["--dns-port", &port, "--dns-seed", "42"];
    args.extend_from_slice(extra);
    let server = Server::start_with(&args);
    DnsServer { server, dns_port }
}

/// Registers an ephemeral instance over HTTP (v1).
fn register(server: &Server, query: &str) {
    let path = format!("/nacos/v1/ns/instance?{query}");
    let (status, body) = server.http("POST", &path, None);
    assert_eq!((status, body.as_str()), (200, "ok"), "register {query}");
}

fn dig(dns: &DnsServer, args: &[&str]) -> Output {
    let mut cmd = Command::new("dig");
    cmd.arg("@127.0.0.1")
        .arg("-p")
        .arg(dns.dns_port.to_string())
        .args(["+time=2", "+tries=2"])
        .args(args);
    run_with_timeout(cmd, Duration::from_secs(30))
}

/// `dig +short` lines, sorted.
fn dig_short(dns: &DnsServer, args: &[&str]) -> Vec<String> {
    let mut all = vec!["+short"];
    all.extend_from_slice(args);
    let out = dig(dns, &all);
    assert!(out.status.success(), "dig {args:?}: {out:?}");
    let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .filter(|l| !l.is_empty())
        .collect();
    lines.sort();
    lines
}

/// `dig` full output (for status and flags).
fn dig_text(dns: &DnsServer, args: &[&str]) -> String {
    let out = dig(dns, args);
    assert!(out.status.success(), "dig {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Polls `check` until it holds or `timeout` passes; the last value is in the panic.
fn wait_for<T: std::fmt::Debug>(
    what: &str,
    timeout: Duration,
    mut probe: impl FnMut() -> T,
    check: impl Fn(&T) -> bool,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        let value = probe();
        if check(&value) {
            return value;
        }
        if Instant::now() >= deadline {
            panic!("{what}: still {value:?} after {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A, AAAA, SRV (with the addresses in the additional section), TXT; unknown service
/// NXDOMAIN; no healthy instance an empty NOERROR; disabled and weight-0 instances never
/// answered; the group and namespace forms; an escaped dot; a name outside the zone REFUSED.
#[test]
fn dig_answers_records_from_the_registry() {
    let dns = start(&["--dns-answer-records-max", "10", "--dns-ttl-s", "3"]);
    let s = &dns.server;
    register(
        s,
        "serviceName=orders&ip=10.1.0.1&port=8080&clusterName=east&weight=1",
    );
    register(
        s,
        "serviceName=orders&ip=10.1.0.2&port=8081&clusterName=west&weight=2.5",
    );
    register(s, "serviceName=orders&ip=fd00::1&port=8082&weight=1");
    register(
        s,
        "serviceName=orders&ip=10.1.0.3&port=8083&weight=1&enabled=false",
    );
    register(s, "serviceName=orders&ip=10.1.0.4&port=8084&weight=0");
    register(
        s,
        "serviceName=pay&groupName=shop&namespaceId=dev&ip=10.2.0.1&port=9000",
    );
    register(s, "serviceName=order.v1&ip=10.3.0.1&port=7000");
    register(s, "serviceName=idle&ip=10.4.0.1&port=7000&enabled=false");

    let a = dig_short(&dns, &["orders.nacos.local", "A"]);
    assert_eq!(a, ["10.1.0.1", "10.1.0.2"], "healthy, enabled, weight > 0");
    assert_eq!(
        dig_short(&dns, &["orders.nacos.local", "AAAA"]),
        ["fd00::1"]
    );
    let srv = dig_short(&dns, &["_orders._tcp.nacos.local", "SRV"]);
    assert_eq!(
        srv,
        [
            "1 100 8080 10-1-0-1.ip.nacos.local.",
            "1 100 8082 fd00--1.ip.nacos.local.",
            "1 250 8081 10-1-0-2.ip.nacos.local.",
        ]
    );
    let full = dig_text(&dns, &["orders.nacos.local", "SRV"]);
    assert!(
        full.contains("ADDITIONAL: 4"),
        "3 SRV target addresses + OPT:\n{full}"
    );
    let additional: Vec<String> = full
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    let target_a = "10-1-0-2.ip.nacos.local. 3 IN A 10.1.0.2".to_string();
    assert!(additional.contains(&target_a), "{full}");
    assert_eq!(
        dig_short(&dns, &["10-1-0-2.ip.nacos.local", "A"]),
        ["10.1.0.2"]
    );
    let txt = dig_short(&dns, &["orders.nacos.local", "TXT"]);
    assert!(
        txt.iter()
            .any(|t| t.contains("\"cluster=west\"") && t.contains("\"port=8081\"")),
        "{txt:?}"
    );
    assert_eq!(txt.len(), 3);
    let a_text = dig_text(&dns, &["+noall", "+answer", "orders.nacos.local", "A"]);
    let ttls: Vec<&str> = a_text
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    assert_eq!(ttls, ["3", "3"], "TTL from --dns-ttl-s:\n{a_text}");

    assert_eq!(
        dig_short(&dns, &["pay.shop.dev.nacos.local", "A"]),
        ["10.2.0.1"]
    );
    assert_eq!(
        dig_short(&dns, &["order\\.v1.nacos.local", "A"]),
        ["10.3.0.1"]
    );
    let nx = dig_text(&dns, &["missing.nacos.local", "A"]);
    assert!(nx.contains("status: NXDOMAIN"), "{nx}");
    let nx_ns = dig_text(&dns, &["pay.shop.nacos.local", "A"]);
    assert!(
        nx_ns.contains("status: NXDOMAIN"),
        "pay is in dev, not public:\n{nx_ns}"
    );
    let empty = dig_text(&dns, &["idle.nacos.local", "A"]);
    assert!(
        empty.contains("status: NOERROR") && empty.contains("ANSWER: 0"),
        "{empty}"
    );
    let mx = dig_text(&dns, &["orders.nacos.local", "MX"]);
    assert!(
        mx.contains("status: NOERROR") && mx.contains("ANSWER: 0"),
        "{mx}"
    );
    let outside = dig_text(&dns, &["example.com", "A"]);
    assert!(outside.contains("status: REFUSED"), "{outside}");
    let aa = dig_text(&dns, &["orders.nacos.local", "A"]);
    assert!(aa.contains("flags: qr aa"), "authoritative:\n{aa}");

    // The record set follows changes: a weight update and a deregistration.
    let update = "serviceName=orders&ip=10.1.0.1&port=8080&clusterName=east&weight=4";
    let (status, _) = s.http("PUT", &format!("/nacos/v1/ns/instance?{update}"), None);
    assert_eq!(status, 200);
    let srv = dig_short(&dns, &["_orders._tcp.nacos.local", "SRV"]);
    assert!(
        srv.contains(&"1 400 8080 10-1-0-1.ip.nacos.local.".to_string()),
        "{srv:?}"
    );
    let gone = "serviceName=orders&ip=10.1.0.2&port=8081&clusterName=west";
    let (status, _) = s.http("DELETE", &format!("/nacos/v1/ns/instance?{gone}"), None);
    assert_eq!(status, 200);
    assert_eq!(dig_short(&dns, &["orders.nacos.local", "A"]), ["10.1.0.1"]);
}

/// An answer that does not fit a UDP datagram comes back empty with TC set; dig then asks
/// again over TCP (or is told to) and gets every record; EDNS0 raises the UDP limit.
#[test]
fn dig_truncates_over_udp_then_retries_over_tcp() {
    let dns = start(&["--dns-answer-records-max", "200"]);
    for i in 0..120u32 {
        let query = format!(
            "serviceName=big&ip=fd00::{:x}&port={}&weight=1",
            i + 1,
            9000 + i
        );
        register(&dns.server, &query);
    }
    let plain = dig_text(&dns, &["+noedns", "+ignore", "big.nacos.local", "AAAA"]);
    assert!(plain.contains(" tc"), "TC over plain UDP:\n{plain}");
    assert!(plain.contains("ANSWER: 0"), "{plain}");
    let edns = dig_text(
        &dns,
        &["+ignore", "+bufsize=4096", "big.nacos.local", "AAAA"],
    );
    assert!(
        edns.contains(" tc") && edns.contains("udp: 1232"),
        "1232 caps EDNS:\n{edns}"
    );
    let retried = dig_short(&dns, &["+noedns", "big.nacos.local", "AAAA"]);
    assert_eq!(retried.len(), 120, "dig retried over TCP");
    let tcp = dig_short(&dns, &["+tcp", "big.nacos.local", "AAAA"]);
    assert_eq!(tcp.len(), 120);
    let small = dig_text(&dns, &["+noedns", "+ignore", "missing.nacos.local", "A"]);
    assert!(!small.contains(" tc"), "{small}");
}

/// dnspython against instances registered by nacos-sdk-python 2.0.11: records, NXDOMAIN,
/// healthy-only (an instance whose beats stop disappears from the answers), TC then TCP,
/// and the first A record following the weights 1:3 (weight 0 never) over many queries.
#[test]
fn dnspython_resolves_instances_of_the_python_sdk() {
    let dns = start(&["--dns-answer-records-max", "3", "--cores", "2"]);
    let server = format!("127.0.0.1:{}", dns.server.http_port);
    let port = dns.dns_port.to_string();
    let out = common::run_python("py_dns.py", &["--server", &server, "--dns-port", &port]);
    common::assert_client_ok("py_dns.py", &out, "PY_DNS_OK", &dns.server);
}

/// Random bytes, cut queries, flipped bits, response packets and bad TCP framing: the
/// server answers a good query afterwards on both transports, and burns no CPU when idle
/// (nothing spins).
#[test]
fn random_and_cut_packets_leave_the_server_answering() {
    let dns = start(&["--cores", "2"]);
    register(&dns.server, "serviceName=fuzz&ip=10.9.0.1&port=80");
    let good = query_bytes("fuzz.nacos.local.", 1);
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    socket
        .set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    let target = ("127.0.0.1", dns.dns_port);
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    for round in 0..6000u32 {
        let packet: Vec<u8> = match round % 4 {
            0 => (0..(next() % 600) as usize).map(|_| next() as u8).collect(),
            1 => good[..(next() as usize % good.len())].to_vec(),
            2 => {
                let mut p = good.clone();
                for _ in 0..1 + next() % 4 {
                    let at = next() as usize % p.len();
                    p[at] ^= 1 << (next() % 8);
                }
                p
            }
            _ => {
                let mut p = good.clone();
                p.extend((0..(next() % 64) as usize).map(|_| next() as u8));
                p
            }
        };
        let _ = socket.send_to(&packet, target);
    }
    for _ in 0..50 {
        let mut tcp = TcpStream::connect(target).expect("connect");
        let len = (next() % 70_000) as usize;
        let garbage: Vec<u8> = (0..len.min(5000)).map(|_| next() as u8).collect();
        let _ = std::io::Write::write_all(&mut tcp, &garbage);
    }
    // Drain what came back, then ask a good question on each transport.
    let mut sink = [0u8; 2048];
    while socket.recv_from(&mut sink).is_ok() {}
    let answer = wait_for(
        "a UDP answer after the flood",
        Duration::from_secs(10),
        || dig_short(&dns, &["fuzz.nacos.local", "A"]),
        |a| a == &["10.9.0.1"],
    );
    assert_eq!(answer, ["10.9.0.1"]);
    assert_eq!(
        dig_short(&dns, &["+tcp", "fuzz.nacos.local", "A"]),
        ["10.9.0.1"]
    );
    let busy = cpu_ms(dns.server.pid());
    std::thread::sleep(Duration::from_secs(2));
    let idle_ms = cpu_ms(dns.server.pid()) - busy;
    assert!(
        idle_ms < 600,
        "the idle server used {idle_ms} ms of CPU in 2 s"
    );
}

/// A query for `name` (type `qtype`) with id 0x1234, written by hand only as fuzz seed.
fn query_bytes(name: &str, qtype: u16) -> Vec<u8> {
    let mut p = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.trim_end_matches('.').split('.') {
        p.push(label.len() as u8);
        p.extend_from_slice(label.as_bytes());
    }
    p.push(0);
    p.extend_from_slice(&qtype.to_be_bytes());
    p.extend_from_slice(&1u16.to_be_bytes());
    p
}

/// User + system CPU time of a process, in ms.
fn cpu_ms(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let after = &stat[stat.rfind(')').expect("comm") + 2..];
    let fields: Vec<&str> = after.split(' ').collect();
    let ticks: u64 =
        fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    let hz = 100;
    ticks * 1000 / hz
}

/// With four cores most services are owned by a core other than the one the query lands on
/// (SO_REUSEPORT spreads dig's sockets): each is answered over UDP and TCP all the same.
#[test]
fn services_owned_by_other_cores_answer_over_the_mesh() {
    let dns = start(&["--cores", "4", "--dns-answer-records-max", "4"]);
    for i in 0..16u32 {
        let query = format!("serviceName=spread{i}&ip=10.8.0.{}&port=80", i + 1);
        register(&dns.server, &query);
    }
    for i in 0..16u32 {
        let name = format!("spread{i}.nacos.local");
        let want = [format!("10.8.0.{}", i + 1)];
        assert_eq!(dig_short(&dns, &[&name, "A"]), want, "UDP {name}");
        assert_eq!(dig_short(&dns, &["+tcp", &name, "A"]), want, "TCP {name}");
    }
}
