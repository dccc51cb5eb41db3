import { IMAGE_PIXELS, IMAGE_SIZE } from './classes';
import { evalBatches, PREPROCESSING, writeImage } from './preprocess';
import { roundHalfEven } from '../util/round';

/**
 * The input of a model, per model (as timm's per-model pretrained config): the side of its square input, how the 48x48
 * image becomes that side, and how pixels become numbers. Training batches (src/train/batches.ts), evaluation
 * (src/eval/predict.ts), test-time augmentation (src/eval/tta.ts), re-scoring a saved run (src/eval/reload.ts),
 * export (src/export/) and prediction (src/predict/) build every model input through {@link InputWriter}, so a model
 * always sees its inputs exactly as it was trained. The spec is stored in the run record (config.json `inputSpec`)
 * and with the saved model (ferlab.json `inputSpec`); a record without one has the default spec {@link DEFAULT_INPUT}.
 *
 * The steps, in order, for one image (uint8 `[48, 48]`):
 * 1. `normalize: 'histeq'`: histogram equalisation of the uint8 48x48 image ({@link equalizeHist}, OpenCV's
 *    definition).
 * 2. pixel / 255 as float32 (src/data/preprocess.ts writeImage; training augments here, at 48x48, on these values).
 * 3. `resize`: `'none'` keeps the 48x48 image; `'crop'` takes a `size x size` window ({@link centreOffset} for
 *    evaluation, a random one for training); `'scale'` resizes bilinearly to `size x size` ({@link resizeBilinear}).
 * 4. `normalize: 'standardize'`: per-image standardisation of the view ({@link standardize}).
 *
 * The default spec (48, 'none', 'unit') is the transform ferlab has always used; its code path is the old one
 * (writeImage / evalBatches), so default models get the very same floats.
 */

/** How the 48x48 image becomes the model's `size x size` input. */
export const INPUT_RESIZES = ['none', 'crop', 'scale'] as const;
export type InputResize = (typeof INPUT_RESIZES)[number];

/** How pixel values become model inputs. */
export const INPUT_NORMALIZATIONS = ['unit', 'standardize', 'histeq'] as const;
export type InputNormalization = (typeof INPUT_NORMALIZATIONS)[number];

/** The input of a model (see the file comment). */
export interface InputSpec {
  /** Side of the square model input, pixels: 48 for 'none', 16-47 for 'crop', 49-256 for 'scale'. */
  size: number;
  /**
   * 'none': the 48x48 image; 'crop': a size x size window of it (random in training as torchvision RandomCrop,
   * the centre window in evaluation as CenterCrop, corners + centre with tencrop TTA as TenCrop; usef-kh/fer,
   * Khaireddin & Chen 2021, arXiv 2105.03588, uses 40); 'scale': bilinear resize to size x size (the FER+ paper's
   * VGG13 takes 64x64, microsoft/FERPlus src/img_util.py).
   */
  resize: InputResize;
  /**
   * 'unit': x = pixel / 255 in [0, 1]; 'standardize': per-image zero mean, unit standard deviation
   * (tf.image.per_image_standardization); 'histeq': histogram equalisation of the uint8 image (OpenCV equalizeHist),
   * then / 255.
   */
  normalize: InputNormalization;
}

/** The default input, ferlab's only one before per-model inputs: the 48x48 image, x = pixel / 255. */
export const DEFAULT_INPUT: Readonly<InputSpec> = Object.freeze({ size: IMAGE_SIZE, resize: 'none', normalize: 'unit' });

/** Smallest crop side: a window of at least a third of the 48x48 face. */
export const MIN_CROP = 16;
/** Largest scaled side (a batch of 64 float32 256x256 inputs is 16 MiB). */
export const MAX_SCALE = 256;

/** One problem of an input spec: the field it concerns and what is wrong, in words. */
export interface InputSpecProblem {
  field: keyof InputSpec;
  message: string;
}

/**
 * The problems of a spec (none = valid): size an integer and, per resize, 48 ('none'), in [16, 47] ('crop', a window
 * inside the 48x48 image) or in [49, 256] ('scale', an enlargement); resize and normalize among the known values.
 */
