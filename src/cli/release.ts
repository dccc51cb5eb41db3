/**
 * `ferlab release`: the released models under models/ (src/export/release.ts).
 *
 *   release check [names...]              verify each release folder against its SHA256SUMS (no data needed)
 *   release build <name> --from <folder>  rebuild a release from its run record (or the best-cpu experiment folder) into
 *                                         models/<name>, or into --out; --compare rebuilds into a scratch folder and
 *                                         compares it with the committed files instead
 *   release list                          the releases with their PrivateTest accuracy, size and files
 *
 * Registered in src/cli/main.ts by {@link registerReleaseCommand}.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- the export modules (tfjs, onnx) load lazily */
import type { Command } from 'commander';
import type { BackendChoice } from '../backend/select';
import { printTable } from './table';

type Globals = { dataDir?: string; cacheDir?: string; backend?: BackendChoice };

/** Runs `fn`, printing an ExportError / DataError as one `ferlab: ...` line with exit status 1. */
async function guarded(fn: () => Promise<void> | void): Promise<void> {
  try {
    await fn();
  } catch (e) {
    if (!['ExportError', 'DataError', 'OnnxExportError', 'TfliteExportError'].includes((e as Error).name)) throw e;
    console.error(`ferlab: ${(e as Error).message}`);
    process.exitCode = 1;
  }
}

/** Adds `release` and its subcommands to the ferlab program. */
export function registerReleaseCommand(program: Command): void {
  const release = program.command('release').description('the released models under models/: check their checksums, rebuild them from their run records');

  release
    .command('check')
    .description('verify each release folder (default: all) against its SHA256SUMS')
    .argument('[names...]', 'release names (default: every release)')
    .action((names: string[]) =>
      guarded(() => {
        const r = require('../export/release') as typeof import('../export/release');
        const list = names.length ? names.map((n) => r.releaseSpec(n).name) : r.RELEASES.map((x) => x.name);
        let bad = 0;
        for (const name of list) {
          const rep = r.verifyChecksums(r.releaseDir(name));
          if (rep.problems.length) {
            bad++;
            console.log(`${name}: ${rep.problems.length} problem(s)`);
            for (const p of rep.problems) console.log(`  ${p}`);
          } else console.log(`${name}: ${rep.ok.length} files match ${r.CHECKSUM_FILE}`);
        }
        if (bad) process.exitCode = 1;
      }),
    );

  release
    .command('build')
    .description('rebuild a release from its run record (npm run exp -- best-cpu writes it): export with the release options, then SHA256SUMS')
    .argument('<name>', 'release name, e.g. ferlab-ferplus')
    .requiredOption('--from <folder>', 'the run record, or the experiment folder that holds it (runs/best-cpu-<time>)')
    .option('--out <dir>', 'output folder (default models/<name>, the committed release)')
    .option('--compare', 'rebuild into a scratch folder and compare with the committed release instead of replacing it')
    .action((name: string, o: { from: string; out?: string; compare?: boolean }) =>
      guarded(async () => {
        const r = require('../export/release') as typeof import('../export/release');
        const { mkdtempSync } = require('node:fs') as typeof import('node:fs');
        const { join } = require('node:path') as typeof import('node:path');
        const { tmpdir } = require('node:os') as typeof import('node:os');
        const g = program.opts() as Globals;
        const scratch = o.compare ? join(mkdtempSync(join(tmpdir(), `ferlab-release-${name}-`)), name) : undefined;
        try {
          const built = await r.buildRelease(name, o.from, { out: scratch ?? o.out, dataDir: g.dataDir, cacheDir: g.cacheDir, backend: g.backend });
          console.log(`release ${name}: wrote ${built.dir} (${Object.keys(built.checksums).length} files + ${r.CHECKSUM_FILE})`);
          if (scratch) {
            const cmp = r.compareReleases(r.releaseDir(name), scratch);
            printTable(cmp.files.map((f) => ({ file: f.file, verdict: f.verdict })));
            console.log(cmp.ok ? `release ${name}: the rebuild matches the committed files` : `release ${name}: the rebuild DIFFERS from the committed files`);
            if (!cmp.ok) process.exitCode = 1;
          }
        } finally {
          if (scratch) r.removeScratch(scratch);
        }
      }),
    );

  release
    .command('list')
    .description('the releases: classes, PrivateTest accuracy (plain and with the recorded TTA), size')
    .action(() =>
      guarded(() => {
        const r = require('../export/release') as typeof import('../export/release');
        printTable(r.releaseRows());
      }),
    );
}
