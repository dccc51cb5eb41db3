/**
 * Headless Chromium (Debian's /usr/bin/chromium via playwright-core) opens a sweep's report.html from a file URL:
 * every plotly figure renders (optimization history, intermediate values, parallel coordinates, one slice plot per
 * parameter, importance) without a page error. The sweep is a real one: the tests' shared quick sweep (random, 4 trials,
 * test/helpers/quick-sweep.ts, on a slice of the real data), or the sweep folder named by FERLAB_REPORT_SWEEP (docs/sweep-report.png comes
 * from sweep-recipe's: FERLAB_REPORT_SWEEP=runs/sweep-recipe-... FERLAB_SCREENSHOT_OUT=docs/sweep-report.png).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { noRealDataReason, realDataDir } from './helpers/realdata';
import { skipFile, skipFileUnlessCI } from './helpers/skip';
import { sharedQuickSweep } from './helpers/quick-sweep';

const root = join(__dirname, '..');
const chromium = process.env.FERLAB_CHROMIUM || '/usr/bin/chromium';
const dataDir = realDataDir();

if (!existsSync(chromium)) {
  skipFileUnlessCI('Chromium is installed', `Chromium not found at ${chromium} (apt-get install chromium, or set FERLAB_CHROMIUM; .ci/run installs it)`);
} else if (!dataDir && !process.env.FERLAB_REPORT_SWEEP) {
  skipFile(`${noRealDataReason()}, and FERLAB_REPORT_SWEEP is not set`);
} else {
  test('sweep report.html renders every figure (history, intermediate values, parallel coordinates, slices, importance)', async () => {
    let dir = process.env.FERLAB_REPORT_SWEEP ? resolve(process.env.FERLAB_REPORT_SWEEP) : undefined;
    // the tests' quick sweep, trained once per test run (test/helpers/quick-sweep.ts)
    if (!dir) dir = (await sharedQuickSweep(dataDir!)).dir;
    const spec = JSON.parse(readFileSync(join(dir, 'sweep.json'), 'utf8')).spec as { space: Record<string, unknown> };
    const params = Object.keys(spec.space).length;
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only when the browser test runs
    const { chromium: pw } = require('playwright-core') as typeof import('playwright-core');
    const browser = await pw.launch({
      executablePath: chromium,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(pathToFileURL(join(dir, 'report.html')).href);
      await page.waitForFunction(() => document.querySelectorAll('.ferlab-figure .main-svg').length > 0, null, { timeout: 60_000 });
      await page.waitForTimeout(500);
      const figures = await page.evaluate(() =>
        Array.from(document.querySelectorAll('.ferlab-figure')).map((el) => ({
          title: (el as unknown as { layout?: { title?: { text?: string } } }).layout?.title?.text ?? '',
          drawn: el.querySelectorAll('.main-svg').length > 0,
        })),
      );
      assert.equal(errors, [], 'no page errors');
      // history + intermediate values + parallel coordinates + one slice per parameter + importance
      assert.is(figures.length, 4 + params, `figures: ${figures.map((f) => f.title).join(' | ')}`);
      assert.ok(
        figures.every((f) => f.drawn),
        'every figure drew its SVG',
      );
      const text = await page.evaluate(() => document.body.innerText);
      for (const s of ['Optimization history', 'Intermediate values', 'Parallel coordinates', 'Slice plots', 'Hyperparameter importance', 'Best trial'])
        assert.ok(text.includes(s), `the page has a '${s}' section`);
      const outDir = join(root, 'test-output', 'browser');
      mkdirSync(outDir, { recursive: true });
      await page.screenshot({ path: join(outDir, 'sweep-report.png'), fullPage: true });
      if (process.env.FERLAB_SCREENSHOT_OUT) {
        // the figures, from the optimization history on
        await page.evaluate(() => {
          const h = Array.from(document.querySelectorAll('h2')).find((e) => e.textContent?.includes('Optimization history'));
          if (h) window.scrollTo(0, h.getBoundingClientRect().top + window.scrollY - 8);
        });
        await page.setViewportSize({ width: 1280, height: 1400 });
        await page.screenshot({ path: resolve(root, process.env.FERLAB_SCREENSHOT_OUT), fullPage: false });
      }
    } finally {
      await browser.close();
    }
  });
}

test.run();
