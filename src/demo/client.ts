/**
 * The browser demo page's script (bundled by src/demo/server.ts with esbuild, served as /app.js): webcam or photo ->
 * face detection (face-api SSD MobileNet v1) -> the same square crop as `predict` (src/predict/geometry.ts) -> the
 * same 48x48 grayscale conversion (src/demo/resample.ts, after libvips) -> pixel / 255 -> the ferlab model -> softmax.
 * Shows a box and label per face, per-emotion bars, and the emotion over time (plotly). Nothing leaves the page.
 *
 * Like `predict`, detections that fail the human-face rule (src/predict/human.ts: face-api's 68-point landmark net,
 * also in the bundled face-api.js, then the COCO CenterNet person check of src/predict/coco.ts, its graph model served
 * by src/demo/server.ts and run with the same tfjs) are dropped ("human faces only", on by default), and camera
 * frames are smoothed per face over frames (src/predict/smooth.ts: faces tracked by box overlap, EMA over
 * DEFAULT_SPAN frames; "smooth over frames", on by default): boxes, bars and the chart then show smoothed values.
 *
 * One tfjs: face-api's browser bundle carries tfjs 4.22 (webgl, wasm and cpu backends) as `faceapi.tf`; the
 * classifier is loaded with that same instance, so detector and classifier share one backend and one memory.
 *
 * For tests, `window.ferlabDemo` exposes the state: ready/error, backend, classes, frames analysed, the last faces.
 */
import { DEFAULT_MARGIN, faceCropBox, type Box } from '../predict/geometry';
import { checkCocoPerson, cocoDetections, COCO_INPUT_SIDE, COCO_MODEL_FILE, COCO_OUTPUT_NODE } from '../predict/coco';
import { checkHumanFace, withCocoCheck, type HumanCheck } from '../predict/human';
import { alphaFromSpan, DEFAULT_SPAN, FaceSmoother } from '../predict/smooth';
import { ferPixelsFromRgba, INPUT_SIDE } from './resample';
import { pct } from '../util/format';
import type { ModelMeta as RecordedModelMeta } from '../records/model';
import { MODEL_META_FILE, outputIsProbabilities } from '../records/files';

// The parts of face-api's and plotly's browser globals this page uses (both are loaded by <script> tags).
interface Tensor {
  data(): Promise<Float32Array>;
  array(): Promise<unknown>;
  expandDims(axis: number): Tensor;
  dispose(): void;
}
interface LayersModel {
  predict(x: Tensor): Tensor;
}
interface GraphModel {
  execute(x: Tensor, outputs: string): Tensor;
}
interface Tf {
  setWasmPaths?(prefix: string): void;
  setBackend(name: string): Promise<boolean>;
  ready(): Promise<void>;
  getBackend(): string;
  loadLayersModel(url: string): Promise<LayersModel>;
  loadGraphModel(url: string): Promise<GraphModel>;
  browser: { fromPixels(source: HTMLCanvasElement): Tensor };
  image: { resizeBilinear(images: Tensor, size: [number, number]): Tensor };
  cast(x: Tensor, dtype: 'float32'): Tensor;
  tensor4d(values: Float32Array, shape: [number, number, number, number]): Tensor;
  softmax(x: Tensor): Tensor;
  tidy<T>(f: () => T): T;
  version_core: string;
}
interface ApiDetection {
  score: number;
  box: { x: number; y: number; width: number; height: number };
}
interface FaceApi {
  tf: Tf;
  version: string;
  nets: { ssdMobilenetv1: Loadable; faceLandmark68Net: Loadable };
  SsdMobilenetv1Options: new (o: { minConfidence: number; maxResults: number }) => unknown;
  detectAllFaces(
    input: HTMLCanvasElement,
    options: unknown,
  ): Promise<ApiDetection[]> & {
    withFaceLandmarks(): Promise<Array<{ detection: ApiDetection; landmarks: { positions: Array<{ x: number; y: number }> } }>>;
  };
}
interface Loadable {
  loadFromUri(url: string): Promise<void>;
}
interface PlotlyApi {
  newPlot(el: HTMLElement, data: unknown[], layout: unknown, config?: unknown): Promise<unknown>;
  extendTraces(el: HTMLElement, update: { x: number[][]; y: Array<Array<number | null>> }, indices: number[], maxPoints?: number): Promise<unknown>;
  relayout(el: HTMLElement, update: unknown): Promise<unknown>;
}
declare const faceapi: FaceApi;
declare const Plotly: PlotlyApi;

