#!/usr/bin/env python3
"""Drive a nacore server with the real nacos-sdk-python (2.0.11) HTTP v1 config client.

Usage: py_config.py --server 127.0.0.1:PORT [--publisher 127.0.0.1:PORT2] [--prefix P]
                    [--namespace NS] [--known-gap NAME ...] [--timeout SECONDS]

  --server      the server every read and every watcher (long poll) talks to
  --publisher   another server (a cluster member) that every write goes to; reads after a
                write are then polled (cluster replication) instead of being required at once
  --prefix      dataId prefix, so several runs against one server do not collide
  --namespace   the tenant used for the namespace checks (default nacore-py-cfg-ns)
  --known-gap   downgrade the checks tagged NAME to a printed warning (for servers that
                lack a feature the Nacos reference has; nacore runs never pass it).
                Tags: config-type (v1 GET `Config-Type` header reflects the published type)

Exits 0 and prints PY_CONFIG_OK on success; prints what went wrong (plus the SDK's log)
and exits 1 otherwise. Every wait is a poll on an observed condition with a deadline.

Notes on the client (nacos/client.py of nacos-sdk-python 2.0.11):
  * get_config: failover file first, then GET /nacos/v1/cs/configs (tenant only when the
    client has a namespace); 404 deletes the snapshot and returns None; 500/502/503 rotate
    servers; other failures fall back to the snapshot. Snapshot and failover dirs default to
    ./nacos-data under the CWD, so this script points them at a temp dir.
  * publish_config posts a form (dataId, group, content, tenant, appName, type) and returns
    body == b"true"; remove_config sends DELETE with the params in the query string.
  * add_config_watcher: get_config, remember md5(content) (None for a missing config) per
    watcher, then one puller thread per 3000 keys loops: sleep 1 s, POST
    /nacos/v1/cs/configs/listener with Long-Pulling-Timeout: 30000 and records
    `dataId^2group^2md5^2tenant^1` (always 4 fields; tenant "" for the default namespace,
    md5 "" for a missing config), plus tenant in the query string when set. Keys named in
    the reply (parsed as dataId^2group[^2tenant], missing tenant -> "") are re-read with
    get_config and every watcher whose md5 differs is called with
    {data_id, group, namespace, raw_content, content}.
  * A key added while a poll is parked only joins the next poll, so watchers a check
    relies on are all added back to back, before the puller's first request (1 s sleep).
"""

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
import traceback
from urllib.request import Request, urlopen
from urllib.error import HTTPError
from urllib.parse import urlencode

import nacos

GROUP = "PY_CFG_GROUP"
READ_DEADLINE = 5.0     # cross-member read after a write
WATCH_DEADLINE = 5.0    # publish -> watcher callback
PARK_MIN = 1.5          # a poll in flight this long is parked by the server
PARK_DEADLINE = 10.0


class Failure(Exception):
    pass


def fail(msg):
    raise Failure(msg)


def check(cond, msg):
    if not cond:
        fail(msg)


CLIENTS = []
KNOWN_GAPS = set()
GAPS_HIT = []


def check_gap(tag, cond, msg):
    """A check of a feature some servers lack: with --known-gap TAG it only warns."""
    if cond:
        return
    if tag in KNOWN_GAPS:
        GAPS_HIT.append("%s: %s" % (tag, msg))
        print("KNOWN GAP (%s): %s" % (tag, msg), flush=True)
        return
    fail("%s [check tag %s]" % (msg, tag))


def step(msg):
    print("step: " + msg, flush=True)


def poll(what, fetch, cond, timeout):
    """Call fetch() until cond(result) holds; returns (result, seconds waited)."""
    start = time.monotonic()
    while True:
        last = fetch()
        if cond(last):
            return last, time.monotonic() - start
        if time.monotonic() - start >= timeout:
            fail("%s: condition not met after %.1fs; last value: %r" % (what, timeout, last))
        time.sleep(0.05)


