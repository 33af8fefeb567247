#!/usr/bin/env node
// Drive a nacore server with the real `nacos` npm client (2.6.3, NacosConfigClient from
// nacos-config, HTTP v1 config API).
//
// Usage: node node_config.js --server 127.0.0.1:PORT [--prefix P]
//
// Exits 0 printing NODE_CONFIG_OK on success; prints why and exits 1 otherwise. Every wait
// is a poll on an observed condition with a deadline; the whole run has a 60 s hard limit.
//
// Client behaviour this script relies on (node_modules/nacos-config/src/*.ts):
//  * http_agent.ts: 200 -> body text (GBK-converted only if the response says charset=GBK),
//    404 -> null, anything else -> retry until requestTimeout (5 s) and throw.
//  * client_worker.ts getConfig: GET /nacos/v1/cs/configs?dataId&group&tenant; on an error
//    the snapshot (cacheDir/snapshot/config/...) is used, so cacheDir points at a temp dir.
//  * publishSingle: form POST, pre-encoded (`encode: true`) as
//    dataId=..&group=..&content=..&tenant=&type=&appName= -- tenant, type and appName are
//    sent EMPTY when unset; returns true on any 200 (and on a 404). remove: DELETE with the params in the query string, returns true.
//  * subscribe: getConfig, emit when md5 differs from the last one (the first sync always
//    emits, null content included), then ONE long-poll loop for all subscriptions:
//    POST /nacos/v1/cs/configs/listener, Long-Pulling-Timeout: 30000, 40 s client
//    timeout, records `dataId^2group^2md5^1` (3 fields without a namespace; md5 '' for a
//    missing config), reply parsed with decodeURIComponent, split on ^1 and ^2; every
//    named key is re-read with getConfig and emitted if its md5 changed.
//  * A key subscribed while a poll is parked only joins the next poll, so all keys are
//    subscribed back to back.
'use strict';

const path = require('path');
const os = require('os');
const fs = require('fs');

const HARD_TIMEOUT_MS = 60000;
const hardTimer = setTimeout(() => {
  console.log(`NODE_CONFIG FAIL: overall timeout of ${HARD_TIMEOUT_MS / 1000} s exceeded`);
  process.exit(1);
}, HARD_TIMEOUT_MS);
hardTimer.unref();

// ------------------------------------------------------------------ module resolution
const FALLBACK_NODE_MODULES = path.resolve(__dirname, '..', '..', 'target', 'clients', 'node', 'node_modules');

function resolveModule(name) {
  try {
    return require.resolve(name);
  } catch (_) {
    return require.resolve(name, { paths: [ FALLBACK_NODE_MODULES ] });
  }
}

const { NacosConfigClient } = require(resolveModule('nacos'));
// The urllib nacos-config uses by default.
const urllib = require(require.resolve('urllib', {
  paths: [ path.dirname(resolveModule('nacos-config/package.json')) ],
}));

// ------------------------------------------------------------------ args
function parseArgs(argv) {
  const out = { prefix: 'nacore-node-cfg-' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--server' || a === '--prefix') {
      if (i + 1 >= argv.length) throw new Error(`missing value for ${a}`);
      out[a.slice(2)] = argv[++i];
    } else {
      throw new Error(`unknown argument ${a}`);
    }
  }
  if (!out.server) throw new Error('usage: node_config.js --server HOST:PORT [--prefix P]');
  return out;
}

// ------------------------------------------------------------------ helpers
class Failure extends Error {}

function check(cond, msg) {
  if (!cond) throw new Failure(msg);
}

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));
const j = v => JSON.stringify(v);
const verbose = !!process.env.NACORE_CLIENT_DEBUG;

async function poll(what, fetch, cond, timeoutMs) {
  const start = Date.now();
  let last;
  for (;;) {
    last = await fetch();
    if (cond(last)) return { value: last, waited: Date.now() - start };
    if (Date.now() - start >= timeoutMs) {
      throw new Failure(`${what}: condition not met after ${timeoutMs / 1000} s; last value: ${j(last)}`);
    }
    await sleep(50);
  }
}

