import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { LABEL_SETS, type LabelSetName } from '../data/labels';
import { ConfigError, SliceSchema } from '../exp/config';
import { isSweepSource, listSpecFiles, specFileOf, sweepsDir } from '../exp/specfiles';
import { listModels } from '../models/registry';
import '../models';
import { mergeDiffs } from './space';
import { BudgetSchema, PrunerSpecSchema, SamplerSpecSchema, SweepSpecError, defineSweep, type SettingsDiff, type SweepSpec, type SweepSpecInput } from './spec';

/**
 * Sweep spec files and their variants. A sweep spec file lives in `experiments/` beside the experiment files (or
 * anywhere, given by path) and exports:
 *
 * ```ts
 * export default defineSweep({ name: 'my-sweep', model: 'deep', labels: 'majority', space: {...}, ... });
 * export const quick = defineQuickSweep({ base: { epochs: 2 }, slice: { train: 1280, val: 320, test: 320 }, budget: { trials: 4 } });
 * ```
 *
 * The `quick` variant (`ferlab sweep my-sweep --quick`) runs the same code on a small slice: its `base` is merged into
 * the spec's base, its `slice` limits every split (the first n images, as the experiments' quick slices), and its
 * `budget`, `pruner` and `sampler` replace the spec's. {@link resolveSweep} turns a file into the spec a sweep runs.
 */

const obj = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The quick variant of a sweep spec file (see the module comment). */
export const SweepQuickSchema = z.strictObject({
  base: z
    .custom<SettingsDiff>(obj, 'expected an object of settings')
    .optional()
    .describe("settings merged into the spec's base (deep merge), e.g. { epochs: 2 }"),
  slice: SliceSchema.optional().describe('images of each split to use (first n, in file order); null = all'),
  budget: BudgetSchema.optional().describe("replaces the spec's budget"),
  pruner: PrunerSpecSchema.optional().describe("replaces the spec's pruner (e.g. rungs that fit the quick epochs)"),
  sampler: SamplerSpecSchema.optional().describe("replaces the spec's sampler"),
});
/** A quick variant as written. */
export type SweepQuick = z.input<typeof SweepQuickSchema>;

/** Images of each split a sweep's trials use; null = all. */
export type SweepSlice = z.infer<typeof SliceSchema>;

/**
 * Validates the shape of a quick variant (spec files call it on their `quick` export); whether it fits the spec is
 * checked when it is resolved ({@link resolveSweep}).
 * @throws SweepSpecError naming the field (`quick.slice.train: ...`).
 */
export function defineQuickSweep(quick: SweepQuick): SweepQuick {
  const r = SweepQuickSchema.safeParse(quick);
  if (!r.success) throw new SweepSpecError(r.error.issues.map((i) => `quick.${i.path.map(String).join('.') || '(variant)'}: ${i.message}`).join('\n'));
  return quick;
}

/** A loaded sweep spec file. */
export interface SweepDefinition {
  /** The spec's name. */
  name: string;
  /** Absolute path of the file. */
  file: string;
  /** The default export, validated by defineSweep. */
  spec: SweepSpec;
  /** The `quick` export, when the file has one (shape validated). */
  quick?: SweepQuick;
}

/** What a sweep runs: the spec (variant and budget overrides applied, validated) and the data slice. */
export interface ResolvedSweep {
  spec: SweepSpec;
  /** Whether the quick variant was applied. */
  quick: boolean;
  /** Images of each split (first n); all null for a full sweep. */
  slice: SweepSlice;
}

/** Options of {@link resolveSweep}. */
export interface ResolveSweepOptions {
  /** Apply the file's quick variant. */
  quick?: boolean;
  /** Budget overrides (`--trials`, `--minutes`): each replaces its own field of the budget, the other field stays. */
  trials?: number;
  minutes?: number;
}

const NO_SLICE: SweepSlice = { train: null, val: null, test: null };

/**
 * The spec a sweep runs: the file's spec, with the quick variant applied (`opts.quick`) and the budget overrides, then
 * validated again by defineSweep; plus checks defineSweep cannot make: the label set is one of LABEL_SETS and the
 * model is registered.
 *
 * @param def a loaded file ({@link loadSweep}) or `{ spec }` with a spec (validated or not).
 * @throws SweepSpecError naming the parameter or field: an invalid spec or quick variant, `--quick` without a quick
 *   variant, a non-positive budget override, an unknown label set or model.
 */
