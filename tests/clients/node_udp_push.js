// Real npm `nacos` client (1.x style: HTTP + UDP push): a subscriber sees an instance that
// another client registers through the server's UDP push, well before its 10 s poll.
// Usage: node node_udp_push.js --server 127.0.0.1:PORT --service NAME
// Prints the push delay and NODE_UDP_PUSH_OK and exits 0 on success; exits 1 with a reason otherwise.
'use strict';

const path = require('path');

const HARD_TIMEOUT_MS = 30000;
setTimeout(() => {
  console.log('NODE_UDP_PUSH FAIL: overall timeout');
  process.exit(1);
}, HARD_TIMEOUT_MS).unref();

const NODE_MODULES = path.resolve(__dirname, '..', '..', 'target', 'clients', 'node', 'node_modules');
const resolve = name => require.resolve(name, { paths: [ NODE_MODULES ] });
// Keep every datagram on loopback: the client reports this IP as its `clientIP`.
require(resolve('address')).ip = () => '127.0.0.1';
const { NacosNamingClient } = require(resolve('nacos'));

function arg(name) {
  const i = process.argv.indexOf(name);
  if (i < 0 || i + 1 >= process.argv.length) {
    console.log(`NODE_UDP_PUSH FAIL: missing ${name}`);
    process.exit(1);
  }
  return process.argv[i + 1];
}

const quietLogger = { info() {}, debug() {}, warn() {}, error: console.error };

async function main() {
  const server = arg('--server');
  const service = arg('--service');
  const watcher = new NacosNamingClient({ logger: quietLogger, serverList: server, namespace: 'public' });
  const writer = new NacosNamingClient({ logger: quietLogger, serverList: server, namespace: 'public' });
  await watcher.ready();
  await writer.ready();

  let seen = null;
  watcher.subscribe({ serviceName: service }, hosts => {
    if (hosts.some(h => h.port === 9001 && h.ip === '10.9.0.1')) {
      seen = Date.now();
    }
  });
  // The subscription polls once at once (the listener fires only on changes, so wait a
  // moment for that poll); after it the client would poll again only in 10 s.
  await new Promise(r => setTimeout(r, 1000));
  const start = Date.now();
  await writer.registerInstance(service, { ip: '10.9.0.1', port: 9001 });
  while (seen === null && Date.now() - start < 8000) {
    await new Promise(r => setTimeout(r, 20));
  }
  if (seen === null) {
    console.log('NODE_UDP_PUSH FAIL: no push within 8 s (the 10 s poll would be next)');
    process.exit(1);
  }
  const ms = seen - start;
  if (ms > 3000) {
    console.log(`NODE_UDP_PUSH FAIL: change seen after ${ms} ms, not through a push`);
    process.exit(1);
  }
  await writer.deregisterInstance(service, { ip: '10.9.0.1', port: 9001 });
  console.log(`push seen after ${ms} ms`);
  console.log("NODE_UDP_PUSH_OK");
  watcher.close();
  writer.close();
  process.exit(0);
}

main().catch(err => {
  console.log(`NODE_UDP_PUSH FAIL: ${err && err.stack || err}`);
  process.exit(1);
});
