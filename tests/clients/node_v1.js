#!/usr/bin/env node
// Drive a nacore server with the real `nacos` npm client (2.6.3, NacosNamingClient,
// HTTP v1 naming API).
//
// Usage: node node_v1.js --server 127.0.0.1:PORT --service NAME
//
// Exits 0 printing NODE_V1_OK on success; prints why and exits 1 otherwise.
//
// Client behaviour this script relies on (node_modules/nacos-naming/lib/naming/*.js):
//  * `ready()` does not contact the server (it only binds a UDP push-receiver socket).
//  * All parameters go in the query string (urllib `dataAsQueryString`), including
//    namespaceId=public; serviceName is always sent grouped ("GROUP@@name").
//  * BeatReactor: one loop per client that beats every registered ephemeral instance
//    (PUT /nacos/v1/ns/instance/beat?beat=<JSON>&namespaceId=..&serviceName=GROUP@@name)
//    and then sleeps for the clientBeatInterval of the last reply. The loop starts in
//    the constructor with a 10 s sleep, so the first beat happens ~10 s after the client
//    is constructed, whatever the registration time.
//  * HostReactor ignores a list reply with no hosts and keeps its cached (stale) hosts,
//    so "is it gone" checks use a freshly created client.
'use strict';

const path = require('path');

const HARD_TIMEOUT_MS = 60000;
const hardTimer = setTimeout(() => {
  console.log(`NODE_V1 FAIL: overall timeout of ${HARD_TIMEOUT_MS / 1000} s exceeded`);
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

// The client tells the server its own IP for UDP pushes (`clientIP`). Tests keep all traffic
// on loopback, so report 127.0.0.1 instead of the machine's interface address.
require(require.resolve('address', { paths: [path.dirname(resolveModule('nacos'))] })).ip = () => '127.0.0.1';
const { NacosNamingClient } = require(resolveModule('nacos'));
// The same urllib the naming client uses by default (resolved from nacos-naming).
const urllib = require(require.resolve('urllib', {
  paths: [ path.dirname(resolveModule('nacos-naming/package.json')) ],
}));

// ------------------------------------------------------------------ args
function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--server' || a === '--service') {
      if (i + 1 >= argv.length) throw new Error(`missing value for ${a}`);
      out[a.slice(2)] = argv[++i];
    } else {
      throw new Error(`unknown argument ${a}`);
    }
  }
  if (!out.server || !out.service) throw new Error('usage: node_v1.js --server HOST:PORT --service NAME');
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
const logger = {
  debug: (...a) => { if (verbose) console.error('[nacos debug]', ...a); },
  info: (...a) => { if (verbose) console.error('[nacos info]', ...a); },
  warn: (...a) => console.error('[nacos warn]', ...a),
  error: (...a) => console.error('[nacos error]', ...a),
};

// Wraps urllib only to observe what the real client sends/receives (beats).
const requests = [];
const recordingHttpclient = {
  async request(url, opts) {
    const started = Date.now();
    const res = await urllib.request(url, opts);
    // urllib puts `opts.data` in the query string (dataAsQueryString), so keep it here.
    requests.push({ started, method: opts.method, url, params: Object.assign({}, opts.data), status: res.status, data: String(res.data) });
    if (verbose) console.error(`[http] ${opts.method} ${url} -> ${res.status} ${res.data}`);
    return res;
  },
};

function beatsFor(port, since) {
  const out = [];
  for (const r of requests) {
    if (r.started < since || !r.url.includes('/nacos/v1/ns/instance/beat')) continue;
    const beat = JSON.parse(r.params.beat || '{}');
    if (Number(beat.port) === port) out.push({ req: r, beat });
  }
  return out;
}

function makeClient(server) {
  return new NacosNamingClient({
    logger,
    serverList: server,
    namespace: 'public',
    httpclient: recordingHttpclient,
  });
}

function byPort(hosts) {
  const m = new Map();
  for (const h of hosts) m.set(Number(h.port), h);
  return m;
}