export function resolveSweep(def: { spec: SweepSpec | SweepSpecInput; quick?: SweepQuick }, opts: ResolveSweepOptions = {}): ResolvedSweep {
  let spec = defineSweep(def.spec as SweepSpecInput);
  let slice = NO_SLICE;
  if (opts.quick) {
    if (!def.quick) throw new SweepSpecError(`sweep '${spec.name}' has no quick variant (export const quick = defineQuickSweep({...}) in its file)`);
    const q = SweepQuickSchema.safeParse(def.quick);
    if (!q.success) throw new SweepSpecError(q.error.issues.map((i) => `sweep '${spec.name}': quick.${i.path.map(String).join('.')}: ${i.message}`).join('\n'));
    const { base, slice: qs, budget, pruner, sampler } = q.data;
    spec = defineSweep({
      ...spec,
      base: mergeDiffs(spec.base as Record<string, unknown>, base as Record<string, unknown> | undefined) as SettingsDiff,
      ...(budget ? { budget } : {}),
      ...(pruner ? { pruner } : {}),
      ...(sampler ? { sampler } : {}),
    });
    slice = qs ?? NO_SLICE;
  }
  if (opts.trials !== undefined || opts.minutes !== undefined) {
    const bad = (what: string, v: number) => new SweepSpecError(`sweep '${spec.name}': --${what} must be a positive number, got ${v}`);
    if (opts.trials !== undefined && !(Number.isInteger(opts.trials) && opts.trials >= 1)) throw bad('trials', opts.trials);
    if (opts.minutes !== undefined && !(opts.minutes > 0)) throw bad('minutes', opts.minutes);
    spec = defineSweep({
      ...spec,
      budget: {
        ...spec.budget,
        ...(opts.trials !== undefined ? { trials: opts.trials } : {}),
        ...(opts.minutes !== undefined ? { minutes: opts.minutes } : {}),
      },
    });
  }
  if (!(LABEL_SETS as readonly string[]).includes(spec.labels))
    throw new SweepSpecError(`sweep '${spec.name}': labels: unknown label set '${spec.labels}' (expected one of ${LABEL_SETS.join(', ')})`);
  if (!listModels().includes(spec.model))
    throw new SweepSpecError(`sweep '${spec.name}': model: unknown model '${spec.model}' (registered: ${listModels().join(', ')})`);
  return { spec, quick: !!opts.quick, slice };
}

/** The label set of a resolved spec (checked by resolveSweep). */
export function sweepLabels(spec: SweepSpec): LabelSetName {
  return spec.labels as LabelSetName;
}

/**
 * Names of the sweep spec files (files whose source mentions `defineSweep`), sorted: those of `dir`, or by default those
 * of sweeps/ and any left in experiments/ by an older checkout. Read from file names and text; nothing is imported
 * (src/exp/specfiles.ts listSpecFiles).
 */
export function listSweeps(dir?: string): string[] {
  const files = dir ? listSpecFiles(dir) : [...listSpecFiles(sweepsDir().dir), ...listSpecFiles()];
  return [...new Set(files.filter((f) => f.sweep).map((f) => f.name))].sort();
}

/**
 * Loads a sweep spec file: `name` is a file of sweeps/ (`sweep-recipe` -> sweeps/sweep-recipe.ts, or dist/sweeps/*.js
 * when running from dist/; a sweep spec file of experiments/ from an older checkout is found too), or a path to a .ts / .js file (it contains a slash or ends in .ts /
 * .js; relative to the working folder). Its default export is validated with defineSweep, its `quick` export with
 * defineQuickSweep.
 *
 * Only that one file is imported (a mistyped name runs nothing; the names listed come from file names).
 * @param dir the folder of spec files for a name (default sweeps/, then experiments/: src/exp/specfiles.ts).
 * @throws ConfigError when there is no such file (naming the sweeps available) or the file is an experiment;
 *   SweepSpecError naming the parameter or field when the spec or its quick variant is invalid (also when the file's
 *   own defineSweep call throws while it loads).
 */
export function loadSweep(name: string, dir?: string): SweepDefinition {
  const isPath = /[\\/]/.test(name) || /\.(ts|js)$/.test(name);
  const inSweeps = dir ? undefined : specFileOf(name, sweepsDir().dir, sweepsDir().ext);
  const named = inSweeps?.exists ? inSweeps : specFileOf(name, dir);
  const file = isPath ? resolve(name) : named.file;
  if (isPath ? !existsSync(file) : !named.exists)
    throw new ConfigError(`no sweep spec '${name}' (looked for ${inSweeps && !isPath ? `${inSweeps.file} and ` : ''}${file}); sweeps: ${listSweeps(dir).join(', ') || 'none'}`);
  // an experiment file given by name is not run here (told apart by source text)
  if (!isPath && !isSweepSource(file)) throw new ConfigError(`${file} is an experiment, not a sweep spec: run it with npm run exp -- ${name}`);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require(file);
  const exported = mod.default;
  if (obj(exported) && 'runs' in exported)
    throw new ConfigError(`${file} is an experiment, not a sweep spec: run it with npm run exp -- ${isPath ? file : name}`);
  if (!obj(exported)) throw new ConfigError(`${file} has no default export of a sweep spec (export default defineSweep({...}))`);
  const spec = defineSweep(exported as SweepSpecInput);
  const quick = mod.quick === undefined ? undefined : defineQuickSweep(mod.quick as SweepQuick);
  return { name: spec.name, file, spec, ...(quick ? { quick } : {}) };
}
