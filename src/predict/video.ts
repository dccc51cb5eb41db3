import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join, resolve } from 'node:path';
import { predictImage, type FaceResult, type ImageOptions } from './image';
import type { PredictModel } from './model';
import { DEFAULT_MAX_MISSED, DEFAULT_MIN_IOU, FaceSmoother } from './smooth';

/**
 * Videos for `predict`: frames are decoded by the `ffmpeg` program (Debian's `ffmpeg` package; ferlab does not bundle
 * a decoder) into PNG files in a temporary folder, then each frame goes through the same path as a photo
 * (src/predict/image.ts `predictImage`).
 */

/** File extensions `predict` treats as videos (everything else is read as an image). */
export const VIDEO_EXTENSIONS = ['.mp4', '.m4v', '.mov', '.avi', '.mkv', '.webm', '.mpg', '.mpeg', '.wmv', '.flv', '.3gp', '.ogv', '.ts', '.y4m', '.mjpeg'];

/** Default frames per second analysed in a video. */
export const DEFAULT_VIDEO_FPS = 5;

/** Whether `file` is a video by its extension. */
export function isVideo(file: string): boolean {
  return VIDEO_EXTENSIONS.includes(extname(file).toLowerCase());
}

/** The ffmpeg command: `FERLAB_FFMPEG` when set, else `ffmpeg` from PATH. */
export function ffmpegCommand(): string {
  return process.env.FERLAB_FFMPEG || 'ffmpeg';
}

/** Why videos cannot be read here, or undefined when ffmpeg runs. */
export function ffmpegMissing(): string | undefined {
  const cmd = ffmpegCommand();
  const r = spawnSync(cmd, ['-hide_banner', '-version'], { encoding: 'utf8' });
  if (!r.error && r.status === 0) return undefined;
  return `ffmpeg is not installed or does not run ('${cmd}': ${r.error ? r.error.message : `exit ${r.status}`}); videos need it: sudo apt-get install ffmpeg (Debian/Ubuntu), or set FERLAB_FFMPEG to its path`;
}

/** A frame extracted from a video. */
export interface VideoFrame {
  /** 0-based index among the extracted frames. */
  frame: number;
  /** Presentation time in seconds from the start of the video. */
  time: number;
  /** PNG file of the frame. */
  path: string;
}

/**
 * Extracts frames of a video as PNG files with ffmpeg, with their times (from ffmpeg's `showinfo` filter). `file` is
 * always read as a local file, whatever its name (an absolute `file:` path and `-protocol_whitelist file`).
 * @param fps frames per second to sample (ffmpeg `fps` filter); 0 = every frame of the video.
 * @param dir folder to write `000001.png`, ... into.
 * @throws Error naming the file when ffmpeg is missing, fails (corrupt or unsupported file: ffmpeg's last error line),
 *   or gives no frame.
 */
export async function extractFrames(file: string, fps: number, dir: string): Promise<VideoFrame[]> {
  const missing = ffmpegMissing();
  if (missing) throw new Error(`${file}: cannot read the video: ${missing}`);
  if (!(fps >= 0)) throw new Error(`fps must be >= 0 (0 = every frame), got ${fps}`);
  const filter = fps > 0 ? `fps=${fps},showinfo` : 'showinfo';
  // ffmpeg reads a name like `http:host:port?x.mp4` or `concat:a|b` as a URL: the input is given as an absolute `file:`
  // path and only the file protocol is allowed for it (-protocol_whitelist), so ffmpeg opens nothing but that file
  const input = `file:${resolve(file)}`;
  const output = `file:${join(resolve(dir), '%06d.png')}`;
  const args = ['-hide_banner', '-nostdin', '-loglevel', 'info', '-protocol_whitelist', 'file', '-i', input];
  args.push('-an', '-vf', filter, '-vsync', 'passthrough', output);
  // -vsync passthrough (ffmpeg 4 and later; -fps_mode needs 5.1): every frame the filter gives is written, once
  const times: number[] = [];
  let tail = '';
  const code = await new Promise<number | null>((resolveExit, reject) => {
    const p = spawn(ffmpegCommand(), args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let buf = '';
    p.stderr.setEncoding('utf8');
    p.stderr.on('data', (chunk: string) => {
      buf += chunk;
      const lines = buf.split(/\r?\n|\r/);
      buf = lines.pop() ?? '';
      for (const l of lines) {
        const m = /\[Parsed_showinfo[^\]]*\].*\bpts_time:\s*(-?[\d.]+)/.exec(l);
        if (m) times.push(Number(m[1]));
        else if (l.trim()) tail = l.trim();
      }
    });
    p.on('error', reject);
    p.on('close', (c) => {
      if (buf.trim() && !/showinfo/.test(buf)) tail = buf.trim();
      resolveExit(c);
    });
  });
  if (code !== 0) throw new Error(`${file}: cannot read the video (ffmpeg exit ${code}: ${tail})`);
  const files = readdirSync(dir)
    .filter((f) => /^\d{6}\.png$/.test(f))
    .sort();
  if (files.length === 0) throw new Error(`${file}: the video has no frame ffmpeg could decode (${tail})`);
  return files.map((f, i) => ({ frame: i, time: times[i] ?? (fps > 0 ? i / fps : i), path: join(dir, f) }));
}