function checkHost(h, what, exp) {
  const ctx = `${what}: instance ${exp.ip}:${exp.port}`;
  check(h, `${ctx} missing`);
  check(h.ip === exp.ip, `${ctx}: ip ${j(h.ip)} != ${j(exp.ip)} (host=${j(h)})`);
  check(Number(h.port) === exp.port, `${ctx}: port ${j(h.port)}`);
  check(Math.abs(Number(h.weight) - exp.weight) < 1e-9, `${ctx}: weight ${j(h.weight)} != ${exp.weight} (host=${j(h)})`);
  check(h.clusterName === exp.clusterName, `${ctx}: clusterName ${j(h.clusterName)} != ${j(exp.clusterName)} (host=${j(h)})`);
  check(h.healthy === true, `${ctx}: healthy ${j(h.healthy)} != true (host=${j(h)})`);
  check(h.enabled === true, `${ctx}: enabled ${j(h.enabled)} != true (host=${j(h)})`);
  check(h.ephemeral === true, `${ctx}: ephemeral ${j(h.ephemeral)} != true (host=${j(h)})`);
  check(h.metadata && typeof h.metadata === 'object', `${ctx}: metadata not an object (host=${j(h)})`);
  for (const [ k, v ] of Object.entries(exp.metadata || {})) {
    check(h.metadata[k] === v, `${ctx}: metadata[${j(k)}] = ${j(h.metadata[k])}, expected ${j(v)} (metadata=${j(h.metadata)})`);
  }
}

// A brand-new client has no cached ServiceInfo, so an empty server reply really shows up as [].
async function freshLookup(server, service, group, clusters = '') {
  const c = makeClient(server);
  try {
    await c.ready();
    return await c.getAllInstances(service, group, clusters, false);
  } finally {
    await c.close();
  }
}

// ------------------------------------------------------------------ test
const IP = '10.20.30.41';
const GROUP = 'NODE_GROUP';
const DEFAULT_GROUP = 'DEFAULT_GROUP';
const INITIAL_BEAT_DELAY_MS = 10000; // BeatReactor: _clientBeatInterval starts at 10 s

