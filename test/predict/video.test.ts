/**
 * `ferlab predict` on a video the test makes with ffmpeg from real photos: 1.3 s of sample1.jpg (3 faces), 1 s of
 * window blinds (no face), 1.6 s of sample5.jpg (5 faces), analysed at 2 frames per second. Checks the per-frame CSV (times,
 * faces per frame, boxes against the hand-marked faces), the HTML report's figures against sums computed from the
 * CSV, a corrupt video, and the message when ffmpeg is missing (that test needs no ffmpeg).
 * Without ffmpeg the video tests are skipped with the reason, and fail under CI=true (.ci/run installs ffmpeg).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Papa from 'papaparse';
import sharp from 'sharp';
import { tempDir } from '../helpers/fixtures';
import { skipTest } from '../helpers/skip';
import { cli, ffmpegPath, HAND_MARKED, matchFaces, samplesDir, writeModelFolder } from './helpers';

const work = tempDir('ferlab-video-');
const ffmpeg = ffmpegPath();
let modelDir = '';

test.before(async () => {
  modelDir = await writeModelFolder(join(work, 'model'));
});

test('without ffmpeg: a clear message naming the video and how to install ffmpeg; the photos are still processed', () => {
  const video = join(work, 'clip.mp4');
  writeFileSync(video, 'whatever');
  const r = cli(['predict', video, join(samplesDir, 'sample1.jpg'), '--model', modelDir, '--json'], { FERLAB_FFMPEG: join(work, 'no-such-ffmpeg') });
  assert.is(r.status, 1, `exit 1; stderr: ${r.stderr.slice(-1500)}`);
  assert.match(r.stderr, /clip\.mp4: cannot read the video: ffmpeg is not installed or does not run .*sudo apt-get install ffmpeg/);
  const doc = JSON.parse(r.stdout) as { files: Array<{ type: string; faces?: unknown[] }> };
  assert.equal(
    doc.files.map((f) => f.type),
    ['error', 'image'],
  );
  assert.is(doc.files[1].faces!.length, 3, 'the photo after the video is processed');
});

const W = 960;
const H = 700;

/**
 * The clip: 13 frames (1.3 s) of sample1, 10 of blinds, 16 of sample5 at 10 fps. ffmpeg's fps filter makes the frame
 * at t from the last input frame in [t - 0.25, t + 0.25), so sampling at 2 fps (t = 0, 0.5, ..., 3.5 s) shows:
 */
const SHOWN = ['sample1.jpg', 'sample1.jpg', 'sample1.jpg', 'none', 'none', 'sample5.jpg', 'sample5.jpg', 'sample5.jpg'];
const SECONDS = [1.3, 1.0, 1.6];

function makeClip(out: string, blinds: string): void {
  // each photo scaled by 1/2 (1920 px wide -> 960) and padded at the bottom/right to 960x700, at 10 fps
  const part = (i: number) => `[${i}:v]scale=960:-2,pad=${W}:${H}:0:0,setsar=1,fps=10,format=yuv420p[v${i}]`;
  const args = ['-hide_banner', '-loglevel', 'error', '-y'];
  [join(samplesDir, 'sample1.jpg'), blinds, join(samplesDir, 'sample5.jpg')].forEach((f, i) =>
    args.push('-framerate', '10', '-loop', '1', '-t', String(SECONDS[i]), '-i', f),
  );
  args.push('-filter_complex', `${part(0)};${part(1)};${part(2)};[v0][v1][v2]concat=n=3:v=1:a=0[v]`, '-map', '[v]', '-c:v', 'mpeg4', '-q:v', '3', out);
  const r = spawnSync(ffmpeg!, args, { encoding: 'utf8' });
  assert.is(r.status, 0, `ffmpeg made the clip: ${r.stderr}`);
}