export function inputSpecProblems(spec: { size?: unknown; resize?: unknown; normalize?: unknown }): InputSpecProblem[] {
  const out: InputSpecProblem[] = [];
  const { size, resize, normalize } = spec;
  if (!(INPUT_RESIZES as readonly unknown[]).includes(resize))
    out.push({ field: 'resize', message: `resize must be one of ${INPUT_RESIZES.join(', ')}, got ${JSON.stringify(resize)}` });
  if (!(INPUT_NORMALIZATIONS as readonly unknown[]).includes(normalize))
    out.push({ field: 'normalize', message: `normalize must be one of ${INPUT_NORMALIZATIONS.join(', ')}, got ${JSON.stringify(normalize)}` });
  if (typeof size !== 'number' || !Number.isInteger(size)) {
    out.push({ field: 'size', message: `size must be an integer number of pixels, got ${JSON.stringify(size)}` });
    return out;
  }
  if (resize === 'none' && size !== IMAGE_SIZE)
    out.push({
      field: 'size',
      message: `resize 'none' keeps the ${IMAGE_SIZE}x${IMAGE_SIZE} image, so size must be ${IMAGE_SIZE}, got ${size} (use resize 'crop' for a smaller input, 'scale' for a larger one)`,
    });
  if (resize === 'crop' && !(size >= MIN_CROP && size < IMAGE_SIZE))
    out.push({
      field: 'size',
      message: `resize 'crop' takes a size x size window of the ${IMAGE_SIZE}x${IMAGE_SIZE} image, so size must be in [${MIN_CROP}, ${IMAGE_SIZE - 1}], got ${size}`,
    });
  if (resize === 'scale' && !(size > IMAGE_SIZE && size <= MAX_SCALE))
    out.push({
      field: 'size',
      message: `resize 'scale' enlarges the ${IMAGE_SIZE}x${IMAGE_SIZE} image, so size must be in [${IMAGE_SIZE + 1}, ${MAX_SCALE}], got ${size}`,
    });
  return out;
}

/**
 * Checks a spec and returns a plain copy of it.
 * @param where what the spec is, for the message (e.g. `input` or `ferlab.json inputSpec`): errors read
 *   `<where>.size: ...`.
 * @throws Error listing every problem (see {@link inputSpecProblems}) with the field, the expected and the actual value.
 */
export function checkInputSpec(spec: unknown, where = 'input'): InputSpec {
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec))
    throw new Error(`${where} must be an object {size, resize, normalize}, got ${JSON.stringify(spec)}`);
  const s = spec as Record<string, unknown>;
  const extra = Object.keys(s).filter((k) => !['size', 'resize', 'normalize'].includes(k));
  const problems = inputSpecProblems(s).map((p) => `${where}.${p.field}: ${p.message}`);
  if (extra.length) problems.push(`${where}: unknown key(s) ${extra.join(', ')} (expected size, resize, normalize)`);
  if (problems.length) throw new Error(problems.join('; '));
  return { size: s.size as number, resize: s.resize as InputResize, normalize: s.normalize as InputNormalization };
}

/** Whether `spec` is the default input (48, 'none', 'unit'), whose code path is the old one. */
export function isDefaultInput(spec: Readonly<InputSpec>): boolean {
  return spec.size === DEFAULT_INPUT.size && spec.resize === DEFAULT_INPUT.resize && spec.normalize === DEFAULT_INPUT.normalize;
}

/**
 * The spec recorded in a saved model's ferlab.json (or a run's config.json): its `inputSpec`, checked; absent = the
 * default (every record written before per-model inputs).
 * @param file the file, for the message.
 * @throws Error naming the file and the field when the recorded spec is invalid.
 */
export function recordedInputSpec(meta: { inputSpec?: unknown }, file: string): InputSpec {
  if (meta.inputSpec === undefined) return { ...DEFAULT_INPUT };
  return checkInputSpec(meta.inputSpec, `${file}: inputSpec`);
}

/** The model's input shape without the batch axis, `[size, size, 1]`. */
export function inputShapeOf(spec: Readonly<InputSpec>): [number, number, number] {
  return [spec.size, spec.size, 1];
}

/**
 * Row (= column) of the top-left pixel of the centre `size x size` window of the 48x48 image: round((48 - size) / 2)
 * with Python's half-to-even rounding (torchvision `center_crop`): 4 for 40. The same window as src/eval/tta.ts's
 * centre view.
 */
export function centreOffset(size: number): number {
  return roundHalfEven((IMAGE_SIZE - size) / 2);
}

/**
 * One-line description of a spec, recorded as `preprocessing` in run records, ferlab.json, the ONNX metadata and the
 * model card. The default spec gives exactly {@link PREPROCESSING} (so records and model folders written before
 * per-model inputs describe the same transform); other specs list the steps in order.
 */
