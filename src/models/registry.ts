import type * as tf from '@tensorflow/tfjs';

/** Options every model factory takes. */
export interface ModelOptions {
  /** Input shape without the batch axis; default `[48, 48, 1]` (FER2013 grayscale). */
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
}

const registry = new Map<string, ModelEntry>();

/**
 * Registers a model factory under `name` (timm-style registry).
 * @throws Error when the name is already taken.
 */
export function registerModel(entry: ModelEntry): void {
  if (registry.has(entry.name)) throw new Error(`model '${entry.name}' is already registered`);
  registry.set(entry.name, entry);
}

/**
 * Creates a registered model.
 * @param opts numClasses is required; inputShape defaults to [48, 48, 1], seed to 0.
 * @throws Error naming the registered models when `name` is unknown.
 */
export function createModel(name: string, opts: ModelOptions): tf.LayersModel {
  const entry = registry.get(name);
  if (!entry) throw new Error(`unknown model '${name}'; registered: ${listModels().join(', ')}`);
  return entry.create({ inputShape: opts.inputShape ?? [48, 48, 1], numClasses: opts.numClasses, seed: opts.seed ?? 0 });
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
