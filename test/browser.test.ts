/**
 * Headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core; no browser download) opens an experiment
 * report.html from a file URL and checks that the confusion-matrix heatmaps rendered: one cell label per
 * (true, predicted) pair, class names on both axes, the axis titles. Saves screenshots under test-output/browser/.
 *
 * The report comes from a real run: a quick experiment on the real data, or the experiment folder named by FERLAB_REPORT_EXPERIMENT
 * (used to make docs/experiment-report.png from the full default experiment: FERLAB_SCREENSHOT_OUT=docs/experiment-report.png).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { noRealDataReason, realDataDir } from './helpers/realdata';
import { skipFile, skipFileUnlessCI } from './helpers/skip';

const root = join(__dirname, '..');
const chromium = process.env.FERLAB_CHROMIUM || '/usr/bin/chromium';
const dataDir = realDataDir();

if (!existsSync(chromium)) {
  skipFileUnlessCI('Chromium is installed', `Chromium not found at ${chromium} (apt-get install chromium, or set FERLAB_CHROMIUM; .ci/run installs it)`);
} else if (!dataDir && !process.env.FERLAB_REPORT_EXPERIMENT) {
  skipFile(`${noRealDataReason()}, and FERLAB_REPORT_EXPERIMENT is not set`);
} else {
  test('experiment report.html renders its confusion-matrix heatmaps with the right cells and axis labels', async () => {
    let experimentDir = process.env.FERLAB_REPORT_EXPERIMENT ? resolve(process.env.FERLAB_REPORT_EXPERIMENT) : undefined;
    if (!experimentDir) {
      // the quick default experiment, trained once per test run (test/helpers/quick-experiment.ts)
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- trains only when no experiment is given
      const { sharedQuickExperiment } = require('./helpers/quick-experiment') as typeof import('./helpers/quick-experiment');
      experimentDir = (await sharedQuickExperiment(dataDir!)).dir;
    }
    const results = JSON.parse(readFileSync(join(experimentDir, 'results.json'), 'utf8')) as { runs: Array<{ name: string; test: { classes: string[] } }> };
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only when the browser test runs
    const { chromium: pw } = require('playwright-core') as typeof import('playwright-core');
    const browser = await pw.launch({
      executablePath: chromium,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      await page.goto(pathToFileURL(join(experimentDir, 'report.html')).href);
      await page.waitForFunction(
        () => document.querySelectorAll('.ferlab-figure .main-svg').length > 0 && (window as unknown as { Plotly?: unknown }).Plotly !== undefined,
        null,
        { timeout: 60_000 },
      );
      await page.waitForTimeout(500);
      // every confusion-matrix figure: its heatmap has classes^2 cell labels, class names on both axes
      const heatmaps = await page.evaluate(() => {
        const out: Array<{ title: string; cells: number; rows: number; cols: number; xticks: string[]; yticks: string[]; xtitle: string; ytitle: string }> = [];
        document.querySelectorAll('.ferlab-figure').forEach((el) => {
          const gd = el as unknown as { data?: Array<{ type: string; z: unknown[][] }>; layout?: { title?: { text?: string } } };
          const title = gd.layout?.title?.text ?? '';
          if (!title.includes('share of each true class') || gd.data?.[0]?.type !== 'heatmap') return;
          out.push({
            title,
            cells: el.querySelectorAll('.heatmaplayer text').length,
            rows: gd.data[0].z.length,
            cols: (gd.data[0].z[0] as unknown[]).length,
            // tick labels in reading order: left to right, top to bottom (DOM order depends on the axis direction)
            xticks: Array.from(el.querySelectorAll('.xtick text'))
              .sort((a, b) => a.getBoundingClientRect().x - b.getBoundingClientRect().x)
              .map((t) => t.textContent ?? ''),
            yticks: Array.from(el.querySelectorAll('.ytick text'))
              .sort((a, b) => a.getBoundingClientRect().y - b.getBoundingClientRect().y)
              .map((t) => t.textContent ?? ''),
            xtitle: el.querySelector('.xtitle')?.textContent ?? '',
            ytitle: el.querySelector('.ytitle')?.textContent ?? '',
          });
        });
        return out;
      });
      assert.is(heatmaps.length, results.runs.length, `one confusion matrix per run (found ${heatmaps.length})`);
      for (const h of heatmaps) {
        const run = results.runs.find((r) => h.title.startsWith(r.name + ' '))!;
        assert.ok(run, `heatmap '${h.title}' belongs to a run`);
        const C = run.test.classes.length;
        assert.is(h.rows, C, `${run.name}: ${C} rows`);
        assert.is(h.cols, C, `${run.name}: ${C} columns`);
        assert.is(h.cells, C * C, `${run.name}: ${C * C} rendered cell labels, found ${h.cells}`);
        const names = run.test.classes.map((c) => c.charAt(0).toUpperCase() + c.slice(1));
        assert.equal(h.xticks, names, `${run.name}: predicted-class axis labels`);
        assert.equal(h.yticks, names, `${run.name}: true-class axis labels, first class on top`);
        assert.is(h.xtitle, 'predicted class');
        assert.is(h.ytitle, 'true class');
      }
      const outDir = join(root, 'test-output', 'browser');
      mkdirSync(outDir, { recursive: true });
      await page.screenshot({ path: join(outDir, 'experiment-report.png'), fullPage: true });
      const first = page.locator('.ferlab-figure').filter({ hasText: 'share of each true class' }).first();
      await first.screenshot({ path: join(outDir, 'confusion-matrix.png') });
      if (process.env.FERLAB_SCREENSHOT_OUT) {
        await page.setViewportSize({ width: 1280, height: 1000 });
        await page.screenshot({ path: resolve(root, process.env.FERLAB_SCREENSHOT_OUT), fullPage: false });
      }
      assert.ok(existsSync(join(outDir, 'experiment-report.png')));
    } finally {
      await browser.close();
    }
  });
}

test.run();
