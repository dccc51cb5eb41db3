import Papa from 'papaparse';
import { basename } from 'node:path';
import { writeFileAtomic } from '../util/atomic';
import { baseLayout, classLabels, COLORS, type Figure } from '../viz/figure';
import { writeReport } from '../viz/render';
import type { FrameResult, VideoResult } from './video';

/**
 * A video's emotions over time: the per-frame CSV and the HTML report (plotly, offline) that `predict` writes for
 * every video.
 */

/**
 * Per-frame rows of the CSV: one per face, and one with empty face fields for a frame without faces. With smoothing
 * (frames carrying `smoothed`, src/predict/video.ts), each face row also has `track`, `smoothed_label` and
 * `s_<class>` (the smoothed probabilities); empty in a frame without faces.
 */
export function timelineRows(frames: readonly FrameResult[], classes: readonly string[]): Array<Record<string, string | number>> {
  const rows: Array<Record<string, string | number>> = [];
  const smooth = isSmoothed(frames);
  for (const f of frames) {
    const base = { frame: f.frame, time_s: Math.round(f.time * 1000) / 1000, faces: f.faces.length };
    if (f.faces.length === 0) {
      rows.push({
        ...base,
        face: '',
        left: '',
        top: '',
        width: '',
        height: '',
        score: '',
        label: '',
        ...Object.fromEntries(classes.map((c) => [`p_${c}`, ''])),
        ...(smooth ? { track: '', smoothed_label: '', ...Object.fromEntries(classes.map((c) => [`s_${c}`, ''])) } : {}),
      });
      continue;
    }
    f.faces.forEach((face, i) => {
      const s = f.smoothed?.[i];
      rows.push({
        ...base,
        face: face.face,
        left: Math.round(face.box.left),
        top: Math.round(face.box.top),
        width: Math.round(face.box.width),
        height: Math.round(face.box.height),
        score: face.score === null ? '' : Math.round(face.score * 1e4) / 1e4,
        label: face.label,
        ...Object.fromEntries(classes.map((c) => [`p_${c}`, Math.round(face.probabilities[c] * 1e6) / 1e6])),
        ...(smooth && s
          ? { track: s.track, smoothed_label: s.label, ...Object.fromEntries(classes.map((c) => [`s_${c}`, Math.round(s.probabilities[c] * 1e6) / 1e6])) }
          : {}),
      });
    });
  }
  return rows;
}

/** Whether the frames carry smoothed probabilities (`predict --smooth`). */
export function isSmoothed(frames: readonly FrameResult[]): boolean {
  return frames.some((f) => f.smoothed !== undefined);
}

/** CSV columns: `frame, time_s, faces, face, left, top, width, height, score, label, p_<class>...`, then with smoothing
 * `track, smoothed_label, s_<class>...`. */
export function timelineFields(frames: readonly FrameResult[], classes: readonly string[]): string[] {
  const fields = ['frame', 'time_s', 'faces', 'face', 'left', 'top', 'width', 'height', 'score', 'label', ...classes.map((c) => `p_${c}`)];
  if (isSmoothed(frames)) fields.push('track', 'smoothed_label', ...classes.map((c) => `s_${c}`));
  return fields;
}

/**
 * The CSV text: columns of {@link timelineFields} (papaparse `unparse`; boxes in pixels, times in seconds,
 * probabilities rounded to 1e-6). Text cells that a spreadsheet would read as a formula (starting with = + - @ tab or
 * CR) are written with a leading `'`.
 */
export function timelineCsv(frames: readonly FrameResult[], classes: readonly string[]): string {
  const rows = timelineRows(frames, classes);
  const fields = timelineFields(frames, classes);
  // escapeFormulae: a text cell (a class name, a label) starting with = + - @ tab or CR gets a leading ' so spreadsheets
  // do not run it as a formula (OWASP "CSV Injection"); numbers stay numbers (papaparse escapes strings only)
  return Papa.unparse({ fields, data: rows.map((r) => fields.map((f) => r[f])) }, { newline: '\n', escapeFormulae: true }) + '\n';
}

/**
 * Mean probability of each class over the faces of each frame: `[classes][frames]`, null for a frame without faces.
 * @param smoothed average the smoothed probabilities (frames must carry them) instead of the raw ones.
 */
export function frameMeans(frames: readonly FrameResult[], classes: readonly string[], smoothed = false): Array<Array<number | null>> {
  const probs = (f: FrameResult): Array<Record<string, number>> =>
    smoothed ? (f.smoothed ?? []).map((s) => s.probabilities) : f.faces.map((face) => face.probabilities);
  return classes.map((c) =>
    frames.map((f) => {
      const list = probs(f);
      return list.length ? list.reduce((s, p) => s + p[c], 0) / list.length : null;
    }),
  );
}

/**
 * Total emotion scores of a video: per class, the sum of its probability over every face of every analysed frame
 * (`score`), and the number of faces labelled with it (`count`).
 */
export function totalScores(frames: readonly FrameResult[], classes: readonly string[]): { score: number[]; count: number[] } {
  const score = classes.map(() => 0);
  const count = classes.map(() => 0);
  for (const f of frames)
    for (const face of f.faces) {
      classes.forEach((c, k) => (score[k] += face.probabilities[c]));
      count[classes.indexOf(face.label)]++;
    }
  return { score, count };
}

