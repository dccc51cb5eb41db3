/**
 * Test-time augmentation (TTA) for ferlab's 48x48 grayscale models: predict several views of each test image and
 * average the class probabilities.
 *
 * - `'none'`: one view, the centre crop of size `crop` (the whole image when crop = 48).
 * - `'flip'`: that view and the same window of the left-right mirrored image (2 views).
 * - `'tencrop'`: the ten-crop of Krizhevsky, Sutskever & Hinton 2012 ("ImageNet Classification with Deep
 *   Convolutional Neural Networks", NIPS, sec. 4.1: five patches, "the four corner patches and the center patch",
 *   and their horizontal reflections), in the order of torchvision's `TenCrop` / `functional.ten_crop`: top-left,
 *   top-right, bottom-left, bottom-right, centre of the image, then the same five windows of the mirrored image
 *   (10 views). usef-kh/fer (Khaireddin & Chen 2021, the VGG that reaches 73.28% on FER2013) tests this way with
 *   `transforms.TenCrop(40)` on the 48x48 images (data/fer2013.py, commit 3c5de07), so its model, and a ferlab model used with
 *   tencrop, takes `crop x crop` inputs (40x40 there): a model trained on whole 48x48 images cannot take crops.
 *
 * How views are combined: by default ferlab **averages the softmax probabilities** of the views (Krizhevsky et al.
 * 2012 sec. 4.1: "averaging the predictions made by the network's softmax layer on the ten patches"). usef-kh/fer
 * instead averages the raw network outputs, i.e. the logits (utils/loops.py `evaluate` and evaluate.py: `outputs =
 * torch.sum(outputs.view(bs, ncrops, -1), dim=1) / ncrops` on the logits of a network without a softmax layer,
 * then CrossEntropyLoss / argmax); `average: 'logits'` reproduces that, returning softmax(mean logits). The two can
 * pick different classes.
 *
 * Pixels are preprocessed as everywhere in ferlab: float32 uint8 / 255 in [0, 1], NHWC with one channel
 * (src/data/preprocess.ts), or, given the model's input spec (`input`, src/data/input.ts), as that spec makes them:
 * the windows are `size x size` crops for resize 'crop'; for 'scale' the views are the whole image and its mirror,
 * each resized (tencrop needs 'crop'); 'histeq' equalises the image before the windows are cut, 'standardize'
 * standardises each view. The view with the centre window is exactly the input evaluation feeds.
 *
 * **Shifted views** (`shift: s`, for a model that takes the whole 48x48 image and crops its centre `s x s` window
 * inside its graph, as a ferlab ensemble of crop-40 members does: src/export/ensemble.ts): view v is the whole image
 * translated so that window v of the mode (side s) lands on the centre window, `view[y][x] = image[y + dy][x + dx]`
 * with (dy, dx) = (window top, left) - centreOffset(s), edge pixels repeated where the translation reaches outside
 * (the centre s x s window never reads them, since |dy|, |dx| <= centreOffset(s)). The model's inner centre crop then
 * sees exactly the window a crop model's ten-crop feeds, so such a model's shifted tencrop equals its members' own
 * tencrop. Our own code: tfjs has no translate op for this and the loop is a few lines.
 */
import * as tf from '@tensorflow/tfjs';
import { IMAGE_PIXELS, IMAGE_SIZE } from '../data/classes';
import { centreOffset, describeInput, InputWriter, type InputSpec } from '../data/input';
import { checkModelInput } from './predict';

/** The TTA modes. */
export { TTA_MODES } from '../records/metrics';
import { TTA_MODES } from '../records/metrics';
export type TtaMode = (typeof TTA_MODES)[number];

/** How the views' predictions are combined (see the module comment). */
export type TtaAverage = 'probabilities' | 'logits';

/** Crop size of usef-kh/fer's `TenCrop(40)`, the default crop of `'tencrop'`. */
export const TENCROP_SIZE = 40;

