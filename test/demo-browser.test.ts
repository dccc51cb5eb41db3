/**
 * The browser demo in headless Chromium (Debian's /usr/bin/chromium driven by playwright-core, as test/browser.test.ts):
 * a fake camera plays a video made with ffmpeg from real photos (sample1.jpg with 3 faces, then sample6.jpg with 4;
 * Chromium's --use-file-for-fake-video-capture wants .y4m), and the page must show a box per hand-marked face with a
 * label, per-emotion bars and the emotion-over-time chart; then an uploaded photo (sample5.jpg, 5 faces) must give the
 * crops `predict` gives (same crop boxes, the same 48x48 pixels within a few grey levels). Every request the page
 * makes must go to the demo server. Saves a screenshot to test-output/browser/demo.png (FERLAB_DEMO_SCREENSHOT=<path>
 * saves it there too: docs/demo.png is made so, with FERLAB_DEMO_MODEL=<a trained model folder>).
 *
 * Needs Chromium and ffmpeg: without them the file is skipped with the reason, and fails under CI=true.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { toFerPixels } from '../src/data/image';
import { startDemoServer } from '../src/demo/server';
import { faceCropBox } from '../src/predict/geometry';
import { tempDir } from './helpers/fixtures';
import { skipFileUnlessCI } from './helpers/skip';
import { ffmpegPath, HAND_MARKED, matchFaces, pixelDiff, root, samplesDir, writeModelFolder } from './predict/helpers';

const chromium = process.env.FERLAB_CHROMIUM || '/usr/bin/chromium';
const ffmpeg = ffmpegPath();

interface Box {
  left: number;
  top: number;
  width: number;
  height: number;
}
interface PageFace {
  box: Box;
  crop: Box;
  label: string;
  probabilities: Record<string, number>;
  pixels: number[];
}
interface DemoState {
  ready: boolean;
  error?: string;
  backend?: string;
  classes?: string[];
  frames: number;
  lastFaces: PageFace[];
}

/** The fake camera's frames: each photo scaled to fit 640x480 (sizes below), top-left, 1 s each at 10 fps. */
const CAMERA: Array<{ photo: string; width: number; height: number }> = [
  { photo: 'sample1.jpg', width: 640, height: 426 }, // 1920x1280
  { photo: 'sample6.jpg', width: 600, height: 480 }, // 1920x1537
];

function makeCameraVideo(out: string): void {
  const args = ['-hide_banner', '-loglevel', 'error', '-y'];
  for (const c of CAMERA) args.push('-framerate', '10', '-loop', '1', '-t', '1', '-i', join(samplesDir, c.photo));
  const parts = CAMERA.map((c, i) => `[${i}:v]scale=${c.width}:${c.height},pad=640:480:0:0,setsar=1,format=yuv420p[v${i}]`);
  args.push('-filter_complex', `${parts.join(';')};${CAMERA.map((_, i) => `[v${i}]`).join('')}concat=n=${CAMERA.length}:v=1:a=0[v]`, '-map', '[v]', out);
  const r = spawnSync(ffmpeg!, args, { encoding: 'utf8' });
  assert.is(r.status, 0, `ffmpeg made the fake camera video: ${r.stderr}`);
}