/**
 * Emotion over time: one line per class, the mean probability over the faces of each frame (gaps where no face). With
 * smoothing, the smoothed means are the solid lines (`<Class>`) and the raw ones thin dotted lines of the same colour
 * (`<Class> (raw)`), raw first.
 */
export function emotionOverTimeFigure(frames: readonly FrameResult[], classes: readonly string[], title: string): Figure {
  const t = frames.map((f) => f.time);
  const means = frameMeans(frames, classes);
  const names = classLabels(classes);
  const line = (k: number, y: Array<number | null>, raw: boolean, name: string) => ({
    type: 'scatter',
    mode: raw ? 'lines' : 'lines+markers',
    name,
    legendgroup: classes[k],
    x: t,
    y,
    line: { color: COLORS[k % COLORS.length], width: raw ? 1 : 2, ...(raw ? { dash: 'dot' } : {}) },
    ...(raw ? {} : { marker: { size: 4 } }),
    connectgaps: false,
  });
  if (isSmoothed(frames)) {
    const smoothed = frameMeans(frames, classes, true);
    return {
      data: [...classes.map((_, k) => line(k, means[k], true, `${names[k]} (raw)`)), ...classes.map((_, k) => line(k, smoothed[k], false, names[k]))],
      layout: baseLayout(title, {
        xaxis: { title: { text: 'time (s)' } },
        yaxis: { title: { text: 'probability (mean over faces): smoothed solid, raw dotted' }, range: [0, 1] },
        legend: { orientation: 'h', y: -0.2 },
      }),
    };
  }
  return {
    data: classes.map((_, k) => line(k, means[k], false, names[k])),
    layout: baseLayout(title, {
      xaxis: { title: { text: 'time (s)' } },
      yaxis: { title: { text: 'probability (mean over faces)' }, range: [0, 1] },
      legend: { orientation: 'h', y: -0.2 },
    }),
  };
}

/** Total emotion scores as bars: summed probabilities, with the count of faces labelled with each class as text. */
export function totalScoresFigure(frames: readonly FrameResult[], classes: readonly string[], title: string): Figure {
  const { score, count } = totalScores(frames, classes);
  return {
    data: [
      {
        type: 'bar',
        x: classLabels(classes),
        y: score,
        marker: { color: classes.map((_, k) => COLORS[k % COLORS.length]) },
        text: count.map((n) => `${n} labelled`),
        textposition: 'outside',
        name: 'total score',
      },
    ],
    layout: baseLayout(title, { yaxis: { title: { text: 'sum of probabilities over faces and frames' } }, showlegend: false }),
  };
}

/** Faces found per analysed frame. */
export function facesPerFrameFigure(frames: readonly FrameResult[], title: string): Figure {
  return {
    data: [{ type: 'scatter', mode: 'lines', line: { shape: 'hv', color: COLORS[7] }, x: frames.map((f) => f.time), y: frames.map((f) => f.faces.length) }],
    layout: baseLayout(title, { xaxis: { title: { text: 'time (s)' } }, yaxis: { title: { text: 'faces' }, rangemode: 'tozero', dtick: 1 }, height: 260 }),
  };
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

/**
 * Writes a video's per-frame CSV and HTML report: `<dir>/<stem>.emotions.csv` and `<dir>/<stem>.report.html` (with
 * plotly.min.js copied beside it; works offline).
 * @param model line describing the model in the report.
 * @returns the two paths.
 */
export function writeVideoOutputs(
  dir: string,
  stem: string,
  file: string,
  v: VideoResult,
  classes: readonly string[],
  model: string,
): { csv: string; report: string } {
  const csv = `${dir}/${stem}.emotions.csv`;
  writeFileAtomic(csv, timelineCsv(v.frames, classes));
  const name = basename(file);
  const faces = v.frames.reduce((s, f) => s + f.faces.length, 0);
  const withFaces = v.frames.filter((f) => f.faces.length > 0).length;
  const report = writeReport(`${dir}/${stem}.report.html`, {
    title: `Emotions in ${name}`,
    subtitle: `${v.frames.length} frames analysed (${v.fps > 0 ? `${v.fps} per second` : 'every frame'}), ${v.width}x${v.height} px; ${withFaces} frames with faces, ${faces} faces in all; model: ${model}${v.smoothing ? `; smoothing: EMA alpha ${round3(v.smoothing.alpha)} per face track` : ''}`,
    sections: [
      {
        title: 'Emotion over time',
        text:
          'Mean softmax probability of each class over the faces of each frame; gaps are frames where no face was found.' +
          (v.smoothing
            ? ` Solid lines: each face's probabilities smoothed over the frames of its track (exponential moving average, weight ${round3(v.smoothing.alpha)} on the newest frame; faces followed by box overlap, IoU >= ${v.smoothing.minIou}), dotted: raw.`
            : ''),
        figures: [emotionOverTimeFigure(v.frames, classes, `${name}: emotion over time`)],
      },
      {
        title: 'Total emotion scores',
        text: "Each class's probability summed over every face of every analysed frame; the text on each bar counts the faces whose most probable class it is.",
        figures: [totalScoresFigure(v.frames, classes, `${name}: total emotion scores`), facesPerFrameFigure(v.frames, `${name}: faces found per frame`)],
      },
    ],
  });
  return { csv, report };
}
