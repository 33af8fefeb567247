#!/usr/bin/env python3
"""Drive a nacore server with the real nacos-sdk-python 3.x gRPC config client (`v2.nacos`).

Usage: py3_config.py --server 127.0.0.1:HTTP_PORT --grpc-port GRPC_PORT [--prefix P]
                     [--known-gap NAME ...]

  --known-gap   downgrade the checks tagged NAME to a printed warning (for servers that
                lack a feature the Nacos reference has; nacore runs never pass it). Tags:
                  cas           a publish with a wrong casMd5 must fail and change nothing
                  content-type  ConfigQueryResponse.contentType is the published type

Exits 0 and prints PY3_CONFIG_OK on success; prints what went wrong (plus the SDK's own
log) and exits 1 otherwise. The whole run is bounded by a hard 60 s timeout; every wait is
a poll on an observed condition with a deadline.

Two config services = two gRPC connections: W writes, R reads and listens.

Notes on the client (v2/nacos/config/* of nacos-sdk-python 3.2.0):
  * the gRPC port is HTTP port + GRPCConfig.port_offset (default 1000), so the offset is
    set to GRPC_PORT - HTTP_PORT;
  * every call fails (NacosException) unless the response has resultCode 200; a
    ConfigQueryResponse with errorCode 300 is "not found" and get_config returns "";
    publish_config / remove_config then return response.is_success(), which is
    `errorCode == 0` (not the `success` field);
  * publish_config always sends casMd5 (empty when no CAS) and an additionMap with tag,
    appName, betaIps, type, src_user, encryptedDataKey (empty strings when unset);
  * get_config writes the content into the local cache dir; add_listener takes the
    initial md5 from that cache file (md5("") == "" for a missing config);
  * the listen task wakes on a push (ConfigChangeNotifyRequest, acked with a
    NotifySubscriberResponse) or every 5 s; it sends ConfigBatchListenRequest only for keys
    not "in sync with the server" (new listeners, pushed keys, after a reconnect) plus a
    full sync every 5 min. A change is therefore seen within seconds only through a push;
  * the push handler ignores the pushed tenant and uses the client's own namespace;
  * listeners are awaited as `listener(tenant, group, data_id, content)`.
"""

import argparse
import asyncio
import hashlib
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
import traceback

from v2.nacos import ClientConfigBuilder, GRPCConfig, NacosConfigService, ConfigParam
from v2.nacos.common.nacos_exception import NacosException
from v2.nacos.config.model.config_request import ConfigQueryRequest, ConfigBatchListenRequest
from v2.nacos.config.model.config_response import ConfigQueryResponse

OVERALL_TIMEOUT = 60.0
LISTEN_DEADLINE = 10.0   # new listener -> its first ConfigBatchListenRequest (task wakes every 5 s)
CHANGE_DEADLINE = 5.0    # publish -> listener callback (needs the server's push)
GROUP = "PY3_CFG_GROUP"


class Failure(Exception):
    pass


def fail(msg):
    raise Failure(msg)


def check(cond, msg):
    if not cond:
        fail(msg)


KNOWN_GAPS = set()
GAPS_HIT = []


def check_gap(tag, cond, msg):
    if cond:
        return
    if tag in KNOWN_GAPS:
        GAPS_HIT.append("%s: %s" % (tag, msg))
        print("KNOWN GAP (%s): %s" % (tag, msg), flush=True)
        return
    fail("%s [check tag %s]" % (msg, tag))


def step(msg):
    print("step: " + msg, flush=True)


def md5_hex(s):
    return hashlib.md5(s.encode("utf-8")).hexdigest()


async def poll(what, fetch, cond, timeout):
    start = time.monotonic()
    while True:
        last = await fetch()
        if cond(last):
            return last, time.monotonic() - start
        if time.monotonic() - start >= timeout:
            fail("%s: condition not met after %.1fs; last value: %r" % (what, timeout, last))
        await asyncio.sleep(0.05)


class ListenRecorder:
    """Wraps a service's request_config_server to see its BatchListen requests/replies."""

    def __init__(self, svc):
        proxy = svc.grpc_client_proxy
        original = proxy.request_config_server
        self.listens = []  # (keys listened, changed keys or error)

        async def wrapped(rpc_client, request, response_class):
            if not isinstance(request, ConfigBatchListenRequest):
                return await original(rpc_client, request, response_class)
            keys = [(c.dataId, c.group, c.tenant, c.md5) for c in request.configListenContexts]
            try:
                resp = await original(rpc_client, request, response_class)
            except Exception as e:  # noqa: BLE001
                self.listens.append((keys, "error: %r" % e))
                raise
            changed = [(c.dataId, c.group, c.tenant) for c in (resp.changedConfigs or [])]
            self.listens.append((keys, changed))
            return resp

        proxy.request_config_server = wrapped

    def listened(self, data_id):
        return any(k[0] == data_id for keys, res in self.listens if not isinstance(res, str) for k in keys)

    def reported_changed(self, data_id):
        return [res for _, res in self.listens if not isinstance(res, str) and any(c[0] == data_id for c in res)]


