import { createHash } from 'node:crypto';
import { z } from 'zod';
import { TrainSettingsSchema } from '../train/settings';
import {
  SearchSpaceSchema,
  conditionHolds,
  conditionValues,
  discreteValues,
  enumerateSpace,
  isContinuous,
  mergeDiffs,
  toSettingsDiff,
  validateSpace,
  MAX_ENUMERATED,
  type ParamSpec,
  type ParamValue,
  type Params,
  type SearchSpace,
} from './space';

/**
 * Sweep specs: what a hyper-parameter sweep searches (a search space over training settings, on top of a base
 * settings diff, for one model and label set), what it maximises (a PublicTest metric), how it proposes trials
 * (grid, random or TPE), how it stops bad trials early (median or ASHA pruning) and when it stops (trial count and/or
 * wall-clock minutes). {@link defineSweep} validates a spec completely before anything runs.
 *
 * Part of ferlab's own hyper-parameter search engine: no well-kept hyper-parameter library exists on npm.
 */

const int = (min = 0) => z.number().int().min(min);
const NAME = /^[a-z0-9][a-z0-9._-]*$/;

/** A diff from the training defaults (TrainSettingsSchema input); checked key by key in defineSweep. */
export type SettingsDiff = z.input<typeof TrainSettingsSchema>;

const DiffSchema = z.custom<SettingsDiff>((v) => typeof v === 'object' && v !== null && !Array.isArray(v), 'expected an object of settings');

/** What the sweep maximises: a metric of the trained model on PublicTest (PrivateTest is never used to select). */
export const ObjectiveSchema = z.strictObject({
  metric: z.enum(['accuracy', 'macroF1']).describe('maximised'),
  split: z
    .string()
    .default('PublicTest')
    .superRefine((s, ctx) => {
      if (s === 'PrivateTest')
        ctx.addIssue({
          code: 'custom',
          message: 'PrivateTest never selects: it is the held-out test split, reported once for the chosen model; sweeps maximise a PublicTest metric',
        });
      else if (s !== 'PublicTest') ctx.addIssue({ code: 'custom', message: `split must be 'PublicTest', got ${JSON.stringify(s)}` });
    })
    .transform(() => 'PublicTest' as const),
});

/** How trials are proposed (see grid.ts, random.ts, tpe.ts). */
export const SamplerSpecSchema = z.discriminatedUnion('name', [
  z.strictObject({ name: z.literal('grid').describe('every configuration of a discrete space, first parameter slowest') }),
  z.strictObject({ name: z.literal('random').describe('independent uniform draws (log-uniform for loguniform), no repeated configuration') }),
  z.strictObject({
    name: z.literal('tpe').describe('Tree-structured Parzen Estimator (Bergstra et al. 2011), defaults of Optuna TPESampler'),
    startupTrials: int(0).default(10).describe('random trials before TPE starts (Optuna n_startup_trials = 10)'),
    candidates: int(1).default(24).describe('candidates drawn from l(x) per parameter (Optuna n_ei_candidates = 24)'),
  }),
]);
export type SamplerSpec = z.infer<typeof SamplerSpecSchema>;

/** How trials are stopped early (see pruners.ts). Epochs count finished epochs, from 1. */
export const PrunerSpecSchema = z.discriminatedUnion('name', [
  z.strictObject({ name: z.literal('none') }),
  z.strictObject({
    name: z.literal('median').describe("Optuna's MedianPruner (median stopping rule)"),
    startupTrials: int(0).default(5).describe('no pruning before this many trials completed (Optuna n_startup_trials = 5)'),
    warmupEpochs: int(0).default(0).describe('no pruning at epochs <= this (Optuna n_warmup_steps = 0)'),
  }),
  z.strictObject({
    name: z.literal('asha').describe('asynchronous successive halving (Li et al. 2020), as Optuna SuccessiveHalvingPruner'),
    minEpochs: int(1).describe('epochs of the first rung (r in the paper)'),
    reductionFactor: int(2).describe('rungs at minEpochs * reductionFactor^k; the top 1/reductionFactor continue (eta in the paper)'),
    maxEpochs: int(1).optional().describe('no rung at or beyond this epoch (R in the paper; a trial reaching it just completes)'),
  }),
]);
export type PrunerSpec = z.infer<typeof PrunerSpecSchema>;

