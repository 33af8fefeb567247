#!/usr/bin/env node
'use strict';
// Drive a nacore server that has auth on with the real `nacos` npm client (2.6.3).
//
// Usage: node_auth.js --server HOST:PORT --username U --password P [--anonymous yes]
//
// With --anonymous the clients carry no credentials (or a wrong password) and every call must
// be refused. (A separate process: the config client shares its settings between instances.)
//
// Prints NODE_AUTH_OK and exits 0 on success; prints what went wrong and exits 1 otherwise.
//
// Notes on the client: NacosNamingClient (nacos-naming proxy.js) and NacosConfigClient
// (nacos-config http_agent.js) send `username` and `password` as parameters of every request
// (no login, no token): the server checks them on each request (through its credential cache).

const path = require('path');

const HARD_TIMEOUT_MS = 60000;
const hardTimer = setTimeout(() => {
  console.log(`NODE_AUTH FAIL: overall timeout of ${HARD_TIMEOUT_MS / 1000} s exceeded`);
  process.exit(1);
}, HARD_TIMEOUT_MS);
hardTimer.unref();

const FALLBACK_NODE_MODULES = path.resolve(__dirname, '..', '..', 'target', 'clients', 'node', 'node_modules');

function resolveModule(name) {
  try {
    return require.resolve(name);
  } catch (_) {
    return require.resolve(name, { paths: [ FALLBACK_NODE_MODULES ] });
  }
}

require(require.resolve('address', { paths: [path.dirname(resolveModule('nacos'))] })).ip = () => '127.0.0.1';
const { NacosNamingClient, NacosConfigClient } = require(resolveModule('nacos'));

const GROUP = 'NODE_AUTH_GROUP';
const quiet = { info() {}, warn() {}, debug() {}, error() {}, log() {} };

class Failure extends Error {}
function check(cond, msg) {
  if (!cond) throw new Failure(msg);
}

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i += 2) {
    out[argv[i].replace(/^--/, '')] = argv[i + 1];
  }
  if (!out.server || !out.username || !out.password) {
    throw new Error('usage: node_auth.js --server HOST:PORT --username U --password P');
  }
  return out;
}

async function refused(promise) {
  try {
    const result = await promise;
    return result === false;
  } catch (_) {
    return true;
  }
}

async function run(args) {
  if (args.anonymous) {
    return runAnonymous(args);
  }
  const naming = new NacosNamingClient({
    logger: quiet, serverList: args.server, namespace: 'public',
    username: args.username, password: args.password,
  });
  await naming.ready();
  const service = 'node-auth-svc';
  await naming.registerInstance(service, { ip: '10.63.63.63', port: 6060 }, GROUP);
  const hosts = await naming.getAllInstances(service, GROUP, '', false);
  check(hosts.some(h => h.port === 6060), `registered instance not listed: ${JSON.stringify(hosts)}`);

  const config = new NacosConfigClient({
    serverAddr: args.server, requestTimeout: 5000,
    username: args.username, password: args.password,
  });
  config.on('error', () => {});
  await config.ready();
  const ok = await config.publishSingle('node-auth.cfg', GROUP, 'node-content');
  check(ok === true, `publishSingle returned ${ok}`);
  const got = await config.getConfig('node-auth.cfg', GROUP);
  check(got === 'node-content', `getConfig returned ${JSON.stringify(got)}`);

  await naming.close();
  config.close();
}

async function runAnonymous(args) {
  const service = 'node-auth-svc';
  const anonymous = new NacosNamingClient({ logger: quiet, serverList: args.server, namespace: 'public' });
  await anonymous.ready();
  check(await refused(anonymous.registerInstance(service, { ip: '10.63.63.63', port: 6061 }, GROUP)),
    'registered without credentials');
  const anonymousConfig = new NacosConfigClient({ serverAddr: args.server, requestTimeout: 3000 });
  anonymousConfig.on('error', () => {});
  await anonymousConfig.ready();
  check(await refused(anonymousConfig.publishSingle('node-auth.cfg', GROUP, 'x')),
    'published without credentials');
  const wrong = new NacosNamingClient({
    logger: quiet, serverList: args.server, namespace: 'public',
    username: args.username, password: 'wrong',
  });
  await wrong.ready();
  check(await refused(wrong.registerInstance(service, { ip: '10.63.63.63', port: 6062 }, GROUP)),
    'registered with a wrong password');
  await anonymous.close();
  await wrong.close();
  anonymousConfig.close();
}

run(parseArgs(process.argv.slice(2))).then(() => {
  console.log('NODE_AUTH_OK');
  process.exit(0);
}, err => {
  console.log(`NODE_AUTH FAIL: ${err && err.stack || err}`);
  process.exit(1);
});
