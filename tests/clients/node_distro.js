#!/usr/bin/env node
// The npm `nacos` client (2.6.3, NacosNamingClient, HTTP v1 + UDP push) against a nacore
// cluster (tests/distro_clients.rs).
//
// Usage: node node_distro.js --servers A,B,C --watch X --service NAME --ip IP --port PORT
//                            --until-file PATH
//
//  * A watcher whose serverList is only `--watch` subscribes first (its first poll records it
//    as a UDP subscriber of that member).
//  * A writer whose serverList is every member (`--servers`; the client picks a random one
//    per request) registers IP:PORT.
//  * The watcher must be handed the instance within 3 s, through a push of the member it
//    polls (its next poll would come 10 s later).
//  * The script then keeps the writer alive until `--until-file` exists (the test checks
//    every member meanwhile; 40 s at most), deregisters, and exits.
//
// Prints NODE_DISTRO_OK and exits 0 on success; prints NODE_DISTRO FAIL: <why> and exits 1.
'use strict';

const fs = require('fs');
const path = require('path');

const HARD_TIMEOUT_MS = 60000;
setTimeout(() => {
  console.log('NODE_DISTRO FAIL: overall timeout');
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
    console.log(`NODE_DISTRO FAIL: missing ${name}`);
    process.exit(1);
  }
  return process.argv[i + 1];
}

const sleep = ms => new Promise(r => setTimeout(r, ms));
const quietLogger = { info() {}, debug() {}, warn: console.error, error: console.error };

async function main() {
  const servers = arg('--servers');
  const watch = arg('--watch');
  const service = arg('--service');
  const ip = arg('--ip');
  const port = Number(arg('--port'));
  const untilFile = arg('--until-file');

  const watcher = new NacosNamingClient({ logger: quietLogger, serverList: watch, namespace: 'public' });
  const writer = new NacosNamingClient({ logger: quietLogger, serverList: servers, namespace: 'public' });
  await watcher.ready();
  await writer.ready();

  let seen = null;
  let last = null;
  watcher.subscribe({ serviceName: service }, hosts => {
    last = hosts;
    if (seen === null && hosts.some(h => h.ip === ip && Number(h.port) === port)) {
      seen = Date.now();
    }
  });
  // The subscription's first poll happens at once; give it a moment before registering.
  await sleep(1000);
  const start = Date.now();
  await writer.registerInstance(service, { ip, port, metadata: { lang: 'node' } });
  while (seen === null && Date.now() - start < 8000) await sleep(20);
  if (seen === null) {
    console.log(`NODE_DISTRO FAIL: the watcher on ${watch} got no push within 8 s; last hosts ${JSON.stringify(last)}`);
    process.exit(1);
  }
  const ms = seen - start;
  if (ms > 3000) {
    console.log(`NODE_DISTRO FAIL: the watcher on ${watch} saw the instance after ${ms} ms, not through a push`);
    process.exit(1);
  }
  console.error(`node_distro: the watcher on ${watch} saw the instance ${ms} ms after the registration`);
  console.log('NODE_DISTRO_REGISTERED');

  const holdStart = Date.now();
  while (!fs.existsSync(untilFile)) {
    if (Date.now() - holdStart > 40000) {
      console.log(`NODE_DISTRO FAIL: ${untilFile} did not appear within 40 s`);
      process.exit(1);
    }
    await sleep(50);
  }
  await writer.deregisterInstance(service, { ip, port });
  watcher.close();
  writer.close();
  console.log('NODE_DISTRO_OK');
  process.exit(0);
}

main().catch(err => {
  console.log(`NODE_DISTRO FAIL: ${err && err.stack || err}`);
  process.exit(1);
});