/** What a TTA prediction did, for metrics.json: a record type, schema in src/records/metrics.ts. */
import type { TtaRecord } from '../records/metrics';
export type { TtaRecord } from '../records/metrics';

/** One view: the `crop x crop` window at (top, left) of the image, or of its left-right mirror when `mirrored`. */
export interface CropWindow {
  /** Row and column of the window's top-left pixel in the (possibly mirrored) 48x48 image. */
  top: number;
  left: number;
  mirrored: boolean;
}

/** Views per image of a mode: none 1, flip 2, tencrop 10. @throws Error for an unknown mode. */
export function ttaViews(mode: TtaMode): number {
  return ttaWindows(mode, mode === 'tencrop' ? TENCROP_SIZE : IMAGE_SIZE).length;
}

/**
 * The windows of a mode, in view order. Corners are at 0 and 48 - crop; the centre window starts at
 * round((48 - crop) / 2) with Python's half-to-even rounding (torchvision `center_crop`): 4 for crop 40.
 * The mirrored windows are windows of the mirrored image, as torchvision's ten_crop (five_crop of hflip(img)); a
 * mirrored window at (t, l) holds pixel (y, x) = image[t + y][47 - l - x].
 *
 * @param crop window side in [1, 48] (below 48 for tencrop).
 * @throws Error for an unknown mode, a crop outside [1, 48], or tencrop with crop 48.
 */
export function ttaWindows(mode: TtaMode, crop: number): CropWindow[] {
  if (!Number.isInteger(crop) || crop < 1 || crop > IMAGE_SIZE) throw new Error(`TTA: crop must be an integer in [1, ${IMAGE_SIZE}], got ${crop}`);
  const e = IMAGE_SIZE - crop;
  const c = centreOffset(crop);
  const five = [
    { top: 0, left: 0 },
    { top: 0, left: e },
    { top: e, left: 0 },
    { top: e, left: e },
    { top: c, left: c },
  ];
  switch (mode) {
    case 'none':
      return [{ top: c, left: c, mirrored: false }];
    case 'flip':
      return [
        { top: c, left: c, mirrored: false },
        { top: c, left: c, mirrored: true },
      ];
    case 'tencrop':
      if (crop === IMAGE_SIZE)
        throw new Error(
          `TTA: tencrop with crop ${IMAGE_SIZE} would feed five identical windows; use 'flip', or a model trained on smaller crops (e.g. ${TENCROP_SIZE})`,
        );
      return [...five.map((w) => ({ ...w, mirrored: false })), ...five.map((w) => ({ ...w, mirrored: true }))];
    default:
      throw new Error(`TTA: unknown mode '${String(mode)}'; expected one of ${TTA_MODES.join(', ')}`);
  }
}

/** Default crop of a mode: 48 (the whole image) for none and flip, {@link TENCROP_SIZE} for tencrop. */
export function defaultCrop(mode: TtaMode): number {
  return mode === 'tencrop' ? TENCROP_SIZE : IMAGE_SIZE;
}

/** The record of a TTA setting (what {@link predictProbabilitiesTTA} returns with its probabilities). */
export function ttaRecord(mode: TtaMode, opts: { crop?: number; average?: TtaAverage } = {}): TtaRecord {
  const crop = opts.crop ?? defaultCrop(mode);
  return { tta: mode, views: ttaWindows(mode, crop).length, crop, average: opts.average ?? 'probabilities' };
}

const TO_FLOAT = Float32Array.from({ length: 256 }, (_, i) => i / 255);

/**
 * The window side and, for specs the plain path cannot write, the writer, of TTA with an input spec.
 * @throws Error for tencrop without resize 'crop', or a `crop` that is not the spec's window side.
 */