export function describeInput(spec: Readonly<InputSpec>): string {
  if (isDefaultInput(spec)) return PREPROCESSING;
  const S = spec.size;
  const steps: string[] = [];
  if (spec.normalize === 'histeq') steps.push(`histogram equalisation of the ${IMAGE_SIZE}x${IMAGE_SIZE} uint8 image (OpenCV equalizeHist)`);
  steps.push(spec.normalize === 'histeq' ? 'x = equalised pixel / 255' : 'x = pixel / 255');
  if (spec.resize === 'crop') {
    const c = centreOffset(S);
    steps.push(`the centre ${S}x${S} window at row ${c}, column ${c} (training: a random ${S}x${S} window)`);
  } else if (spec.resize === 'scale') {
    steps.push(`bilinear resize ${IMAGE_SIZE}x${IMAGE_SIZE} -> ${S}x${S} (half-pixel centres, as OpenCV INTER_LINEAR)`);
  }
  if (spec.normalize === 'standardize') {
    steps.push(`per image x = (x - mean) / max(std, 1 / (255 sqrt(${S * S}))) (tf.image.per_image_standardization of the grey levels)`);
    return `${steps.join('; ')} (float32 [batch, ${S}, ${S}, 1], per image mean 0 and std 1)`;
  }
  return `${steps.join('; ')} (float32 [batch, ${S}, ${S}, 1] in [0, 1])`;
}

/**
 * Histogram equalisation of an 8-bit image, as OpenCV's `cv::equalizeHist` (modules/imgproc/src/histogram.cpp):
 * with H the histogram and i the smallest value present, a constant image stays as it is; otherwise
 * scale = 255 / (n - H[i]) in float32 and lut[v] = saturate_cast<uchar>(float32(cdf(v) - H[i]) * scale) for v > i
 * (cdf(v) = pixels <= v; saturate_cast rounds half to even), lut[i] = 0, and each pixel p becomes lut[p]. The darkest
 * value maps to 0 and the brightest to 255.
 *
 * Note: microsoft/FERPlus (src/img_util.py preproc_img) equalises differently: x = 2 cdf(p) / n - 1 (no H[i] offset,
 * float values in (-1, 1]), then subtracts the least-squares plane a + b x + c y and divides by the standard
 * deviation. ferlab's 'histeq' is OpenCV's, followed by / 255.
 *
 * @param src uint8 pixels; the n pixels from `srcOffset` are one image. @param out uint8, written at `outOffset`
 *   (may be `src` at the same offset).
 */
export function equalizeHist(
  src: Uint8Array,
  srcOffset: number,
  n: number,
  out: Uint8Array,
  outOffset: number,
  hist = new Int32Array(256),
  lut = new Uint8Array(256),
): void {
  hist.fill(0);
  for (let k = 0; k < n; k++) hist[src[srcOffset + k]]++;
  let i = 0;
  while (hist[i] === 0) i++;
  if (hist[i] === n) {
    out.fill(i, outOffset, outOffset + n);
    return;
  }
  const scale = Math.fround(255 / (n - hist[i]));
  let sum = 0;
  lut.fill(0, 0, i + 1);
  for (let v = i + 1; v < 256; v++) {
    sum += hist[v];
    lut[v] = Math.min(255, roundHalfEven(Math.fround(sum * scale)));
  }
  for (let k = 0; k < n; k++) out[outOffset + k] = lut[src[srcOffset + k]];
}

/**
 * Source coordinates of a bilinear resize from `from` to `to` pixels along one axis, with half-pixel centres
 * (align_corners = False): output pixel d samples s = (d + 0.5) * from / to - 0.5, clamped to [0, from - 1] (edge
 * pixels replicated), as OpenCV `resize(..., INTER_LINEAR)` on float images, PyTorch `F.interpolate(mode='bilinear',
 * align_corners=False)` and TF2 `tf.image.resize(method='bilinear')` (no antialiasing) compute it.
 * @returns per output pixel the lower source index, the upper one (min(lower + 1, from - 1)) and the weight of the upper.
 */
