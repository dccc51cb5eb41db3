/**
 * An ensemble of saved ferlab models as one tfjs Layers model (issue 29): one graph that plain `tf.loadLayersModel`
 * loads (only tfjs-layers' own classes, no custom layer) and that the ONNX and TFLite writers (onnx.ts, tflite.ts)
 * convert like any other ferlab model.
 *
 * Graph. Input `input` `[batch, 48, 48, 1]` float32, pixel / 255: the default input spec (src/data/input.ts) of every
 * ferlab model, so that predict, the demo, eval and export feed an ensemble as they feed a single model. Per member k
 * (layers named `m<k>_<its layer name>`, flattened into the one graph, no nested model):
 * - its input transform: nothing for the default spec; for resize 'crop' with side S a Cropping2D that keeps the centre
 *   window, rows and columns c .. c + S - 1 with c = centreOffset(S) (src/data/input.ts: round half to even of
 *   (48 - S) / 2, torchvision's CenterCrop, the window the member's own evaluation feeds);
 * - then a copy of each of its layers (same class and config, its weights), applied in the member's own order;
 * - with combine 'probs', an Activation softmax on its logits.
 * The members' outputs then meet in one Average layer (tfjs-layers Average: the sum, times 1 / n): a member picked w
 * times by greedy selection (ensemble-select.ts, with replacement) is fed w times, so its weight is w / n. One member
 * fed once needs no Average.
 *
 * Combination: 'logits' (the mean of the members' logits; the output is logits, as every other ferlab model's, so that
 * softmax, temperature scaling and TTA apply unchanged) or 'probs' (the mean of their softmax probabilities, as Caruana
 * et al. 2004 and Lakshminarayanan et al. 2017 average predictions; the output is then probabilities, which ferlab.json
 * `output` says, and consumers use as they are: src/records/model.ts outputIsProbabilities). tfjs-layers has no log
 * layer, so the probabilities cannot be turned back into logits inside a plain graph. Which one an ensemble uses is
 * chosen on PublicTest by `ferlab ensemble` (ensemble-make.ts: `--combine auto`, the default, ties to 'logits'), which
 * records both scores in ferlab.json `ensemble.publicTest`: neither wins in general, so each ensemble measures. Measured
 * on the first real pair (best-cpu's deep-fer, PublicTest 66.68%, with the 2-epoch quick deep-fer, 24.46%): greedy
 * selection 66.98% with logits vs 66.82% with probabilities, all members 66.62% vs 66.70% (PublicTest NLL 0.910 / 1.232
 * and 0.963 / 1.128): the winner flips with the selection, hence a per-ensemble choice rather than a fixed rule. Ties go
 * to logits because then the output stays a logit vector (softmax, temperature scaling fitted on PublicTest and TTA
 * apply as to any single model) and a near-uniform weak member only shrinks the logits instead of mixing a flat
 * distribution into every prediction.
 *
 * Refused, with an error naming the member: a normalization other than 'unit' ('histeq' and 'standardize' are per-image
 * computations no plain layer does; every member must see pixel / 255); resize 'scale' (tfjs-layers' Resizing layer
 * resizes with align_corners, not the half-pixel bilinear resize the member was trained with, and the converters have no
 * Resize rule); members whose input is not their spec's `[S, S, 1]` or whose output widths differ; a member with a
 * layer of several inputs other than Add / Average (ferlab's registry has none).
 */
import * as tf from '@tensorflow/tfjs';
import { IMAGE_SIZE } from '../data/classes';
import { centreOffset, checkInputSpec, DEFAULT_INPUT, type InputSpec } from '../data/input';
import { stepsOf } from './onnx';

/** The combinations {@link buildEnsemble} makes: mean of logits or mean of softmax probabilities. */
export { ENSEMBLE_COMBINES, type EnsembleMember as EnsembleMemberRecord } from '../records/model';
import type { ENSEMBLE_COMBINES } from '../records/model';
export type EnsembleCombine = (typeof ENSEMBLE_COMBINES)[number];

