/**
 * The browser demo's human-face rule and smoothing toggle in headless Chromium (as test/demo-browser.test.ts): the cat
 * photo (assets/photos/cat.jpg) gives no face and one dropped detection with "human faces only" on (the default), one
 * face with it off; smile.jpg gives its one face with the rule on; the macaque, proboscis-monkey and lemur photos give
 * no face, each detection passing the landmark stage and dropped by the COCO CenterNet stage (src/predict/coco.ts, its
 * graph model served by the demo server). Needs Chromium: skipped without it (fails under CI=true).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startDemoServer } from '../src/demo/server';
import { tempDir } from './helpers/fixtures';
import { skipFileUnlessCI } from './helpers/skip';
import { root, writeModelFolder } from './predict/helpers';

const chromium = process.env.FERLAB_CHROMIUM || '/usr/bin/chromium';

interface DemoState {
  ready: boolean;
  error?: string;
  frames: number;
  lastFaces: Array<{ label: string; human?: { human: boolean } }>;
  rejected: Array<{ human: { human: boolean; landmarks: boolean; reason: string; coco?: { person: number; animal: number } } }>;
  humanCheck: boolean;
  smooth: boolean;
}

if (!existsSync(chromium))
  skipFileUnlessCI('the demo human-face rule in Chromium', `Chromium not found at ${chromium} (apt-get install chromium, or set FERLAB_CHROMIUM)`);
else {
  test('demo: the cat photo gives no face with "human faces only" (default) and one without; smile.jpg one face', async () => {
    const work = tempDir('ferlab-demo-human-');
    const demo = await startDemoServer(await writeModelFolder(join(work, 'model')), { port: 0 });
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only when the browser test runs
    const { chromium: pw } = require('playwright-core') as typeof import('playwright-core');
    const browser = await pw.launch({
      executablePath: chromium,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = await browser.newPage();
      const pageErrors: string[] = [];
      page.on('pageerror', (e) => pageErrors.push(e.message));
      await page.goto(`${demo.url}?backend=wasm`, { timeout: 120_000 });
      const state = () => page.evaluate(() => (window as unknown as { ferlabDemo: DemoState }).ferlabDemo);
      await page.waitForFunction(
        () => {
          const s = (window as unknown as { ferlabDemo?: DemoState }).ferlabDemo;
          return s?.ready || s?.error;
        },
        null,
        { timeout: 120_000 },
      );
      let s = await state();
      assert.is(s.error, undefined, `page error: ${s.error}`);
      assert.equal([s.humanCheck, s.smooth], [true, true], 'both on by default');
      assert.equal(
        await page.evaluate(() => [
          (document.getElementById('human-check') as HTMLInputElement).checked,
          (document.getElementById('smooth') as HTMLInputElement).checked,
        ]),
        [true, true],
      );

      const after = async (frames: number) => {
        await page.waitForFunction(
          (n) => {
            const d = (window as unknown as { ferlabDemo: DemoState }).ferlabDemo;
            return d.error || d.frames > n;
          },
          frames,
          { timeout: 120_000 },
        );
        const d = await state();
        assert.is(d.error, undefined, `page error: ${d.error}`);
        return d;
      };
      const analysed = async (file: string) => {
        const before = (await state()).frames;
        await page.setInputFiles('#photo', join(root, 'assets', 'photos', file));
        return after(before);
      };
      const toggled = async () => {
        const before = (await state()).frames;
        await page.click('#human-check'); // the photo shown is analysed again
        return after(before);
      };
      const statusText = () => page.evaluate(() => document.getElementById('status')!.textContent ?? '');

      s = await analysed('cat.jpg');
      assert.is(s.lastFaces.length, 0, 'the cat is not a human face');
      assert.is(s.rejected.length, 1, 'one detection dropped by the rule');
      assert.match(await statusText(), /cat\.jpg: 0 faces found \(1 detection not a human face: dropped\)/);

      s = await toggled(); // off
      assert.is(s.humanCheck, false);
      assert.is(s.lastFaces.length, 1, 'without the rule the detector reports the cat head');
      assert.is(s.rejected.length, 0);
      assert.match(await statusText(), /cat\.jpg: 1 face found$/);
      s = await analysed('cat.jpg'); // the same photo chosen again is analysed again
      assert.is(s.lastFaces.length, 1);

      s = await toggled(); // on again
      assert.equal([s.humanCheck, s.lastFaces.length, s.rejected.length], [true, 0, 1]);
      s = await analysed('smile.jpg');
      assert.is(s.lastFaces.length, 1, 'smile.jpg: one face');
      assert.is(s.lastFaces[0].human?.human, true);

      // the primates: their landmarks pass; CenterNet sees an animal and no stronger person where the face is
      for (const file of ['macaque.jpg', 'proboscis-monkey.jpg', 'lemur.jpg']) {
        s = await analysed(file);
        assert.is(s.lastFaces.length, 0, `${file}: no face`);
        assert.is(s.rejected.length, 1, `${file}: one detection dropped`);
        const h = s.rejected[0].human;
        assert.is(h.landmarks, true, `${file}: passes the landmark stage (${h.reason})`);
        assert.match(h.reason, /^(COCO \w+ 0\.\d\d >= person 0\.\d\d|no COCO person .* contains the face; \w+ 0\.\d\d)$/, `${file}: ${h.reason}`);
        assert.ok(h.coco!.animal > h.coco!.person, `${file}: animal ${h.coco!.animal} > person ${h.coco!.person}`);
      }
      assert.equal(pageErrors, []);
    } finally {
      await browser.close();
      await demo.close();
    }
  });
}

test.run();