/** When the sweep stops asking for trials: after `trials` trials were created, or `minutes` of wall-clock time. */
export const BudgetSchema = z
  .strictObject({
    trials: int(1).optional().describe('trials created (retries of a trial do not count again)'),
    minutes: z.number().positive().optional().describe('wall-clock minutes since the sweep was created (its journal header)'),
  })
  .refine((b) => b.trials !== undefined || b.minutes !== undefined, 'budget needs trials or minutes (or both)');

/** A sweep spec, as validated by {@link defineSweep}. */
export const SweepSpecSchema = z.strictObject({
  name: z.string().regex(NAME, 'lower-case letters, digits, . _ - (a folder name)'),
  question: z.string().min(1).optional().describe('what the sweep should find out'),
  base: DiffSchema.default({}).describe('settings of every trial that differ from the training defaults; the space overrides them'),
  model: z.string().min(1).describe('registered model name'),
  labels: z.string().min(1).describe("label set ('fer', 'majority', ...)"),
  space: SearchSpaceSchema,
  objective: ObjectiveSchema,
  sampler: SamplerSpecSchema,
  pruner: PrunerSpecSchema.default({ name: 'none' }),
  budget: BudgetSchema,
  seed: int(0).describe("seed of the sampler (each trial's training seed is a setting: put it in base or space)"),
  retries: int(0).default(1).describe('times a failed trial is run again with the same params before it counts as failed'),
});
/** A validated sweep spec (defaults filled in). */
export type SweepSpec = z.infer<typeof SweepSpecSchema>;
/** A sweep spec as written (defaults may be left out). */
export type SweepSpecInput = z.input<typeof SweepSpecSchema>;

/** A sweep spec that fails validation; the message names the parameter or field. */
export class SweepSpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SweepSpecError';
  }
}

type Issue = { path: PropertyKey[]; message: string; code?: string; keys?: string[] };

/** Dotted paths and messages of zod issues; an unknown key becomes `path.key: unknown setting`. */
function describeIssues(issues: readonly Issue[]): Array<{ path: string; message: string }> {
  return issues.flatMap((i) => {
    const base = i.path.map(String);
    if (i.code === 'unrecognized_keys' && i.keys) return i.keys.map((k) => ({ path: [...base, k].join('.'), message: 'unknown setting' }));
    return [{ path: base.join('.'), message: i.message }];
  });
}

/** The settings problems of a candidate settings diff (strict TrainSettingsSchema), as `path: message` items. */
function settingsProblems(diff: unknown): Array<{ path: string; message: string }> {
  const r = TrainSettingsSchema.safeParse(diff);
  return r.success ? [] : describeIssues(r.error.issues as Issue[]);
}

/**
 * The settings diff of one trial: the spec's base deep-merged with the trial's params (nested with toSettingsDiff).
 * Not validated: {@link trialSettingsProblems} checks it.
 */
export function trialSettingsDiff(spec: Pick<SweepSpec, 'base'>, params: Params): SettingsDiff {
  return mergeDiffs(spec.base as Record<string, unknown>, toSettingsDiff(params)) as SettingsDiff;
}

/** Problems of a trial's merged settings under the strict TrainSettingsSchema, as `path: message` lines (none = valid). */
export function trialSettingsProblems(spec: Pick<SweepSpec, 'base'>, params: Params): string[] {
  return settingsProblems(trialSettingsDiff(spec, params)).map((p) => `${p.path || '(settings)'}: ${p.message}`);
}

/** Values worth validating for a parameter: every choice, or the bounds of a range. */
function probeValues(p: ParamSpec): ParamValue[] {
  return p.kind === 'choice' ? p.values : [p.low, p.high];
}

/** Params that make `name`'s condition chain hold (each condition's first accepted value), without `name` itself. */
function conditionChain(space: SearchSpace, name: string): Params {
  const out: Params = {};
  let c = space[name].when;
  while (c) {
    out[c.param] = conditionValues(c)[0];
    c = space[c.param].when;
  }
  return out;
}

/**
 * Validates a sweep spec: its types and ranges (zod), the search space (validateSpace), `base` against the strict
 * TrainSettingsSchema, and every parameter: each of its probe values (every choice, or low and high) is merged into
 * `base`, with its condition chain holding, and the result must be valid training settings, so an unknown setting path
 * (`optimizer.momentum`) or an out-of-range value (`augment.shift` up to 20, max 12) fails here, naming the parameter.
 * Grid search additionally needs a discrete space of at most MAX_ENUMERATED configurations.
 *
 * @returns the spec with defaults filled in (split 'PublicTest', pruner none, retries 1, TPE startupTrials 10 and
 *   candidates 24, median startupTrials 5 and warmupEpochs 0).
 * @throws SweepSpecError naming the parameter or field, e.g. `search space parameter "lr": loguniform needs low > 0,
 *   got low=0`, `objective.split: PrivateTest never selects: ...`.
 */