/** A face found in the current frame. */
interface PageFace {
  box: Box;
  score: number;
  crop: Box;
  /** The label and probabilities shown: smoothed when smoothing is on (camera), else the model's. */
  label: string;
  probabilities: Record<string, number>;
  /** The model's own probabilities for this frame. */
  raw: Record<string, number>;
  /** Track number across frames (smoothing on), 1-based. */
  track?: number;
  /** The human-face rule's findings (rule on). */
  human?: HumanCheck;
  /** `[48 * 48]` uint8: the model input before pixel / 255. */
  pixels: number[];
}

/**
 * The served model's ferlab.json (src/records/model.ts; a type import only: the page bundles no schema code). The
 * server checked it against the schema before serving the folder (src/demo/server.ts, src/predict/model.ts readModelMeta).
 */
type ModelMeta = RecordedModelMeta;

/** Test hook and debugging aid: the page's state. */
interface DemoState {
  ready: boolean;
  error?: string;
  backend?: string;
  classes?: string[];
  /** Frames analysed since the page loaded (camera and photos). */
  frames: number;
  /** Faces of the last analysed frame. */
  lastFaces: PageFace[];
  /** Detections the human-face rule dropped in the last analysed frame. */
  rejected: Array<{ box: Box; score: number; human: HumanCheck }>;
  /** Whether the human-face rule and smoothing are on. */
  humanCheck: boolean;
  smooth: boolean;
  /** Runs the page's crop and conversion on the frame now shown, for a given box (tests compare it with predict's). */
  cropPixels?: (box: Box) => number[];
}

// Okabe-Ito colours, as src/viz/figure.ts COLORS (box and bar colour of class k).
const COLORS = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#000000'];
const MIN_SCORE = 0.5;
const WINDOW_S = 60;

const state: DemoState = { ready: false, frames: 0, lastFaces: [], rejected: [], humanCheck: true, smooth: true };
const smoother = new FaceSmoother({ alpha: alphaFromSpan(DEFAULT_SPAN) });
(window as unknown as { ferlabDemo: DemoState }).ferlabDemo = state;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const view = $<HTMLCanvasElement>('view');
const ctx = view.getContext('2d', { willReadFrequently: true })!;
const statusEl = $('status');

function status(text: string, error = false): void {
  statusEl.textContent = text;
  statusEl.className = error ? 'error' : '';
}

const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

async function chooseBackend(tf: Tf): Promise<string> {
  tf.setWasmPaths?.('/vendor/tfjs-backend-wasm/');
  const wanted = new URLSearchParams(location.search).get('backend');
  for (const b of wanted ? [wanted] : ['webgl', 'wasm', 'cpu']) {
    try {
      if (await tf.setBackend(b)) {
        await tf.ready();
        return tf.getBackend();
      }
    } catch {
      /* next backend */
    }
  }
  throw new Error(`no tfjs backend could start (tried ${wanted ?? 'webgl, wasm, cpu'})`);
}

let model: LayersModel;
let meta: ModelMeta;
/** COCO CenterNet, the human-face rule's second stage (src/predict/coco.ts). */
let coco: GraphModel;
let chartStart = 0;
const chart = $('chart');

/**
 * COCO CenterNet's detections of the view (as src/predict/detect.ts detectCocoObjects: the whole frame resized
 * bilinearly to 512 x 512, pixel values 0-255), boxes in view pixels.
 */
async function detectCocoObjects() {
  const tf = faceapi.tf;
  const out = tf.tidy(() =>
    coco.execute(tf.image.resizeBilinear(tf.cast(tf.browser.fromPixels(view), 'float32'), [COCO_INPUT_SIDE, COCO_INPUT_SIDE]).expandDims(0), COCO_OUTPUT_NODE),
  );
  try {
    const rows = (await out.array()) as number[][][];
    return cocoDetections(rows[0], view.width, view.height);
  } finally {
    out.dispose();
  }
}

