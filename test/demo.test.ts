/**
 * The demo server (`npm run demo -- <model>`): binds 127.0.0.1 by default, serves exactly the page, its bundled script,
 * the vendored libraries and detector weights byte for byte from node_modules, and the model folder's files; every
 * other path gets 404, including traversal attempts sent raw (`/../package.json`, `/%2e%2e/`, ...); only GET and HEAD;
 * a Content-Security-Policy that keeps the page from contacting anything but this server.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { startDemoServer, type DemoServer } from '../src/demo/server';
import { tempDir } from './helpers/fixtures';
import { spawnCli } from './helpers/cli';
import { root, writeModelFolder } from './predict/helpers';

let demo: DemoServer;
let runDir = '';

/** A raw HTTP request: the path goes on the wire exactly as given (no URL normalisation of `..` or `%2e`). */
function raw(path: string, method = 'GET'): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  const { port } = demo.server.address() as AddressInfo;
  return new Promise((resolveReq, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolveReq({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

const pkg = (name: string) => dirname(require.resolve(`${name}/package.json`));

test.before(async () => {
  runDir = await writeModelFolder(join(tempDir('ferlab-demo-'), 'run'), { runFolder: true });
  demo = await startDemoServer(runDir, { port: 0 });
});

test.after(async () => {
  await demo?.close();
});

test('binds 127.0.0.1 by default and serves the run folder model/', () => {
  assert.is((demo.server.address() as AddressInfo).address, '127.0.0.1');
  assert.match(demo.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  assert.is(demo.modelDir, join(runDir, 'model'));
});

test('the allow-listed files, byte for byte, with their types and the security headers', async () => {
  const files: Array<[string, string, RegExp]> = [
    ['/vendor/face-api.js', join(pkg('@vladmandic/face-api'), 'dist', 'face-api.js'), /^text\/javascript/],
    ['/vendor/plotly.min.js', join(pkg('plotly.js-dist-min'), 'plotly.min.js'), /^text\/javascript/],
    ['/vendor/face-api/model/ssd_mobilenetv1_model.bin', join(pkg('@vladmandic/face-api'), 'model', 'ssd_mobilenetv1_model.bin'), /^application\/octet-stream/],
    [
      '/vendor/face-api/model/ssd_mobilenetv1_model-weights_manifest.json',
      join(pkg('@vladmandic/face-api'), 'model', 'ssd_mobilenetv1_model-weights_manifest.json'),
      /^application\/json/,
    ],
    [
      '/vendor/tfjs-backend-wasm/tfjs-backend-wasm-simd.wasm',
      join(pkg('@tensorflow/tfjs-backend-wasm'), 'dist', 'tfjs-backend-wasm-simd.wasm'),
      /^application\/wasm$/,
    ],
    // the COCO CenterNet of the human-face rule (src/predict/coco.ts), from the checkout's assets/models/
    ['/vendor/coco-centernet/centernet.json', join(root, 'assets', 'models', 'coco-centernet', 'centernet.json'), /^application\/json/],
    ['/vendor/coco-centernet/centernet.bin', join(root, 'assets', 'models', 'coco-centernet', 'centernet.bin'), /^application\/octet-stream/],
    ['/model/model.json', join(runDir, 'model', 'model.json'), /^application\/json/],
    ['/model/weights.bin', join(runDir, 'model', 'weights.bin'), /^application\/octet-stream/],
    ['/model/ferlab.json', join(runDir, 'model', 'ferlab.json'), /^application\/json/],
    ['/', join(root, 'src', 'demo', 'page.html'), /^text\/html/],
  ];
  for (const [path, file, type] of files) {
    const r = await raw(path);
    assert.is(r.status, 200, `${path}: 200`);
    assert.match(String(r.headers['content-type']), type, `${path}: content type`);
    assert.ok(r.body.equals(readFileSync(file)), `${path}: the bytes of ${file}`);
    assert.match(String(r.headers['content-security-policy']), /connect-src 'self'/);
    assert.is(r.headers['x-content-type-options'], 'nosniff');
  }
  const app = await raw('/app.js?v=1');
  assert.is(app.status, 200, 'the bundled page script (query strings ignored)');
  const js = app.body.toString('utf8');
  assert.match(js, /ferlabDemo/);
  assert.match(js, /faceCropBox|Math\.max\(1, Math\.round\(Math\.max\(box\.width, box\.height\)/, 'the shared crop geometry is bundled in');
  assert.not.match(js, /require\(["'](node:|fs|sharp)/, 'no Node module in the page bundle');
  const head = await raw('/model/weights.bin', 'HEAD');
  assert.is(head.status, 200);
  assert.is(head.body.length, 0, 'HEAD: no body');
  assert.is(Number(head.headers['content-length']), readFileSync(join(runDir, 'model', 'weights.bin')).length);
});

test('everything else is 404: traversal attempts, project files, other node_modules files, other model files', async () => {
  const paths = [
    '/../package.json',
    '/%2e%2e/package.json',
    '/%2e%2e/',
    '/%2E%2E/%2E%2E/etc/passwd',
    '/..%2fpackage.json',
    '/model/../package.json',
    '/model/%2e%2e/package.json',
    '/model/..%2f..%2fpackage.json',
    '/vendor/../package.json',
    '/vendor/face-api/model/../../package.json',
    '/vendor/face-api/model/face_recognition_model.bin',
    '/vendor/face-api/package.json',
    '/package.json',
    '/src/demo/server.ts',
    '/src/demo/client.ts',
    '/node_modules/@vladmandic/face-api/package.json',
    '/model/',
    '/model',
    '/model/config.json',
    '/model.json',
    '//etc/passwd',
    '/model//weights.bin',
    '/MODEL/model.json',
    '/index.html/',
    '/.git/config',
    '/app.js/..',
    '/favicon.ico',
  ];
  for (const p of paths) {
    const r = await raw(p);
    assert.is(r.status, 404, `${p}: ${r.status}`);
    assert.is(r.body.toString(), 'not found\n', `${p}: no content`);
  }
  for (const method of ['POST', 'PUT', 'DELETE']) assert.is((await raw('/model/model.json', method)).status, 405, `${method}: 405`);
});

test('npm run demo: prints the 127.0.0.1 URL, serves until SIGTERM; a bad model folder is a clear error', async () => {
  const p = spawnCli(['demo', runDir, '--port', '0']);
  let out = '';
  p.stdout.on('data', (c: Buffer) => (out += c.toString()));
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL printed: ${out}`)), 60_000);
    p.stdout.on('data', () => {
      const m = /ferlab demo: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolveUrl(m[1]);
      }
    });
  });
  const page = await fetch(url);
  assert.is(page.status, 200);
  assert.match(await page.text(), /<title>ferlab: facial expressions, live<\/title>/);
  const code = await new Promise<number | null>((r) => {
    p.on('exit', (c) => r(c));
    p.kill('SIGTERM');
  });
  assert.is(code, 0, 'exits cleanly on SIGTERM');

  const bad = spawnCli(['demo', join(runDir, 'nothing'), '--port', '0']);
  let err = '';
  bad.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const badCode = await new Promise<number | null>((r) => bad.on('exit', (c) => r(c)));
  assert.is(badCode, 1);
  assert.match(err, /ferlab: model folder .*nothing does not exist/);
});

test.run();
