#!/usr/bin/env python3
"""Drive a nacore server with the real nacos-sdk-python 3.x gRPC naming client (`v2.nacos`).

Usage: py_v2_grpc.py --server 127.0.0.1:HTTP_PORT --grpc-port GRPC_PORT [--service NAME]

Exits 0 and prints PY_V2_GRPC_OK on success; prints what went wrong (plus the SDK's own
log) and exits 1 otherwise. The whole run is bounded by a hard 60 s timeout.

Two naming services = two gRPC connections: A registers, B subscribes and observes.

Notes on the client (v2/nacos of nacos-sdk-python 3.2.0):
  * the gRPC port is HTTP port + GRPCConfig.port_offset (default 1000), so the offset is
    set to GRPC_PORT - HTTP_PORT (may be negative);
  * Nacos 2.x keeps ONE InstanceRequest registration per (connection, service): a second
    register_instance of the same service from the same connection replaces the first.
    Two instances from one connection therefore go through batch_register_instances
    (BatchInstanceRequest batchRegisterInstance), and removing one of them through
    batch_deregister_instances, which the SDK implements as a batchRegisterInstance of the
    instances that remain (deregister_instance would drop the connection's whole batch);
  * list_instances answers from the local cache once the service is subscribed (the cache
    is fed by the SubscribeServiceResponse and by NotifySubscriberRequest pushes), so the
    server's current state is read with the proxy's ServiceQueryRequest
    (grpc_client_proxy.query_instance_of_service), which the public API does not expose;
  * the cache ignores pushes whose hosts list is empty unless update_cache_when_empty is
    set ("push empty protection"); B sets it so the empty push after A's shutdown reaches
    its subscribe callback;
  * the cache ignores pushes whose lastRefTime is not newer than the cached one.
"""

import argparse
import asyncio
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
import traceback

from v2.nacos import ClientConfigBuilder, GRPCConfig, NacosNamingService
from v2.nacos.naming.model.naming_param import (
    BatchRegisterInstanceParam,
    ListInstanceParam,
    RegisterInstanceParam,
    SubscribeServiceParam,
)

OVERALL_TIMEOUT = 60.0
POLL_TIMEOUT = 5.0
SHUTDOWN_POLL_TIMEOUT = 8.0
IP = "10.40.50.60"
PORT1 = 18081
PORT2 = 18082
GROUP = "PY_GRPC_GROUP"
META2 = {"version": "v2", "zone": "z-1"}


class Failure(Exception):
    pass


def fail(msg):
    raise Failure(msg)


def check(cond, msg):
    if not cond:
        fail(msg)


def step(msg):
    print("step: " + msg, flush=True)


def summary(instances):
    """[(ip, port, metadata, healthy, enabled, weight)] sorted by port."""
    return sorted(
        (
            (i.ip, int(i.port), dict(i.metadata or {}), bool(i.healthy), bool(i.enabled), float(i.weight))
            for i in (instances or [])
        ),
        key=lambda t: t[1],
    )


def ports(instances):
    return sorted(int(i.port) for i in (instances or []))


def check_instances(instances, expected, what):
    """expected: {port: metadata}"""
    got = {int(i.port): i for i in (instances or [])}
    check(sorted(got) == sorted(expected),
          "%s: ports %s, expected %s (instances=%s)" % (what, sorted(got), sorted(expected), summary(instances)))
    for port, meta in expected.items():
        i = got[port]
        ctx = "%s: instance %s:%s" % (what, IP, port)
        check(i.ip == IP, "%s: ip %r != %r" % (ctx, i.ip, IP))
        check(bool(i.healthy), "%s: not healthy (%s)" % (ctx, i))
        check(bool(i.enabled), "%s: not enabled (%s)" % (ctx, i))
        check(abs(float(i.weight) - 1.0) < 1e-9, "%s: weight %r != 1.0" % (ctx, i.weight))
        check(bool(i.ephemeral), "%s: not ephemeral (%s)" % (ctx, i))
        md = dict(i.metadata or {})
        check(md == meta, "%s: metadata %r != %r" % (ctx, md, meta))


async def poll(what, fetch, cond, timeout=POLL_TIMEOUT):
    """Await fetch() until cond(result) holds; returns (result, seconds waited)."""
    start = time.monotonic()
    last = None
    while True:
        last = await fetch()
        if cond(last):
            return last, time.monotonic() - start
        if time.monotonic() - start >= timeout:
            fail("%s: condition not met after %.1fs; last value: %r" % (what, timeout, last))
        await asyncio.sleep(0.1)


def make_config(http_port, grpc_port, http_addr, work_dir, name, update_cache_when_empty):
    cfg = (
        ClientConfigBuilder()
        .server_address(http_addr)
        .grpc_config(GRPCConfig(port_offset=grpc_port - http_port, grpc_timeout=5000))
        .log_dir(os.path.join(work_dir, "logs"))
        .cache_dir(os.path.join(work_dir, "cache-" + name))
        .log_level(logging.DEBUG)
        .load_cache_at_start(False)
        .timeout_ms(5000)
        .build()
    )
    cfg.set_update_cache_when_empty(update_cache_when_empty)
    return cfg


