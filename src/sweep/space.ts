import { z } from 'zod';

/**
 * Search spaces of ferlab's hyper-parameter sweeps: named parameters, each a `choice`, `uniform`, `loguniform` or
 * `int` range, optionally conditional on an earlier parameter (`when`). A parameter's name is the dotted path of the
 * training setting it sets (`lr`, `optimizer.weightDecay`, `augment.shift`, `schedule.name`), so a trial's params turn
 * into a settings diff with {@link toSettingsDiff}.
 *
 * The space is an object whose key order is the parameter order: samplers draw parameters in that order, a condition
 * may only name an earlier parameter, and grid search varies the first parameter slowest.
 *
 * Part of ferlab's own hyper-parameter search engine (src/sweep): there is no well-kept hyper-parameter library on
 * npm, so the ideas of Optuna (search spaces, TPE, pruners; https://optuna.org) are re-implemented here.
 */

/** A value a `choice` parameter can take, and the type of every value in a trial's params. */
export type ParamValue = string | number | boolean;

/** A trial's parameters: setting path -> value. Conditional parameters whose condition is false are absent. */
export type Params = Record<string, ParamValue>;

const ValueSchema = z.union([z.string(), z.number(), z.boolean()]);

/**
 * Condition of a conditional parameter: it is sampled only when the earlier parameter `param` is present and equals
 * `equals` (or is one of `in`); otherwise it is absent from the trial's params (and its setting keeps the base value).
 */
export const ConditionSchema = z.union([
  z.strictObject({ param: z.string().min(1), equals: ValueSchema }),
  z.strictObject({ param: z.string().min(1), in: z.array(ValueSchema).min(1) }),
]);
export type Condition = z.infer<typeof ConditionSchema>;

const when = ConditionSchema.optional().describe('sample this parameter only when the condition holds');

/** One parameter of a search space. Bounds are inclusive; semantic checks (low <= high, ...) are in validateSpace. */
export const ParamSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('choice').describe('one of a list of values (categorical)'),
    values: z.array(ValueSchema).describe('the values, at least one, no duplicates'),
    when,
  }),
  z.strictObject({ kind: z.literal('uniform').describe('a float drawn uniformly from [low, high]'), low: z.number(), high: z.number(), when }),
  z.strictObject({
    kind: z.literal('loguniform').describe('a float whose logarithm is uniform: log(low)..log(high), low > 0 (learning rates, weight decay)'),
    low: z.number(),
    high: z.number(),
    when,
  }),
  z.strictObject({
    kind: z.literal('int').describe('an integer of low, low + step, ..., high'),
    low: z.number().int(),
    high: z.number().int(),
    step: z.number().int().min(1).optional().describe('grid spacing (default 1); (high - low) must be a multiple of it'),
    log: z.boolean().optional().describe('draw on a log scale (needs low >= 1 and step 1)'),
    when,
  }),
]);
export type ParamSpec = z.infer<typeof ParamSchema>;

/** A search space: parameter name (a dotted setting path) -> parameter; key order = parameter order. */
export const SearchSpaceSchema = z.record(z.string(), ParamSchema);
export type SearchSpace = z.infer<typeof SearchSpaceSchema>;

/** Most configurations a discrete space is enumerated to (grid search, exhaustion checks of random search). */
export const MAX_ENUMERATED = 100_000;

const NAME = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;

const show = (v: unknown) => JSON.stringify(v);

/** Canonical text of a value, for comparing values of any type (1 and '1' differ). */
const valueKey = (v: ParamValue) => `${typeof v}:${String(v)}`;

/**
 * Checks a search space beyond its types: names are dotted identifiers and no name is a prefix group of another;
 * `choice` has at least one value and no duplicates; `low <= high`; `loguniform` has `low > 0`; `int` steps divide
 * the range and log ints start at 1; a condition names an earlier parameter that is discrete, with values it can take.
 *
 * @throws Error naming the parameter, e.g. `search space parameter "lr": loguniform needs low > 0, got low=0`.
 */
