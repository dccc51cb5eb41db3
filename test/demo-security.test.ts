/**
 * The demo server's hardening (issue 26): only requests whose Host header names the listening address are answered
 * (a DNS-rebinding page sends its own host name and gets 421); no symbolic link is served, even one put into the model
 * folder after the start; open connections are bounded (DEMO_MAX_CONNECTIONS, later ones closed on arrival) and idle
 * ones closed (idle timeout).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { allowedHosts, DEMO_IDLE_TIMEOUT_MS, DEMO_MAX_CONNECTIONS, startDemoServer, type DemoServer } from '../src/demo/server';
import { tempDir } from './helpers/fixtures';
import { writeModelFolder } from './predict/helpers';

let demo: DemoServer;
let modelDir = '';
const portOf = (d: DemoServer) => (d.server.address() as AddressInfo).port;

/** GET `path` from the demo with the given Host header. */
function get(path: string, host: string, d = demo): Promise<{ status: number; body: string }> {
  return new Promise((resolveReq, reject) => {
    const req = request({ host: '127.0.0.1', port: portOf(d), path, headers: { host } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolveReq({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Opens a TCP connection that sends nothing. */
function idle(port: number): Promise<Socket> {
  return new Promise((resolveConn, reject) => {
    const s: Socket = connect(port, '127.0.0.1', () => resolveConn(s));
    s.on('error', reject);
  });
}

/** Resolves true when `s` is closed by the other side within `ms`, false otherwise. */
function closedWithin(s: Socket, ms: number): Promise<boolean> {
  return new Promise((r) => {
    if (s.destroyed || s.readableEnded) return r(true);
    const t = setTimeout(() => r(false), ms);
    s.once('close', () => (clearTimeout(t), r(true)));
    s.once('end', () => (clearTimeout(t), r(true)));
    s.on('error', () => {});
  });
}

test.before(async () => {
  modelDir = await writeModelFolder(join(tempDir('ferlab-demo-sec-'), 'model'));
  demo = await startDemoServer(modelDir, { port: 0 });
});

test.after(async () => {
  await demo?.close();
});

test('Host header: 127.0.0.1:PORT and localhost:PORT get 200; a foreign host name, another port or no Host get 421', async () => {
  const port = portOf(demo);
  for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`]) {
    const r = await get('/model/model.json', host);
    assert.is(r.status, 200, host);
    assert.ok(JSON.parse(r.body).weightsManifest, host);
  }
  for (const host of [`evil.example:${port}`, 'evil.example', `127.0.0.1:${port + 1}`, `127.0.0.1.evil.example:${port}`]) {
    const r = await get('/model/model.json', host);
    assert.is(r.status, 421, `Host '${host}'`);
    assert.not.match(r.body, /weightsManifest/, `Host '${host}': no model data`);
  }
  // no Host header at all (HTTP/1.0 allows leaving it out)
  const s = await idle(port);
  const answer = await new Promise<string>((r) => {
    let text = '';
    s.setEncoding('utf8');
    s.on('data', (c: string) => (text += c));
    s.on('close', () => r(text));
    s.write('GET /model/model.json HTTP/1.0\r\n\r\n');
  });
  assert.match(answer, /^HTTP\/1\.[01] 421 /, answer.slice(0, 200));
  assert.equal([...allowedHosts('127.0.0.1', port)].sort(), [`127.0.0.1:${port}`, `localhost:${port}`]);
  assert.equal([...allowedHosts('::1', 80)].sort(), ['[::1]', '[::1]:80', 'localhost', 'localhost:80']);
});

test('a symbolic link put into the served model folder is not served (404), the file it replaced was', async () => {
  const secret = join(tempDir('ferlab-secret-'), 'secret.json');
  writeFileSync(secret, '{"secret": "SECRET-123"}');
  const host = `127.0.0.1:${portOf(demo)}`;
  assert.is((await get('/model/ferlab.json', host)).status, 200);
  renameSync(join(modelDir, 'ferlab.json'), join(modelDir, 'ferlab.json.orig'));
  symlinkSync(secret, join(modelDir, 'ferlab.json'));
  const r = await get('/model/ferlab.json', host);
  assert.is(r.status, 404);
  assert.not.match(r.body, /SECRET-123/);
});

test(`connections: at most DEMO_MAX_CONNECTIONS (${DEMO_MAX_CONNECTIONS}) open, more are closed; idle ones time out`, async () => {
  assert.is(demo.server.maxConnections, DEMO_MAX_CONNECTIONS);
  assert.is(demo.server.timeout, DEMO_IDLE_TIMEOUT_MS);
  const dir = await writeModelFolder(join(tempDir('ferlab-demo-conn-'), 'model')); // the first folder holds a link now
  const server = await startDemoServer(dir, { port: 0, idleTimeoutMs: 60_000 });
  const port = portOf(server);
  const sockets: Socket[] = [];
  try {
    for (let i = 0; i < DEMO_MAX_CONNECTIONS; i++) sockets.push(await idle(port));
    // wait until the server has accepted all of them
    for (let t = 0; t < 100; t++) {
      const n = await new Promise<number>((r) => server.server.getConnections((_e, c) => r(c)));
      if (n >= DEMO_MAX_CONNECTIONS) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const extra = await idle(port);
    assert.ok(await closedWithin(extra, 3000), `connection ${DEMO_MAX_CONNECTIONS + 1} was closed by the server`);
    assert.not.ok(await closedWithin(sockets[0], 200), 'the first ones stay open (within the idle timeout)');
    for (const s of sockets.splice(0)) s.destroy();
    await new Promise((r) => setTimeout(r, 100));
    assert.is((await get('/', `127.0.0.1:${port}`, server)).status, 200, 'answers again once connections are freed');
  } finally {
    for (const s of sockets) s.destroy();
    await server.close();
  }
  const quick = await startDemoServer(dir, { port: 0, idleTimeoutMs: 300 });
  try {
    const s = await idle(portOf(quick));
    assert.ok(await closedWithin(s, 3000), 'an idle connection is closed after the idle timeout');
  } finally {
    await quick.close();
  }
});

test.run();