// Wraps urllib only to observe what the real client sends/receives (long polls).
const requests = [];
const recordingHttpclient = {
  async request(url, opts) {
    const rec = { started: Date.now(), ended: null, method: opts.method, url, data: typeof opts.data === 'string' ? opts.data : Object.assign({}, opts.data), status: null, body: null };
    requests.push(rec);
    try {
      const res = await urllib.request(url, opts);
      rec.status = res.status;
      rec.body = String(res.data);
      if (verbose) console.error(`[http] ${opts.method} ${url} ${j(rec.data)} -> ${res.status} ${j(rec.body)}`);
      return res;
    } catch (err) {
      rec.body = `error: ${err && err.message}`;
      throw err;
    } finally {
      rec.ended = Date.now();
    }
  },
};

const isPoll = r => r.url.endsWith('/v1/cs/configs/listener');
const polls = () => requests.filter(isPoll);
function pollSummary() {
  return polls().map(r => `probe=${j(r.data['Listening-Configs'])} held=${((r.ended || Date.now()) - r.started) / 1000}s ` +
    `status=${r.status} reply=${j(r.body)}`).join('\n  ');
}

const PARK_MIN_MS = 1500;
const PARK_DEADLINE_MS = 10000;
const CHANGE_DEADLINE_MS = 5000;

async function waitParked(what) {
  try {
    await poll(`${what}: a long poll held by the server for ${PARK_MIN_MS / 1000} s`,
      async () => polls().some(r => r.ended === null && Date.now() - r.started >= PARK_MIN_MS), Boolean, PARK_DEADLINE_MS);
  } catch (err) {
    throw new Failure(`${err.message}\nlong polls so far:\n  ${pollSummary()}`);
  }
}

// ------------------------------------------------------------------ test
const GROUP = 'NODE_CFG_GROUP';