if (!ffmpeg) {
  const reason = 'ffmpeg not found (apt-get install ffmpeg, or set FERLAB_FFMPEG; .ci/run installs it)';
  if (process.env.CI) test('ffmpeg is installed', () => assert.unreachable(`CI=true: ${reason}`));
  else skipTest('a video: per-frame CSV and HTML report', reason);
} else {
  test('a video made from real photos: per-frame CSV with the hand-marked faces, report figures from the same numbers', async () => {
    const blinds = join(work, 'blinds.png');
    await sharp(join(samplesDir, 'sample6.jpg')).extract({ left: 0, top: 0, width: 700, height: 330 }).resize(1920).png().toFile(blinds); // window blinds and a door
    const clip = join(work, 'clip.mp4');
    makeClip(clip, blinds);
    const broken = join(work, 'broken.mp4');
    writeFileSync(broken, readFileSync(clip).subarray(0, 200)); // a cut-off file: no decodable frame
    const out = join(work, 'out');
    const r = cli(['predict', clip, broken, '--model', modelDir, '--fps', '2', '--out', out, '--json']);
    assert.is(r.status, 1, `exit 1 for the broken video; stderr: ${r.stderr.slice(-2000)}`);
    assert.match(r.stderr, /broken\.mp4: cannot read the video \(ffmpeg exit \d+: .+\)|broken\.mp4: the video has no frame/);
    const doc = JSON.parse(r.stdout) as { files: Array<{ type: string; csv: string; report: string; frames: Array<{ time: number; faces: unknown[] }> }> };
    const v = doc.files[0];
    assert.is(v.type, 'video');
    assert.is(v.csv, join(out, 'clip.emotions.csv'));
    assert.is(v.report, join(out, 'clip.report.html'));
    assert.ok(existsSync(join(out, 'plotly.min.js')), 'plotly.min.js beside the report (offline)');

    const csv = Papa.parse<Record<string, string>>(readFileSync(v.csv, 'utf8'), { header: true, skipEmptyLines: true });
    const classes = JSON.parse(readFileSync(join(modelDir, 'ferlab.json'), 'utf8')).classes as string[];
    assert.equal(csv.meta.fields, ['frame', 'time_s', 'faces', 'face', 'left', 'top', 'width', 'height', 'score', 'label', ...classes.map((c) => `p_${c}`)]);
    const frames = [...new Set(csv.data.map((row) => row.frame))].map(Number);
    assert.equal(frames, [0, 1, 2, 3, 4, 5, 6, 7], '3.9 s at 2 frames per second');
    const times = frames.map((f) => Number(csv.data.find((row) => Number(row.frame) === f)!.time_s));
    assert.equal(times, [0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5]);
    for (const f of frames) {
      const rows = csv.data.filter((row) => Number(row.frame) === f);
      const shown = SHOWN[f];
      if (shown === 'none') {
        assert.is(rows.length, 1, `frame ${f}: one row`);
        assert.is(rows[0].faces, '0');
        assert.is(rows[0].face, '', `frame ${f}: no face`);
        continue;
      }
      const marks = HAND_MARKED[shown].map(([x, y]) => [x / 2, y / 2] as [number, number]);
      const boxes = rows.map((row) => ({ left: +row.left, top: +row.top, width: +row.width, height: +row.height }));
      assert.is(matchFaces(boxes, marks), '', `frame ${f} (${shown}): boxes vs hand marks / 2`);
      for (const row of rows) {
        const p = classes.map((c) => Number(row[`p_${c}`]));
        assert.ok(Math.abs(p.reduce((a, b) => a + b, 0) - 1) < 1e-4, `frame ${f}: probabilities sum to 1`);
        assert.is(row.label, classes[p.indexOf(Math.max(...p))]);
      }
    }
    assert.equal(
      v.frames.map((f) => f.faces.length),
      [3, 3, 3, 0, 0, 5, 5, 5],
      'faces per frame in --json',
    );

    // the report: figures drawn from the same numbers (recomputed here from the CSV)
    const html = readFileSync(v.report, 'utf8');
    assert.match(html, /<script src="plotly\.min\.js"><\/script>/);
    const figures = [...html.matchAll(/Plotly\.newPlot\(("[^"]+"),(.*?),(\{"title".*?\}),\{responsive/g)].map((m) => ({
      data: JSON.parse(m[2]) as Array<{ name?: string; x: number[] | string[]; y: Array<number | null> }>,
      title: (JSON.parse(m[3]) as { title: { text: string } }).title.text,
    }));
    const overTime = figures.find((f) => f.title === 'clip.mp4: emotion over time')!;
    const totals = figures.find((f) => f.title === 'clip.mp4: total emotion scores')!;
    assert.ok(overTime && totals, `figures found: ${figures.map((f) => f.title).join(', ')}`);
    assert.is(overTime.data.length, classes.length, 'one line per class');
    classes.forEach((c, k) => {
      assert.equal(overTime.data[k].x, times);
      frames.forEach((f, i) => {
        const rows = csv.data.filter((row) => Number(row.frame) === f && row.face !== '');
        const y = overTime.data[k].y[i];
        if (!rows.length) return assert.is(y, null, `${c} at frame ${f}: a gap`);
        const mean = rows.reduce((s, row) => s + Number(row[`p_${c}`]), 0) / rows.length;
        assert.ok(Math.abs(y! - mean) < 1e-5, `${c} at frame ${f}: ${y} vs mean over faces ${mean}`);
      });
      const total = csv.data.filter((row) => row.face !== '').reduce((s, row) => s + Number(row[`p_${c}`]), 0);
      assert.ok(Math.abs((totals.data[0].y[k] as number) - total) < 1e-4, `total score of ${c}: ${totals.data[0].y[k]} vs ${total}`);
    });
  });
}

test.run();
