/**
 * `npm run ferlab -- ensemble <folder>... --out models/<name> [--select greedy|all] [--combine auto|logits|probs]
 * [--formats tfjs,onnx,tflite] [--labels SET]`: an ensemble of run folders, experiment folders (their finished runs of
 * one label set) and exported model folders, chosen on PublicTest and written as one model folder (src/export/
 * ensemble-make.ts); prints the candidates, the PublicTest scores of every selection and combination, the chosen
 * members and the PrivateTest numbers (reported only). Registered in src/cli/main.ts; the heavy modules load when it runs.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- commands load their modules lazily (CommonJS require) */
import type { Command } from 'commander';
import { pct } from '../util/format';

/** Options of the `ensemble` command, as commander parses them. */
interface EnsembleCommandOptions {
  out: string;
  select?: string;
  combine?: string;
  formats?: string;
  tfliteWeights?: string;
  opset?: string;
  labels?: string;
  steps?: string;
}

/** Error names the command reports as one line (a folder, member or option it cannot use) rather than a stack. */
const KNOWN = ['EnsembleError', 'ExportError', 'OnnxExportError', 'TfliteExportError'];

/** Adds `ensemble` to the program. */
export function registerEnsembleCommand(program: Command): void {
  program
    .command('ensemble')
    .description('an ensemble of saved models as one model (members and combination chosen on PublicTest): tfjs, and ONNX / TFLite with --formats')
    .argument('<folders...>', 'run folders, experiment folders (their finished runs of one label set) or exported model folders (models/<name>)')
    .requiredOption('--out <dir>', 'output folder, e.g. models/<name> (replaced when it holds an earlier model folder)')
    .option('--select <how>', 'greedy (forward selection with replacement on PublicTest accuracy, Caruana et al. 2004) or all', 'greedy')
    .option('--combine <how>', 'mean of logits, mean of probabilities (probs), or auto: the better of the two on PublicTest', 'auto')
    .option('--formats <list>', 'extra formats besides tfjs: onnx,tflite (tfjs is always written)')
    .option('--tflite-weights <dtype>', 'model.tflite weights: float32 (default), float16 or int8')
    .option('--opset <n>', 'ONNX opset, 13-21 (default 13)')
    .option('--labels <set>', "label set of the members (default: the first candidate's)")
    .option('--steps <n>', 'greedy selection steps (default max(10, 2 x candidates))')
    .action(async (folders: string[], o: EnsembleCommandOptions) => {
      const g = program.opts();
      const { makeEnsemble } = require('../export/ensemble-make') as typeof import('../export/ensemble-make');
      const { parseFormats } = require('./export') as typeof import('./export');
      const { printTable } = require('./table') as typeof import('./table');
      const { redactCommandLine } = require('../sweep/redisurl') as typeof import('../sweep/redisurl');
      try {
        const int = (v: string | undefined, what: string) => {
          if (v === undefined) return undefined;
          const n = Number(v);
          if (!Number.isInteger(n) || n < 1) throw Object.assign(new Error(`${what} '${v}': expected a positive integer`), { name: 'EnsembleError' });
          return n;
        };
        const r = await makeEnsemble(folders, {
          out: o.out,
          select: o.select as 'greedy' | 'all',
          combine: o.combine as 'auto' | 'logits' | 'probs',
          formats: o.formats ? parseFormats(o.formats) : undefined,
          tfliteWeights: o.tfliteWeights as import('../export/tflite').TfliteWeights | undefined,
          opset: int(o.opset, '--opset'),
          maxSteps: int(o.steps, '--steps'),
          labels: o.labels,
          dataDir: g.dataDir,
          cacheDir: g.cacheDir,
          backend: g.backend,
          command: `npm run ferlab -- ${redactCommandLine(process.argv.slice(2)).join(' ')}`,
        });
        const e = r.meta.ensemble;
        console.log('\ncandidates (PublicTest decides; PrivateTest is their own recorded number, reported only):');
        printTable(
          e.selection.candidates.map((c) => {
            const m = e.members.find((x) => x.name === c.name);
            const meta = r.candidates.candidates.find((x) => x.name === c.name)?.meta;
            return {
              candidate: c.name,
              source: c.source,
              'PublicTest acc': pct(c.publicTestAccuracy),
              'PrivateTest acc (recorded)': meta?.testAccuracy !== undefined ? pct(meta.testAccuracy) : '-',
              weight: m ? String(m.weight) : '0',
            };
          }),
        );
        console.log('\nPublicTest of every selection and combination:');
        printTable(e.publicTest.map((p) => ({ select: p.select, combine: p.combine, 'PublicTest acc': pct(p.accuracy), 'PublicTest NLL': p.nll.toFixed(4) })));
        const ci = (i: { accuracy: number; lower: number; upper: number }) => `${pct(i.accuracy)} (95% CI ${pct(i.lower)}-${pct(i.upper)})`;
        console.log(
          `\nchosen: ${e.selection.method}, mean of ${e.combine}; PrivateTest ${ci(e.privateTest.interval)}, with flip TTA ${ci(e.privateTest.flipTta)}; ` +
            `graph vs hand-averaged members max |diff| ${e.graphCheck.maxAbsDiff.toExponential(2)}`,
        );
        console.log(`model and ferlab.json: ${r.dir}`);
      } catch (err) {
        if (!KNOWN.includes((err as Error).name)) throw err;
        console.error(`ferlab: ${(err as Error).message}`);
        process.exitCode = 1;
      }
    });
}