function ttaInput(mode: TtaMode, input: Readonly<InputSpec>, crop: number | undefined): { window: number; writer?: InputWriter } {
  if (mode === 'tencrop' && input.resize !== 'crop')
    throw new Error(
      `TTA: tencrop feeds size x size crops of the ${IMAGE_SIZE}x${IMAGE_SIZE} image, which needs an input with resize 'crop'; this model's input is ` +
        `${JSON.stringify(input)} (${describeInput(input)}): use 'flip'`,
    );
  const window = input.resize === 'crop' ? input.size : IMAGE_SIZE;
  if (crop !== undefined && crop !== window)
    throw new Error(`TTA: crop ${crop} differs from the window side ${window} of the input spec ${JSON.stringify(input)}`);
  // 'unit' with 'none' or 'crop': windows of pixel / 255, which the plain path below writes (the same floats)
  const plain = input.normalize === 'unit' && input.resize !== 'scale';
  return plain ? { window } : { window, writer: new InputWriter(input) };
}

/**
 * The model inputs of TTA: for each image, its views (see {@link ttaWindows}), as float32 pixel / 255, or as the input
 * spec `opts.input` makes them (see the file comment).
 *
 * @param pixels `[N, 48, 48]` uint8 images (a dataset's `pixels`). @param rows image indices to use, in order.
 * @param opts.crop window side (default {@link defaultCrop}; with `input`: its window side); opts.input the model's
 *   input spec; opts.start / opts.count: use rows[start, start+count) (default: all); opts.out: a buffer to write
 *   into (at least count * views * side^2 long; a subarray of it is returned).
 * @returns `[count * views, side, side, 1]` float32 NHWC (side = crop, or the spec's size), image-major: view v of the
 *   j-th image is input j * views + v, and its pixel (y, x) is at ((j * views + v) * side + y) * side + x.
 *   opts.shift: the inner crop side of a whole-image model: shifted 48x48 views (file comment; `crop` and `input` must
 *   then be absent).
 * @throws Error for an unknown mode, a bad crop, tencrop with an input spec whose resize is not 'crop', a row outside
 *   [0, N), a pixels length that is not a multiple of 48 * 48, or a too small `out`.
 */
export function buildTtaBatch(
  pixels: Uint8Array,
  rows: ArrayLike<number>,
  mode: TtaMode,
  opts: { crop?: number; start?: number; count?: number; out?: Float32Array; input?: Readonly<InputSpec>; shift?: number } = {},
): Float32Array {
  if (opts.shift !== undefined) return buildShiftedBatch(pixels, rows, mode, opts.shift, opts);
  const spec = opts.input ? ttaInput(mode, opts.input, opts.crop) : undefined;
  const crop = spec ? spec.window : (opts.crop ?? defaultCrop(mode));
  const writer = spec?.writer;
  const windows = ttaWindows(mode, crop);
  const k = windows.length;
  const viewSize = writer ? writer.pixels : crop * crop;
  const { count, out, rowAt } = batchFrame(pixels, rows, opts, k * viewSize);
  const S = IMAGE_SIZE;
  for (let j = 0; j < count; j++) {
    const row = rowAt(j);
    if (writer) {
      for (let v = 0; v < k; v++) writer.writeView(pixels, row, out, (j * k + v) * viewSize, windows[v]);
      continue;
    }
    const src = row * IMAGE_PIXELS;
    for (let v = 0; v < k; v++) {
      const { top, left, mirrored } = windows[v];
      let o = (j * k + v) * viewSize;
      for (let y = 0; y < crop; y++) {
        const r = src + (top + y) * S;
        if (mirrored) {
          const base = r + S - 1 - left; // x -> column 47 - left - x
          for (let x = 0; x < crop; x++) out[o++] = TO_FLOAT[pixels[base - x]];
        } else {
          const base = r + left;
          for (let x = 0; x < crop; x++) out[o++] = TO_FLOAT[pixels[base + x]];
        }
      }
    }
  }
  return out;
}

