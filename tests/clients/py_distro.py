#!/usr/bin/env python3
"""nacos-sdk-python 2.0.11 (HTTP v1 client) against a nacore cluster (tests/distro_clients.rs).

Usage: py_distro.py --servers A,B,C --members A,B,C --service NAME --ip IP --port PORT
                    [--hold SECONDS] [--beat-interval SECONDS]

One client is created with every member address (`--servers`, in the order the test picked:
the SDK sends every request to the first address and moves on only when it fails). It
registers one ephemeral instance with the SDK's own heartbeat thread
(`add_naming_instance(..., heartbeat_interval=...)`) and default beat timeouts (15 s
unhealthy, 30 s removed). For `--hold` seconds one single-address client per member
(`--members`) lists the service about once a second: once the instance has appeared on every
member it must show on every member, exactly once and healthy, at every sample, i.e. the
SDK's beats keep it alive past both timeouts wherever they land. Then the beat thread is
stopped, the instance removed, and every member must list nothing within 5 s.

Exits 0 printing PY_DISTRO_OK on success; prints PY_DISTRO FAIL: <why> and exits 1 otherwise.
"""

import argparse
import sys
import threading
import time
import traceback

import nacos

CLUSTER = "DEFAULT"  # the SDK would send clusterName=None literally without one


class Failure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def matching(client, service, ip, port):
    info = client.list_naming_instance(service)
    check(isinstance(info, dict) and isinstance(info.get("hosts"), list),
          "list reply without a hosts array: %r" % (info,))
    return [h for h in info["hosts"] if h.get("ip") == ip and int(h.get("port")) == port]


def run(args):
    writer = nacos.NacosClient(args.servers)
    members = args.members.split(",")
    readers = {m: nacos.NacosClient(m) for m in members}

    ok = writer.add_naming_instance(args.service, args.ip, args.port, cluster_name=CLUSTER,
                                    heartbeat_interval=args.beat_interval)
    check(ok is True, "add_naming_instance through %s did not get 'ok'" % args.servers)
    registered = time.time()

    # Replication: every member lists it within 5 s.
    pending = set(members)
    while pending:
        for m in sorted(pending):
            if matching(readers[m], args.service, args.ip, args.port):
                pending.discard(m)
        check(not pending or time.time() - registered < 5,
              "not listed on %s 5 s after the registration" % sorted(pending))
        if pending:
            time.sleep(0.05)
    print("listed on every member %.2f s after the registration" % (time.time() - registered),
          file=sys.stderr)

    # Past the 15 s / 30 s beat timeouts: present, once, healthy, on every member.
    samples = 0
    while time.time() - registered < args.hold:
        for m in members:
            found = matching(readers[m], args.service, args.ip, args.port)
            at = time.time() - registered
            check(len(found) == 1,
                  "%.1f s after the registration %s lists %d instances for %s:%d: %r"
                  % (at, m, len(found), args.ip, args.port, found))
            check(found[0].get("healthy") is True,
                  "%.1f s after the registration %s shows the instance unhealthy "
                  "(the beats did not reach the member answering for it?): %r" % (at, m, found[0]))
            samples += 1
        time.sleep(1)
    print("%d samples over %.1f s, all healthy" % (samples, time.time() - registered),
          file=sys.stderr)

    task = writer.heartbeats.get("%s#%s#%s" % (args.service, args.ip, args.port))
    check(task is not None, "the SDK started no heartbeat task")
    task.stop()
    # The thread looks at the flag before each beat; one already on the wire (milliseconds on
    # loopback) must land before the removal, or it would register the instance again.
    time.sleep(1)
    ok = writer.remove_naming_instance(args.service, args.ip, args.port, cluster_name=CLUSTER)
    check(ok is True, "remove_naming_instance did not get 'ok'")
    removed = time.time()
    pending = set(members)
    while pending:
        for m in sorted(pending):
            if not matching(readers[m], args.service, args.ip, args.port):
                pending.discard(m)
        check(not pending or time.time() - removed < 5,
              "still listed on %s 5 s after the removal" % sorted(pending))
        if pending:
            time.sleep(0.05)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--servers", required=True, help="the writer's server list, a,b,c")
    parser.add_argument("--members", required=True, help="every member's HTTP address, a,b,c")
    parser.add_argument("--service", required=True)
    parser.add_argument("--ip", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--hold", type=float, default=32.0)
    parser.add_argument("--beat-interval", type=float, default=5.0)
    parser.add_argument("--timeout", type=float, default=75.0)
    args = parser.parse_args()

    def on_timeout():
        print("PY_DISTRO FAIL: overall timeout of %.0f s exceeded" % args.timeout, flush=True)
        import os
        os._exit(1)

    timer = threading.Timer(args.timeout, on_timeout)
    timer.daemon = True
    timer.start()
    try:
        run(args)
    except Failure as e:
        print("PY_DISTRO FAIL: %s" % e, flush=True)
        sys.exit(1)
    except Exception as e:
        traceback.print_exc()
        print("PY_DISTRO FAIL: unexpected %s: %s" % (type(e).__name__, e), flush=True)
        sys.exit(1)
    timer.cancel()
    print("PY_DISTRO_OK", flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
