/**
 * Temporal smoothing of per-face class probabilities across the frames of a video or a camera stream, so that a label
 * does not flicker from frame to frame: each face is followed from frame to frame by the overlap of its boxes (a
 * track), and each track's probabilities are an exponential moving average (EMA) of the frames it was seen in.
 *
 * Pure arithmetic, no Node or tfjs imports: `predict` (src/predict/video.ts) and the browser demo (bundled by
 * src/demo/server.ts into the page) run this same file.
 *
 * The rule, for a track seen in frames t = 0, 1, ...: `s_0 = p_0`, `s_t = alpha * p_t + (1 - alpha) * s_(t-1)`,
 * where `p_t` is the model's probability vector of the face in frame t, and the smoothed label is the argmax of
 * `s_t`. `alpha` comes from a span of N frames as `alpha = 2 / (N + 1)` (the usual EMA span, e.g. pandas
 * `ewm(span=N)`: the weights of the last N frames carry about 86% of the total). What it guarantees (proved in
 * {@link holdsOneFrameFlip} and {@link followFrames}, tested in test/predict/smooth.test.ts):
 * - a label that flips for one frame is held when the smoothed margin before the flip exceeds alpha / (1 - alpha);
 *   after a steady label (margin 1) that is every alpha < 1/2, i.e. every span N > 3;
 * - a lasting change to a new label is followed after at most `followFrames(alpha)` frames when the new label's
 *   probability is 1 in each of them (fewer when the old state was less certain).
 */

/** A face box in pixels (the fields of src/predict/geometry.ts `Box`). */
export interface TrackBox {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** How faces are tracked and smoothed. */
export interface SmoothOptions {
  /** EMA weight of the newest frame, in (0, 1]; 1 = no smoothing. */
  alpha: number;
  /** Smallest intersection-over-union of a face's box with a track's last box for the face to continue the track
   * (default {@link DEFAULT_MIN_IOU}). */
  minIou?: number;
  /** Frames a track may go unseen before it ends (default {@link DEFAULT_MAX_MISSED}); a face that reappears within
   * them continues its track and its average. */
  maxMissed?: number;
}

/** Default span in frames of `predict --smooth` when given without a value, and of the demo's smoothing toggle. */
export const DEFAULT_SPAN = 5;

/** Default smallest box IoU that continues a track: 0.3, the overlap face-api's own detections of one face in
 * consecutive frames easily exceed (a face moving by 25% of its box width between frames still gives IoU 0.6), while
 * two different faces side by side overlap far less. */
export const DEFAULT_MIN_IOU = 0.3;

/** Default number of frames a track survives unseen (a face missed by the detector in one or two frames keeps its
 * average). */
export const DEFAULT_MAX_MISSED = 2;

/**
 * EMA weight of the newest frame for a span of `span` frames: `2 / (span + 1)`.
 * @param span number of frames, >= 1 (1 = no smoothing).
 * @throws Error when span is not a finite number >= 1.
 */
export function alphaFromSpan(span: number): number {
  if (!(Number.isFinite(span) && span >= 1)) throw new Error(`smoothing span must be a number of frames >= 1, got ${span}`);
  return 2 / (span + 1);
}

/**
 * Reads a `--smooth` value: a number of frames (>= 1; alpha = 2 / (N + 1)) or an EMA weight alpha in (0, 1).
 * @returns alpha in (0, 1]. @throws Error for anything else (0, negative, not a number).
 */
export function parseSmooth(value: string | number): number {
  const n = typeof value === 'number' ? value : Number(value);
  if (Number.isFinite(n) && n > 0 && n < 1) return n;
  if (Number.isFinite(n) && n >= 1) return alphaFromSpan(n);
  throw new Error(`expected a number of frames (>= 1) or an EMA weight between 0 and 1, got '${value}'`);
}

/**
 * Frames of a lasting change after which the smoothed label is the new one, whatever the state before, when the new
 * label's probability is 1 in each frame: the smallest k with `(1 - alpha)^k < 1/2`.
 *
 * Why: after k such frames `s_new >= 1 - (1 - alpha)^k` and every other class `<= (1 - alpha)^k` (each update
 * multiplies the old state by 1 - alpha and adds alpha to the new class only), so the new class leads once
 * `(1 - alpha)^k < 1/2`. alpha = 1/3 (span 5): 2 frames; alpha = 0.2 (span 9): 4 frames.
 * @throws Error when alpha is not in (0, 1].
 */
export function followFrames(alpha: number): number {
  checkAlpha(alpha);
  let k = 1;
  let rest = 1 - alpha;
  while (!(rest < 0.5)) {
    rest *= 1 - alpha;
    k++;
  }
  return k;
}

/**
 * Whether a one-frame flip is held: the label with smoothed margin `margin` (its smoothed probability minus the next
 * highest) stays the label after any single frame, whatever that frame's probabilities.
 *
 * Why: after the update, for any other class c, `s'_A - s'_c = (1 - alpha)(s_A - s_c) + alpha (p_A - p_c) >=
 * (1 - alpha) margin - alpha`, the worst case being `p_c = 1`; so the label is held when `(1 - alpha) margin > alpha`.
 * @param margin in [0, 1]; 1 after a steady one-hot history.
 */
export function holdsOneFrameFlip(alpha: number, margin = 1): boolean {
  checkAlpha(alpha);
  return (1 - alpha) * margin > alpha;
}

function checkAlpha(alpha: number): void {
  if (!(alpha > 0 && alpha <= 1)) throw new Error(`EMA weight alpha must be in (0, 1], got ${alpha}`);
}

/** Intersection over union of two boxes (0 when they do not overlap). */
export function boxIou(a: TrackBox, b: TrackBox): number {
  const w = Math.min(a.left + a.width, b.left + b.width) - Math.max(a.left, b.left);
  const h = Math.min(a.top + a.height, b.top + b.height) - Math.max(a.top, b.top);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  return inter / (a.width * a.height + b.width * b.height - inter);
}

/** A face of one frame as the smoother receives it. */
export interface SmoothInput {
  box: TrackBox;
  /** Class probabilities in the model's class order (`[C]`). */
  probabilities: ArrayLike<number>;
}

/** What the smoother says about one face. */
export interface Smoothed {
  /** Track number, 1-based, in order of first appearance; the same face keeps it across frames. */
  track: number;
  /** `[C]` smoothed probabilities (they sum to 1 when the inputs do). */
  probabilities: number[];
  /** Index of the largest smoothed probability (first on ties). */
  label: number;
  /** Frames this track has been seen in, this one included. */
  seen: number;
}

interface Track {
  id: number;
  box: TrackBox;
  state: number[];
  seen: number;
  missed: number;
}

/**
 * Follows faces across frames and smooths their probabilities (rule in the file header). Feed it every analysed
 * frame in order, also frames without faces (they age the tracks).
 *
 * Matching: all (face, live track) pairs with IoU >= minIou, taken greedily from the highest IoU down, each face and
 * track used once; a face left over starts a new track with its own probabilities as the state.
 */
export class FaceSmoother {
  private readonly alpha: number;
  private readonly minIou: number;
  private readonly maxMissed: number;
  private tracks: Track[] = [];
  private nextId = 1;