/**
 * The checks and output buffer both view writers share: `pixels` must hold whole 48x48 images, rows [start, start +
 * count) must lie within `rows`, `out` (when given) must hold `perImage` values per image.
 * @returns `count`, the output (a subarray of `out`, or a new array) and `rowAt(j)`: the image index of the j-th
 *   image, checked to lie in [0, N).
 * @throws Error naming the pixels length, the row range, the out length or the bad row.
 */
function batchFrame(
  pixels: Uint8Array,
  rows: ArrayLike<number>,
  opts: { start?: number; count?: number; out?: Float32Array },
  perImage: number,
): { count: number; out: Float32Array; rowAt: (j: number) => number } {
  if (pixels.length % IMAGE_PIXELS !== 0) throw new Error(`TTA: ${pixels.length} pixels are not a whole number of ${IMAGE_SIZE}x${IMAGE_SIZE} images`);
  const N = pixels.length / IMAGE_PIXELS;
  const start = opts.start ?? 0;
  const count = opts.count ?? rows.length - start;
  if (!(Number.isInteger(start) && Number.isInteger(count) && start >= 0 && count >= 0 && start + count <= rows.length))
    throw new Error(`TTA: rows [${start}, ${start + count}) do not lie within the ${rows.length} rows given`);
  const need = count * perImage;
  if (opts.out && opts.out.length < need) throw new Error(`TTA: out holds ${opts.out.length} values; ${need} needed`);
  const out = opts.out ? opts.out.subarray(0, need) : new Float32Array(need);
  const rowAt = (j: number) => {
    const row = rows[start + j];
    if (!(Number.isInteger(row) && row >= 0 && row < N)) throw new Error(`TTA: row ${start + j} is ${row}; expected an image index in [0, ${N})`);
    return row;
  };
  return { count, out, rowAt };
}

/**
 * The shifted views of {@link buildTtaBatch} with `shift` (file comment): `[count * views, 48, 48, 1]` float32 pixel / 255.
 * @throws Error for a shift that is not an integer in [1, 48] (tencrop: below 48), `crop` or `input` given with it, a
 *   row outside [0, N), a bad pixels length or a too small `out`.
 */
function buildShiftedBatch(
  pixels: Uint8Array,
  rows: ArrayLike<number>,
  mode: TtaMode,
  shift: number,
  opts: { crop?: number; start?: number; count?: number; out?: Float32Array; input?: Readonly<InputSpec> },
): Float32Array {
  if (opts.crop !== undefined || opts.input !== undefined)
    throw new Error(`TTA: shift ${shift} feeds whole ${IMAGE_SIZE}x${IMAGE_SIZE} images; crop and input must not be given with it`);
  const windows = ttaWindows(mode, shift); // throws for a bad shift
  const c = centreOffset(shift);
  const k = windows.length;
  const S = IMAGE_SIZE;
  const { count, out, rowAt } = batchFrame(pixels, rows, opts, k * IMAGE_PIXELS);
  const clamp = (v: number) => (v < 0 ? 0 : v > S - 1 ? S - 1 : v);
  for (let j = 0; j < count; j++) {
    const row = rowAt(j);
    const src = row * IMAGE_PIXELS;
    for (let v = 0; v < k; v++) {
      const { top, left, mirrored } = windows[v];
      const dy = top - c;
      const dx = left - c;
      let o = (j * k + v) * IMAGE_PIXELS;
      for (let y = 0; y < S; y++) {
        const r = src + clamp(y + dy) * S;
        // mirrored: the view of the mirrored image, whose pixel (y, x) is image[y][47 - x]
        for (let x = 0; x < S; x++) out[o++] = TO_FLOAT[pixels[r + (mirrored ? S - 1 - clamp(x + dx) : clamp(x + dx))]];
      }
    }
  }
  return out;
}

/**
 * The shift of an ensemble's ten-crop (see the file comment): the smallest crop side among the members that crop
 * inside the graph (input spec resize 'crop', side below 48), or undefined when none does (then ten-crop does not apply).
 * @param members the members' input specs (ferlab.json `ensemble.members[].inputSpec`).
 */