export function validateSpace(space: SearchSpace): void {
  const names = Object.keys(space);
  if (names.length === 0) throw new Error('search space has no parameter');
  names.forEach((name, index) => {
    const p = space[name];
    const fail = (msg: string): never => {
      throw new Error(`search space parameter "${name}": ${msg}`);
    };
    if (!NAME.test(name)) fail('not a setting path (dotted identifiers, e.g. "optimizer.weightDecay")');
    const group = names.find((other) => other !== name && name.startsWith(`${other}.`));
    if (group) fail(`conflicts with parameter "${group}" (one sets a whole group, the other a setting inside it)`);
    switch (p.kind) {
      case 'choice': {
        if (p.values.length === 0) fail('choice needs at least one value, got an empty list');
        const keys = p.values.map(valueKey);
        const dup = p.values.find((_, i) => keys.indexOf(keys[i]) !== i);
        if (dup !== undefined) fail(`choice lists the value ${show(dup)} twice`);
        break;
      }
      case 'loguniform':
        if (!(p.low > 0)) fail(`loguniform needs low > 0, got low=${p.low}`);
        if (p.low > p.high) fail(`low > high (low=${p.low}, high=${p.high})`);
        break;
      case 'uniform':
        if (p.low > p.high) fail(`low > high (low=${p.low}, high=${p.high})`);
        break;
      case 'int': {
        if (p.low > p.high) fail(`low > high (low=${p.low}, high=${p.high})`);
        const step = p.step ?? 1;
        if ((p.high - p.low) % step !== 0) fail(`int range ${p.low}..${p.high} is not a whole number of steps of ${step}`);
        if (p.log && step !== 1) fail(`int with log needs step 1, got step=${step}`);
        if (p.log && p.low < 1) fail(`int with log needs low >= 1, got low=${p.low}`);
        break;
      }
    }
    if (p.when) {
      const ref = p.when.param;
      const at = names.indexOf(ref);
      if (at < 0) fail(`condition names unknown parameter "${ref}"`);
      if (at >= index) fail(`condition names parameter "${ref}", which is defined after it (a condition may only name an earlier parameter)`);
      const target = space[ref];
      const allowed = conditionValues(p.when);
      if (target.kind === 'uniform' || target.kind === 'loguniform')
        fail(`condition names the continuous parameter "${ref}" (conditions need a choice or int)`);
      const possible = new Set(discreteValues(target).map(valueKey));
      const impossible = allowed.find((v) => !possible.has(valueKey(v)));
      if (impossible !== undefined) fail(`condition value ${show(impossible)} is not a value of parameter "${ref}"`);
    }
  });
}

/** The values a condition accepts (`[equals]` or `in`). */
export function conditionValues(c: Condition): ParamValue[] {
  return 'in' in c ? c.in : [c.equals];
}

/** Whether `c` holds for the (partial) params: the named parameter is present and has an accepted value. */
export function conditionHolds(c: Condition | undefined, params: Params): boolean {
  if (!c) return true;
  if (!(c.param in params)) return false;
  const v = valueKey(params[c.param]);
  return conditionValues(c).some((a) => valueKey(a) === v);
}

/** Whether a parameter is continuous (uniform, loguniform): it has no finite list of values. */
export function isContinuous(p: ParamSpec): boolean {
  return p.kind === 'uniform' || p.kind === 'loguniform';
}

/**
 * Every value of a discrete parameter, in order: a choice's values, or low, low + step, ..., high for an int.
 * @throws Error for a continuous parameter, or an int range of more than MAX_ENUMERATED values.
 */