/** SSD detections of the view, with the human-face rule's findings when it is on (same nets and rule as predict). */
async function detect(): Promise<Array<{ score: number; box: Box; human?: HumanCheck }>> {
  const options = new faceapi.SsdMobilenetv1Options({ minConfidence: MIN_SCORE, maxResults: 20 });
  const toBox = (b: ApiDetection['box']): Box => ({ left: b.x, top: b.y, width: b.width, height: b.height });
  if (!state.humanCheck) return (await faceapi.detectAllFaces(view, options)).map((d) => ({ score: d.score, box: toBox(d.box) }));
  const found = await faceapi.detectAllFaces(view, options).withFaceLandmarks();
  const objects = found.length ? await detectCocoObjects() : []; // once per frame, only when the SSD found something
  return found.map((d) => {
    const box = toBox(d.detection.box);
    return { score: d.detection.score, box, human: withCocoCheck(checkHumanFace(box, d.landmarks.positions), checkCocoPerson(box, objects)) };
  });
}

async function analyse(smooth: boolean): Promise<PageFace[]> {
  const tf = faceapi.tf;
  const W = view.width;
  const H = view.height;
  const found = await detect();
  state.rejected = found.filter((d) => d.human && !d.human.human).map((d) => ({ box: d.box, score: d.score, human: d.human! }));
  const boxes = found
    .filter((d) => !d.human || d.human.human)
    .map((d) => {
      const left = Math.max(0, d.box.left);
      const top = Math.max(0, d.box.top);
      const box = { left, top, width: Math.min(W, d.box.left + d.box.width) - left, height: Math.min(H, d.box.top + d.box.height) - top };
      return { score: d.score, box, human: d.human };
    })
    .filter((d) => d.box.width > 0 && d.box.height > 0)
    .sort((a, b) => a.box.left + a.box.width / 2 - (b.box.left + b.box.width / 2) || a.box.top - b.box.top);
  if (boxes.length === 0) {
    if (smooth) smoother.push([]); // a frame without faces ages the tracks
    return [];
  }
  const n = boxes.length;
  const x = new Float32Array(n * INPUT_SIDE * INPUT_SIDE);
  const crops = boxes.map((d, i) => {
    const crop = faceCropBox(d.box, W, H, DEFAULT_MARGIN);
    const pixels = cropPixels(crop);
    for (let k = 0; k < pixels.length; k++) x[i * pixels.length + k] = pixels[k] / 255;
    return { crop, pixels };
  });
  // an ensemble averaging probabilities outputs them already (ferlab.json `output`); every other model outputs logits
  const probs = tf.tidy(() => {
    const y = model.predict(tf.tensor4d(x, [n, INPUT_SIDE, INPUT_SIDE, 1]));
    return outputIsProbabilities(meta) ? y : tf.softmax(y);
  });
  const p = await probs.data();
  probs.dispose();
  const C = meta.classes.length;
  const rows = boxes.map((_, i) => Array.from(p.subarray(i * C, (i + 1) * C)));
  const smoothed = smooth ? smoother.push(boxes.map((d, i) => ({ box: d.box, probabilities: rows[i] }))) : undefined;
  const record = (row: number[]) => Object.fromEntries(meta.classes.map((c, k) => [c, row[k]]));
  return boxes.map((d, i) => {
    const shown = smoothed ? smoothed[i].probabilities : rows[i];
    const best = shown.indexOf(Math.max(...shown));
    return {
      box: d.box,
      score: d.score,
      crop: crops[i].crop,
      label: meta.classes[best],
      probabilities: record(shown),
      raw: record(rows[i]),
      ...(smoothed ? { track: smoothed[i].track } : {}),
      ...(d.human ? { human: d.human } : {}),
      pixels: Array.from(crops[i].pixels),
    };
  });
}

/** The 48x48 model input (before / 255) of an integer crop region of the frame on the view canvas. */
function cropPixels(crop: Box): Uint8Array {
  const img = ctx.getImageData(crop.left, crop.top, crop.width, crop.height);
  return ferPixelsFromRgba(img.data, img.width, img.height);
}