export function ensembleShift(members: ReadonlyArray<Readonly<InputSpec>>): number | undefined {
  const crops = members.filter((i) => i.resize === 'crop' && i.size < IMAGE_SIZE).map((i) => i.size);
  return crops.length ? Math.min(...crops) : undefined;
}

/** Default model inputs per forward pass of {@link predictProbabilitiesTTA}. */
export const TTA_BATCH = 256;

/**
 * Class probabilities of a model with test-time augmentation: every view of each image through the model in inference
 * mode (`model.predict`: BatchNorm moving statistics, no dropout), softmax per view, averaged over the views
 * (`average: 'logits'`: softmax of the views' mean logits, as usef-kh/fer). The model must output logits (ferlab's
 * models do; a model ending in a softmax would be softmaxed twice). Softmax and averaging are float64 in JavaScript;
 * every tensor is disposed.
 *
 * @param model a single-output LayersModel with input `[batch, crop, crop, 1]` (with `input`: `[batch, size, size, 1]`)
 *   and output `[batch, C]` logits.
 * @param pixels `[N, 48, 48]` uint8 images. @param rows `[n]` image indices to predict, in order.
 * @param opts.crop window side (default: the model's input height; it must match the model's input); opts.input the
 *   model's input spec (src/data/input.ts): views as {@link buildTtaBatch} makes them with it, the record's `crop` is
 *   the model input side; opts.batchSize model inputs per forward pass (default {@link TTA_BATCH}; each pass takes
 *   max(1, floor(batchSize / views)) whole images); opts.average (default 'probabilities'); opts.outputs what the model
 *   outputs: 'logits' (default, every ferlab model) or 'probabilities' (an ensemble averaging probabilities, ferlab.json
 *   `output`: src/records/model.ts outputIsProbabilities), whose views are averaged as they are (no softmax; average
 *   must then be 'probabilities'); opts.shift: the inner centre-crop side of a model taking whole 48x48 images (an
 *   ensemble of crop members): shifted views (file comment), recorded as `shift`.
 * @returns `probabilities`: `[n, C]` float32 averaged probabilities (rows sum to 1), and the `record` for metrics.json.
 * @throws Error for an unknown mode, a crop that is not the model's input size or outside [1, 48], tencrop with
 *   crop 48 (a 48x48 model: use 'flip') or with an input spec whose resize is not 'crop', a model that does not take
 *   the spec's inputs, a model with several outputs, a bad batch size, or a row out of range.
 */