async def run(args, work_dir):
    http_addr = args.server
    http_port = int(http_addr.rsplit(":", 1)[1])
    grpc_port = args.grpc_port
    service = args.service

    step("create client A and client B (two gRPC connections to port %d)" % grpc_port)
    a = await NacosNamingService.create_naming_service(
        make_config(http_port, grpc_port, http_addr, work_dir, "a", False))
    b = await NacosNamingService.create_naming_service(
        make_config(http_port, grpc_port, http_addr, work_dir, "b", True))
    clients = [a, b]
    try:
        check(await a.server_health(), "client A is not connected (server_health false)")
        check(await b.server_health(), "client B is not connected (server_health false)")
        conn_a = a.grpc_client_proxy.rpc_client.current_connection.get_connection_id()
        conn_b = b.grpc_client_proxy.rpc_client.current_connection.get_connection_id()
        check(conn_a and conn_b and conn_a != conn_b,
              "expected two distinct connection ids, got %r and %r" % (conn_a, conn_b))
        step("connections: A=%s B=%s" % (conn_a, conn_b))

        # ---- b. B subscribes
        events = []

        async def on_change(instances):
            events.append(summary(instances))

        await b.subscribe(SubscribeServiceParam(service_name=service, group_name=GROUP,
                                                subscribe_callback=on_change))
        step("B subscribed to %s@@%s; callback events so far: %r" % (GROUP, service, events))

        async def server_view():
            """The server's current answer (ServiceQueryRequest over B's connection)."""
            info = await b.grpc_client_proxy.query_instance_of_service(service, GROUP, "", False)
            check(info is not None, "QueryServiceResponse without serviceInfo")
            check(info.name == service, "QueryServiceResponse serviceInfo.name %r != %r" % (info.name, service))
            check(info.groupName == GROUP,
                  "QueryServiceResponse serviceInfo.groupName %r != %r" % (info.groupName, GROUP))
            return info.hosts

        async def b_list():
            return await b.list_instances(ListInstanceParam(service_name=service, group_name=GROUP,
                                                            healthy_only=None))

        initial = await server_view()
        check(initial == [], "fresh service should have no instances, server says %s" % summary(initial))

        # ---- c. A registers two ephemeral instances
        step("A register_instance %s:%d (InstanceRequest)" % (IP, PORT1))
        ok = await a.register_instance(RegisterInstanceParam(
            service_name=service, group_name=GROUP, ip=IP, port=PORT1, ephemeral=True))
        check(ok, "register_instance(%d) returned %r" % (PORT1, ok))
        hosts, waited = await poll("server view after register_instance", server_view,
                                   lambda h: ports(h) == [PORT1])
        check_instances(hosts, {PORT1: {}}, "server view after register_instance")
        hosts, _ = await poll("B list_instances after register_instance", b_list,
                              lambda h: ports(h) == [PORT1])
        check_instances(hosts, {PORT1: {}}, "B list_instances after register_instance")

        step("A batch_register_instances %s:%d + %s:%d (with metadata) (BatchInstanceRequest)"
             % (IP, PORT1, IP, PORT2))
        ok = await a.batch_register_instances(BatchRegisterInstanceParam(
            service_name=service, group_name=GROUP, instances=[
                RegisterInstanceParam(service_name=service, group_name=GROUP, ip=IP, port=PORT1),
                RegisterInstanceParam(service_name=service, group_name=GROUP, ip=IP, port=PORT2,
                                      metadata=META2),
            ]))
        check(ok, "batch_register_instances returned %r" % ok)
        hosts, waited = await poll("server view after batch register", server_view,
                                   lambda h: ports(h) == [PORT1, PORT2])
        check_instances(hosts, {PORT1: {}, PORT2: META2}, "server view after batch register")
        step("server view has both instances (after %.2fs)" % waited)
        hosts, waited = await poll("B list_instances after batch register", b_list,
                                   lambda h: ports(h) == [PORT1, PORT2])
        check_instances(hosts, {PORT1: {}, PORT2: META2}, "B list_instances after batch register")
        step("B list_instances has both instances (after %.2fs)" % waited)

        # ---- d. B's callback saw them (pushes)
        want_both = [PORT1, PORT2]
        _, waited = await poll("B subscribe callback with both instances",
                               _const(events), lambda ev: any([e[1] for e in x] == want_both for x in ev))
        both = next(x for x in events if [e[1] for e in x] == want_both)
        check(both[1][2] == META2, "callback: metadata of port %d is %r, expected %r" % (PORT2, both[1][2], META2))
        check(all(e[0] == IP and e[3] for e in both), "callback: wrong ip or unhealthy: %r" % both)
        check(any([e[1] for e in x] == [PORT1] for x in events),
              "callback never saw the single-instance list [%d]: %r" % (PORT1, events))
        step("B callback events: %r" % [[e[1] for e in x] for x in events])

        # ---- e. A deregisters one instance
        n_before = len(events)
        step("A batch_deregister_instances %s:%d" % (IP, PORT2))
        ok = await a.batch_deregister_instances(BatchRegisterInstanceParam(
            service_name=service, group_name=GROUP, instances=[
                RegisterInstanceParam(service_name=service, group_name=GROUP, ip=IP, port=PORT2),
            ]))
        check(ok, "batch_deregister_instances returned %r" % ok)
        hosts, _ = await poll("server view after deregister", server_view, lambda h: ports(h) == [PORT1])
        check_instances(hosts, {PORT1: {}}, "server view after deregister")
        hosts, waited = await poll("B list_instances after deregister", b_list, lambda h: ports(h) == [PORT1])
        check_instances(hosts, {PORT1: {}}, "B list_instances after deregister")
        _, waited = await poll("B callback after deregister", _const(events),
                               lambda ev: len(ev) > n_before and [e[1] for e in ev[-1]] == [PORT1])
        step("deregister seen by B (callback events: %r)" % [[e[1] for e in x] for x in events])

        # ---- f. A shuts down: its remaining ephemeral instance must go with the connection
        step("A.shutdown()")
        n_before = len(events)
        await shutdown(a)
        clients.remove(a)
        hosts, waited = await poll("server view after A.shutdown()", server_view, lambda h: h == [],
                                   timeout=SHUTDOWN_POLL_TIMEOUT)
        step("server dropped A's instance %.2fs after shutdown" % waited)
        _, waited = await poll("B callback after A.shutdown()", _const(events),
                               lambda ev: len(ev) > n_before and ev[-1] == [],
                               timeout=SHUTDOWN_POLL_TIMEOUT)
        hosts, _ = await poll("B list_instances after A.shutdown()", b_list, lambda h: h == [],
                              timeout=SHUTDOWN_POLL_TIMEOUT)
        step("B saw the empty list (callback events: %r)" % [[e[1] for e in x] for x in events])

        check(await b.server_health(), "client B lost its connection during the test")
    finally:
        for c in clients:
            try:
                await asyncio.wait_for(shutdown(c), 5)
            except Exception as e:  # noqa: BLE001
                print("warning: shutdown failed: %r" % e, file=sys.stderr)


