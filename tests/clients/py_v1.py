#!/usr/bin/env python3
"""Drive a nacore server with the real nacos-sdk-python (2.0.11) HTTP v1 naming client.

Usage: py_v1.py --server 127.0.0.1:PORT --service NAME

Exits 0 and prints PY_V1_OK on success; prints what went wrong and exits 1 otherwise.

Notes on the client (nacos/client.py of nacos-sdk-python 2.0.11):
  * every parameter goes in the URL query string (even for POST/PUT/DELETE), no body;
  * booleans are sent Python-style ("True"/"False");
  * add_naming_instance sends clusterName=None literally when no cluster is given, so
    this script always passes an explicit cluster name;
  * namespaceId is only sent when the client was created with a namespace;
  * send_heartbeat sends serviceName=GROUP@@name, groupName=GROUP and beat=<JSON>.
"""

import argparse
import json
import sys
import threading
import time
import traceback

import nacos

IP = "10.20.30.40"
NAMESPACE = "nacore-py-ns"
GROUP = "PY_GROUP"


class Failure(Exception):
    pass


def fail(msg):
    raise Failure(msg)


def check(cond, msg):
    if not cond:
        fail(msg)


def hosts_of(info, what):
    check(isinstance(info, dict), "%s: list reply is not a JSON object: %r" % (what, info))
    hosts = info.get("hosts")
    check(isinstance(hosts, list), "%s: list reply has no 'hosts' array: %r" % (what, info))
    return hosts


def by_port(hosts):
    return {int(h.get("port")): h for h in hosts}


def check_host(h, what, ip, port, weight, cluster, metadata, healthy=True):
    ctx = "%s: instance %s:%s" % (what, ip, port)
    check(h.get("ip") == ip, "%s: ip %r != %r (host=%r)" % (ctx, h.get("ip"), ip, h))
    check(int(h.get("port")) == port, "%s: port %r != %r" % (ctx, h.get("port"), port))
    check(abs(float(h.get("weight")) - weight) < 1e-9,
          "%s: weight %r != %r (host=%r)" % (ctx, h.get("weight"), weight, h))
    check(h.get("clusterName") == cluster,
          "%s: clusterName %r != %r (host=%r)" % (ctx, h.get("clusterName"), cluster, h))
    check(h.get("healthy") is healthy,
          "%s: healthy %r != %r (host=%r)" % (ctx, h.get("healthy"), healthy, h))
    check(h.get("enabled") is True, "%s: enabled %r != True (host=%r)" % (ctx, h.get("enabled"), h))
    check(h.get("ephemeral") is True,
          "%s: ephemeral %r != True (host=%r)" % (ctx, h.get("ephemeral"), h))
    md = h.get("metadata")
    check(isinstance(md, dict), "%s: metadata is not an object: %r" % (ctx, md))
    for k, v in metadata.items():
        check(md.get(k) == v, "%s: metadata[%r] = %r, expected %r (metadata=%r)" % (ctx, k, md.get(k), v, md))


def check_beat_reply(reply, what):
    check(isinstance(reply, dict), "%s: beat reply is not a JSON object: %r" % (what, reply))
    interval = reply.get("clientBeatInterval")
    check(isinstance(interval, int) and not isinstance(interval, bool) and interval > 0,
          "%s: beat reply lacks a positive integer clientBeatInterval: %r" % (what, reply))
    check(reply.get("code") == 10200, "%s: beat reply code != 10200: %r" % (what, reply))
    return interval