export function predictProbabilitiesTTA(
  model: tf.LayersModel,
  pixels: Uint8Array,
  rows: Int32Array | number[],
  mode: TtaMode,
  opts: {
    crop?: number;
    batchSize?: number;
    average?: TtaAverage;
    input?: Readonly<InputSpec>;
    outputs?: 'logits' | 'probabilities';
    shift?: number;
  } = {},
): { probabilities: Float32Array; record: TtaRecord } {
  if (model.outputs.length !== 1) throw new Error(`predictProbabilitiesTTA: the model has ${model.outputs.length} outputs; expected 1`);
  const inShape = model.inputs[0].shape; // [null, H, W, 1]
  const modelSide = inShape[1];
  let crop: number;
  if (opts.shift !== undefined) {
    if (opts.crop !== undefined || opts.input !== undefined) throw new Error('predictProbabilitiesTTA: shift feeds whole images; crop and input must not be given with it');
    if (modelSide !== IMAGE_SIZE || inShape[2] !== IMAGE_SIZE)
      throw new Error(
        `predictProbabilitiesTTA: shift ${opts.shift} feeds whole [${IMAGE_SIZE}, ${IMAGE_SIZE}, 1] images; the model's input is ${JSON.stringify(inShape.slice(1))}`,
      );
    crop = IMAGE_SIZE;
  } else if (opts.input) {
    checkModelInput(model, opts.input);
    crop = opts.input.size;
  } else {
    crop = opts.crop ?? (typeof modelSide === 'number' ? modelSide : defaultCrop(mode));
    if ((typeof modelSide === 'number' && modelSide !== crop) || (typeof inShape[2] === 'number' && inShape[2] !== crop))
      throw new Error(
        `predictProbabilitiesTTA: crop ${crop} does not fit the model's input ${JSON.stringify(inShape.slice(1))}; ` +
          `mode '${mode}' feeds [${crop}, ${crop}, 1] windows (tencrop needs a model trained on crop x crop inputs)`,
      );
  }
  const average = opts.average ?? 'probabilities';
  if (average !== 'probabilities' && average !== 'logits')
    throw new Error(`predictProbabilitiesTTA: average must be 'probabilities' or 'logits', got '${String(average)}'`);
  const given = opts.outputs === 'probabilities';
  if (given && average === 'logits') throw new Error("predictProbabilitiesTTA: a model that outputs probabilities has no logits to average (average 'logits')");
  const record: TtaRecord =
    opts.shift !== undefined
      ? { tta: mode, views: ttaWindows(mode, opts.shift).length, crop, average, shift: opts.shift }
      : opts.input
        ? { tta: mode, views: ttaWindows(mode, ttaInput(mode, opts.input, opts.crop).window).length, crop, average }
        : ttaRecord(mode, { crop, average });
  const k = record.views;
  const batchSize = opts.batchSize ?? TTA_BATCH;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`predictProbabilitiesTTA: batchSize must be a positive integer, got ${batchSize}`);
  const perPass = Math.max(1, Math.floor(batchSize / k));
  const n = rows.length;
  const C = model.outputs[0].shape[1];
  if (typeof C !== 'number') throw new Error(`predictProbabilitiesTTA: the model's output shape ${JSON.stringify(model.outputs[0].shape)} is not [batch, C]`);
  const probabilities = new Float32Array(n * C);
  const buf = new Float32Array(Math.min(perPass, n) * k * crop * crop);
  const acc = new Float64Array(C);
  const e = new Float64Array(C);
  // how the views are cut: shifted whole images, the input spec's windows, or plain crop x crop windows
  const views = opts.shift !== undefined ? { shift: opts.shift } : opts.input ? { input: opts.input } : { crop };
  for (let start = 0; start < n; start += perPass) {
    const count = Math.min(perPass, n - start);
    const x = buildTtaBatch(pixels, rows, mode, { ...views, start, count, out: buf });
    const y = tf.tidy(() => {
      const out = model.predict(tf.tensor4d(x, [count * k, crop, crop, 1]));
      if (Array.isArray(out)) throw new Error('predictProbabilitiesTTA: the model returned several outputs; expected 1');
      return out;
    });
    const z = y.dataSync() as Float32Array;
    y.dispose();
    for (let j = 0; j < count; j++) {
      acc.fill(0);
      for (let v = 0; v < k; v++) {
        const o = (j * k + v) * C;
        if (average === 'logits') {
          for (let c = 0; c < C; c++) acc[c] += z[o + c] / k;
          continue;
        }
        if (given) for (let c = 0; c < C; c++) e[c] = z[o + c];
        else softmaxInto(z, o, C, e);
        for (let c = 0; c < C; c++) acc[c] += e[c] / k;
      }
      if (average === 'logits') {
        softmaxInto(acc, 0, C, e);
        acc.set(e);
      }
      for (let c = 0; c < C; c++) probabilities[(start + j) * C + c] = acc[c];
    }
  }
  return { probabilities, record };
}

/** Stable softmax of z[o .. o + C) into e (float64). */
function softmaxInto(z: ArrayLike<number>, o: number, C: number, e: Float64Array): void {
  let m = -Infinity;
  for (let c = 0; c < C; c++) m = Math.max(m, z[o + c]);
  let s = 0;
  for (let c = 0; c < C; c++) s += e[c] = Math.exp(z[o + c] - m);
  for (let c = 0; c < C; c++) e[c] /= s;
}