async function run(server, prefix, cacheDir) {
  const errors = [];
  const client = new NacosConfigClient({
    serverAddr: server,
    cacheDir,
    httpclient: recordingHttpclient,
    requestTimeout: 5000,
  });
  client.on('error', err => errors.push(err));
  await client.ready();
  try {
    // ---------------------------------------------------------------- get / publish / remove
    let got = await client.getConfig(prefix + 'never-published', GROUP);
    check(got === null, `getConfig(missing) = ${j(got)}, expected null (HTTP 404)`);

    const d = prefix + 'basic';
    const content = '{"from":"node","n":1}';
    let ok = await client.publishSingle(d, GROUP, content, { type: 'json' });
    check(ok === true, `publishSingle returned ${j(ok)}`);
    // publishSingle says true even for a 404, so look at the reply itself.
    const pub = requests.filter(r => r.method === 'POST' && r.url.endsWith('/v1/cs/configs')).pop();
    check(pub && pub.status === 200 && pub.body === 'true', `publish reply: HTTP ${pub && pub.status} ${j(pub && pub.body)}, expected 200 "true"`);
    // No sleep: the upstream test reads back at once.
    got = await client.getConfig(d, GROUP);
    check(got === content, `getConfig right after publishSingle = ${j(got)}, expected ${j(content)}`);

    const dcn = prefix + 'chinese';
    const cn = '中文配置：你好，世界！\n第二行 ✓';
    check(await client.publishSingle(dcn, GROUP, cn) === true, 'publishSingle(Chinese) failed');
    got = await client.getConfig(dcn, GROUP);
    check(got === cn, `getConfig(Chinese) = ${j(got)}, expected ${j(cn)}`);

    check(await client.remove(d, GROUP) === true, 'remove returned something else than true');
    const del = requests.filter(r => r.method === 'DELETE').pop();
    check(del && del.status === 200, `DELETE reply: HTTP ${del && del.status} ${j(del && del.body)}, expected 200`);
    got = await client.getConfig(d, GROUP);
    check(got === null, `getConfig right after remove = ${j(got)}, expected null`);
    check(await client.remove(d, GROUP) === true, 'remove of a missing config failed');
    const del2 = requests.filter(r => r.method === 'DELETE').pop();
    check(del2 && del2.status === 200, `DELETE of a missing config: HTTP ${del2 && del2.status} ${j(del2 && del2.body)}, expected 200`);
    await client.remove(dcn, GROUP);

    // ---------------------------------------------------------------- subscribe
    const ds = prefix + 'subscribed';
    const dm = prefix + 'subscribed-missing';
    check(await client.publishSingle(ds, GROUP, '你好') === true, 'publishSingle(你好) failed');
    const events = { s: [], m: [] };
    client.subscribe({ dataId: ds, group: GROUP }, c => events.s.push({ at: Date.now(), content: c }));
    client.subscribe({ dataId: dm, group: GROUP }, c => events.m.push({ at: Date.now(), content: c }));

    await poll('initial subscribe callback with the current content', async () => events.s.length, n => n >= 1, CHANGE_DEADLINE_MS);
    check(events.s[0].content === '你好', `first subscribe callback ${j(events.s[0].content)}, expected "你好"`);
    await poll('initial subscribe callback of the missing config', async () => events.m.length, n => n >= 1, CHANGE_DEADLINE_MS);
    check(!events.m[0].content, `first callback of the missing config ${j(events.m[0].content)}, expected a falsy value`);

    await waitParked('subscription');
    check(events.s.length === 1, `extra callbacks without a change: ${j(events.s)}`);
    check(events.m.length === 1, `missing config called back again without a change: ${j(events.m)}`);

    async function expectChange(name, dataId, newContent, what) {
      const before = events[name].length;
      const t0 = Date.now();
      check(await client.publishSingle(dataId, GROUP, newContent) === true, `${what}: publishSingle failed`);
      try {
        await poll(`${what}: subscribe callback`, async () => events[name].length, n => n > before, CHANGE_DEADLINE_MS);
      } catch (err) {
        throw new Failure(`${err.message}\nlong polls:\n  ${pollSummary()}`);
      }
      const ev = events[name][before];
      check(ev.content === newContent, `${what}: callback content ${j(ev.content)}, expected ${j(newContent)}`);
      console.error(`node_config: ${what}: callback after ${(ev.at - t0) / 1000} s`);
    }

    await expectChange('s', ds, '你好啊', 'change 你好 -> 你好啊');
    await waitParked('subscription after 你好啊');
    await expectChange('s', ds, 'plain ascii', 'change 你好啊 -> plain ascii');
    await waitParked('subscription after plain ascii');

    check(events.m.length === 1, `missing config called back again: ${j(events.m)}`);
    for (const r of polls()) {
      if (r.body && r.status === 200) {
        check(!decodeURIComponent(r.body).includes(dm), `a long-poll reply named the missing, unchanged ${dm}: ${j(r.body)}`);
      }
    }
    await expectChange('m', dm, 'created', 'missing -> created');
    check(j(events.s.map(e => e.content)) === j([ '你好', '你好啊', 'plain ascii' ]),
      `subscription saw ${j(events.s.map(e => e.content))}`);

    for (const r of polls()) {
      check(r.status === null || r.status === 200, `long poll got HTTP ${r.status}: ${j(r.body)}`);
    }
    check(errors.length === 0, `client emitted errors: ${errors.map(e => e && e.stack || e).join('\n')}`);

    client.unSubscribe({ dataId: ds, group: GROUP });
    client.unSubscribe({ dataId: dm, group: GROUP });
    await client.remove(ds, GROUP);
    await client.remove(dm, GROUP);
    return polls().length;
  } finally {
    client.close();
  }
}

async function main() {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.log(`NODE_CONFIG FAIL: ${err.message}`);
    process.exit(1);
  }
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nacore-node-config-'));
  let code = 1;
  try {
    const n = await run(args.server, args.prefix, cacheDir);
    console.error(`node_config: ${n} long polls`);
    console.log('NODE_CONFIG_OK');
    code = 0;
  } catch (err) {
    if (!(err instanceof Failure)) console.error(err && err.stack ? err.stack : err);
    console.log(`NODE_CONFIG FAIL: ${err && err.message ? err.message : err}`);
    if (!verbose) {
      console.error('all requests:\n  ' + requests.map(r => `${r.method} ${r.url} ${j(r.data)} -> ${r.status} ${j(r.body)}`).join('\n  '));
    }
  }
  fs.rmSync(cacheDir, { recursive: true, force: true });
  process.exit(code);
}

process.on('unhandledRejection', err => {
  console.error('unhandled rejection:', err);
  console.log(`NODE_CONFIG FAIL: unhandled rejection: ${err && err.message ? err.message : err}`);
  process.exit(1);
});

main();