function showFaces(faces: PageFace[]): void {
  const boxes = $('boxes');
  boxes.replaceChildren();
  const W = view.width;
  const H = view.height;
  faces.forEach((f, i) => {
    const color = COLORS[meta.classes.indexOf(f.label) % COLORS.length];
    const el = document.createElement('div');
    el.className = 'face-box';
    Object.assign(el.style, {
      left: `${(100 * f.box.left) / W}%`,
      top: `${(100 * f.box.top) / H}%`,
      width: `${(100 * f.box.width) / W}%`,
      height: `${(100 * f.box.height) / H}%`,
      borderColor: color,
    });
    const label = document.createElement('span');
    label.className = 'face-label';
    label.style.background = color;
    label.textContent = `${i + 1} ${f.label} ${pct(f.probabilities[f.label], 0)}`;
    el.appendChild(label);
    boxes.appendChild(el);
  });
  const panel = $('faces');
  panel.replaceChildren();
  if (faces.length === 0) {
    const p = document.createElement('p');
    p.className = 'no-face';
    p.textContent = 'No face found in this frame.';
    panel.appendChild(p);
  }
  faces.forEach((f, i) => {
    const card = document.createElement('div');
    card.className = 'face-card';
    const h = document.createElement('h3');
    h.innerHTML = `Face ${i + 1}: <span class="label"></span>`;
    h.querySelector('.label')!.textContent = `${f.label} (${pct(f.probabilities[f.label], 0)})`;
    card.appendChild(h);
    meta.classes.forEach((c, k) => {
      const row = document.createElement('div');
      row.className = 'bar-row';
      row.dataset.class = c;
      const name = document.createElement('span');
      name.textContent = cap(c);
      const bar = document.createElement('div');
      bar.className = 'bar';
      const fill = document.createElement('span');
      fill.style.width = `${100 * f.probabilities[c]}%`;
      fill.style.background = COLORS[k % COLORS.length];
      bar.appendChild(fill);
      const value = document.createElement('span');
      value.className = 'pct';
      value.textContent = pct(f.probabilities[c], 0);
      row.append(name, bar, value);
      card.appendChild(row);
    });
    panel.appendChild(card);
  });
}

/** Appends the frame's mean probability per class (over its faces; a gap without faces) to the over-time chart. */
async function plotFrame(faces: PageFace[]): Promise<void> {
  const t = (performance.now() - chartStart) / 1000;
  const y = meta.classes.map((c) => [faces.length ? faces.reduce((s, f) => s + f.probabilities[c], 0) / faces.length : null]);
  await Plotly.extendTraces(
    chart,
    { x: meta.classes.map(() => [t]), y },
    meta.classes.map((_, k) => k),
    2000,
  );
  if (t > WINDOW_S) await Plotly.relayout(chart, { 'xaxis.range': [t - WINDOW_S, t] }); // the last minute
}

function chartTitle(): string {
  return `Emotion over time (camera; mean over the faces of each frame${state.smooth ? `, each face smoothed over ${DEFAULT_SPAN} frames` : ''})`;
}

async function newChart(): Promise<void> {
  chartStart = performance.now();
  await Plotly.newPlot(
    chart,
    meta.classes.map((c, k) => ({ type: 'scatter', mode: 'lines', name: cap(c), x: [], y: [], line: { color: COLORS[k % COLORS.length], width: 2 } })),
    {
      title: { text: chartTitle(), font: { size: 14 } },
      margin: { l: 60, r: 20, t: 40, b: 80 },
      xaxis: { title: { text: 'time (s)' }, rangemode: 'tozero' },
      yaxis: { title: { text: 'probability' }, range: [0, 1] },
      legend: { orientation: 'h', y: -0.35 },
    },
    { displaylogo: false, responsive: true },
  );
}

/** Draws a source (video frame or photo) on the view canvas at its own pixel size. */
function drawFrame(src: CanvasImageSource, w: number, h: number): void {
  if (view.width !== w || view.height !== h) {
    view.width = w;
    view.height = h;
  }
  ctx.drawImage(src, 0, 0, w, h);
}

async function analyseAndShow(plot: boolean): Promise<void> {
  // smoothing follows faces across camera frames; a photo is one frame on its own
  const faces = await analyse(plot && state.smooth);
  state.frames++;
  state.lastFaces = faces;
  showFaces(faces);
  if (plot) await plotFrame(faces);
}

let stream: MediaStream | undefined;
const video = document.createElement('video');
video.muted = true;
video.playsInline = true;

