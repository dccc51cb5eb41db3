import { readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { writeAnnotated } from './annotate';
import { DEFAULT_MIN_SCORE, DETECTOR } from './detect';
import { HUMAN_CHECK_RULE } from './human';
import { DEFAULT_MARGIN } from './geometry';
import { predictImage, type FaceResult, type ImageOptions } from './image';
import type { PredictModel } from './model';
import { faceJson, OutputNames, writeCrops, type FaceJson } from './output';
import { writeVideoOutputs } from './timeline';
import { DEFAULT_VIDEO_FPS, isVideo, predictVideo, type FrameResult, type VideoResult } from './video';

/**
 * `predict` over a list of files: photos and videos, each in its own try, so that an unreadable or corrupt file is
 * reported by name and the others are still processed.
 */

/** What `predict` does besides classifying. */
export interface PredictFilesOptions extends ImageOptions {
  /** Annotated copy of each photo: a file name (one photo) or a folder (`<folder>/<stem>.annotated.png`). */
  annotate?: string;
  /** Folder for the 48x48 crops (`<folder>/<stem>-face<k>.png`). */
  crops?: string;
  /** Folder for video outputs (`<stem>.emotions.csv`, `<stem>.report.html`); default the current folder. */
  videoOut?: string;
  /** Frames per second analysed in videos (default DEFAULT_VIDEO_FPS; 0 = every frame). */
  fps?: number;
  /** Videos: EMA weight alpha of temporal smoothing (src/predict/smooth.ts); absent = off. */
  smooth?: number;
  /** Progress and notes (stderr in the CLI). */
  log?: (line: string) => void;
}

/** The result for one input file. */
export type FileResult =
  | { file: string; type: 'image'; width: number; height: number; faces: FaceResult[]; cropFiles?: string[]; annotated?: string }
  | {
      file: string;
      type: 'video';
      width: number;
      height: number;
      fps: number;
      frames: FrameResult[];
      smoothing?: VideoResult['smoothing'];
      csv: string;
      report: string;
    }
  | { file: string; type: 'error'; error: string };

const IMAGE_OUT = ['.png', '.jpg', '.jpeg', '.webp'];

/**
 * Where the annotated copy of `file` goes: `annotate` itself when it names an image file (allowed for one photo
 * only), else `<annotate>/<stem>.annotated.png`.
 * @throws Error when an image file name is given for several photos.
 */
export function annotatePath(annotate: string, stem: string, photos: number): string {
  if (IMAGE_OUT.includes(extname(annotate).toLowerCase())) {
    if (photos > 1) throw new Error(`--annotate ${annotate} names one image file but ${photos} photos were given; give a folder instead`);
    return annotate;
  }
  return join(annotate, `${stem}.annotated.png`);
}

/**
 * Runs prediction on each file in order.
 * @returns one result per file, in input order; errors are results (`type: 'error'`), never thrown, except for
 *   option errors found before any file is read (see {@link annotatePath}).
 */
export async function predictFiles(pm: PredictModel, files: readonly string[], opts: PredictFilesOptions = {}): Promise<FileResult[]> {
  const photos = files.filter((f) => !isVideo(f)).length;
  if (opts.annotate) annotatePath(opts.annotate, 'x', photos); // option errors before any work
  const names = new OutputNames();
  const log = opts.log ?? (() => {});
  const out: FileResult[] = [];
  for (const file of files) {
    const stem = names.stem(file);
    try {
      if (isVideo(file)) {
        const v = await predictVideo(pm, file, {
          ...opts,
          fps: opts.fps ?? DEFAULT_VIDEO_FPS,
          onFrame: (done, total) => {
            if (done === total || done % 25 === 0) log(`${file}: ${done}/${total} frames`);
          },
        });
        const model = pm.meta.run ? `${pm.meta.run} (${pm.dir})` : pm.dir;
        const written = writeVideoOutputs(opts.videoOut ?? '.', stem, file, v, pm.meta.classes, model);
        out.push({ file, type: 'video', ...v, ...written });
      } else {
        const bytes = readBytes(file);
        const r = await predictImage(pm, bytes, opts, file);
        const res: FileResult = { file, type: 'image', ...r };
        if (opts.crops) res.cropFiles = await writeCrops(opts.crops, stem, r.faces);
        if (opts.annotate) res.annotated = await writeAnnotated(bytes, r.faces, pm.meta.classes, annotatePath(opts.annotate, stem, photos));
        out.push(res);
      }
    } catch (e) {
      out.push({ file, type: 'error', error: (e as Error).message });
    }
  }
  return out;
}

function readBytes(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new Error(`${file}: cannot read it (${err.code === 'ENOENT' ? 'no such file' : err.message})`);
  }
}

/** The `--json` document: the model, the detector settings and every file's result (no pixels). */
export function resultsJson(pm: PredictModel, results: readonly FileResult[], opts: PredictFilesOptions = {}): unknown {
  const faces = (list: readonly FaceResult[], cropFiles?: string[]): FaceJson[] => list.map((f, i) => faceJson(f, cropFiles?.[i]));
  return {
    model: { dir: pm.dir, classes: pm.meta.classes, run: pm.meta.run, model: pm.meta.model, labelSet: pm.meta.labelSet },
    detector: {
      name: opts.detect === false ? 'none (each image is one face)' : DETECTOR,
      minScore: opts.detect === false ? null : (opts.minScore ?? DEFAULT_MIN_SCORE),
      margin: opts.margin ?? DEFAULT_MARGIN,
      // the human-face rule (src/predict/human.ts): on by default, off with --no-human-check; null without detection
      humanCheck: opts.detect === false ? null : { on: opts.humanCheck !== false, rule: HUMAN_CHECK_RULE },
    },
    files: results.map((r) => {
      if (r.type === 'image')
        return { file: r.file, type: r.type, width: r.width, height: r.height, faces: faces(r.faces, r.cropFiles), annotated: r.annotated };
      if (r.type === 'video')
        return {
          file: r.file,
          type: r.type,
          width: r.width,
          height: r.height,
          fps: r.fps,
          csv: r.csv,
          report: r.report,
          ...(r.smoothing ? { smoothing: r.smoothing } : {}),
          frames: r.frames.map((f) => ({ frame: f.frame, time: f.time, faces: faces(f.faces), ...(f.smoothed ? { smoothed: f.smoothed } : {}) })),
        };
      return r;
    }),
  };
}