/** One member as {@link buildEnsemble} takes it. */
export interface EnsembleGraphMember {
  /** Name, for messages (a run name). */
  name: string;
  /** The member's model: input `[batch, S, S, 1]` of `input`, output logits `[batch, C]` float32. Not modified. */
  model: tf.LayersModel;
  /** The member's input spec (its ferlab.json `inputSpec`; the default when it has none). */
  input: Readonly<InputSpec>;
  /** How many times it enters the mean (greedy selection with replacement; default 1). */
  weight?: number;
}

/** A member or setting {@link buildEnsemble} refuses; the message names the member. */
export class EnsembleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EnsembleError';
  }
}

/** Name of the ensemble graph's input layer (the ONNX / TFLite input is `input` whatever it is called). */
const INPUT_LAYER = 'input';

/**
 * Checks that a member can enter an ensemble graph (see the file comment) and returns its checked input spec.
 * @throws EnsembleError naming the member for a normalization other than 'unit', resize 'scale', an invalid spec, a
 *   model whose input is not `[batch, S, S, 1]` of the spec or that has several inputs or outputs.
 */
export function checkEnsembleMember(m: Pick<EnsembleGraphMember, 'name' | 'model' | 'input'>): InputSpec {
  let spec: InputSpec;
  try {
    spec = checkInputSpec({ ...m.input }, `member '${m.name}' inputSpec`);
  } catch (e) {
    throw new EnsembleError((e as Error).message);
  }
  if (spec.normalize !== 'unit')
    throw new EnsembleError(
      `member '${m.name}' normalizes its input with '${spec.normalize}'; an ensemble graph feeds every member pixel / 255 ('unit'), ` +
        `so all members must use normalize 'unit' (${JSON.stringify(spec)})`,
    );
  if (spec.resize === 'scale')
    throw new EnsembleError(
      `member '${m.name}' takes a bilinear resize to ${spec.size}x${spec.size} (resize 'scale'); the ensemble graph cannot do it with plain layers ` +
        "(tfjs' Resizing layer uses align_corners, not the half-pixel resize the member was trained with): use members with resize 'none' or 'crop'",
    );
  if (m.model.inputs.length !== 1 || m.model.outputs.length !== 1)
    throw new EnsembleError(`member '${m.name}' has ${m.model.inputs.length} inputs and ${m.model.outputs.length} outputs; expected 1 and 1`);
  const shape = m.model.inputs[0].shape.slice(1);
  if (shape.join() !== [spec.size, spec.size, 1].join())
    throw new EnsembleError(
      `member '${m.name}' takes inputs [batch, ${shape.join(', ')}], but its input spec ${JSON.stringify(spec)} makes [batch, ${spec.size}, ${spec.size}, 1]`,
    );
  if (m.model.outputs[0].shape.length !== 2)
    throw new EnsembleError(`member '${m.name}' outputs shape [${m.model.outputs[0].shape.join(', ')}]; expected [batch, C]`);
  return spec;
}

/** A fresh layer of the same class and config as `layer`, named `name` (tfjs' own deserialisation, as model loading does). */
function copyLayer(layer: tf.layers.Layer, name: string): tf.layers.Layer {
  const cls = layer.getClassName();
  const entry = tf.serialization.SerializationMap.getMap().classNameMap[cls];
  if (!entry) throw new EnsembleError(`layer '${layer.name}' (${cls}) is not a registered tfjs class`);
  const config: tf.serialization.ConfigDict = { ...layer.getConfig(), name };
  delete config.batchInputShape;
  delete config.inputShape;
  const [ctor, fromConfig] = entry;
  return fromConfig(ctor, config) as tf.layers.Layer;
}