async function startCamera(): Promise<void> {
  const button = $<HTMLButtonElement>('camera');
  if (stream) {
    stream.getTracks().forEach((t) => t.stop());
    stream = undefined;
    button.textContent = 'Start camera';
    status('camera stopped');
    return;
  }
  if (!navigator.mediaDevices?.getUserMedia) throw new Error('this browser gives no camera access here (it needs http://127.0.0.1 or https)');
  stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
  video.srcObject = stream;
  await video.play();
  button.textContent = 'Stop camera';
  smoother.reset();
  shownPhoto = undefined;
  await newChart();
  status('camera on: analysing frames in this page');
  const current = stream;
  while (stream === current) {
    if (video.videoWidth > 0) {
      drawFrame(video, video.videoWidth, video.videoHeight);
      await analyseAndShow(true);
    }
    await new Promise((r) => requestAnimationFrame(() => r(undefined)));
  }
}

/** Name of the photo on the view canvas (undefined while the camera runs or before any photo). */
let shownPhoto: string | undefined;

async function analysePhoto(file: File): Promise<void> {
  if (stream) await startCamera(); // stops it
  status(`analysing ${file.name}…`);
  const bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' });
  drawFrame(bitmap, bitmap.width, bitmap.height);
  bitmap.close();
  shownPhoto = file.name;
  await analyseShownPhoto();
}

/** Analyses the photo on the view canvas again (after a toggle changed) and says what was found. */
async function analyseShownPhoto(): Promise<void> {
  await analyseAndShow(false);
  const dropped = state.rejected.length ? ` (${state.rejected.length} detection${state.rejected.length === 1 ? '' : 's'} not a human face: dropped)` : '';
  status(`${shownPhoto}: ${state.lastFaces.length} face${state.lastFaces.length === 1 ? '' : 's'} found${dropped}`);
}

async function main(): Promise<void> {
  const tf = faceapi.tf;
  state.backend = await chooseBackend(tf);
  $('backend').textContent = `${state.backend} (tfjs ${tf.version_core}, bundled in face-api ${faceapi.version})`;
  status('loading the face detector and the model…');
  const metaResponse = await fetch(`/model/${MODEL_META_FILE}`);
  if (!metaResponse.ok) throw new Error(`/model/${MODEL_META_FILE}: HTTP ${metaResponse.status}`);
  meta = (await metaResponse.json()) as ModelMeta;
  state.classes = meta.classes;
  const weights = '/vendor/face-api/model';
  [model, coco] = await Promise.all([
    tf.loadLayersModel('/model/model.json'),
    tf.loadGraphModel(`/vendor/coco-centernet/${COCO_MODEL_FILE}`),
    faceapi.nets.ssdMobilenetv1.loadFromUri(weights),
    faceapi.nets.faceLandmark68Net.loadFromUri(weights),
  ]);
  const acc = meta.testAccuracy !== undefined ? `, PrivateTest accuracy ${(100 * meta.testAccuracy).toFixed(1)}%` : '';
  $('model-info').textContent =
    `Model ${meta.run ?? ''} (${meta.model ?? 'ferlab'}${meta.labelSet ? `, label set ${meta.labelSet}` : ''}${acc}): ${meta.classes.join(', ')}`;
  await newChart();
  state.cropPixels = (box) => Array.from(cropPixels(box));
  const camera = $<HTMLButtonElement>('camera');
  const photo = $<HTMLInputElement>('photo');
  camera.disabled = false;
  photo.disabled = false;
  camera.onclick = () => startCamera().catch(fail);
  const humanBox = $<HTMLInputElement>('human-check');
  const smoothBox = $<HTMLInputElement>('smooth');
  humanBox.checked = state.humanCheck;
  smoothBox.checked = state.smooth;
  humanBox.disabled = false;
  smoothBox.disabled = false;
  humanBox.onchange = () => {
    state.humanCheck = humanBox.checked;
    if (!stream && shownPhoto) analyseShownPhoto().catch(fail); // the photo shown, with or without the rule
  };
  smoothBox.onchange = () => {
    state.smooth = smoothBox.checked;
    smoother.reset();
    Plotly.relayout(chart, { 'title.text': chartTitle() }).catch(fail);
  };
  photo.onchange = () => {
    const file = photo.files?.[0];
    photo.value = ''; // choosing the same photo again is a change too
    if (file) analysePhoto(file).catch(fail);
  };
  state.ready = true;
  status('ready: start the camera or choose a photo');
}

function fail(e: unknown): void {
  state.error = (e as Error).message ?? String(e);
  status(`error: ${state.error}`, true);
  console.error(e);
}

main().catch(fail);
