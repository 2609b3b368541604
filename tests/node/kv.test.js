// kv.test.js: calls every rpc of kv.v1.KV from Node.js against a real
// kv-server, with @grpc/grpc-js and kv.proto loaded at run time by
// @grpc/proto-loader, as a Node user of the contract would.
//
//   KV_SERVER=path/to/kv-server node --test kv.test.js

'use strict';

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');
const { after, before, describe, test } = require('node:test');

const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const PROTO_ROOT = path.join(__dirname, '..', '..', 'protos');

function loadKV() {
  const definition = protoLoader.loadSync('kv/v1/kv.proto', {
    includeDirs: [PROTO_ROOT],
    keepCase: true,  // the fields keep their proto names: namespace, ...
    longs: String,   // uint64 version arrives as a decimal string
    defaults: true,  // absent fields read as their zero values
  });
  return grpc.loadPackageDefinition(definition).kv.v1.KV;
}

// startServer starts kv-server on 127.0.0.1 port 0 and resolves to
// {child, port} once its first stderr line names the bound port.
function startServer(dataDir) {
  const binary = process.env.KV_SERVER;
  assert.ok(binary, 'KV_SERVER must name the kv-server binary');
  const child = spawn(binary,
                      ['--listen=127.0.0.1:0', '--data_dir=' + dataDir],
                      { stdio: ['ignore', 'ignore', 'pipe'] });
  return new Promise((resolve, reject) => {
    const lines = readline.createInterface({ input: child.stderr });
    let first = true;
    lines.on('line', (line) => {
      if (!first) return;  // keep draining so the server never blocks
      first = false;
      const match = /listening on 127\.0\.0\.1:(\d+) /.exec(line);
      if (match) {
        resolve({ child, port: Number(match[1]) });
      } else {
        reject(new Error('unexpected first line: ' + line));
      }
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (first) reject(new Error('kv-server exited with ' + code));
    });
  });
}

// stopServer sends SIGTERM and resolves to the exit code; a server still
// running after 30 s is killed and the promise rejects.
function stopServer(child) {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('kv-server ignored SIGTERM for 30 s'));
    }, 30000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
    child.kill('SIGTERM');
  });
}

// call wraps a unary rpc of client in a promise.
function call(client, method, request) {
  return new Promise((resolve, reject) => {
    const deadline = new Date(Date.now() + 10000);
    client[method](request, { deadline }, (err, response) => {
      if (err) reject(err); else resolve(response);
    });
  });
}

describe('kv.v1.KV from Node.js', () => {
  let server;
  let client;
  let dataDir;

  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kv-node-'));
    server = await startServer(dataDir);
    const KV = loadKV();
    client = new KV('127.0.0.1:' + server.port,
                    grpc.credentials.createInsecure());
  });

  after(async () => {
    if (client) client.close();
    try {
      if (server) {
        const code = await stopServer(server.child);
        assert.equal(code, 0, 'kv-server should exit 0 on SIGTERM');
      }
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('Set then Get answers the value and its version', async () => {
    const set = await call(client, 'Set',
                           { namespace: 'node', key: 'greeting',
                             value: 'héllo ✓' });
    assert.ok(BigInt(set.version) >= 1n);
    const got = await call(client, 'Get',
                           { namespace: 'node', key: 'greeting' });
    assert.equal(got.found, true);
    assert.equal(got.value, 'héllo ✓');
    assert.equal(got.version, set.version);
  });

  test('Get of an absent key is found = false, not an error', async () => {
    const got = await call(client, 'Get', { namespace: 'node', key: 'nope' });
    assert.equal(got.found, false);
    assert.equal(got.value, '');
    assert.equal(got.version, '0');
  });

  test('Set with a ttl stores a value that Get reads back', async () => {
    await call(client, 'Set', { namespace: 'node', key: 'ttl', value: 'v',
                                ttl_seconds: 3600 });
    const got = await call(client, 'Get', { namespace: 'node', key: 'ttl' });
    assert.equal(got.value, 'v');
  });

  test('Delete answers whether it removed a value', async () => {
    await call(client, 'Set', { namespace: 'node', key: 'gone', value: 'v' });
    const first = await call(client, 'Delete',
                             { namespace: 'node', key: 'gone' });
    assert.equal(first.deleted, true);
    const second = await call(client, 'Delete',
                              { namespace: 'node', key: 'gone' });
    assert.equal(second.deleted, false);
    const got = await call(client, 'Get', { namespace: 'node', key: 'gone' });
    assert.equal(got.found, false);
  });

  test('List pages through keys in byte order', async () => {
    const keys = ['list/c', 'list/a', 'list/e', 'list/b', 'list/d'];
    for (const key of keys) {
      await call(client, 'Set', { namespace: 'node-list', key, value: key });
    }
    await call(client, 'Set',
               { namespace: 'node-list', key: 'other', value: 'x' });
    const seen = [];
    let pageToken = '';
    let pages = 0;
    do {
      const page = await call(client, 'List',
                              { namespace: 'node-list', prefix: 'list/',
                                page_size: 2, page_token: pageToken });
      assert.ok(page.keys.length <= 2);
      seen.push(...page.keys);
      pageToken = page.next_page_token;
      pages++;
    } while (pageToken !== '');
    assert.deepEqual(seen, [...keys].sort());
    assert.equal(pages, 3);
  });

  test('a key over 1024 bytes is INVALID_ARGUMENT naming the key',
       async () => {
    await assert.rejects(
        call(client, 'Get', { namespace: 'node', key: 'k'.repeat(1025) }),
        (err) => {
          assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
          assert.match(err.details, /key/);
          return true;
        });
  });

  test('a bad namespace is INVALID_ARGUMENT on every rpc', async () => {
    const bad = { namespace: 'no/slash', key: 'k' };
    for (const [method, request] of [
      ['Get', bad], ['Set', { ...bad, value: 'v' }], ['Delete', bad],
      ['List', { namespace: bad.namespace }],
    ]) {
      await assert.rejects(call(client, method, request), (err) => {
        assert.equal(err.code, grpc.status.INVALID_ARGUMENT, method);
        assert.match(err.details, /namespace/);
        return true;
      });
    }
  });
});
