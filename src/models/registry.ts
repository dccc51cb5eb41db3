import type * as tf from '@tensorflow/tfjs';
import { checkInputSpec, DEFAULT_INPUT, inputShapeOf, type InputSpec } from '../data/input';

/** Options every model factory takes. */
export interface ModelOptions {
  /** Input shape without the batch axis; default `[size, size, 1]` of the model's input spec (`[48, 48, 1]` unless it declares another). */
  inputShape?: [number, number, number];
  /** Number of classes (7 for FER, 8 for FER+). The model outputs logits `[batch, numClasses]` float32. */
  numClasses: number;
  /** Seed for the weight initialisers and dropout masks; the same seed gives the same initial model. */
  seed?: number;
}

/** A registered model: its factory and what it is. */
export interface ModelEntry {
  name: string;
  /** One line: architecture and where it comes from. */
  description: string;
  /** Builds a fresh, uncompiled tf.LayersModel: input `[batch, ...inputShape]` float32, output logits. */
  create: (opts: Required<ModelOptions>) => tf.LayersModel;
  /**
   * The model's default input (src/data/input.ts InputSpec: side, crop or resize, normalisation), as timm's per-model
   * pretrained config; a run's `input` setting overrides it field by field. Absent = DEFAULT_INPUT (48x48, pixel / 255).
   */
  input?: InputSpec;
}

const registry = new Map<string, ModelEntry>();

/**
 * Registers a model factory under `name` (timm-style registry).
 * @throws Error when the name is already taken.
 */
export function registerModel(entry: ModelEntry): void {
  if (registry.has(entry.name)) throw new Error(`model '${entry.name}' is already registered`);
  if (entry.input) checkInputSpec(entry.input, `model '${entry.name}' input`);
  registry.set(entry.name, entry);
}

/**
 * Creates a registered model.
 * @param opts numClasses is required; inputShape defaults to `[size, size, 1]` of the model's input spec ([48, 48, 1]
 *   unless the entry declares another), seed to 0.
 * @throws Error naming the registered models when `name` is unknown; Error naming the layer when the input is too
 *   small for the architecture (a layer's output would have a zero-sized axis).
 */
export function createModel(name: string, opts: ModelOptions): tf.LayersModel {
  const entry = registry.get(name);
  if (!entry) throw new Error(`unknown model '${name}'; registered: ${listModels().join(', ')}`);
  const inputShape = opts.inputShape ?? inputShapeOf(entry.input ?? DEFAULT_INPUT);
  let model: tf.LayersModel;
  try {
    model = entry.create({ inputShape, numClasses: opts.numClasses, seed: opts.seed ?? 0 });
  } catch (e) {
    throw new Error(`model '${name}' cannot be built for input [${inputShape.join(', ')}]: ${(e as Error).message}`, { cause: e });
  }
  const empty = model.layers.find((l) => {
    const shapes = (Array.isArray(l.outputShape[0]) ? l.outputShape : [l.outputShape]) as Array<Array<number | null>>;
    return shapes.some((s) => s.some((d) => d !== null && d <= 0));
  });
  if (empty) {
    model.dispose();
    throw new Error(
      `model '${name}' does not fit input [${inputShape.join(', ')}]: layer '${empty.name}' would output ${JSON.stringify(empty.outputShape)} (an empty axis); use a larger input size`,
    );
  }
  return model;
}

/**
 * The input spec a run of model `name` uses: the entry's own (DEFAULT_INPUT when it declares none) with the fields of
 * `override` (the run's `input` setting, src/train/settings.ts) in place of its own.
 * @throws Error naming the registered models when `name` is unknown; Error naming the field (`input.size`, ...),
 *   the expected and the actual value when the combination is invalid (src/data/input.ts inputSpecProblems).
 */
export function resolveInputSpec(name: string, override?: Partial<InputSpec>): InputSpec {
  const base = modelEntry(name).input ?? DEFAULT_INPUT;
  const spec = { size: override?.size ?? base.size, resize: override?.resize ?? base.resize, normalize: override?.normalize ?? base.normalize };
  try {
    return checkInputSpec(spec, 'input');
  } catch (e) {
    throw new Error(
      `${(e as Error).message} (resolved input ${JSON.stringify(spec)}: model '${name}'s default ${JSON.stringify(base)} with the run's input setting ${JSON.stringify(override ?? {})})`,
    );
  }
}

/** Names of all registered models, sorted. */
export function listModels(): string[] {
  return [...registry.keys()].sort();
}

/** The registry entry of `name` (description and factory). @throws Error when unknown. */
export function modelEntry(name: string): ModelEntry {
  const entry = registry.get(name);
  if (!entry) throw new Error(`unknown model '${name}'; registered: ${listModels().join(', ')}`);
  return entry;
}