class Recorder:
    """Wraps a client's _do_sync_req to see its long polls (start, end, reply)."""

    def __init__(self, client):
        self.lock = threading.Lock()
        self.polls = []  # dicts: started, ended, reply, error
        original = client._do_sync_req

        def wrapped(url, headers=None, params=None, data=None, timeout=None, method="GET", module="config"):
            if not url.endswith("/configs/listener"):
                return original(url, headers, params, data, timeout, method, module)
            rec = {"started": time.monotonic(), "ended": None, "reply": None, "error": None,
                   "probe": (data or {}).get("Listening-Configs")}
            with self.lock:
                self.polls.append(rec)
            try:
                resp = original(url, headers, params, data, timeout, method, module)
                body = resp.read()
                rec["reply"] = body

                class Replay:
                    def read(self_inner):
                        return body
                return Replay()
            except Exception as e:  # noqa: BLE001
                rec["error"] = repr(e)
                raise
            finally:
                rec["ended"] = time.monotonic()

        client._do_sync_req = wrapped

    def parked_since(self, seconds):
        """True once a poll has been in flight for at least `seconds`."""
        now = time.monotonic()
        with self.lock:
            return any(p["ended"] is None and now - p["started"] >= seconds for p in self.polls)

    def replies(self):
        with self.lock:
            return [(p["reply"], p["error"]) for p in self.polls if p["ended"] is not None]

    def summary(self):
        now = time.monotonic()
        with self.lock:
            return ["probe=%r in-flight=%.2fs reply=%r error=%s" % (
                p["probe"], (p["ended"] or now) - p["started"], p["reply"], p["error"]) for p in self.polls]


class Events:
    """Watcher callbacks, recorded per name."""

    def __init__(self):
        self.lock = threading.Lock()
        self.by_name = {}

    def callback(self, name):
        def cb(params):
            with self.lock:
                self.by_name.setdefault(name, []).append((time.monotonic(), dict(params)))
        cb.__name__ = "cb_" + name.replace("-", "_")
        return cb

    def get(self, name):
        with self.lock:
            return list(self.by_name.get(name, []))

    def contents(self, name):
        return [p.get("content") for _, p in self.get(name)]


def raw_get(server, data_id, group, tenant=None):
    """(status, headers, body) of a plain v1 GET, bypassing the SDK."""
    params = {"dataId": data_id, "group": group}
    if tenant:
        params["tenant"] = tenant
    url = "http://%s/nacos/v1/cs/configs?%s" % (server, urlencode(params))
    try:
        with urlopen(Request(url), timeout=5) as r:
            return r.status, dict((k.lower(), v) for k, v in r.headers.items()), r.read().decode("utf-8")
    except HTTPError as e:
        return e.code, dict((k.lower(), v) for k, v in e.headers.items()), e.read().decode("utf-8", "replace")


def make_client(server, work_dir, name, namespace=None):
    c = nacos.NacosClient(server, namespace=namespace, logDir=os.path.join(work_dir, "logs"),
                          log_level="DEBUG")
    c.set_options(snapshot_base=os.path.join(work_dir, name, "snapshot"),
                  failover_base=os.path.join(work_dir, name, "failover"))
    CLIENTS.append(c)
    return c