async function run(server, service) {
  // The beat client is created first so that its first beat tick (constructor + 10 s)
  // comes shortly after the beat-test registration below.
  const beatClientCreated = Date.now();
  const beatClient = makeClient(server);
  const client = makeClient(server);
  await Promise.all([ beatClient.ready(), client.ready() ]);

  const A = { ip: IP, port: 19081, weight: 1, clusterName: 'DEFAULT', metadata: { lang: 'node', tier: 'a' } };
  const B = { ip: IP, port: 19082, weight: 2, clusterName: 'nc1', metadata: {} };
  const C = { ip: IP, port: 19083, weight: 1, clusterName: 'DEFAULT', metadata: { where: 'default-group' } };

  // ---------------------------------------------------------------- status
  const status = await client.getServerStatus();
  check(status === 'UP', `getServerStatus() = ${j(status)}, expected "UP" (GET /nacos/v1/ns/operator/metrics)`);

  // ---------------------------------------------------------------- register
  await client.registerInstance(service, A, GROUP);
  await client.registerInstance(service, B, GROUP);
  await client.registerInstance(service, C); // DEFAULT_GROUP

  // ---------------------------------------------------------------- getAllInstances
  let hosts = await client.getAllInstances(service, GROUP, '', false);
  check(Array.isArray(hosts) && hosts.length === 2, `getAllInstances(${GROUP}) after register: expected 2 hosts, got ${j(hosts)}`);
  let hp = byPort(hosts);
  checkHost(hp.get(A.port), `getAllInstances(${GROUP})`, A);
  checkHost(hp.get(B.port), `getAllInstances(${GROUP})`, B);

  // subscribe=true path (HostReactor cache, first fetch goes to the server)
  hosts = await client.getAllInstances(service);
  check(hosts.length === 1, `getAllInstances(DEFAULT_GROUP, subscribe) after register: expected 1 host, got ${j(hosts)}`);
  checkHost(hosts[0], 'getAllInstances(DEFAULT_GROUP, subscribe)', C);

  hosts = await client.getAllInstances(service, GROUP, 'nc1', false);
  check(hosts.length === 1 && Number(hosts[0].port) === B.port,
    `getAllInstances(${GROUP}, clusters=nc1): expected only port ${B.port}, got ${j(hosts)}`);
  checkHost(hosts[0], `getAllInstances(${GROUP}, clusters=nc1)`, B);

  // ---------------------------------------------------------------- selectInstances
  hosts = await client.selectInstances(service, GROUP, '', true, false);
  check(hosts.length === 2, `selectInstances(${GROUP}, healthy=true): expected 2 hosts, got ${j(hosts)}`);
  hosts = await client.selectInstances(service, GROUP, '', false, false);
  check(hosts.length === 0, `selectInstances(${GROUP}, healthy=false): expected none, got ${j(hosts)}`);

  // ---------------------------------------------------------------- deregister
  await client.deregisterInstance(service, A, GROUP);
  hosts = await client.getAllInstances(service, GROUP, '', false);
  check(hosts.length === 1 && Number(hosts[0].port) === B.port,
    `getAllInstances(${GROUP}) after deregistering ${A.port}: expected only ${B.port}, got ${j(hosts)}`);
  checkHost(hosts[0], `getAllInstances(${GROUP}) after deregister`, B);

  await client.deregisterInstance(service, B, GROUP);
  await client.deregisterInstance(service, C);
  hosts = await freshLookup(server, service, GROUP);
  check(hosts.length === 0, `fresh getAllInstances(${GROUP}) after deregistering all: expected none, got ${j(hosts)}`);
  hosts = await freshLookup(server, service, DEFAULT_GROUP);
  check(hosts.length === 0, `fresh getAllInstances(DEFAULT_GROUP) after deregistering C: expected none, got ${j(hosts)}`);
  await client.close();

  // ---------------------------------------------------------------- beats keep it alive
  const E = {
    ip: IP,
    port: 19090,
    weight: 1,
    clusterName: 'DEFAULT',
    metadata: {
      'preserved.heart.beat.timeout': '3000',
      'preserved.ip.delete.timeout': '6000',
      'preserved.heart.beat.interval': '1000',
    },
  };
  // Register ~1.5 s before the beat client's first beat tick.
  const waitMs = beatClientCreated + INITIAL_BEAT_DELAY_MS - 1500 - Date.now();
  if (waitMs > 0) await sleep(waitMs);
  const registeredAt = Date.now();
  await beatClient.registerInstance(service, E, GROUP);

  // For 7 s (> ip.delete.timeout) the instance must stay present and healthy at every sample.
  let samples = 0;
  while (Date.now() - registeredAt < 7000) {
    await sleep(500);
    hosts = await beatClient.getAllInstances(service, GROUP, '', false);
    const elapsed = ((Date.now() - registeredAt) / 1000).toFixed(1);
    const beats = beatsFor(E.port, registeredAt);
    const replies = beats.map(b => b.req.data);
    const h = byPort(hosts).get(E.port);
    check(h, `beat test: instance ${E.port} vanished ${elapsed} s after registration ` +
      `(beats sent so far: ${beats.length}, beat replies: ${j(replies)})`);
    check(h.healthy === true, `beat test: instance ${E.port} unhealthy ${elapsed} s after registration ` +
      `(beats sent so far: ${beats.length}, beat replies: ${j(replies)}; the node client sleeps for the ` +
      'clientBeatInterval of the reply, which Nacos sets to the instance\'s preserved.heart.beat.interval)');
    samples++;
  }
  const lastHosts = await beatClient.selectInstances(service, GROUP, '', true, false);
  const e = byPort(lastHosts).get(E.port);
  check(e, `beat test: selectInstances(healthy=true) lacks ${E.port} after 7 s: ${j(lastHosts)}`);
  checkHost(e, 'beat test', E);

  const beats = beatsFor(E.port, registeredAt);
  check(beats.length >= 4, `beat test: expected the client to send >= 4 beats in 7 s, it sent ${beats.length} ` +
    `(replies: ${j(beats.map(b => b.req.data))})`);
  for (const { req, beat } of beats) {
    check(req.status === 200, `beat test: beat got HTTP ${req.status}: ${req.data}`);
    const reply = JSON.parse(req.data);
    check(Number(reply.clientBeatInterval) > 0, `beat test: beat reply lacks clientBeatInterval: ${req.data}`);
    check(beat.serviceName === `${GROUP}@@${service}`, `beat test: unexpected beat payload ${j(beat)}`);
  }

  // Stop beating, give an in-flight beat time to land, then deregister and check it is gone.
  await beatClient.close();
  await sleep(500);
  const cleaner = makeClient(server);
  await cleaner.ready();
  await cleaner.deregisterInstance(service, E, GROUP);
  await cleaner.close();
  hosts = await freshLookup(server, service, GROUP);
  check(hosts.length === 0, `after deregistering the beat-test instance: expected none, got ${j(hosts)}`);

  return { samples, beats: beats.length };
}

async function main() {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.log(`NODE_V1 FAIL: ${err.message}`);
    process.exit(1);
  }
  try {
    const info = await run(args.server, args.service);
    console.error(`node_v1: beat test took ${info.samples} health samples, saw ${info.beats} beats`);
    console.log('NODE_V1_OK');
    process.exit(0);
  } catch (err) {
    if (!(err instanceof Failure)) console.error(err && err.stack ? err.stack : err);
    console.log(`NODE_V1 FAIL: ${err && err.message ? err.message : err}`);
    process.exit(1);
  }
}

process.on('unhandledRejection', err => {
  console.error('unhandled rejection:', err);
  console.log(`NODE_V1 FAIL: unhandled rejection: ${err && err.message ? err.message : err}`);
  process.exit(1);
});

main();