export function bilinearAxis(from: number, to: number): { lo: Int32Array; hi: Int32Array; w: Float64Array } {
  const lo = new Int32Array(to);
  const hi = new Int32Array(to);
  const w = new Float64Array(to);
  for (let d = 0; d < to; d++) {
    const s = Math.min(from - 1, Math.max(0, ((d + 0.5) * from) / to - 0.5));
    lo[d] = Math.floor(s);
    hi[d] = Math.min(lo[d] + 1, from - 1);
    w[d] = s - lo[d];
  }
  return { lo, hi, w };
}

/**
 * Bilinear resize of one square float32 image (`[from, from]` row-major at `srcOffset`) to `[to, to]` at `outOffset`,
 * coordinates as {@link bilinearAxis}: out = (1 - wy) ((1 - wx) a + wx b) + wy ((1 - wx) c + wx d) of the four
 * neighbours, computed in float64 and rounded once to float32. A linear ramp stays linear between the edge pixels.
 * @param axis precomputed `bilinearAxis(from, to)` (the same for rows and columns).
 */
export function resizeBilinear(
  src: Float32Array,
  srcOffset: number,
  from: number,
  out: Float32Array,
  outOffset: number,
  to: number,
  axis = bilinearAxis(from, to),
): void {
  const { lo, hi, w } = axis;
  for (let r = 0; r < to; r++) {
    const top = srcOffset + lo[r] * from;
    const bottom = srcOffset + hi[r] * from;
    const wy = w[r];
    const o = outOffset + r * to;
    for (let c = 0; c < to; c++) {
      const wx = w[c];
      const t = (1 - wx) * src[top + lo[c]] + wx * src[top + hi[c]];
      const b = (1 - wx) * src[bottom + lo[c]] + wx * src[bottom + hi[c]];
      out[o + c] = (1 - wy) * t + wy * b;
    }
  }
}

/**
 * Per-image standardisation in place of the n float32 values at `offset`, which are grey levels / 255:
 * x = (x - mean) / max(std, 1 / (255 sqrt(n))), std the population standard deviation (divisor n). That is
 * tf.image.per_image_standardization (TensorFlow image_ops_impl.py: (g - mean) / max(stddev, 1 / sqrt(N)), applied
 * to the grey levels g = 255 x, uint8 cast to float) written for x = g / 255; the floor only acts on (nearly) uniform
 * images, which become 0. Mean and variance are computed in float64 (two passes), each value rounded once to float32.
 */
export function standardize(x: Float32Array, offset: number, n: number): void {
  let sum = 0;
  for (let k = 0; k < n; k++) sum += x[offset + k];
  const mean = sum / n;
  let sq = 0;
  for (let k = 0; k < n; k++) {
    const d = x[offset + k] - mean;
    sq += d * d;
  }
  const scale = Math.max(Math.sqrt(sq / n), 1 / (255 * Math.sqrt(n)));
  for (let k = 0; k < n; k++) x[offset + k] = (x[offset + k] - mean) / scale;
}

/** A view of the 48x48 image: the window at (top, left) of the image or of its left-right mirror (src/eval/tta.ts). */
export interface InputWindow {
  top: number;
  left: number;
  mirrored: boolean;
}

/**
 * Writes model inputs of one {@link InputSpec}: preallocated, no allocation per image. Default specs use writeImage
 * directly (the old path, the same floats); other specs write the 48x48 float image into a scratch buffer and then
 * {@link finish} it, the one definition of steps 3-4 for training, evaluation, TTA and prediction.
 */
export class InputWriter {
  readonly spec: Readonly<InputSpec>;
  /** Values per model input: size * size. */
  readonly pixels: number;
  /** Side of the window taken from the 48x48 image: size for 'crop', 48 otherwise. */
  readonly window: number;
  /** Top-left corner of the centre window (0 unless 'crop'). */
  readonly centre: number;
  private readonly isDefault: boolean;
  private readonly eq = new Uint8Array(IMAGE_PIXELS);
  private readonly hist = new Int32Array(256);
  private readonly lut = new Uint8Array(256);
  private readonly full = new Float32Array(IMAGE_PIXELS);
  private readonly axis: ReturnType<typeof bilinearAxis> | undefined;

  /** @throws Error for an invalid spec (see {@link checkInputSpec}). */
  constructor(spec: Readonly<InputSpec>) {
    this.spec = checkInputSpec({ ...spec });
    const S = this.spec.size;
    this.pixels = S * S;
    this.window = this.spec.resize === 'crop' ? S : IMAGE_SIZE;
    this.centre = this.spec.resize === 'crop' ? centreOffset(S) : 0;
    this.isDefault = isDefaultInput(this.spec);
    this.axis = this.spec.resize === 'scale' ? bilinearAxis(IMAGE_SIZE, S) : undefined;
  }

