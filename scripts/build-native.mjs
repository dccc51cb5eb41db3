// Builds ferlab's optional oneDNN addon (src/backend/native/binding.gyp -> src/backend/native/build/Release/
// ferlab_native.node) with the node-gyp that ships with npm. Run by `npm install` / `npm ci` (package.json's install
// script) and by hand (`node scripts/build-native.mjs`). It never fails the install: when something is missing (Linux,
// a C++ compiler, make, the oneDNN headers, Node's own headers) or the build fails, it prints one line saying why
// and exits 0; ferlab then trains on wasm and `--backend native` says what to install. Node's headers are taken from
// Node's install prefix (--nodedir), so nothing is downloaded. FERLAB_NATIVE=off skips the build.
// The full compiler output goes to src/backend/native/build/build.log.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = join(root, 'src', 'backend', 'native');
const addon = join(dir, 'build', 'Release', 'ferlab_native.node');
const hint = 'apt-get install g++ make libdnnl-dev, then `npm run build:native`';

/** Prints the one-line outcome and exits 0 (an optional component must not fail the install). */
function done(line) {
  console.log(`ferlab: ${line}`);
  process.exit(0);
}
const skip = (why) => done(`native (oneDNN) backend not built: ${why}; training uses wasm (for native: ${hint})`);

const onPath = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).status === 0;

try {
  if (process.env.FERLAB_NATIVE === 'off') done('native (oneDNN) backend not built: FERLAB_NATIVE=off');
  if (process.platform !== 'linux') skip(`only Linux builds are set up (this is ${process.platform})`);
  const cxx = process.env.CXX || ['g++', 'c++', 'clang++'].find(onPath);
  if (!cxx) skip('no C++ compiler (g++) found');
  if (!onPath('make')) skip('make not found');
  const includeDirs = [process.env.DNNL_INCLUDE_DIR, '/usr/include', '/usr/local/include'].filter(Boolean);
  if (!includeDirs.some((d) => existsSync(join(d, 'oneapi', 'dnnl', 'dnnl.hpp'))))
    skip(`oneDNN headers (oneapi/dnnl/dnnl.hpp) not found in ${includeDirs.join(', ')}`);
  const nodedir = join(dirname(process.execPath), '..');
  if (!existsSync(join(nodedir, 'include', 'node', 'node_api.h')))
    skip(`Node's headers not found in ${join(nodedir, 'include', 'node')} (node-gyp would download them)`);
  const require = createRequire(import.meta.url);
  try {
    require.resolve('node-addon-api');
  } catch {
    skip('node-addon-api is not installed (npm ci installs it)');
  }
  const gypCandidates = [
    process.env.npm_config_node_gyp,
    join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ].filter(Boolean);
  try {
    gypCandidates.push(require.resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    // not installed locally: npm's own copy above
  }
  const gyp = gypCandidates.find((p) => existsSync(p));
  if (!gyp) skip('node-gyp not found (it ships with npm)');
  const jobs = String(Math.max(1, cpus().length));
  const r = spawnSync(process.execPath, [gyp, 'rebuild', `--directory=${dir}`, `--nodedir=${nodedir}`, '-j', jobs], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, CXX: cxx },
    timeout: 15 * 60 * 1000,
    maxBuffer: 64 << 20,
  });
  mkdirSync(join(dir, 'build'), { recursive: true });
  const log = join(dir, 'build', 'build.log');
  writeFileSync(log, `${r.stdout ?? ''}\n${r.stderr ?? ''}`);
  if (r.status !== 0 || !existsSync(addon)) {
    const err =
      `${r.stderr ?? ''}`.split('\n').find((l) => /error/i.test(l) && !l.startsWith('gyp')) ?? (r.error ? r.error.message : `node-gyp exit ${r.status}`);
    skip(`the build failed (${err.trim().slice(0, 200)}; full output in ${log})`);
  }
  // the library must also load (libdnnl.so present at run time)
  const load = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(addon)}).version()`], { encoding: 'utf8' });
  if (load.status !== 0)
    skip(`the addon was built but does not load (${(load.stderr.split('\n').find((l) => l.includes('Error')) ?? '').trim().slice(0, 200)})`);
  done(`built the native (oneDNN) backend addon ${addon.slice(root.length + 1)} (the default backend auto now trains on it; --backend wasm chooses wasm)`);
} catch (e) {
  skip(`unexpected error (${e instanceof Error ? e.message : String(e)})`);
}