  /** @throws Error when alpha is not in (0, 1], minIou not in (0, 1] or maxMissed not a whole number >= 0. */
  constructor(opts: SmoothOptions) {
    checkAlpha(opts.alpha);
    this.alpha = opts.alpha;
    this.minIou = opts.minIou ?? DEFAULT_MIN_IOU;
    this.maxMissed = opts.maxMissed ?? DEFAULT_MAX_MISSED;
    if (!(this.minIou > 0 && this.minIou <= 1)) throw new Error(`minIou must be in (0, 1], got ${this.minIou}`);
    if (!(Number.isInteger(this.maxMissed) && this.maxMissed >= 0)) throw new Error(`maxMissed must be a whole number >= 0, got ${this.maxMissed}`);
  }

  /**
   * Takes the faces of the next frame.
   * @returns one result per input face, in input order.
   * @throws Error when a face's probabilities have a different length than the track it continues.
   */
  push(faces: readonly SmoothInput[]): Smoothed[] {
    const pairs: Array<{ f: number; t: number; iou: number }> = [];
    faces.forEach((face, f) =>
      this.tracks.forEach((track, t) => {
        const iou = boxIou(face.box, track.box);
        if (iou >= this.minIou) pairs.push({ f, t, iou });
      }),
    );
    pairs.sort((a, b) => b.iou - a.iou || a.f - b.f || a.t - b.t);
    const trackOf = new Array<number>(faces.length).fill(-1);
    const used = new Set<number>();
    for (const p of pairs) {
      if (trackOf[p.f] >= 0 || used.has(p.t)) continue;
      trackOf[p.f] = p.t;
      used.add(p.t);
    }
    const out: Smoothed[] = faces.map((face, f) => {
      const p = Array.from(face.probabilities);
      let track: Track;
      if (trackOf[f] >= 0) {
        track = this.tracks[trackOf[f]];
        if (track.state.length !== p.length) throw new Error(`face has ${p.length} probabilities, its track ${track.state.length}`);
        track.state = track.state.map((s, k) => this.alpha * p[k] + (1 - this.alpha) * s);
        track.box = face.box;
        track.seen++;
        track.missed = 0;
      } else {
        track = { id: this.nextId++, box: face.box, state: p, seen: 1, missed: 0 };
        this.tracks.push(track);
        used.add(this.tracks.length - 1);
      }
      return { track: track.id, probabilities: [...track.state], label: argmax(track.state), seen: track.seen };
    });
    this.tracks = this.tracks.filter((track, t) => used.has(t) || ++track.missed <= this.maxMissed);
    return out;
  }

  /** Forgets every track (a new video or a camera restart). */
  reset(): void {
    this.tracks = [];
    this.nextId = 1;
  }
}

function argmax(v: readonly number[]): number {
  let best = 0;
  for (let k = 1; k < v.length; k++) if (v[k] > v[best]) best = k;
  return best;
}

/**
 * Smooths a whole sequence of frames (see {@link FaceSmoother}).
 * @param frames the faces of each frame, in time order (a frame may have none).
 * @returns per frame, per face, the track and smoothed probabilities, in the input's order.
 */
export function smoothSequence(frames: ReadonlyArray<readonly SmoothInput[]>, opts: SmoothOptions): Smoothed[][] {
  const smoother = new FaceSmoother(opts);
  return frames.map((faces) => smoother.push(faces));
}