  /**
   * The uint8 48x48 image the float steps start from: image `row` of `pixels` itself, or for 'histeq' its equalised
   * copy (in a scratch buffer, valid until the next call, as row 0).
   */
  source(pixels: Uint8Array, row: number): { pixels: Uint8Array; row: number } {
    if (this.spec.normalize !== 'histeq') return { pixels, row };
    equalizeHist(pixels, row * IMAGE_PIXELS, IMAGE_PIXELS, this.eq, 0, this.hist, this.lut);
    return { pixels: this.eq, row: 0 };
  }

  /**
   * Steps 3-4 on a 48x48 float32 image in [0, 1] (pixel / 255, possibly augmented): the window at (top, left) for
   * 'crop' (default: the centre), the bilinear resize for 'scale', the image as it is for 'none'; then standardisation
   * for 'standardize'. Writes `[size, size]` float32 at `out[outOffset]`.
   * @throws Error when the window does not lie inside the image.
   */
  finish(img: Float32Array, imgOffset: number, out: Float32Array, outOffset: number, top = this.centre, left = this.centre): void {
    const S = this.spec.size;
    if (this.spec.resize === 'scale') resizeBilinear(img, imgOffset, IMAGE_SIZE, out, outOffset, S, this.axis);
    else {
      const w = this.window;
      if (!(top >= 0 && left >= 0 && top + w <= IMAGE_SIZE && left + w <= IMAGE_SIZE))
        throw new Error(`input window ${w}x${w} at (${top}, ${left}) does not lie inside the ${IMAGE_SIZE}x${IMAGE_SIZE} image`);
      for (let y = 0; y < w; y++) {
        const s = imgOffset + (top + y) * IMAGE_SIZE + left;
        out.set(img.subarray(s, s + w), outOffset + y * w);
      }
    }
    if (this.spec.normalize === 'standardize') standardize(out, outOffset, this.pixels);
  }

  /**
   * The model input of image `row` of `pixels` (`[N, 48, 48]` uint8) without augmentation, as evaluation and
   * prediction feed it: the centre window for 'crop', optionally of the mirrored image. Default spec: writeImage.
   * @param out float32; `[size, size]` written at `outOffset`.
   */
  write(pixels: Uint8Array, row: number, out: Float32Array, outOffset: number, mirrored = false): void {
    if (this.isDefault) return writeImage(pixels, row, out, outOffset, mirrored);
    this.writeView(pixels, row, out, outOffset, { top: this.centre, left: this.centre, mirrored });
  }

  /**
   * One view (src/eval/tta.ts windows) of image `row`: the `window x window` window at (top, left) of the image or of
   * its mirror, then steps 3-4. For 'scale' the window is the whole image (top = left = 0).
   */
  writeView(pixels: Uint8Array, row: number, out: Float32Array, outOffset: number, view: InputWindow): void {
    const src = this.source(pixels, row);
    writeImage(src.pixels, src.row, this.full, 0, view.mirrored);
    this.finish(this.full, 0, out, outOffset, view.top, view.left);
  }
}

/**
 * Model inputs of a split in file order, for evaluation: `[n, size, size, 1]` float32 batches of {@link InputWriter}
 * .write (no augmentation). The default spec yields exactly src/data/preprocess.ts evalBatches.
 * @param pixels `[N, 48, 48]` uint8 dataset images. @param index `[m]` rows, in order. @param batchSize images per
 *   batch (the last may be smaller). The yielded buffer is reused between batches.
 */
export function* inputBatches(
  pixels: Uint8Array,
  index: Int32Array,
  batchSize: number,
  spec: Readonly<InputSpec> = DEFAULT_INPUT,
): Generator<{ x: Float32Array; start: number; n: number }> {
  if (isDefaultInput(spec)) {
    yield* evalBatches(pixels, index, batchSize);
    return;
  }
  const writer = new InputWriter(spec);
  const P = writer.pixels;
  const buf = new Float32Array(batchSize * P);
  for (let start = 0; start < index.length; start += batchSize) {
    const n = Math.min(batchSize, index.length - start);
    for (let b = 0; b < n; b++) writer.write(pixels, index[start + b], buf, b * P);
    yield { x: n === batchSize ? buf : buf.subarray(0, n * P), start, n };
  }
}