/**
 * Builds the ensemble graph of `members` (see the file comment).
 *
 * @param members the members, in order (layer prefix `m<k>_` for members[k]); each model is read, not changed; the
 *   graph holds copies of their weights (the caller may dispose the members afterwards).
 * @param opts.combine 'logits' (default) or 'probs'; opts.name the model's name (default `ensemble`).
 * @returns a tf.LayersModel: input `[batch, 48, 48, 1]` float32 (pixel / 255), output `[batch, C]` float32: the
 *   weighted mean of the members' logits ('logits') or of their softmax probabilities ('probs').
 * @throws EnsembleError for no member, a weight that is not a positive integer, members with different output widths,
 *   and what {@link checkEnsembleMember} refuses (naming the member).
 */
export function buildEnsemble(members: readonly EnsembleGraphMember[], opts: { combine?: EnsembleCombine; name?: string } = {}): tf.LayersModel {
  const combine = opts.combine ?? 'logits';
  if (combine !== 'logits' && combine !== 'probs') throw new EnsembleError(`combine '${String(combine)}': expected 'logits' or 'probs'`);
  if (!members.length) throw new EnsembleError('an ensemble needs at least one member');
  const specs = members.map((m) => checkEnsembleMember(m));
  const widths = members.map((m) => m.model.outputs[0].shape[1]);
  if (widths.some((w) => w !== widths[0]))
    throw new EnsembleError(`the members output different numbers of classes: ${members.map((m, k) => `${m.name} ${widths[k]}`).join(', ')}`);
  for (const m of members) {
    const w = m.weight ?? 1;
    if (!Number.isInteger(w) || w < 1) throw new EnsembleError(`member '${m.name}' has weight ${w}; expected a positive integer (times selected)`);
  }

  const input = tf.input({ shape: [IMAGE_SIZE, IMAGE_SIZE, 1], dtype: 'float32', name: INPUT_LAYER });
  const outputs: tf.SymbolicTensor[] = [];
  members.forEach((m, k) => {
    const prefix = `m${k}_`;
    const spec = specs[k];
    let x: tf.SymbolicTensor = input;
    if (spec.resize === 'crop') {
      const c = centreOffset(spec.size);
      const rest = IMAGE_SIZE - spec.size - c;
      x = tf.layers
        .cropping2D({
          cropping: [
            [c, rest],
            [c, rest],
          ],
          name: `${prefix}crop`,
        })
        .apply(x) as tf.SymbolicTensor;
    }
    // the member's layer applications in dependency order (the ONNX writer's walk), each copied with its weights
    const steps = stepsOf(m.model, (msg) => new EnsembleError(`member '${m.name}': ${msg}`), 'buildEnsemble');
    const values = new Map<number, tf.SymbolicTensor>([[m.model.inputs[0].id, x]]);
    for (const step of steps) {
      const copy = copyLayer(step.layer, `${prefix}${step.layer.name}`);
      const ins = step.inputs.map((t) => values.get(t.id)!);
      const out = copy.apply(ins.length === 1 ? ins[0] : ins) as tf.SymbolicTensor;
      copy.setWeights(step.layer.getWeights());
      values.set(step.output.id, out);
    }
    let y = values.get(m.model.outputs[0].id)!;
    if (combine === 'probs') y = tf.layers.activation({ activation: 'softmax', name: `${prefix}softmax` }).apply(y) as tf.SymbolicTensor;
    for (let i = 0; i < (m.weight ?? 1); i++) outputs.push(y);
  });
  const output = outputs.length === 1 ? outputs[0] : (tf.layers.average({ name: 'ensemble_mean' }).apply(outputs) as tf.SymbolicTensor);
  return tf.model({ inputs: input, outputs: output, name: opts.name ?? 'ensemble' });
}

/** The input spec of every ensemble graph: the default (48x48, pixel / 255). */
export const ENSEMBLE_INPUT: Readonly<InputSpec> = DEFAULT_INPUT;
