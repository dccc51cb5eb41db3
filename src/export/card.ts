/**
 * The model card of an exported model (`model-card.md`), structured after Mitchell et al., "Model Cards for Model
 * Reporting" (FAT* 2019, arXiv 1810.03993): model details, files and runtimes, input/output, intended and
 * out-of-scope uses, training data, evaluation (with bootstrap intervals, per-class F1 and the confusion matrix), how
 * the run was chosen, limitations, the resolved config and references. Every number comes from the exported
 * ferlab.json (exporter.ts), which is computed from the run record and the data.
 */
import type { RunConfig } from '../exp/config';
import type { ExportedModelMeta, FormatCheck } from '../records/model';
import type { AccuracyInterval } from './bootstrap';
import { pct } from '../util/format';

/** What the card needs beyond ferlab.json. */
export interface CardExtras {
  /** Name of the exported model (the output folder's default name). */
  name: string;
  /** Parameters of the model. */
  params: number;
  /** Candidate table of the selection (select.ts candidateRows). */
  candidates: Array<Record<string, string>>;
}

/** An exported ferlab.json (src/records/model.ts) whose `config` is the run's resolved config (src/exp/config.ts). */
type CardMeta = Omit<ExportedModelMeta, 'config'> & { config?: RunConfig };

const ci = (i: AccuracyInterval) => `${pct(i.accuracy)} (95% CI ${pct(i.lower)}-${pct(i.upper)})`;

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(2)} MiB`;
}

function table(header: string[], rows: string[][]): string[] {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  return [`| ${header.map(esc).join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`)];
}

/** Class shares of a count table, largest first: `happy 25.1%, neutral 17.3%, ...`. */
function shares(counts: Record<string, number>): Array<{ cls: string; n: number; share: number }> {
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  return Object.entries(counts)
    .map(([cls, n]) => ({ cls, n, share: total ? n / total : 0 }))
    .sort((a, b) => b.n - a.n);
}

/**
 * The card as Markdown.
 * @param meta the exported ferlab.json content: the run's model/ferlab.json plus {@link ExportInfo}.
 */
export function modelCardMarkdown(meta: CardMeta, extras: CardExtras): string {
  const cfg = meta.config;
  const env = meta.environment;
  const ev = meta.evaluation;
  const ex = meta.export;
  const classes = meta.io.output.classes;
  const C = classes.length;
  // a model with another input than the default (48x48, pixel / 255) records its spec in ferlab.json
  const spec = meta.inputSpec;
  const S = meta.io.input.shape[1];
  const L: string[] = [];
  const datasetName = meta.labels.ferplus ? 'FER2013 images with FER+ crowd labels' : 'FER2013';

  L.push(`# Model card: ${extras.name}`, '');
  L.push(
    `A \`${meta.model}\` convolutional network (${(extras.params / 1e6).toFixed(2)} M parameters) that classifies the facial expression of a 48x48 ` +
      `grayscale face crop into ${C} classes, trained by ferlab on ${datasetName} (label set \`${meta.labels.set}\`). PrivateTest accuracy ` +
      `**${ci(ev.privateTest.interval)}** on ${ev.privateTest.interval.n} images.`,
    '',
  );
  const tta = ev.tta;
  if (tta)
    L.push(
      `With the run's test-time augmentation (${tta.mode}: ${tta.views} views per face, ${tta.average === 'logits' ? 'logits' : 'softmax probabilities'} averaged), PrivateTest accuracy ` +
        `**${ci(tta.privateTest.interval)}**; the files below compute one view, the caller averages the views (see "Test-time augmentation").`,
      '',
    );
  L.push(`Exported by \`${ex.command}\` on ${ex.date.slice(0, 10)}. Structure after Mitchell et al. 2019 (Model Cards for Model Reporting).`, '');
  if (meta.release)
    L.push(
      `**Released model \`models/${meta.release.name}\`**: ${meta.release.summary}. Trained by \`${meta.release.trainCommand}\` at commit ` +
        `\`${env?.commit ?? 'unknown'}\`; rebuilt and checked against the committed files (SHA256SUMS) by \`${meta.release.buildCommand}\`.`,
      '',
    );

  L.push('## Model details', '');
  L.push(
    ...table(
      ['', ''],
      [
        ['architecture', `\`${meta.model}\` (ferlab model registry, src/models); ${extras.params.toLocaleString('en-US')} parameters`],
        ['run', `\`${meta.experiment}/${meta.run}\` (${ex.source.runDir})`],
        ['training code', `ferlab ${env?.ferlab ?? '?'}, commit \`${env?.commit ?? 'unknown'}\``],
        ['training backend', `${env?.backend ?? '?'}; ${env?.cpu ?? '?'} (${env?.cores ?? '?'} cores), Node ${env?.node ?? '?'}, tfjs ${env?.tfjs ?? '?'}`],
        [
          'training',
          cfg
            ? `${cfg.epochs} epochs, batch ${cfg.batchSize}, peak lr ${cfg.lr}, schedule ${cfg.schedule.name}, ${optimizerText(cfg.optimizer)}, ` +
              `augmentation ${augmentText(cfg.augment)}, label smoothing ${cfg.labelSmoothing}${cfg.classWeights === 'balanced' ? ', balanced class weights' : ''}, seed ${cfg.seed}; weights of the best PublicTest epoch`
            : '?',
        ],
        ['exported', `${ex.date} by ferlab commit \`${ex.environment.commit ?? 'unknown'}\` (${ex.environment.backend})`],
        ['license', 'the code is MIT; the weights derive from FER2013 and FER+, whose terms of use apply (research use)'],
      ],
    ),
    '',
  );

  L.push('## Files and runtimes', '');
  const fmtRows: string[][] = [];
  for (const [fmt, f] of Object.entries(ex.formats)) {
    if (!f) continue;
    const check = 'skipped' in f.check ? undefined : (f.check as FormatCheck);
    fmtRows.push([
      fmt === 'tfjs' ? 'TensorFlow.js layers model' : fmt === 'tflite' ? 'TFLite (LiteRT) flatbuffer' : `ONNX (opset ${f.opset})`,
      Object.keys(f.files)
        .map((x) => `\`${x}\``)
        .join(' + '),
      bytes(f.bytes),
      f.weights,
      check ? `${pct(check.privateTestAccuracy)} (${check.runtime})` : `not checked: ${(f.check as { skipped: string }).skipped}`,
      check ? `${check.maxAbsLogitDiff.toExponential(1)} (${check.changedPredictions} predictions changed)` : '-',
    ]);
  }
  L.push(
    ...table(
      ['format', 'files', 'size', 'weights', `PrivateTest accuracy (${ev.privateTest.interval.n} images)`, "max |logit diff| vs the run's float32 model"],
      fmtRows,
    ),
    '',
  );
  L.push(
    `Reference: the run's own float32 tfjs model, re-scored at export, gives PrivateTest ${pct(ex.reference.privateTestAccuracy)} (recorded in training: ` +
      `${pct(ex.reference.recordedPrivateTestAccuracy)}) and PublicTest ${pct(ex.reference.publicTestAccuracy)} (recorded: ${pct(ex.reference.recordedPublicTestAccuracy)}).`,
    '',
  );
  if (ex.formats.tfjs)
    L.push(`- **tfjs**: ${ex.formats.tfjs.loads}. Quantized weights (float16 / uint8) are dequantized to float32 at load time: same speed, smaller file.`);
  if (ex.formats.onnx) L.push(`- **ONNX**: ${ex.formats.onnx.loads}.`);
  if (ex.formats.tflite) L.push(`- **TFLite**: ${ex.formats.tflite.loads}.`);
  L.push('');
  L.push(
    ...(spec
      ? [
          '```js',
          '// browser or Node (TensorFlow.js); x: Float32Array of the face made as "Input and output" says (ferlab.json inputSpec)',
          "const model = await tf.loadLayersModel('https://example.org/models/" + extras.name + "/model.json');",
          `const logits = model.predict(tf.tensor4d(x, [1, ${S}, ${S}, 1]));`,
          '```',
          '',
          '```python',
          '# Python (ONNX Runtime); x: the face made as "Input and output" says (ferlab.json inputSpec)',
          'import numpy as np, onnxruntime as ort',
          "session = ort.InferenceSession('model.onnx')",
          `logits = session.run(['logits'], {'input': x.astype(np.float32).reshape(1, ${S}, ${S}, 1)})[0]`,
          '```',
        ]
      : [
          '```js',
          '// browser or Node (TensorFlow.js)',
          "const model = await tf.loadLayersModel('https://example.org/models/" + extras.name + "/model.json');",
          'const logits = model.predict(tf.tensor4d(pixels.map((p) => p / 255), [1, 48, 48, 1]));',
          '```',
          '',
          '```python',
          '# Python (ONNX Runtime)',
          'import numpy as np, onnxruntime as ort',
          "session = ort.InferenceSession('model.onnx')",
          "logits = session.run(['logits'], {'input': (gray48.astype(np.float32) / 255).reshape(1, 48, 48, 1)})[0]",
          '```',
        ]),
    '',
  );

  L.push('## Input and output', '');
  const io = meta.io;
  L.push(
    `- **Input** \`${io.input.name}\`: \`[batch, ${S}, ${S}, 1]\` ${io.input.dtype}, layout ${io.input.layout} (batch, height, width, channels), ` +
      `${io.input.range ? `values in [${io.input.range.join(', ')}]` : 'values standardised per image (mean 0, standard deviation 1)'}.`,
    spec
      ? `- **Preprocessing** (src/data/input.ts, ferlab.json \`inputSpec\` ${JSON.stringify(spec)}): ${io.input.preprocessing}.`
      : `- **Preprocessing** (src/data/preprocess.ts \`PREPROCESSING\`): ${io.input.preprocessing}.`,
    `- **Photos** (src/data/image.ts \`IMAGE_CONVERSION\`): crop the face first, then ${io.input.imageConversion}; then the preprocessing above. ` +
      "FER2013's faces are tightly cropped and roughly centred; crops that differ from that framing lower the accuracy.",
    `- **Output** \`${io.output.name}\`: \`[batch, ${C}]\` float32 ${io.output.meaning}.`,
    `- **Classes in output order**: ${classes.map((c, i) => `${i} ${c}`).join(', ')}.`,
    '',
  );

  L.push('## Intended use', '');
  L.push(
    '- Research and teaching on facial-expression recognition: reproducing FER2013 / FER+ baselines, comparing label sets, architectures and runtimes.',
    '- Demonstrations of in-browser and on-device inference, where the prediction is shown to the person whose face it is and carries no consequence for them.',
    '- A starting point for models trained and validated on data that represents the intended population and setting.',
    '',
  );
  L.push('## Out-of-scope uses', '');
  L.push(
    '- Any decision about a person: hiring, admission or grading (education), policing, security or border control, credit or insurance, health or ' +
      'mental-health assessment, deception or lie detection, workplace or classroom monitoring.',
    '- Inferring what someone feels: the labels are what annotators saw in a face, not the emotion the person felt (see Limitations).',
    '- Surveillance or analysis of people who have not consented.',
    '',
  );

  L.push('## Training data', '');
  const rec = meta.data.record as { fer2013Md5?: string; official?: boolean };
  L.push(
    '- **FER2013** (Goodfellow et al. 2013, ICML 2013 "Challenges in Representation Learning"): 35,887 48x48 8-bit grayscale face crops found by Google image search ' +
      'for 184 emotion-related keywords (combined with words for gender, age and ethnicity), faces boxed by OpenCV, checked and re-cropped by human labelers; ' +
      'split into Training (28,709), PublicTest (3,589) and PrivateTest (3,589).',
  );
  if (meta.labels.ferplus)
    L.push(
      '- **FER+** labels (Barsoum et al. 2016, arXiv 1608.01041; microsoft/FERPlus fer2013new.csv): each image re-labelled by 10 crowd taggers into 8 emotions plus ' +
        'unknown and not-a-face; images whose votes peak on unknown / not-a-face are dropped.',
    );
  L.push(
    `- **Label set** \`${meta.labels.set}\`: ${meta.labels.rule}. Evaluation labels: ${meta.labels.evaluationLabels}.`,
    `- **Data file**: fer2013.csv MD5 \`${rec.fer2013Md5 || 'n/a'}\`${rec.official ? ' (the official file)' : rec.fer2013Md5 ? ' (NOT the official file)' : ''}.`,
  );
  const sliced = cfg && (cfg.slice.train !== null || cfg.slice.val !== null || cfg.slice.test !== null);
  if (sliced)
    L.push(
      `- **Slice**: this run used only the first ${cfg!.slice.train ?? 'all'} Training, ${cfg!.slice.val ?? 'all'} PublicTest and ${cfg!.slice.test ?? 'all'} ` +
        'PrivateTest images (a --quick run: its accuracies check the pipeline, they do not measure the model).',
    );
  L.push('');
  const trained = shares(meta.data.trainCounts);
  const full = meta.data.fullTrainCounts ? shares(meta.data.fullTrainCounts) : undefined;
  L.push(
    ...table(
      ['class', `training images (this run)`, 'share', ...(full ? ['whole Training split', 'share'] : [])],
      trained.map((t) => {
        const f = full?.find((x) => x.cls === t.cls);
        return [t.cls, String(t.n), pct(t.share, 1), ...(f ? [String(f.n), pct(f.share, 1)] : [])];
      }),
    ),
    '',
  );

  L.push('## Evaluation', '');
  L.push(
    'Protocol: PublicTest selects (the best epoch of the run, and the best run of the folder); PrivateTest is reported only. Intervals: 95% percentile bootstrap ' +
      `(Efron & Tibshirani 1993, ch. 13.3) over per-image correctness, ${ev.privateTest.interval.resamples} resamples, seed ${ev.privateTest.interval.seed}; ` +
      "PrivateTest correctness from the run's predictions.json, PublicTest re-scored at export.",
    '',
  );
  L.push(
    ...table(
      ['split', 'role', 'images', 'accuracy', '95% CI', 'macro-F1'],
      [
        [
          'PublicTest',
          ev.publicTest.role,
          String(ev.publicTest.interval.n),
          pct(ev.publicTest.interval.accuracy),
          `${pct(ev.publicTest.interval.lower)}-${pct(ev.publicTest.interval.upper)}`,
          ev.publicTest.macroF1.toFixed(3),
        ],
        [
          'PrivateTest',
          ev.privateTest.role,
          String(ev.privateTest.interval.n),
          pct(ev.privateTest.interval.accuracy),
          `${pct(ev.privateTest.interval.lower)}-${pct(ev.privateTest.interval.upper)}`,
          ev.privateTest.macroF1.toFixed(3),
        ],
      ],
    ),
    '',
  );
  if (tta) {
    L.push('### Test-time augmentation', '');
    L.push(
      `The run's setting \`tta: '${tta.mode}'\` averages the ${tta.average === 'logits' ? 'logits' : 'class probabilities'} of ${tta.views} views of each face ` +
        `(src/eval/tta.ts: ${tta.mode === 'tencrop' ? 'the four corner crops and the centre crop of the 48x48 face and their mirror images' : tta.mode === 'flip' ? 'the face and its left-right mirror image' : tta.mode}). ` +
        `PublicTest ${pct(tta.publicTestAccuracy)}, PrivateTest ${ci(tta.privateTest.interval)}, macro-F1 ${tta.privateTest.macroF1.toFixed(3)}. ` +
        'The exported files compute one view; a caller that wants these numbers runs the model on every view and averages.',
      '',
    );
    L.push(
      ...table(
        ['class', 'recall', 'recall with TTA', 'F1 with TTA', 'support'],
        tta.privateTest.perClass.map((m, i) => [
          m.class,
          ev.privateTest.perClass[i].recall.toFixed(3),
          m.recall.toFixed(3),
          m.f1.toFixed(3),
          String(m.support),
        ]),
      ),
      '',
    );
  }
  if (ev.calibration)
    L.push(
      '### Calibration',
      '',
      `Temperature scaling (Guo et al. 2017) fitted on ${ev.calibration.fittedOn}: T = ${ev.calibration.temperature.toFixed(3)} (stored as ferlab.json \`temperature\`; ` +
        `ferlab's predict reports softmax(logits / T), the predicted class does not change). PrivateTest expected calibration error (${ev.calibration.bins} equal-width bins, ` +
        `single view, no TTA): ${pct(ev.calibration.privateTestEce, 1)} with softmax(logits), ${pct(ev.calibration.privateTestEceScaled, 1)} with softmax(logits / T).`,
      '',
    );
  if (ev.cross)
    L.push(
      `Cross-evaluation: the same PrivateTest images scored against the ${ev.cross.to === 'fer' ? 'FER2013' : 'FER+ majority'} labels over the 7 shared classes: ` +
        `accuracy ${pct(ev.cross.metrics.accuracy)}, macro-F1 ${ev.cross.metrics.macroF1.toFixed(3)}${ev.cross.excluded ? ` (${ev.cross.excluded} contempt images left out)` : ''}.`,
      '',
    );
  L.push('Per class (PrivateTest):', '');
  L.push(
    ...table(
      ['class', 'precision', 'recall', 'F1', 'support'],
      ev.privateTest.perClass.map((m) => [m.class, m.precision.toFixed(3), m.recall.toFixed(3), m.f1.toFixed(3), String(m.support)]),
    ),
    '',
  );
  L.push('Confusion matrix (PrivateTest; rows = true class, columns = predicted class):', '');
  L.push(
    ...table(
      ['true \\ predicted', ...classes],
      ev.privateTest.confusion.map((row, i) => [classes[i], ...row.map(String)]),
    ),
    '',
  );

  L.push('## How this run was chosen', '');
  L.push(`From \`${ex.source.folder}\` (${ex.source.kind}): ${ex.source.reason}. Criterion: ${ex.source.criterion}.`, '');
  if (extras.candidates.length) {
    const cols = Object.keys(extras.candidates[0]);
    L.push(
      ...table(
        cols,
        extras.candidates.map((r) => cols.map((c) => r[c])),
      ),
      '',
    );
  }
  for (const k of ex.source.skipped) L.push(`- Not considered: ${k.name} (${k.why}).`);
  for (const n of ex.source.notes) L.push(`- Note: ${n}.`);
  if (ex.source.notes.length || ex.source.skipped.length) L.push('');

  L.push('## Limitations and ethical considerations', '');
  const src = full ?? trained;
  const top = src.slice(0, 2);
  const bottom = src.slice(-2).reverse();
  L.push(
    `- **Class imbalance**: in the Training split of this label set ${top.map((t) => `${t.cls} makes up ${pct(t.share, 1)}`).join(' and ')} of the images, while ` +
      `${bottom.map((t) => `${t.cls} has ${pct(t.share, 1)} (${t.n} images)`).join(' and ')}. Rare classes are recognised far less reliably (see their F1 above); ` +
      'overall accuracy is dominated by the frequent ones.',
    `- **Known failure modes**: the lowest PrivateTest recalls are ${[...ev.privateTest.perClass]
      .filter((m) => m.support > 0)
      .sort((a, b) => a.recall - b.recall)
      .slice(0, 3)
      .map((m) => `${m.class} ${pct(m.recall, 0)} (${m.support} images)`)
      .join(', ')}; ` +
      'faces that are not frontal, partly covered, small in the photo or framed differently from FER2013 crops are often misread; the model labels whatever ' +
      "crop it is given (a face detector's false detection, such as an animal's head, gets an emotion too: ferlab's predict rejects detections whose landmarks do not fit a human face).",
    '- **Image domain**: web-scraped, mostly frontal, low-resolution (48x48) grayscale crops, many of them posed or acted expressions. ' +
      'Non-frontal views, occluded faces and spontaneous, subtle expressions are rare in it; accuracy on webcam frames, other cameras or other ' +
      'populations is unknown until measured on them.',
    "- **Demographics**: FER2013's authors did not document the age, gender, skin tone or ethnicity of the people shown (the search queries combined " +
      'emotion keywords with such words, but the resulting composition was not reported). Performance across groups has not been measured; expect it to vary.',
    '- **Labels are perceptions, not feelings**: the labels are a keyword search checked by labelers (FER2013) or crowd votes on a face (FER+), largely of ' +
      'posed or acted expressions. Facial expressions are not a reliable readout of felt emotion, which varies with person, culture and context ' +
      '(Barrett et al. 2019); FER2013 labels are themselves noisy (human accuracy on FER2013 is estimated at 65 +- 5%, Goodfellow et al. 2013).',
    '- **Not for decisions about people** (hiring, policing, health, education, or any other; see Out-of-scope uses).',
    '- **Runtime differences**: the formats above were checked on the PrivateTest images only; other inputs can show slightly different logits across ' +
      'runtimes and after quantization.',
    '',
  );

  L.push('## Training configuration (resolved)', '');
  L.push('```json', JSON.stringify(cfg ?? {}, null, 2), '```', '');

  L.push('## References', '');
  L.push(
    '- M. Mitchell et al., "Model Cards for Model Reporting", FAT* 2019, arXiv 1810.03993.',
    '- C. Guo, G. Pleiss, Y. Sun, K. Q. Weinberger, "On Calibration of Modern Neural Networks", ICML 2017, arXiv 1706.04599.',
    '- I. Goodfellow et al., "Challenges in Representation Learning: A report on three machine learning contests", ICML 2013 workshop, arXiv 1307.0414.',
    '- E. Barsoum, C. Zhang, C. Canton Ferrer, Z. Zhang, "Training Deep Networks for Facial Expression Recognition with Crowd-Sourced Label Distribution", ICMI 2016, arXiv 1608.01041.',
    '- B. Efron, R. J. Tibshirani, "An Introduction to the Bootstrap", Chapman & Hall 1993, ch. 13.',
    '- L. F. Barrett et al., "Emotional Expressions Reconsidered: Challenges to Inferring Emotion From Human Facial Movements", Psychological Science in the Public Interest 20(1), 2019.',
    '',
  );
  return L.join('\n');
}

/** The optimizer of a run in words, e.g. `SGD (momentum 0.9, Nesterov, weight decay 0.0001)`. */
function optimizerText(o: { name?: string; momentum?: number; nesterov?: boolean; weightDecay: number }): string {
  if (o.name === 'sgd') return `SGD (momentum ${o.momentum ?? 0.9}${o.nesterov ? ', Nesterov' : ''}, weight decay ${o.weightDecay})`;
  return `Adam (weight decay ${o.weightDecay})`;
}

/** The augmentation settings in words: every knob that is on (`flips, shift 4, rotation 10`), or `none`. */
function augmentText(a: Record<string, unknown>): string {
  const on = Object.entries(a).filter(([k, v]) => v !== undefined && v !== null && v !== false && v !== 0 && !(k === 'preset' && v === 'none'));
  return on.length
    ? on.map(([k, v]) => (v === true ? (k === 'flip' ? 'flips' : k) : `${k} ${typeof v === 'object' ? JSON.stringify(v) : v}`)).join(', ')
    : 'none';
}
