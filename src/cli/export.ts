/**
 * `npm run ferlab -- export <run | experiment | sweep folder> [--out models/<name>] [--formats tfjs,onnx,tflite]
 * [--quantize float16|uint8] [--tflite-weights float32|float16|int8] [--opset N] [--labels SET]`: prints which run was chosen and why (the candidates with
 * their PublicTest and PrivateTest accuracy), exports it (src/export/exporter.ts) and prints the per-format checks.
 * An ensemble folder (`ferlab ensemble`, ferlab.json `ensemble`) is rewritten with the formats asked instead
 * (src/export/ensemble-make.ts exportEnsembleFolder; --out default: the folder itself).
 */
import type { BackendChoice } from '../backend/select';
import {
  candidateRows,
  EXPORT_FORMATS,
  ExportError,
  exportEnsembleFolder,
  exportModel,
  isEnsembleFolder,
  type ExportFormat,
  type FormatCheck,
} from '../export';
import type { WeightQuantization } from '../export/quantize';
import type { TfliteWeights } from '../export/tflite';
import { redactCommandLine } from '../sweep/redisurl';
import { printTable } from './table';

/** Options of the `export` command, as commander parses them. */
export interface ExportCommandOptions {
  out?: string;
  formats?: string;
  quantize?: string;
  tfliteWeights?: string;
  opset?: string;
  labels?: string;
}

/** Parses `--formats tfjs,onnx,tflite`. @throws ExportError naming the unknown format. */
export function parseFormats(value: string): ExportFormat[] {
  const list = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = list.filter((f) => !(EXPORT_FORMATS as readonly string[]).includes(f));
  if (bad.length || !list.length) throw new ExportError(`--formats '${value}': expected a comma-separated subset of ${EXPORT_FORMATS.join(', ')}`);
  return [...new Set(list)] as ExportFormat[];
}

/** Runs the command; `argv` is the command line as typed (for ferlab.json). */
export async function exportCommand(
  folder: string,
  o: ExportCommandOptions,
  g: { dataDir?: string; cacheDir?: string; backend?: BackendChoice },
  argv: string[],
): Promise<void> {
  const opset = o.opset === undefined ? undefined : Number(o.opset);
  if (opset !== undefined && !Number.isInteger(opset)) throw new ExportError(`--opset '${o.opset}': expected an integer (13-21)`);
  if (isEnsembleFolder(folder)) {
    if (o.quantize || o.labels) throw new ExportError(`${folder} is an ensemble folder: --quantize and --labels do not apply to it`);
    const r = await exportEnsembleFolder(folder, {
      out: o.out,
      formats: o.formats ? parseFormats(o.formats) : undefined,
      tfliteWeights: o.tfliteWeights as TfliteWeights | undefined,
      opset,
      dataDir: g.dataDir,
      cacheDir: g.cacheDir,
      backend: g.backend,
      command: `npm run ferlab -- ${redactCommandLine(argv).join(' ')}`,
    });
    console.log(`ensemble ${folder} (${r.meta.ensemble.members.map((m) => `${m.name} x${m.weight}`).join(', ')}): ${r.dir}`);
    return;
  }
  const r = await exportModel(folder, {
    out: o.out,
    formats: o.formats ? parseFormats(o.formats) : undefined,
    quantize: o.quantize as WeightQuantization | undefined,
    tfliteWeights: o.tfliteWeights as TfliteWeights | undefined,
    opset,
    labels: o.labels,
    dataDir: g.dataDir,
    cacheDir: g.cacheDir,
    backend: g.backend,
    command: `npm run ferlab -- ${redactCommandLine(argv).join(' ')}`, // the one redaction of recorded command lines
  });
  const sel = r.selection;
  console.log(`\ncandidates in ${folder} (${sel.kind}); selection by PublicTest accuracy, PrivateTest only reported:`);
  printTable(candidateRows(sel));
  for (const s of sel.skipped) console.log(`  skipped ${s.name}: ${s.why}`);
  for (const n of sel.notes) console.log(`  note: ${n}`);
  console.log(`chosen: ${sel.best.name} (${sel.reason})`);
  const ev = r.info.evaluation;
  const ci = (i: { accuracy: number; lower: number; upper: number }) =>
    `${(100 * i.accuracy).toFixed(2)}% (95% CI ${(100 * i.lower).toFixed(2)}-${(100 * i.upper).toFixed(2)}%)`;
  console.log(`PublicTest ${ci(ev.publicTest.interval)}, PrivateTest ${ci(ev.privateTest.interval)}`);
  printTable(
    Object.entries(r.info.export.formats).map(([fmt, f]) => {
      const c = 'skipped' in f!.check ? undefined : (f!.check as FormatCheck);
      return {
        format: fmt,
        weights: f!.weights,
        bytes: String(f!.bytes),
        'PrivateTest acc': c ? `${(100 * c.privateTestAccuracy).toFixed(2)}%` : 'not checked',
        'max |logit diff|': c ? c.maxAbsLogitDiff.toExponential(2) : (f!.check as { skipped: string }).skipped,
        runtime: c?.runtime ?? '-',
      };
    }),
  );
  console.log(`model, ferlab.json and model-card.md: ${r.dir}`);
}