def run(args, work_dir):
    server = args.server
    cross = args.publisher is not None
    publisher_addr = args.publisher or args.server
    p = args.prefix
    ns = args.namespace
    events = Events()

    reader = make_client(server, work_dir, "reader")
    writer = make_client(publisher_addr, work_dir, "writer") if cross else reader
    reader_ns = make_client(server, work_dir, "reader-ns", namespace=ns)
    writer_ns = make_client(publisher_addr, work_dir, "writer-ns", namespace=ns) if cross else reader_ns
    public = make_client(server, work_dir, "public", namespace="public")

    def read_back(client, data_id, want, what):
        """Single-server: the write must be visible at once (read-your-writes).
        Cross-member: poll until replicated."""
        if not cross:
            got = client.get_config(data_id, GROUP)
            check(got == want, "%s: get_config right after the write = %r, expected %r" % (what, got, want))
            return
        _, waited = poll(what + " (read on %s after a write on %s)" % (server, publisher_addr),
                         lambda: client.get_config(data_id, GROUP), lambda v: v == want, READ_DEADLINE)
        step("%s visible on the reader after %.2fs" % (what, waited))

    # ---------------------------------------------------------------- get / publish / remove
    d_basic = p + "basic"
    d_cn = p + "chinese"
    step("get_config of a missing config is None")
    got = reader.get_config(p + "never-published", GROUP)
    check(got is None, "get_config(missing) = %r, expected None (HTTP 404)" % (got,))

    step("publish_config %s with app_name and config_type=yaml" % d_basic)
    content = "a: 1\nb: two\n"
    ok = writer.publish_config(d_basic, GROUP, content, app_name="nacore-py-app", config_type="yaml")
    check(ok is True, "publish_config returned %r, expected True (body must be exactly 'true')" % (ok,))
    read_back(reader, d_basic, content, "publish %s" % d_basic)
    status, headers, body = raw_get(server, d_basic, GROUP)
    check(status == 200 and body == content, "raw GET after publish: %s %r" % (status, body))
    check_gap("config-type", headers.get("config-type") == "yaml",
              "raw GET Config-Type header = %r, expected 'yaml' (published with type=yaml); headers=%r"
              % (headers.get("config-type"), headers))

    step("republish %s with new content" % d_basic)
    content2 = "a: 2\n"
    check(writer.publish_config(d_basic, GROUP, content2, config_type="yaml") is True,
          "second publish_config did not return True")
    read_back(reader, d_basic, content2, "re-publish %s" % d_basic)

    step("publish_config %s with Chinese content" % d_cn)
    cn = "中文内容：你好，世界！\n第二行 ✓ emoji 🚀"
    check(writer.publish_config(d_cn, GROUP, cn, app_name="nacore-py-app") is True,
          "publish_config(Chinese) did not return True")
    read_back(reader, d_cn, cn, "publish Chinese %s" % d_cn)

    step("remove_config %s, then get_config is None" % d_basic)
    check(writer.remove_config(d_basic, GROUP) is True, "remove_config returned something else than True")
    if cross:
        poll("get_config after remove (cross-member)", lambda: reader.get_config(d_basic, GROUP),
             lambda v: v is None, READ_DEADLINE)
    else:
        got = reader.get_config(d_basic, GROUP)
        check(got is None, "get_config right after remove_config = %r, expected None" % (got,))
    step("remove_config of a config that no longer exists still succeeds")
    check(writer.remove_config(d_basic, GROUP) is True, "second remove_config did not return True")
    check(writer.remove_config(d_cn, GROUP) is True, "remove_config(Chinese) did not return True")

    # ---------------------------------------------------------------- namespaces
    d_ns = p + "ns-shared"
    step("namespace %r and the default namespace hold separate %s" % (ns, d_ns))
    check(writer.publish_config(d_ns, GROUP, "in-default") is True, "publish (default ns) failed")
    check(writer_ns.publish_config(d_ns, GROUP, "in-" + ns) is True, "publish (ns %s) failed" % ns)
    read_back(reader, d_ns, "in-default", "default-namespace copy of %s" % d_ns)
    read_back(reader_ns, d_ns, "in-" + ns, "namespace %s copy of %s" % (ns, d_ns))
    status, _, body = raw_get(server, d_ns, GROUP, tenant=ns)
    check(status == 200 and body == "in-" + ns, "raw GET tenant=%s: %s %r" % (ns, status, body))
    step("namespace 'public' is the default namespace")
    got = public.get_config(d_ns, GROUP)
    check(got == "in-default", "get_config with namespace 'public' = %r, expected the default-namespace "
          "content 'in-default'" % (got,))
    step("remove in namespace %r leaves the default copy" % ns)
    check(writer_ns.remove_config(d_ns, GROUP) is True, "remove_config (ns) failed")
    if cross:
        poll("ns copy removed (cross-member)", lambda: reader_ns.get_config(d_ns, GROUP), lambda v: v is None,
             READ_DEADLINE)
    else:
        got = reader_ns.get_config(d_ns, GROUP)
        check(got is None, "get_config in ns after remove = %r, expected None" % (got,))
    got = reader.get_config(d_ns, GROUP)
    check(got == "in-default", "default copy after removing the ns copy = %r, expected 'in-default'" % (got,))

    # ---------------------------------------------------------------- watchers
    d_w = p + "watched"
    d_missing = p + "watched-missing"
    d_wns = p + "watched-ns"
    step("publish %s = v1, then watchers on it, on missing %s (default ns) and on %s (ns %s)"
         % (d_w, d_missing, d_wns, ns))
    check(writer.publish_config(d_w, GROUP, "v1") is True, "publish v1 failed")
    read_back(reader, d_w, "v1", "publish %s v1" % d_w)
    check(writer_ns.publish_config(d_wns, GROUP, "ns-v1") is True, "publish ns-v1 failed")
    read_back(reader_ns, d_wns, "ns-v1", "publish %s ns-v1" % d_wns)

    watcher = make_client(server, work_dir, "watcher")
    watcher_ns = make_client(server, work_dir, "watcher-ns", namespace=ns)
    rec = Recorder(watcher)
    rec_ns = Recorder(watcher_ns)
    # Back to back: both keys must be in the puller's first poll.
    watcher.add_config_watcher(d_w, GROUP, events.callback("w"))
    watcher.add_config_watcher(d_missing, GROUP, events.callback("missing"))
    watcher_ns.add_config_watcher(d_wns, GROUP, events.callback("ns"))

    def wait_parked(r, what):
        try:
            poll("%s: a long poll held by the server for %.1fs" % (what, PARK_MIN),
                 lambda: r.parked_since(PARK_MIN), bool, PARK_DEADLINE)
        except Failure as e:
            fail("%s\nlong polls so far:\n  %s" % (e, "\n  ".join(r.summary())))

    wait_parked(rec, "default-namespace watcher")
    wait_parked(rec_ns, "namespace watcher")
    check(events.get("w") == [], "watcher on %s fired without a change: %r" % (d_w, events.get("w")))
    check(events.get("missing") == [], "watcher on missing %s fired spuriously: %r"
          % (d_missing, events.get("missing")))
    check(events.get("ns") == [], "ns watcher fired without a change: %r" % (events.get("ns"),))

    def expect_change(name, client_writer, data_id, new_content, what, namespace=""):
        before = len(events.get(name))
        t0 = time.monotonic()
        check(client_writer.publish_config(data_id, GROUP, new_content) is True, "%s: publish failed" % what)
        try:
            evs, _ = poll("%s: watcher callback" % what, lambda: events.get(name),
                          lambda e: len(e) > before, WATCH_DEADLINE)
        except Failure as e:
            r = rec_ns if name == "ns" else rec
            fail("%s\nlong polls:\n  %s" % (e, "\n  ".join(r.summary())))
        at, params = evs[before]
        check(params.get("content") == new_content, "%s: callback content %r, expected %r (params=%r)"
              % (what, params.get("content"), new_content, params))
        check(params.get("data_id") == data_id and params.get("group") == GROUP,
              "%s: callback for %r/%r, expected %r/%r" % (what, params.get("data_id"), params.get("group"),
                                                           data_id, GROUP))
        check(params.get("namespace") == namespace, "%s: callback namespace %r, expected %r"
              % (what, params.get("namespace"), namespace))
        step("%s: callback after %.2fs" % (what, at - t0))

    expect_change("w", writer, d_w, "v2", "change v1 -> v2")
    # Let the next poll park again so the change below wakes a held poll.
    wait_parked(rec, "default-namespace watcher, after v2")
    expect_change("w", writer, d_w, "你好", "change v2 -> 你好 (Chinese)")
    wait_parked(rec, "default-namespace watcher, after 你好")
    expect_change("w", writer, d_w, "你好啊", "change 你好 -> 你好啊")
    expect_change("ns", writer_ns, d_wns, "ns-v2 命名空间", "namespace %s change" % ns, namespace=ns)

    step("re-publishing identical content does not call the watcher")
    n = len(events.get("w"))
    check(writer.publish_config(d_w, GROUP, "你好啊") is True, "identical re-publish failed")
    wait_parked(rec, "default-namespace watcher, after identical re-publish")
    check(len(events.get("w")) == n, "identical content re-published called the watcher: %r"
          % (events.contents("w")[n:],))

    step("missing-config watcher stayed silent, and no long-poll reply named it")
    check(events.get("missing") == [], "watcher on missing %s fired: %r" % (d_missing, events.get("missing")))
    for reply, _ in rec.replies():
        check(not reply or d_missing.encode() not in reply,
              "a long-poll reply named the missing, unchanged %s: %r" % (d_missing, reply))
    step("creating the missing config calls its watcher")
    expect_change("missing", writer, d_missing, "now-exists", "missing -> created")

    n_w = len(events.get("w"))
    for name in ("w", "missing", "ns"):
        contents = events.contents(name)
        check(len(contents) == len(set(contents)), "watcher %s called twice for one content: %r" % (name, contents))
    check(events.contents("w") == ["v2", "你好", "你好啊"], "watcher sequence %r" % (events.contents("w"),))
    check(n_w == 3, "watcher on %s called %d times, expected 3" % (d_w, n_w))

    step("cleanup")
    for c, d in ((writer, d_w), (writer, d_missing), (writer, d_ns), (writer_ns, d_wns)):
        c.remove_config(d, GROUP)


