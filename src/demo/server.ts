import { lstatSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIP, type AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { dirname, join } from 'node:path';
import { modelFolderFile, readModelFolderFile, readModelJson } from '../models/io';
import { MODEL_META_FILE } from '../records/model';
import { readModelMeta, resolveModelDir } from '../predict/model';
import { COCO_MODEL_FILE, COCO_MODEL_PATH, COCO_WEIGHTS_FILE } from '../predict/coco';
import { PROJECT_ROOT } from '../util/paths';

/**
 * The browser demo's local web server (`npm run demo -- models/<name>`): node's own http server with an explicit
 * allow-list of paths (no static-file handler over any folder), so it can serve nothing but the page, its scripts and
 * detector weights from node_modules, and the chosen model folder's files. A request for any other path, including
 * traversal attempts like `/../package.json` or `/%2e%2e/`, gets 404: paths are looked up in the list as they arrive,
 * never joined to a folder. Model folder files must be plain files beside model.json (src/models/io.ts
 * modelFolderFile, checked at start), and no symbolic link is served (each file is checked again with lstat and opened
 * with O_NOFOLLOW per request).
 *
 * Requests are answered only when their Host header names the address the server listens on (see {@link allowedHosts}):
 * a page on another site that points its own host name at 127.0.0.1 (DNS rebinding) gets 421, so it cannot read the
 * served files. Open connections are bounded: at most {@link DEMO_MAX_CONNECTIONS} at once (further ones are closed
 * on arrival), and a connection idle for {@link DEMO_IDLE_TIMEOUT_MS} (no bytes either way) or that takes longer than
 * {@link DEMO_HEADERS_TIMEOUT_MS} to send its request headers is closed.
 *
 * The page gets everything from this server (no CDN): face-api's browser bundle `dist/face-api.js` (it bundles tfjs
 * 4.22 with the webgl, wasm and cpu backends; the page uses that one tfjs for both the face detector and the
 * classifier), the wasm binaries of @tensorflow/tfjs-backend-wasm (same version), the SSD MobileNet v1 weights, the
 * landmark net and the COCO CenterNet graph model of the human-face rule (assets/models/coco-centernet/), and
 * plotly.js. Its Content-Security-Policy (`connect-src 'self'`) keeps the page from sending anything elsewhere; it
 * sends nothing here either: camera frames are analysed in the page.
 */

/** Where a served path's bytes come from. */
interface Asset {
  /** A file on disk, read per request (so a re-exported model is picked up). */
  file?: string;
  /** Or the content itself. */
  body?: () => string | Buffer;
  type: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.bin': 'application/octet-stream',
};
const typeOf = (p: string) => TYPES[p.slice(p.lastIndexOf('.'))] ?? 'application/octet-stream';

/** Content-Security-Policy of every response: scripts, data and wasm from this server only. */
export const CSP =
  "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; img-src 'self' blob: data:; media-src 'self' blob: mediastream:; connect-src 'self'; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const pkgDir = (name: string) => dirname(require.resolve(`${name}/package.json`));

/** Bundles the page script (src/demo/client.ts and what it imports) with esbuild, the bundler tsx runs on. */
function bundleClient(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const esbuild = require('esbuild') as typeof import('esbuild');
  const r = esbuild.buildSync({
    entryPoints: [join(__dirname, 'client.ts')],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: 'es2020',
    logLevel: 'silent',
  });
  return r.outputFiles[0].text;
}

/**
 * The allow-list: URL path -> asset.
 * @param modelDir a model folder (its model.json's weightsManifest names the weight files served).
 */
export function demoRoutes(modelDir: string): Map<string, Asset> {
  const routes = new Map<string, Asset>();
  const page = join(__dirname, 'page.html');
  const script = bundleClient();
  routes.set('/', { file: page, type: TYPES['.html'] });
  routes.set('/index.html', { file: page, type: TYPES['.html'] });
  routes.set('/app.js', { body: () => script, type: TYPES['.js'] });
  const faceapi = pkgDir('@vladmandic/face-api');
  routes.set('/vendor/face-api.js', { file: join(faceapi, 'dist', 'face-api.js'), type: TYPES['.js'] });
  // the detector, and the landmark net of the human-face rule (src/predict/human.ts)
  const detectorFiles = ['ssd_mobilenetv1_model', 'face_landmark_68_model'].flatMap((n) => [`${n}-weights_manifest.json`, `${n}.bin`]);
  for (const f of detectorFiles) routes.set(`/vendor/face-api/model/${f}`, { file: join(faceapi, 'model', f), type: typeOf(f) });
  // the COCO CenterNet of the rule's second stage (src/predict/coco.ts); its model JSON names the weights file beside it
  for (const f of [COCO_MODEL_FILE, COCO_WEIGHTS_FILE])
    routes.set(`/vendor/coco-centernet/${f}`, { file: join(PROJECT_ROOT, COCO_MODEL_PATH, f), type: typeOf(f) });
  const wasm = join(pkgDir('@tensorflow/tfjs-backend-wasm'), 'dist');
  for (const f of ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'])
    routes.set(`/vendor/tfjs-backend-wasm/${f}`, { file: join(wasm, f), type: TYPES['.wasm'] });
  routes.set('/vendor/plotly.min.js', { file: join(pkgDir('plotly.js-dist-min'), 'plotly.min.js'), type: TYPES['.js'] });
  // the shared check of every model folder loader (src/models/io.ts): plain files beside model.json, no symbolic links
  const { json } = readModelJson(modelDir);
  const files = ['model.json', MODEL_META_FILE, ...json.weightsManifest.flatMap((g) => g.paths)];
  for (const f of files) {
    // and names that are plain URL path segments, as the page requests them
    if (!/^[\w.-]+$/.test(f) || f.startsWith('.')) throw new Error(`${join(modelDir, 'model.json')}: weights path '${f}' is not a file name beside model.json`);
    routes.set(`/model/${f}`, { file: modelFolderFile(modelDir, f), type: typeOf(f) });
  }
  return routes;
}

/** A running demo server. */
export interface DemoServer {
  /** Base URL, e.g. `http://127.0.0.1:8080/`. */
  url: string;
  server: Server;
  /** The model folder served under /model/. */
  modelDir: string;
  close(): Promise<void>;
}

/**
 * Most connections the demo server keeps open at once (node's `server.maxConnections`; later ones are closed as they
 * arrive). A browser opens at most 6 connections per host (Chromium's and Firefox's per-host limit), so 32 leaves room
 * for several tabs; before the bound, 100 idle clients took the server from 163 to 595 MB.
 */
export const DEMO_MAX_CONNECTIONS = 32;
/** A connection with no bytes in either direction for this long (ms) is closed (node's `server.timeout`). */
export const DEMO_IDLE_TIMEOUT_MS = 10_000;
/** A client must send its whole request head within this time (ms) (node's `server.headersTimeout`). */
export const DEMO_HEADERS_TIMEOUT_MS = 10_000;
/** A whole request, body included, must arrive within this time (ms) (node's `server.requestTimeout`). */
export const DEMO_REQUEST_TIMEOUT_MS = 30_000;

/** Options of {@link startDemoServer}. */
export interface DemoOptions {
  /** Interface to bind: default 127.0.0.1 (this machine only). */
  host?: string;
  /** TCP port; 0 picks a free one. Default 8080. */
  port?: number;
  /** Most open connections (default {@link DEMO_MAX_CONNECTIONS}). */
  maxConnections?: number;
  /** Idle connection timeout, ms (default {@link DEMO_IDLE_TIMEOUT_MS}). */
  idleTimeoutMs?: number;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/**
 * The Host header values the server answers (lower case): each name of the listening address with `:port` (and
 * without it when the port is 80, as browsers send it). Names: for 127.0.0.1 `127.0.0.1` and `localhost`; for ::1
 * `[::1]` and `localhost`; for `localhost` all three; for a wildcard address (0.0.0.0, ::) those three and every
 * address of this machine's interfaces; for another address or host name, that one. A host name chosen by some web
 * page (DNS rebinding: evil.example resolving to 127.0.0.1) is never in the list.
 */
export function allowedHosts(host: string, port: number): Set<string> {
  const h = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  const names = new Set<string>();
  const add = (n: string) => names.add(isIP(n) === 6 ? `[${n}]` : n);
  if (h === '127.0.0.1' || h === 'localhost') ['127.0.0.1', 'localhost'].forEach(add);
  if (h === '::1' || h === 'localhost') ['::1', 'localhost'].forEach(add);
  if (h === '0.0.0.0' || h === '::') {
    LOOPBACK.forEach(add);
    for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) add(a.address.toLowerCase().replace(/%.*$/, ''));
  }
  if (!names.size) add(h);
  const out = new Set<string>();
  for (const n of names) {
    out.add(`${n}:${port}`);
    if (port === 80) out.add(n);
  }
  return out;
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer, head: boolean): void {
  res.writeHead(status, {
    'Content-Type': type,
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
    'Content-Security-Policy': CSP,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cross-Origin-Resource-Policy': 'same-origin',
    'Permissions-Policy': 'camera=(self), microphone=()',
  });
  res.end(head ? undefined : body);
}

/**
 * Starts the demo server for a model folder or run folder.
 * @throws Error naming the folder when it is not a ferlab model folder (see src/predict/model.ts), when the model's
 *   input is not the default one (the page implements 48x48, pixel / 255 only: src/demo/client.ts), naming model.json
 *   when a file it lists is not a plain file beside it (`..`, a folder part, a symbolic link: src/models/io.ts
 *   modelFolderFile), or the listen error (e.g. EADDRINUSE with the port).
 */
export async function startDemoServer(model: string, opts: DemoOptions = {}): Promise<DemoServer> {
  const modelDir = resolveModelDir(model);
  const meta = readModelMeta(modelDir); // classes and preprocessing checked before serving
  const spec = meta.inputSpec;
  if (spec && !(spec.size === 48 && spec.resize === 'none' && spec.normalize === 'unit'))
    throw new Error(
      `${join(modelDir, MODEL_META_FILE)}: the model takes input ${JSON.stringify(spec)}; the browser demo feeds 48x48 pixel / 255 only (src/demo/client.ts): use \`ferlab predict\` for this model`,
    );
  const routes = demoRoutes(modelDir);
  const host = opts.host ?? '127.0.0.1';
  let hosts = new Set<string>();
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const head = req.method === 'HEAD';
    const asked = (req.headers.host ?? '').toLowerCase();
    if (!hosts.has(asked))
      return send(
        res,
        421,
        'text/plain; charset=utf-8',
        `Host '${asked}' is not this server: use the address it printed (e.g. http://127.0.0.1:PORT/)\n`,
        head,
      );
    if (req.method !== 'GET' && !head) return send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n', head);
    const path = (req.url ?? '/').split('?')[0];
    const asset = routes.get(path);
    if (!asset) return send(res, 404, 'text/plain; charset=utf-8', 'not found\n', head);
    let body: string | Buffer;
    try {
      // lstat: a symbolic link (e.g. put in the model folder after the start) is not a file here; O_NOFOLLOW on open
      if (asset.file && !lstatSync(asset.file, { throwIfNoEntry: false })?.isFile()) return send(res, 404, 'text/plain; charset=utf-8', 'not found\n', head);
      body = asset.file ? readModelFolderFile(asset.file) : asset.body!();
    } catch {
      return send(res, 404, 'text/plain; charset=utf-8', 'not found\n', head);
    }
    send(res, 200, asset.type, body, head);
  };
  const server = createServer({ headersTimeout: DEMO_HEADERS_TIMEOUT_MS, requestTimeout: DEMO_REQUEST_TIMEOUT_MS }, handler);
  server.maxConnections = opts.maxConnections ?? DEMO_MAX_CONNECTIONS;
  server.timeout = opts.idleTimeoutMs ?? DEMO_IDLE_TIMEOUT_MS;
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 8080, host, () => resolveListen());
  });
  const { port } = server.address() as AddressInfo;
  hosts = allowedHosts(host, port);
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${port}/`,
    server,
    modelDir,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
