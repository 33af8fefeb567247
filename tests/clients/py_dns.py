#!/usr/bin/env python3
"""Register instances with the real nacos-sdk-python (2.0.11) and resolve them through
nacore's DNS server with dnspython.

Usage: py_dns.py --server 127.0.0.1:HTTP_PORT --dns-port PORT

The server runs with --dns-answer-records-max 3. Exits 0 and prints PY_DNS_OK on success;
prints what went wrong and exits 1 otherwise.
"""

import argparse
import sys
import threading
import time
import traceback

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import nacos

SERVICE = "inventory"
GROUP = "DEFAULT_GROUP"
BEATING = [
    ("10.5.0.1", 8001, 1.0, "c1"),
    ("10.5.0.2", 8002, 3.0, "c2"),
    ("10.5.0.3", 8003, 0.0, "c1"),
    ("fd00::5", 8005, 1.0, "c1"),
]
# Never beats and times out after 5 s: it must leave the answers (healthy only).
FADING = ("10.5.0.9", 8009, 1.0, "c1")
FADING_METADATA = {
    "preserved.heart.beat.interval": "1000",
    "preserved.heart.beat.timeout": "5000",
    "preserved.ip.delete.timeout": "600000",
}
ZONE = "nacos.local."


class Failure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def ask(port, name, rdtype, tcp=False):
    query = dns.message.make_query(name, rdtype)
    if tcp:
        return dns.query.tcp(query, "127.0.0.1", port=port, timeout=3)
    return dns.query.udp(query, "127.0.0.1", port=port, timeout=3)


def records(reply, rdtype):
    out = []
    for rrset in reply.answer:
        if rrset.rdtype == rdtype:
            out.extend(rrset)
    return out


def addresses(port, name, rdtype=dns.rdatatype.A):
    return [r.address for r in records(ask(port, name, rdtype), rdtype)]


def wait_for(what, probe, ok, timeout=20.0):
    deadline = time.time() + timeout
    while True:
        value = probe()
        if ok(value):
            return value
        if time.time() > deadline:
            raise Failure("%s: still %r after %ss" % (what, value, timeout))
        time.sleep(0.1)


def beat_forever(client, stop):
    while not stop.wait(2.0):
        for ip, port, weight, cluster in BEATING:
            try:
                client.send_heartbeat(SERVICE, ip, port, cluster_name=cluster, weight=weight,
                                      group_name=GROUP)
            except Exception as error:  # a missed beat shows as a failed check later
                print("beat failed: %r" % (error,))


def run(server, port):
    client = nacos.NacosClient(server)
    for ip, p, weight, cluster in BEATING:
        check(client.add_naming_instance(SERVICE, ip, p, cluster_name=cluster, weight=weight,
                                         group_name=GROUP), "register %s" % ip)
    ip, p, weight, cluster = FADING
    check(client.add_naming_instance(SERVICE, ip, p, cluster_name=cluster, weight=weight,
                                     metadata=FADING_METADATA, group_name=GROUP),
          "register %s" % ip)
    stop = threading.Event()
    threading.Thread(target=beat_forever, args=(client, stop), daemon=True).start()
    name = SERVICE + "." + ZONE
    try:
        # A: the three healthy weighted IPv4 instances (weight 0 is never answered).
        first = sorted(addresses(port, name))
        check(first == ["10.5.0.1", "10.5.0.2", "10.5.0.9"], "A: %r" % first)
        check(addresses(port, name, dns.rdatatype.AAAA) == ["fd00::5"], "AAAA")
        srv = records(ask(port, "_%s._tcp.%s" % (SERVICE, ZONE), dns.rdatatype.SRV),
                      dns.rdatatype.SRV)
        check(len(srv) == 3, "SRV capped at 3: %r" % srv)
        by_port = {r.port: r for r in srv}
        check(all(p in (8001, 8002, 8005, 8009) for p in by_port), "SRV ports %r" % by_port)
        if 8002 in by_port:
            check(by_port[8002].weight == 300, "SRV weight of 3.0: %r" % by_port[8002])
            check(str(by_port[8002].target) == "10-5-0-2.ip." + ZONE, "SRV target")
        txt = records(ask(port, name, dns.rdatatype.TXT), dns.rdatatype.TXT)
        texts = [b" ".join(r.strings).decode() for r in txt]
        check(any("cluster=c2" in t and "port=8002" in t for t in texts) or len(texts) == 3,
              "TXT: %r" % texts)
        check(all("cluster=" in t for t in texts), "TXT clusters: %r" % texts)
        nx = ask(port, "nosuch." + ZONE, dns.rdatatype.A)
        check(nx.rcode() == dns.rcode.NXDOMAIN, "NXDOMAIN: %s" % dns.rcode.to_text(nx.rcode()))
        over_tcp = ask(port, name, dns.rdatatype.A, tcp=True)
        check(len(records(over_tcp, dns.rdatatype.A)) == 3, "A over TCP")

        # Healthy only: the instance that stopped beating leaves the answers.
        wait_for("the unhealthy instance gone", lambda: sorted(addresses(port, name)),
                 lambda a: a == ["10.5.0.1", "10.5.0.2"])

        # Weights: the first A record is 10.5.0.2 (weight 3) about 3 times in 4.
        counts = {}
        queries = 3000
        for _ in range(queries):
            got = addresses(port, name)
            check(got, "an answer")
            counts[got[0]] = counts.get(got[0], 0) + 1
            check("10.5.0.3" not in got, "weight 0 answered")
        share = counts.get("10.5.0.2", 0) / queries
        print("first-record share of the weight-3 instance: %.3f over %d" % (share, queries))
        check(0.70 <= share <= 0.80, "weighted share %.3f not near 0.75: %r" % (share, counts))
    finally:
        stop.set()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--dns-port", type=int, required=True)
    args = parser.parse_args()
    try:
        run(args.server, args.dns_port)
    except Failure as failure:
        print("FAILED: %s" % failure)
        return 1
    except Exception:
        traceback.print_exc()
        return 1
    print("PY_DNS_OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