export function discreteValues(p: ParamSpec): ParamValue[] {
  if (p.kind === 'choice') return p.values;
  if (p.kind === 'int') {
    const step = p.step ?? 1;
    const n = Math.floor((p.high - p.low) / step) + 1;
    if (n > MAX_ENUMERATED) throw new Error(`int range ${p.low}..${p.high} has ${n} values, more than ${MAX_ENUMERATED}`);
    return Array.from({ length: n }, (_, i) => p.low + i * step);
  }
  throw new Error(`${p.kind} parameters are continuous and have no list of values`);
}

/**
 * Every configuration of a discrete space, the first parameter varying slowest; a conditional parameter is
 * enumerated only under the configurations where its condition holds (and absent from the others).
 *
 * @param limit most configurations (default MAX_ENUMERATED).
 * @throws Error naming a continuous parameter, or when the space has more than `limit` configurations.
 */
export function enumerateSpace(space: SearchSpace, limit = MAX_ENUMERATED): Params[] {
  const entries = Object.entries(space);
  for (const [name, p] of entries)
    if (isContinuous(p)) throw new Error(`search space parameter "${name}": ${p.kind} is continuous and cannot be enumerated (use a choice of values)`);
  let configs: Params[] = [{}];
  for (const [name, p] of entries) {
    const values = discreteValues(p);
    const next: Params[] = [];
    for (const c of configs) {
      if (!conditionHolds(p.when, c)) next.push(c);
      else for (const v of values) next.push({ ...c, [name]: v });
      if (next.length > limit) throw new Error(`search space has more than ${limit} configurations`);
    }
    configs = next;
  }
  return configs;
}

/** Number of configurations of a space: Infinity when it has a continuous parameter or more than `limit`. */
export function countConfigurations(space: SearchSpace, limit = MAX_ENUMERATED): number {
  if (Object.values(space).some(isContinuous)) return Infinity;
  try {
    return enumerateSpace(space, limit).length;
  } catch {
    return Infinity;
  }
}

/** Canonical key of a configuration (keys sorted, values typed): equal keys = the same configuration. */
export function configKey(params: Params): string {
  return JSON.stringify(
    Object.keys(params)
      .sort()
      .map((k) => [k, valueKey(params[k])]),
  );
}

/**
 * Turns a trial's flat params into a nested settings diff: `{ 'optimizer.weightDecay': 1e-4, lr: 3e-3 }` ->
 * `{ optimizer: { weightDecay: 1e-4 }, lr: 3e-3 }`.
 * @throws Error when one name is a group of another (`optimizer` and `optimizer.weightDecay`).
 */
export function toSettingsDiff(params: Params): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(params)) {
    const path = name.split('.');
    let cur = out;
    for (let i = 0; i < path.length - 1; i++) {
      const next = cur[path[i]];
      if (next === undefined) cur = cur[path[i]] = {};
      else if (typeof next === 'object' && next !== null) cur = next as Record<string, unknown>;
      else throw new Error(`parameter "${name}": "${path.slice(0, i + 1).join('.')}" is set as a value by another parameter`);
    }
    const leaf = path[path.length - 1];
    if (leaf in cur) throw new Error(`parameter "${name}": "${name}" is also a group of other parameters`);
    cur[leaf] = value;
  }
  return out;
}

/**
 * Deep-merges settings diffs, later ones winning: plain objects merge key by key (so a parameter
 * `schedule.warmupEpochs` keeps the base's `schedule.name`), anything else is replaced. Inputs are not modified.
 */
export function mergeDiffs(...diffs: Array<Record<string, unknown> | undefined>): Record<string, unknown> {
  const obj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  const merge = (a: unknown, b: unknown): unknown => {
    if (!obj(a) || !obj(b)) return structuredClone(b);
    const out: Record<string, unknown> = { ...structuredClone(a) };
    for (const [k, v] of Object.entries(b)) out[k] = k in a ? merge(a[k], v) : structuredClone(v);
    return out;
  };
  return diffs.reduce<Record<string, unknown>>((acc, d) => (d === undefined ? acc : (merge(acc, d) as Record<string, unknown>)), {});
}
