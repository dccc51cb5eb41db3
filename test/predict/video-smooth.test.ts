/**
 * `ferlab predict <video> --smooth 3` end to end: a clip made with ffmpeg from sample1.jpg (3 faces, marked by hand),
 * alternately as it is and darkened (so the model's probabilities change from frame to frame while the faces stay
 * put). Checks that each hand-marked face keeps one track, that the CSV's smoothed columns are the EMA (alpha =
 * 2 / (3 + 1) = 0.5) of its raw columns recomputed here per hand-marked face, and that the report draws raw and
 * smoothed lines from those numbers. Without ffmpeg the test is skipped (fails under CI=true).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Papa from 'papaparse';
import { tempDir } from '../helpers/fixtures';
import { skipTest } from '../helpers/skip';
import { cli, ffmpegPath, HAND_MARKED, samplesDir, writeModelFolder } from './helpers';

const ffmpeg = ffmpegPath();
const FRAMES = 6;
const ALPHA = 0.5; // --smooth 3: 2 / (3 + 1)

if (!ffmpeg) {
  const reason = 'ffmpeg not found (apt-get install ffmpeg, or set FERLAB_FFMPEG)';
  if (process.env.CI) test('ffmpeg is installed', () => assert.unreachable(`CI=true: ${reason}`));
  else skipTest('predict --smooth on a video', reason);
} else {
  test('predict --smooth 3: one track per hand-marked face, smoothed columns = EMA of the raw ones, report shows both', async () => {
    const work = tempDir('ferlab-smooth-');
    const model = await writeModelFolder(join(work, 'model'));
    // 6 parts of 0.5 s at 10 fps, sample1 (scaled to 960 px) as it is and darkened in turn; sampled at 2 fps, frame k
    // shows part k (ffmpeg's fps filter takes the last input frame in [t - 0.25, t + 0.25), as in video.test.ts)
    const clip = join(work, 'clip.mp4');
    const args = ['-hide_banner', '-loglevel', 'error', '-y'];
    for (let i = 0; i < FRAMES; i++) args.push('-framerate', '10', '-loop', '1', '-t', '0.5', '-i', join(samplesDir, 'sample1.jpg'));
    const parts = Array.from({ length: FRAMES }, (_, i) => `[${i}:v]scale=960:-2,setsar=1,fps=10,${i % 2 ? 'eq=brightness=-0.12,' : ''}format=yuv420p[v${i}]`);
    const concat = `${Array.from({ length: FRAMES }, (_, i) => `[v${i}]`).join('')}concat=n=${FRAMES}:v=1:a=0[v]`;
    args.push('-filter_complex', `${parts.join(';')};${concat}`, '-map', '[v]', '-c:v', 'mpeg4', '-q:v', '2', clip);
    const made = spawnSync(ffmpeg, args, { encoding: 'utf8' });
    assert.is(made.status, 0, `ffmpeg made the clip: ${made.stderr}`);

    const out = join(work, 'out');
    const r = cli(['predict', clip, '--model', model, '--fps', '2', '--smooth', '3', '--out', out, '--json']);
    assert.is(r.status, 0, r.stderr.slice(-2000));
    const doc = JSON.parse(r.stdout) as {
      files: Array<{ csv: string; report: string; smoothing: { alpha: number }; frames: Array<{ smoothed?: Array<{ track: number }> }> }>;
    };
    const v = doc.files[0];
    assert.is(v.smoothing.alpha, ALPHA, '--json records the rule');
    assert.ok(v.frames.every((f) => f.smoothed?.length === 3));

    const classes = JSON.parse(readFileSync(join(model, 'ferlab.json'), 'utf8')).classes as string[];
    const csv = Papa.parse<Record<string, string>>(readFileSync(v.csv, 'utf8'), { header: true, skipEmptyLines: true });
    assert.equal(csv.meta.fields, [
      ...['frame', 'time_s', 'faces', 'face', 'left', 'top', 'width', 'height', 'score', 'label', ...classes.map((c) => `p_${c}`)],
      ...['track', 'smoothed_label', ...classes.map((c) => `s_${c}`)],
    ]);
    const marks = HAND_MARKED['sample1.jpg'].map(([x, y]) => [x / 2, y / 2]); // the clip is half size
    const tracks = new Set<string>();
    let changed = 0;
    for (const [x, y] of marks) {
      const rows = Array.from({ length: FRAMES }, (_, f) => {
        const hit = csv.data.filter(
          (row) => Number(row.frame) === f && +row.left <= x && x <= +row.left + +row.width && +row.top <= y && y <= +row.top + +row.height,
        );
        assert.is(hit.length, 1, `frame ${f}: one box holds the face at ${x},${y}`);
        return hit[0];
      });
      assert.is(new Set(rows.map((row) => row.track)).size, 1, `face at ${x},${y}: one track over the clip`);
      tracks.add(rows[0].track);
      let s = classes.map((c) => Number(rows[0][`p_${c}`])); // s_0 = p_0
      rows.forEach((row, f) => {
        const p = classes.map((c) => Number(row[`p_${c}`]));
        if (f > 0) s = s.map((sk, k) => ALPHA * p[k] + (1 - ALPHA) * sk);
        classes.forEach((c, k) => assert.ok(Math.abs(Number(row[`s_${c}`]) - s[k]) < 2e-6, `frame ${f} ${c}: ${row[`s_${c}`]} vs EMA ${s[k]}`));
        assert.is(row.smoothed_label, classes[s.indexOf(Math.max(...s))]);
        if (f > 0 && classes.some((c, k) => Math.abs(p[k] - s[k]) > 1e-4)) changed++;
      });
    }
    assert.is(tracks.size, 3, 'three faces, three tracks');
    assert.ok(changed > 0, 'the darkened frames move the probabilities, so smoothing changes something');

    // the report: raw (dotted) and smoothed lines, the smoothed ones the mean of the s_ columns
    const html = readFileSync(v.report, 'utf8');
    const fig = [...html.matchAll(/Plotly\.newPlot\(("[^"]+"),(.*?),(\{"title".*?\}),\{responsive/g)]
      .map((m) => ({ data: JSON.parse(m[2]) as Array<{ name: string; y: number[]; line: { dash?: string } }>, title: JSON.parse(m[3]).title.text as string }))
      .find((f) => f.title === 'clip.mp4: emotion over time')!;
    assert.is(fig.data.length, 2 * classes.length);
    classes.forEach((c, k) => {
      const raw = fig.data[k];
      const smooth = fig.data[classes.length + k];
      assert.match(raw.name, / \(raw\)$/);
      assert.is(raw.line.dash, 'dot');
      for (let f = 0; f < FRAMES; f++) {
        const rows = csv.data.filter((row) => Number(row.frame) === f);
        const mean = rows.reduce((sum, row) => sum + Number(row[`s_${c}`]), 0) / rows.length;
        assert.ok(Math.abs(smooth.y[f] - mean) < 1e-5, `${c} frame ${f}: smoothed line ${smooth.y[f]} vs ${mean}`);
      }
    });
  });
}

test.run();