def dump_sdk_log(work_dir):
    path = os.path.join(work_dir, "logs", "nacos-client-python.log")
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.readlines()
    except OSError as e:
        print("(no SDK log: %s)" % e, file=sys.stderr)
        return
    print("--- last 150 lines of the SDK log (%s) ---" % path, file=sys.stderr)
    sys.stderr.write("".join(lines[-150:]))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True, help="host:port for reads and watchers")
    parser.add_argument("--publisher", default=None, help="host:port for writes (another cluster member)")
    parser.add_argument("--prefix", default="nacore-py-cfg-")
    parser.add_argument("--namespace", default="nacore-py-cfg-ns")
    parser.add_argument("--known-gap", action="append", default=[])
    parser.add_argument("--timeout", type=float, default=60.0, help="overall timeout in seconds")
    args = parser.parse_args()
    KNOWN_GAPS.update(args.known_gap)

    work_dir = tempfile.mkdtemp(prefix="nacore-py-config-")

    def on_timeout():
        print("PY_CONFIG FAIL: overall timeout of %.0f s exceeded" % args.timeout, flush=True)
        dump_sdk_log(work_dir)
        sys.stderr.flush()
        os._exit(1)

    timer = threading.Timer(args.timeout, on_timeout)
    timer.daemon = True
    timer.start()

    ok = False
    try:
        run(args, work_dir)
        ok = True
    except Failure as e:
        print("PY_CONFIG FAIL: %s" % e, flush=True)
    except Exception as e:  # noqa: BLE001 - client exceptions (NacosException, HTTP errors, ...)
        traceback.print_exc()
        print("PY_CONFIG FAIL: unexpected %s: %s" % (type(e).__name__, e), flush=True)
    timer.cancel()
    if not ok:
        dump_sdk_log(work_dir)
    shutil.rmtree(work_dir, ignore_errors=True)
    if ok:
        for g in GAPS_HIT:
            print("known gap hit: " + g, flush=True)
        print("PY_CONFIG_OK", flush=True)
    sys.stdout.flush()
    sys.stderr.flush()
    # The SDK's puller threads never stop, and its multiprocessing Manager process would
    # keep our stdout/stderr pipes open: stop the managers, then exit without joining threads.
    for c in CLIENTS:
        if c.process_mgr is not None:
            try:
                c.process_mgr.shutdown()
            except Exception:  # noqa: BLE001
                pass
    os._exit(0 if ok else 1)


if __name__ == "__main__":
    main()