def make_config(http_port, grpc_port, http_addr, work_dir, name):
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
    cfg.app_name = "nacore-py3-" + name  # the builder has no app_name setter
    return cfg


async def query(svc, data_id):
    """A raw ConfigQueryRequest over svc's connection (the public API hides md5/contentType)."""
    proxy = svc.grpc_client_proxy
    req = ConfigQueryRequest(group=GROUP, dataId=data_id, tenant=proxy.namespace_id)
    req.put_header("notify", "false")
    return await proxy.request_config_server(await proxy.fetch_rpc_client(), req, ConfigQueryResponse)


async def run(args, work_dir):
    http_addr = args.server
    http_port = int(http_addr.rsplit(":", 1)[1])
    p = args.prefix

    step("create config services W and R (two gRPC connections to port %d)" % args.grpc_port)
    w = await NacosConfigService.create_config_service(
        make_config(http_port, args.grpc_port, http_addr, work_dir, "w"))
    r = await NacosConfigService.create_config_service(
        make_config(http_port, args.grpc_port, http_addr, work_dir, "r"))
    services = [w, r]
    try:
        check(await w.server_health(), "W is not connected (server_health false)")
        check(await r.server_health(), "R is not connected (server_health false)")
        rec = ListenRecorder(r)

        def cp(data_id, **kw):
            return ConfigParam(data_id=data_id, group=GROUP, **kw)

        # ---------------------------------------------------------------- get / publish / remove
        step("get_config of a missing config is \"\" (errorCode 300)")
        got = await r.get_config(cp(p + "never-published"))
        check(got == "", "get_config(missing) = %r, expected \"\"" % (got,))

        d = p + "basic"
        step("publish_config %s (type json, app_name) and get it over the other connection" % d)
        content = '{"k": 1, "name": "nacore"}'
        ok = await w.publish_config(cp(d, content=content, type="json", app_name="nacore-py3-app"))
        check(ok is True, "publish_config returned %r, expected True" % (ok,))
        got = await r.get_config(cp(d))
        check(got == content, "get_config right after publish = %r, expected %r" % (got, content))
        resp = await query(r, d)
        check(resp.content == content, "ConfigQueryResponse.content %r" % (resp.content,))
        check(resp.md5 == md5_hex(content), "ConfigQueryResponse.md5 %r, expected md5(UTF-8) %r"
              % (resp.md5, md5_hex(content)))
        check_gap("content-type", resp.contentType == "json",
                  "ConfigQueryResponse.contentType %r, expected 'json'" % (resp.contentType,))

        dcn = p + "chinese"
        step("publish and get Chinese content %s" % dcn)
        cn = "中文配置：你好，世界！\nsecond line ✓"
        check(await w.publish_config(cp(dcn, content=cn)) is True, "publish_config(Chinese) failed")
        got = await r.get_config(cp(dcn))
        check(got == cn, "get_config(Chinese) = %r, expected %r" % (got, cn))
        resp = await query(r, dcn)
        check(resp.md5 == md5_hex(cn), "md5 of Chinese content %r, expected %r" % (resp.md5, md5_hex(cn)))

        # ---------------------------------------------------------------- CAS
        step("CAS publish with the md5 from a query succeeds")
        md5_before = (await query(r, d)).md5
        new_content = '{"k": 2}'
        ok = await w.publish_config(cp(d, content=new_content, cas_md5=md5_before))
        check(ok is True, "CAS publish with the current md5 returned %r" % (ok,))
        resp = await query(r, d)
        check(resp.content == new_content and resp.md5 == md5_hex(new_content),
              "after CAS publish: content %r md5 %r, expected %r %r"
              % (resp.content, resp.md5, new_content, md5_hex(new_content)))
        step("CAS publish with a stale md5 fails and leaves the content alone")
        cas_result = None
        try:
            cas_result = await w.publish_config(cp(d, content='{"k": "stale"}', cas_md5=md5_before))
        except NacosException as e:
            cas_result = "raised %s" % e
        check_gap("cas", cas_result is not True,
                  "CAS publish with the stale md5 %s returned True, expected a failure" % md5_before)
        got = await r.get_config(cp(d))
        check_gap("cas", got == new_content,
                  "after the stale CAS publish the content is %r, expected it unchanged %r" % (got, new_content))
        step("stale CAS publish result: %r" % (cas_result,))

        step("remove_config %s, then get_config is \"\"" % d)
        ok = await w.remove_config(cp(d))
        check(ok is True, "remove_config returned %r" % (ok,))
        got = await r.get_config(cp(d))
        check(got == "", "get_config right after remove = %r, expected \"\"" % (got,))
        step("removing a missing config succeeds")
        check(await w.remove_config(cp(d)) is True, "second remove_config did not return True")
        check(await w.remove_config(cp(dcn)) is True, "remove_config(Chinese) did not return True")

        # ---------------------------------------------------------------- listeners
        dl = p + "listened"
        dm = p + "listened-missing"
        step("publish %s = v1; R listens to it and to missing %s" % (dl, dm))
        check(await w.publish_config(cp(dl, content="v1")) is True, "publish v1 failed")
        got = await r.get_config(cp(dl))
        check(got == "v1", "R get_config before listening = %r" % (got,))
        got = await r.get_config(cp(dm))
        check(got == "", "R get_config(missing) before listening = %r" % (got,))
        events = {"l": [], "m": []}

        def listener(name):
            async def on_change(tenant, group, data_id, content):
                events[name].append((time.monotonic(), tenant, group, data_id, content))
            return on_change

        await r.add_listener(dl, GROUP, listener("l"))
        await r.add_listener(dm, GROUP, listener("m"))

        async def listened():
            return rec.listened(dl) and rec.listened(dm)

        _, waited = await poll("R's first ConfigBatchListenRequest for both keys", listened, bool, LISTEN_DEADLINE)
        step("R listened after %.2fs: %r" % (waited, rec.listens))
        check(events["l"] == [] and events["m"] == [],
              "listeners fired without a change: %r" % (events,))

        async def expect_change(name, data_id, new_content, what):
            before = len(events[name])
            t0 = time.monotonic()
            check(await w.publish_config(cp(data_id, content=new_content)) is True, "%s: publish failed" % what)

            async def count():
                return len(events[name])

            try:
                await poll("%s: listener callback (the server must push ConfigChangeNotifyRequest)" % what,
                           count, lambda n: n > before, CHANGE_DEADLINE)
            except Failure as e:
                fail("%s\nBatchListen log: %r" % (e, rec.listens))
            at, tenant, group, got_id, got_content = events[name][before]
            check(got_content == new_content, "%s: listener content %r, expected %r"
                  % (what, got_content, new_content))
            check(got_id == data_id and group == GROUP, "%s: listener for %r/%r" % (what, got_id, group))
            step("%s: listener called after %.2fs" % (what, at - t0))

        await expect_change("l", dl, "v2", "change v1 -> v2")
        await expect_change("l", dl, "你好", "change v2 -> 你好")
        await expect_change("l", dl, "你好啊", "change 你好 -> 你好啊")

        step("missing-config listener stayed silent and was never reported changed")
        check(events["m"] == [], "listener on missing %s fired: %r" % (dm, events["m"]))
        check(rec.reported_changed(dm) == [], "BatchListen reported the missing, unchanged %s as changed: %r"
              % (dm, rec.reported_changed(dm)))
        await expect_change("m", dm, "created", "missing -> created")
        contents = [e[4] for e in events["l"]]
        check(contents == ["v2", "你好", "你好啊"], "listener on %s saw %r, expected v2, 你好, 你好啊" % (dl, contents))

        step("cleanup")
        for data_id in (dl, dm):
            await w.remove_config(cp(data_id))
    finally:
        for s in services:
            try:
                await asyncio.wait_for(s.shutdown(), 5)
            except Exception:  # noqa: BLE001
                pass


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
    parser.add_argument("--prefix", default="nacore-py3-cfg-")
    parser.add_argument("--known-gap", action="append", default=[])
    args = parser.parse_args()
    KNOWN_GAPS.update(args.known_gap)

    def watchdog():
        print("PY3_CONFIG FAIL: hard timeout of %.0fs exceeded (watchdog)" % (OVERALL_TIMEOUT + 10), flush=True)
        os._exit(1)

    timer = threading.Timer(OVERALL_TIMEOUT + 10, watchdog)
    timer.daemon = True
    timer.start()

    work_dir = tempfile.mkdtemp(prefix="nacore-py3-config-")
    ok = False
    try:
        asyncio.run(asyncio.wait_for(run(args, work_dir), OVERALL_TIMEOUT))
        ok = True
    except Failure as e:
        print("PY3_CONFIG FAIL: %s" % e, flush=True)
    except asyncio.TimeoutError:
        print("PY3_CONFIG FAIL: overall timeout of %.0fs exceeded" % OVERALL_TIMEOUT, flush=True)
        traceback.print_exc()
    except BaseException as e:  # noqa: BLE001
        print("PY3_CONFIG FAIL: unexpected %s: %s" % (type(e).__name__, e), flush=True)
        traceback.print_exc()
    if not ok:
        dump_sdk_log(work_dir)
    shutil.rmtree(work_dir, ignore_errors=True)
    if ok:
        for g in GAPS_HIT:
            print("known gap hit: " + g, flush=True)
        print("PY3_CONFIG_OK", flush=True)
    sys.stdout.flush()
    sys.stderr.flush()
    # The SDK may leave grpc background threads behind; do not wait for them.
    os._exit(0 if ok else 1)


if __name__ == "__main__":
    main()
