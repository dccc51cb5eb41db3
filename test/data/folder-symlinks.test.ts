/**
 * Symbolic links in image-folder datasets (issue 26; rule in src/data/folder.ts's file comment): links to folders are
 * not followed, so a `loop -> .` link neither multiplies images (it counted each image 41 times) nor, with two of them,
 * makes the scan endless, and a link to an outside folder brings in none of its images; a link to a file is read only
 * when it resolves inside the dataset.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadDataset, type FerDataset } from '../../src/data';
import { tempDir } from '../helpers/fixtures';
import { tsxArgs } from '../helpers/cli';
import { writePngs } from './folder-fixtures';

/** A flat dataset: happy/ and sad/ with 4 images each (seeds 1-8). */
async function dataset(): Promise<string> {
  const root = tempDir('ferlab-links-');
  const images: Record<string, number> = {};
  for (let i = 1; i <= 4; i++) images[`happy/h${i}.png`] = i;
  for (let i = 1; i <= 4; i++) images[`sad/s${i}.png`] = 4 + i;
  await writePngs(root, images);
  return root;
}

const load = (root: string) => loadDataset({ dataDir: root, cacheDir: false });
const files = (ds: FerDataset) => [...ds.files!].sort();
const EIGHT = ['happy/h1.png', 'happy/h2.png', 'happy/h3.png', 'happy/h4.png', 'sad/s1.png', 'sad/s2.png', 'sad/s3.png', 'sad/s4.png'];

test('a loop -> . link inside a class folder: every image counted once, the link ignored', async () => {
  const root = await dataset();
  symlinkSync('.', join(root, 'happy', 'loop'));
  const ds = await load(root);
  assert.is(ds.n, 8);
  assert.equal(files(ds), EIGHT);
  assert.ok(
    ds.source.folder!.ignored.examples.some((e) => e.startsWith('happy/loop ')),
    `ignored: ${ds.source.folder!.ignored.examples}`,
  );
});

test('two loop links: the scan ends (in a child process with a time limit) with 8 images', async () => {
  const root = await dataset();
  symlinkSync('.', join(root, 'happy', 'a'));
  symlinkSync('..', join(root, 'happy', 'b'));
  const script = join(tempDir('ferlab-links-script-'), 'scan.ts');
  writeFileSync(
    script,
    `import { loadDataset } from ${JSON.stringify(join(__dirname, '..', '..', 'src', 'data'))};\n` +
      `loadDataset({ dataDir: ${JSON.stringify(root)}, cacheDir: false }).then((ds) => console.log('IMAGES', ds.n));\n`,
  );
  const r = spawnSync(process.execPath, tsxArgs(script), { encoding: 'utf8', timeout: 120_000 });
  assert.is(r.signal, null, `the scan did not end within 120 s (${r.signal})`);
  assert.match(r.stdout, /IMAGES 8\b/, r.stdout + r.stderr);
});

test('links to an outside folder or outside file import nothing; a link to a file inside the dataset is read', async () => {
  const root = await dataset();
  const outside = tempDir('ferlab-outside-');
  await writePngs(outside, { 'o1.png': 21, 'o2.png': 22, 'sub/o3.png': 23 });
  symlinkSync(outside, join(root, 'sad', 'elsewhere')); // folder link inside a class folder
  symlinkSync(join(outside, 'o1.png'), join(root, 'sad', 'o1.png')); // file link to outside
  symlinkSync(join(outside, 'sub'), join(root, 'neutral')); // a whole class folder that is a link
  symlinkSync(join(root, 'happy', 'h1.png'), join(root, 'sad', 'inside.png')); // file link inside: followed
  const ds = await load(root);
  assert.equal(files(ds), [...EIGHT, 'sad/inside.png'].sort(), 'no outside image; the inside link read once');
  assert.is(ds.n, 9);
  const examples = ds.source.folder!.ignored.examples.join('; ');
  for (const name of ['sad/elsewhere', 'sad/o1.png', 'neutral']) assert.ok(examples.includes(`${name} (symbolic link`), `${name} ignored: ${examples}`);
});

test.run();