if (!existsSync(chromium)) {
  skipFileUnlessCI('Chromium is installed', `Chromium not found at ${chromium} (apt-get install chromium, or set FERLAB_CHROMIUM; .ci/run installs it)`);
} else if (!ffmpeg) {
  skipFileUnlessCI(
    'ffmpeg is installed',
    'ffmpeg not found (apt-get install ffmpeg, or set FERLAB_FFMPEG; .ci/run installs it); it makes the fake camera video',
  );
} else {
  test('the demo page: fake camera of real faces -> boxes, labels, bars, emotion over time; a photo -> the crops predict makes', async () => {
    const work = tempDir('ferlab-demo-browser-');
    const camera = join(work, 'camera.y4m');
    makeCameraVideo(camera);
    const modelDir = process.env.FERLAB_DEMO_MODEL ? resolve(process.env.FERLAB_DEMO_MODEL) : await writeModelFolder(join(work, 'model'));
    const demo = await startDemoServer(modelDir, { port: 0 });
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only when the browser test runs
    const { chromium: pw } = require('playwright-core') as typeof import('playwright-core');
    const browser = await pw.launch({
      executablePath: chromium,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--use-fake-ui-for-media-stream',
        '--use-fake-device-for-media-stream',
        `--use-file-for-fake-video-capture=${camera}`,
      ],
    });
    const requests: string[] = [];
    const pageErrors: string[] = [];
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
      page.on('request', (r) => requests.push(r.url()));
      page.on('pageerror', (e) => pageErrors.push(e.message));
      await page.goto(`${demo.url}?backend=wasm`);
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
      assert.is(s.backend, 'wasm');
      const classes = s.classes!;

      // the camera: wait for several analysed frames with faces
      await page.click('#camera');
      await page.waitForFunction(
        () => {
          const d = (window as unknown as { ferlabDemo: DemoState }).ferlabDemo;
          return d.error || (d.frames >= 8 && d.lastFaces.length > 0);
        },
        null,
        { timeout: 180_000 },
      );
      s = await state();
      assert.is(s.error, undefined, `page error: ${s.error}`);
      const shown = CAMERA.map((c) => {
        const [W, H] = [1920, c.photo === 'sample1.jpg' ? 1280 : 1537];
        return matchFaces(
          s.lastFaces.map((f) => f.box),
          HAND_MARKED[c.photo].map(([x, y]) => [(x * c.width) / W, (y * c.height) / H] as [number, number]),
        );
      });
      assert.ok(shown.includes(''), `the faces of the frame are the hand-marked ones of one photo: ${shown.join(' / ')}`);
      const dom = await page.evaluate(() => ({
        boxes: Array.from(document.querySelectorAll('#boxes .face-box')).map((b) => {
          const r = b.getBoundingClientRect();
          return { w: r.width, h: r.height, label: b.querySelector('.face-label')?.textContent ?? '' };
        }),
        cards: Array.from(document.querySelectorAll('#faces .face-card')).map((c) => ({
          title: c.querySelector('h3')?.textContent ?? '',
          bars: Array.from(c.querySelectorAll('.bar-row')).map((r) => (r as HTMLElement).dataset.class),
        })),
        chartSvg: document.querySelectorAll('#chart .main-svg').length,
        lines: Array.from(document.querySelectorAll('#chart .scatterlayer .trace path.js-line')).filter((p) => (p.getAttribute('d') ?? '').length > 10).length,
        traces: ((document.getElementById('chart') as unknown as { data?: Array<{ name: string; x: number[]; y: Array<number | null> }> }).data ?? []).map(
          (t) => ({
            name: t.name,
            points: t.x.length,
            inRange: t.y.every((v) => v === null || (v >= 0 && v <= 1)),
          }),
        ),
      }));
      // the DOM may already show a newer frame than lastFaces did: check it on its own
      assert.ok(dom.boxes.length >= 3, `face boxes drawn: ${dom.boxes.length}`);
      for (const b of dom.boxes) {
        assert.ok(b.w > 20 && b.h > 20, `a visible box: ${b.w}x${b.h}`);
        const m = /^(\d+) (\w+) (\d+)%$/.exec(b.label);
        assert.ok(m && classes.includes(m[2]), `label '${b.label}' names a class of ${classes.join(', ')}`);
      }
      assert.is(dom.cards.length, dom.boxes.length, 'a bar card per face');
      for (const c of dom.cards) assert.equal(c.bars, classes, `per-emotion bars in class order (${c.title})`);
      for (const f of s.lastFaces) {
        const p = classes.map((c) => f.probabilities[c]);
        assert.ok(Math.abs(p.reduce((a, b) => a + b, 0) - 1) < 1e-4, 'probabilities sum to 1');
        assert.is(f.label, classes[p.indexOf(Math.max(...p))]);
      }
      assert.ok(dom.chartSvg > 0, 'the emotion-over-time chart is drawn');
      assert.is(dom.traces.length, classes.length, 'a line per class');
      for (const t of dom.traces) {
        assert.ok(t.points >= 5, `${t.name}: ${t.points} points over time`);
        assert.ok(t.inRange, `${t.name}: probabilities in [0, 1]`);
      }
      assert.ok(dom.lines >= 1, 'lines rendered in the chart');
      const outDir = join(root, 'test-output', 'browser');
      mkdirSync(outDir, { recursive: true });
      await page.screenshot({ path: join(outDir, 'demo.png') });
      if (process.env.FERLAB_DEMO_SCREENSHOT) await page.screenshot({ path: resolve(root, process.env.FERLAB_DEMO_SCREENSHOT) });

      // an uploaded photo: the page's crops are predict's crops
      const photo = join(samplesDir, 'sample5.jpg');
      await page.setInputFiles('#photo', photo);
      await page.waitForFunction(() => /5 faces found|error/.test(document.getElementById('status')?.textContent ?? ''), null, { timeout: 120_000 });
      s = await state();
      assert.is(s.error, undefined, `page error: ${s.error}`);
      assert.is(
        matchFaces(
          s.lastFaces.map((f) => f.box),
          HAND_MARKED['sample5.jpg'],
        ),
        '',
        'sample5.jpg: boxes vs hand marks, in photo pixels',
      );
      for (const f of s.lastFaces) {
        assert.equal(f.crop, faceCropBox(f.box, 1920, 1398), 'the crop rule of predict');
        const expected = (await toFerPixels(readFileSync(photo), f.crop)).pixels;
        const d = pixelDiff(f.pixels, expected);
        assert.ok(
          d.mean < 1.5 && d.max <= 8,
          `face at ${JSON.stringify(f.crop)}: the page's 48x48 vs toFerPixels: mean |diff| ${d.mean.toFixed(2)}, max ${d.max}`,
        );
      }
      const foreign = requests.filter((u) => !u.startsWith(demo.url) && !u.startsWith('data:') && !u.startsWith('blob:'));
      assert.equal(foreign, [], 'every request goes to the demo server');
      assert.equal(pageErrors, [], 'no uncaught page errors');
    } finally {
      await browser.close();
      await demo.close();
    }
  });
}

test.run();