export function defineSweep(input: SweepSpecInput): SweepSpec {
  const label = `sweep '${(input as { name?: unknown })?.name ?? '?'}'`;
  const r = SweepSpecSchema.safeParse(input);
  if (!r.success) {
    const lines = (r.error.issues as Issue[]).map((i) => {
      const [head, name, ...rest] = i.path.map(String);
      if (head === 'space' && name !== undefined) return `search space parameter "${name}": ${rest.length ? `${rest.join('.')}: ` : ''}${i.message}`;
      return `${label}: ${i.path.map(String).join('.') || '(spec)'}: ${i.message}`;
    });
    throw new SweepSpecError(lines.join('\n'));
  }
  const spec = r.data;
  try {
    validateSpace(spec.space);
  } catch (e) {
    throw new SweepSpecError((e as Error).message);
  }

  const baseProblems = settingsProblems(spec.base);
  if (baseProblems.length) throw new SweepSpecError(baseProblems.map((p) => `${label}: base.${p.path}: ${p.message}`).join('\n'));

  for (const [name, p] of Object.entries(spec.space)) {
    for (const v of probeValues(p)) {
      const params = { ...conditionChain(spec.space, name), [name]: v };
      const problems = settingsProblems(trialSettingsDiff(spec, params));
      if (problems.length === 0) continue;
      const mine = problems.find((q) => q.path === name || q.path.startsWith(`${name}.`) || name.startsWith(`${q.path}.`)) ?? problems[0];
      const what =
        mine.message === 'unknown setting' && (mine.path === name || name.startsWith(`${mine.path}.`))
          ? `not a training setting ("${mine.path}" is unknown to TrainSettingsSchema)`
          : name.startsWith(`${mine.path}.`)
            ? `not a training setting ("${mine.path}" is a single setting, not a group of settings)`
            : `value ${JSON.stringify(v)} gives invalid settings: ${mine.path || '(settings)'}: ${mine.message}`;
      throw new SweepSpecError(`search space parameter "${name}": ${what}`);
    }
  }

  // one whole configuration (each active parameter at its first probe value) must be valid together too
  const first: Params = {};
  for (const [name, p] of Object.entries(spec.space)) if (conditionHolds(p.when, first)) first[name] = probeValues(p)[0];
  const joint = trialSettingsProblems(spec, first);
  if (joint.length) throw new SweepSpecError(`search space: the configuration ${JSON.stringify(first)} gives invalid settings: ${joint.join('; ')}`);

  if (spec.sampler.name === 'grid') {
    for (const [name, p] of Object.entries(spec.space))
      if (isContinuous(p))
        throw new SweepSpecError(
          `search space parameter "${name}": grid search needs discrete parameters (choice or int), and ${p.kind} is continuous: use a choice of values`,
        );
    try {
      for (const p of Object.values(spec.space)) discreteValues(p);
      enumerateSpace(spec.space, MAX_ENUMERATED);
    } catch (e) {
      throw new SweepSpecError(`${label}: grid search: ${(e as Error).message}`);
    }
  }
  if (spec.pruner.name === 'asha' && spec.pruner.maxEpochs !== undefined && spec.pruner.maxEpochs <= spec.pruner.minEpochs)
    throw new SweepSpecError(`${label}: pruner.maxEpochs (${spec.pruner.maxEpochs}) must be greater than pruner.minEpochs (${spec.pruner.minEpochs})`);
  return spec;
}

/** JSON with object keys sorted at every level, so that key order does not change a hash. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (typeof v === 'object' && v !== null)
    return `{${Object.keys(v)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}

/**
 * SHA-256 (hex) of everything in a validated spec that decides which trials run and how they are scored: name, base,
 * model, labels, space (with its parameter order, which the samplers follow), objective, sampler, pruner and seed.
 * `question`, `budget` and `retries` are left out, so a sweep can be resumed with a larger budget.
 */
export function specHash(spec: SweepSpec): string {
  const { question: _q, budget: _b, retries: _r, space, ...rest } = spec;
  return createHash('sha256')
    .update(canonical({ ...rest, space: Object.entries(space) }))
    .digest('hex');
}