def run(server, service):
    # Client bound to a custom namespace; most of the test uses a non-default group too.
    ns_client = nacos.NacosClient(server, namespace=NAMESPACE)
    # Client for the default (public) namespace / DEFAULT_GROUP part.
    default_client = nacos.NacosClient(server)

    port_a, port_b = 18081, 18082
    md_a = {"env": "test", "version": "1.2.3", "zone": "z1"}

    # ---------------------------------------------------------------- register
    ok = ns_client.add_naming_instance(service, IP, port_a, cluster_name="c1", weight=1.0,
                                       metadata=md_a, group_name=GROUP)
    check(ok is True, "add_naming_instance A did not get 'ok' from the server")
    ok = ns_client.add_naming_instance(service, IP, port_b, cluster_name="DEFAULT", weight=2.0,
                                       group_name=GROUP)
    check(ok is True, "add_naming_instance B did not get 'ok' from the server")

    # ---------------------------------------------------------------- list
    info = ns_client.list_naming_instance(service, group_name=GROUP)
    hosts = hosts_of(info, "list after register")
    check(len(hosts) == 2, "list after register: expected 2 hosts, got %d: %r" % (len(hosts), hosts))
    check(info.get("name") == "%s@@%s" % (GROUP, service),
          "list after register: name %r != %r" % (info.get("name"), "%s@@%s" % (GROUP, service)))
    hp = by_port(hosts)
    check(set(hp) == {port_a, port_b}, "list after register: ports %r" % sorted(hp))
    check_host(hp[port_a], "list after register", IP, port_a, 1.0, "c1", md_a)
    check_host(hp[port_b], "list after register", IP, port_b, 2.0, "DEFAULT", {})

    # isolation: not visible from the default namespace / default group
    other = hosts_of(default_client.list_naming_instance(service, group_name=GROUP),
                     "list from default namespace")
    check(not other, "instances registered in namespace %r leaked into the default namespace: %r"
          % (NAMESPACE, other))
    other = hosts_of(ns_client.list_naming_instance(service), "list DEFAULT_GROUP in namespace")
    check(not other, "instances registered in group %r leaked into DEFAULT_GROUP: %r" % (GROUP, other))

    # ---------------------------------------------------------------- heartbeats
    check_beat_reply(ns_client.send_heartbeat(service, IP, port_a, cluster_name="c1", weight=1.0,
                                              metadata=md_a, group_name=GROUP), "beat A")
    check_beat_reply(ns_client.send_heartbeat(service, IP, port_b, cluster_name="DEFAULT", weight=2.0,
                                              group_name=GROUP), "beat B")

    # ---------------------------------------------------------------- healthy only
    hosts = hosts_of(ns_client.list_naming_instance(service, group_name=GROUP, healthy_only=True),
                     "list healthy_only")
    check(set(by_port(hosts)) == {port_a, port_b},
          "list healthy_only: expected ports %r, got %r" % ([port_a, port_b], hosts))
    for h in hosts:
        check(h.get("healthy") is True, "list healthy_only returned an unhealthy host: %r" % h)

    # ---------------------------------------------------------------- cluster filter
    hosts = hosts_of(ns_client.list_naming_instance(service, clusters="c1", group_name=GROUP),
                     "list clusters=c1")
    check([int(h["port"]) for h in hosts] == [port_a],
          "list clusters=c1: expected only port %d, got %r" % (port_a, hosts))
    check_host(hosts[0], "list clusters=c1", IP, port_a, 1.0, "c1", md_a)
    hosts = hosts_of(ns_client.list_naming_instance(service, clusters="DEFAULT", group_name=GROUP),
                     "list clusters=DEFAULT")
    check([int(h["port"]) for h in hosts] == [port_b],
          "list clusters=DEFAULT: expected only port %d, got %r" % (port_b, hosts))
    hosts = hosts_of(ns_client.list_naming_instance(service, clusters="c1,DEFAULT", group_name=GROUP),
                     "list clusters=c1,DEFAULT")
    check(set(by_port(hosts)) == {port_a, port_b},
          "list clusters=c1,DEFAULT: expected both ports, got %r" % hosts)

    # ---------------------------------------------------------------- remove
    ok = ns_client.remove_naming_instance(service, IP, port_a, cluster_name="c1", group_name=GROUP)
    check(ok is True, "remove_naming_instance A did not get 'ok' from the server")
    hosts = hosts_of(ns_client.list_naming_instance(service, group_name=GROUP), "list after removing A")
    check(len(hosts) == 1, "list after removing A: expected 1 host, got %r" % hosts)
    check_host(hosts[0], "list after removing A", IP, port_b, 2.0, "DEFAULT", {})

    ok = ns_client.remove_naming_instance(service, IP, port_b, cluster_name="DEFAULT", group_name=GROUP)
    check(ok is True, "remove_naming_instance B did not get 'ok' from the server")
    hosts = hosts_of(ns_client.list_naming_instance(service, group_name=GROUP), "list after removing B")
    check(not hosts, "list after removing both: expected no hosts, got %r" % hosts)

    # ---------------------------------------------------------------- default namespace/group + auto beat
    # The client's own heartbeat thread (heartbeat_interval, seconds) must keep an instance
    # with short preserved timeouts alive.
    port_c = 18083
    md_c = {
        "preserved.heart.beat.timeout": "3000",
        "preserved.ip.delete.timeout": "6000",
        "preserved.heart.beat.interval": "1000",
    }
    ok = default_client.add_naming_instance(service, IP, port_c, cluster_name="DEFAULT", weight=1.0,
                                            metadata=md_c, heartbeat_interval=1)
    check(ok is True, "add_naming_instance C (default namespace/group) did not get 'ok'")
    hosts = hosts_of(ns_client.list_naming_instance(service), "list DEFAULT_GROUP in namespace (C)")
    check(not hosts, "instance registered in the default namespace leaked into %r: %r" % (NAMESPACE, hosts))
    time.sleep(4.5)  # > heart.beat.timeout: only the client's beats keep C healthy
    hosts = hosts_of(default_client.list_naming_instance(service, healthy_only=True),
                     "list default namespace after auto beats")
    check(len(hosts) == 1, "auto-beat instance C missing from healthy list after 4.5 s: %r" % hosts)
    check_host(hosts[0], "auto-beat instance C", IP, port_c, 1.0, "DEFAULT", md_c)

    # Stop the client's beat thread first (otherwise a beat racing the DELETE could
    # legitimately re-register the instance), then remove.
    task = default_client.heartbeats.get("%s#%s#%s" % (service, IP, port_c))
    if task is not None:
        task.stop()
        time.sleep(0.5)
    ok = default_client.remove_naming_instance(service, IP, port_c, cluster_name="DEFAULT")
    check(ok is True, "remove_naming_instance C did not get 'ok' from the server")
    hosts = hosts_of(default_client.list_naming_instance(service), "list default namespace after removing C")
    check(not hosts, "list after removing C: expected no hosts, got %r" % hosts)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True, help="host:port of the nacore HTTP API")
    parser.add_argument("--service", required=True, help="service name to use")
    parser.add_argument("--timeout", type=float, default=60.0, help="overall timeout in seconds")
    args = parser.parse_args()

    # Hard overall timeout so the script never hangs.
    def on_timeout():
        print("PY_V1 FAIL: overall timeout of %.0f s exceeded" % args.timeout, flush=True)
        sys.stderr.flush()
        import os
        os._exit(1)

    timer = threading.Timer(args.timeout, on_timeout)
    timer.daemon = True
    timer.start()

    try:
        run(args.server, args.service)
    except Failure as e:
        print("PY_V1 FAIL: %s" % e, flush=True)
        sys.exit(1)
    except Exception as e:  # client exceptions (NacosException, HTTP errors, ...)
        traceback.print_exc()
        print("PY_V1 FAIL: unexpected %s: %s" % (type(e).__name__, e), flush=True)
        sys.exit(1)
    timer.cancel()
    print("PY_V1_OK", flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
