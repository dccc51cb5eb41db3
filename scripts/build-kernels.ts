/**
 * `npm run build:kernels`: compiles ferlab's AssemblyScript kernels (src/backend/wasm/assembly) into the two wasm
 * modules committed beside them: `ferlab-kernels.relaxed.wasm` (fused multiply-add through relaxed SIMD) and
 * `ferlab-kernels.simd.wasm` (plain SIMD128, for engines without relaxed SIMD). The modules import the tfjs wasm
 * backend's memory (`env.memory`) and keep no memory of their own. `--check` rebuilds into a temporary folder and
 * fails when the committed modules differ from their sources.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(__dirname, '..');
const dir = join(root, 'src', 'backend', 'wasm');
const entry = join(dir, 'assembly', 'index.ts');
const asc = join(root, 'node_modules', 'assemblyscript', 'bin', 'asc.js');
const variants = [
  { name: 'relaxed', flags: ['--use', 'MADD=maddRelaxed', '--enable', 'simd', '--enable', 'relaxed-simd'] },
  { name: 'simd', flags: ['--use', 'MADD=maddPlain', '--enable', 'simd'] },
];
const check = process.argv.includes('--check');
const outDir = check ? mkdtempSync(join(tmpdir(), 'ferlab-kernels-')) : dir;
let stale = 0;
for (const v of variants) {
  const file = `ferlab-kernels.${v.name}.wasm`;
  const out = join(outDir, file);
  execFileSync(process.execPath, [asc, entry, '-o', out, '-O3', '--noAssert', '--runtime', 'stub', '--importMemory', '--noExportMemory', ...v.flags], {
    stdio: 'inherit',
    cwd: root,
  });
  if (check) {
    const same = readFileSync(out).equals(readFileSync(join(dir, file)));
    console.log(`${file}: ${same ? 'up to date' : 'STALE (run npm run build:kernels)'}`);
    if (!same) stale++;
  } else {
    console.log(`wrote ${join('src/backend/wasm', file)} (${readFileSync(out).length} bytes)`);
  }
}
if (check && stale) process.exit(1);
