/**
 * `npm run build`: compiles src/ and experiments/ to CommonJS JavaScript with declarations in dist/ (for notebooks,
 * which import `../dist`), adds dist/index.{js,d.ts} (the public API barrel, guarded against stale builds) and
 * records the hash of the compiled sources in dist/build-info.json.
 */
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sourceHash } from '../src/util/staleness';

const root = join(__dirname, '..');
const dist = join(root, 'dist');
const hash = sourceHash(root); // before compiling: what is compiled is what is hashed
rmSync(dist, { recursive: true, force: true });
execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json')], {
  stdio: 'inherit',
  cwd: root,
});
writeFileSync(join(dist, 'index.js'), "'use strict';\nrequire('./src/util/staleness.js').assertFreshBuild();\nmodule.exports = require('./src/index.js');\n");
writeFileSync(join(dist, 'index.d.ts'), "export * from './src/index';\n");
writeFileSync(join(dist, 'build-info.json'), JSON.stringify({ sourceHash: hash, built: new Date().toISOString() }, null, 2) + '\n');
console.log(`built dist/ (sources ${hash.slice(0, 12)})`);