/** Faces of one analysed frame. */
export interface FrameResult {
  frame: number;
  /** Seconds from the start of the video. */
  time: number;
  faces: FaceResult[];
  /** With smoothing (`smooth` option): per face, in the order of `faces`, its track and smoothed probabilities. */
  smoothed?: SmoothedFace[];
}

/** A face's smoothed probabilities (src/predict/smooth.ts: EMA over the frames of its track). */
export interface SmoothedFace {
  /** Track number, 1-based in order of first appearance: the same face keeps it across frames. */
  track: number;
  /** The most probable class after smoothing. */
  label: string;
  /** Smoothed probability of every class, in the model's class order. */
  probabilities: Record<string, number>;
}

/** A video's per-frame predictions. */
export interface VideoResult {
  /** Size of the frames, pixels. */
  width: number;
  height: number;
  /** Frames analysed per second (0 = every frame). */
  fps: number;
  frames: FrameResult[];
  /** The smoothing rule when it was on (src/predict/smooth.ts). */
  smoothing?: { alpha: number; minIou: number; maxMissed: number };
}

/**
 * Detects and classifies faces in frames of a video (`fps` per second), each frame exactly as a photo.
 * @param smooth EMA weight alpha in (0, 1] of temporal smoothing (src/predict/smooth.ts `parseSmooth`); absent = off.
 * @param onFrame called after each frame (progress).
 * @throws Error naming the file (see {@link extractFrames}).
 */
export async function predictVideo(
  pm: PredictModel,
  file: string,
  opts: ImageOptions & { fps?: number; smooth?: number; onFrame?: (done: number, total: number) => void } = {},
): Promise<VideoResult> {
  const fps = opts.fps ?? DEFAULT_VIDEO_FPS;
  const smoothing = opts.smooth === undefined ? undefined : { alpha: opts.smooth, minIou: DEFAULT_MIN_IOU, maxMissed: DEFAULT_MAX_MISSED };
  const smoother = smoothing && new FaceSmoother(smoothing);
  const classes = pm.meta.classes;
  const dir = mkdtempSync(join(tmpdir(), 'ferlab-frames-'));
  try {
    const frames = await extractFrames(file, fps, dir);
    const out: FrameResult[] = [];
    let width = 0;
    let height = 0;
    for (const f of frames) {
      const r = await predictImage(pm, f.path, opts, `${file} frame ${f.frame} (${f.time.toFixed(2)} s)`);
      width = r.width;
      height = r.height;
      const frame: FrameResult = { frame: f.frame, time: f.time, faces: r.faces };
      if (smoother)
        frame.smoothed = smoother
          .push(r.faces.map((face) => ({ box: face.box, probabilities: classes.map((c) => face.probabilities[c]) })))
          .map((s) => ({ track: s.track, label: classes[s.label], probabilities: Object.fromEntries(classes.map((c, k) => [c, s.probabilities[k]])) }));
      out.push(frame);
      opts.onFrame?.(out.length, frames.length);
    }
    return { width, height, fps, frames: out, ...(smoothing ? { smoothing } : {}) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