async def shutdown(client):
    """Shuts a naming service down. In nacos-sdk-python 2.0.11 (module v2) shutdown() closes
    the gRPC client and then fails awaiting a non-coroutine `stop()` (an SDK bug); the
    connection is closed by then, which is what the test is about."""
    try:
        await client.shutdown()
    except TypeError as e:
        if "NoneType" not in str(e):
            raise
        print("note: SDK shutdown() raised after closing its connection: %r" % e, file=sys.stderr)


def _const(value):
    async def fetch():
        return value
    return fetch


def dump_sdk_log(work_dir):
    log_dir = os.path.join(work_dir, "logs")
    if not os.path.isdir(log_dir):
        return
    for name in sorted(os.listdir(log_dir)):
        path = os.path.join(log_dir, name)
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read()
        except OSError:
            continue
        if len(text) > 40000:
            text = "...\n" + text[-40000:]
        print("--- SDK log %s ---\n%s" % (name, text), file=sys.stderr)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True, help="127.0.0.1:HTTP_PORT")
    parser.add_argument("--grpc-port", required=True, type=int)
    parser.add_argument("--service", default="nacore-it-py-v2-grpc")
    args = parser.parse_args()

    def watchdog():
        print("FAILED: hard timeout of %.0fs exceeded (watchdog)" % (OVERALL_TIMEOUT + 10), flush=True)
        os._exit(1)

    timer = threading.Timer(OVERALL_TIMEOUT + 10, watchdog)
    timer.daemon = True
    timer.start()

    work_dir = tempfile.mkdtemp(prefix="nacore-py-v2-grpc-")
    ok = False
    try:
        asyncio.run(asyncio.wait_for(run(args, work_dir), OVERALL_TIMEOUT))
        ok = True
    except Failure as e:
        print("FAILED: %s" % e, flush=True)
    except asyncio.TimeoutError:
        print("FAILED: overall timeout of %.0fs exceeded" % OVERALL_TIMEOUT, flush=True)
        traceback.print_exc()
    except BaseException as e:  # noqa: BLE001
        print("FAILED: unexpected %s: %s" % (type(e).__name__, e), flush=True)
        traceback.print_exc()
    if not ok:
        dump_sdk_log(work_dir)
    shutil.rmtree(work_dir, ignore_errors=True)
    if ok:
        print("PY_V2_GRPC_OK", flush=True)
        # The SDK may leave grpc background threads behind; do not wait for them.
        sys.stdout.flush()
        os._exit(0)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(1)


if __name__ == "__main__":
    main()
