/**
 * The ferlab Jupyter kernel: tslab's TypeScript kernel (node_modules/tslab of this checkout) registered under the
 * kernel name `ferlab`, display name "ferlab (TypeScript)". Every notebook's `metadata.kernelspec` names it, so
 * Jupyter (`jupyter notebook`, `jupyter nbconvert --execute` without `--ExecutePreprocessor.kernel_name`) and VS Code's
 * Jupyter extension start it without asking.
 *
 * `npm run kernel`: registers the kernel for the current user (`jupyter kernelspec install --user --name ferlab`,
 * into Jupyter's user data folder, e.g. ~/.local/share/jupyter/kernels/ferlab on Linux; or the folder named by
 * JUPYTER_DATA_DIR); nothing else. No global install: the kernel runs this checkout's tslab. `npm run notebooks`
 * registers it too.
 *
 * `npm run kernel -- --notebooks`: writes the kernel into every notebooks/*.ipynb (only `metadata.kernelspec` and
 * `metadata.language_info` change; cells and all other bytes stay as they are). For a new notebook.
 *
 * Why not `tslab install`: it always registers under the names `tslab` and `jslab` (node_modules/tslab/python/install.py)
 * and, as root, system-wide; the kernel.json below is the one it writes (argv `... kernel --config-path
 * {connection_file}`), under our name. argv starts with the absolute path of the Node that ran the registration and
 * tslab's own bin script (not node_modules/.bin/tslab, a `#!/usr/bin/env node` script): the kernel then starts the
 * same way from a terminal, from a VS Code started from the desktop (whose PATH may have no node) and on Windows
 * (where .bin/tslab is a .cmd shim). After switching Node versions, run `npm run kernel` again.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyEdits, modify, parse as parseJsonc, printParseErrorCode, type ParseError } from 'jsonc-parser';

export const ROOT = join(__dirname, '..');

/** Kernel name: the kernelspec folder name Jupyter and VS Code match against a notebook's `metadata.kernelspec.name`. */
export const KERNEL_NAME = 'ferlab';
/** Display name shown by Jupyter's and VS Code's kernel pickers. */
export const KERNEL_DISPLAY_NAME = 'ferlab (TypeScript)';

/** A Jupyter kernelspec (kernel.json), https://jupyter-client.readthedocs.io/en/stable/kernels.html#kernel-specs */
export interface KernelJson {
  argv: string[];
  display_name: string;
  language: string;
}

/**
 * kernel.json of the ferlab kernel for the checkout at `root`: tslab's TypeScript kernel, run by the Node that calls
 * this (`process.execPath`). `{connection_file}` is filled in by Jupyter; tslab wants it as a separate argument
 * (tslab issue #36, see node_modules/tslab/python/install.py).
 */
export function kernelJson(root: string = ROOT): KernelJson {
  return {
    argv: [process.execPath, join(root, 'node_modules', 'tslab', 'bin', 'tslab'), 'kernel', '--config-path', '{connection_file}'],
    display_name: KERNEL_DISPLAY_NAME,
    language: 'typescript',
  };
}

/**
 * What every notebook's `metadata` holds: the kernelspec (name, display name and language of kernel.json) and the
 * language_info that tslab's TypeScript kernel reports in its kernel_info reply (node_modules/tslab/dist/jupyter.js,
 * `handleKernel`), exactly: Jupyter and VS Code write the kernel's language_info into a notebook they run, so a
 * notebook saved after a run keeps the same metadata. Keys sorted, as nbformat writes them.
 */
export const NOTEBOOK_METADATA = {
  kernelspec: { display_name: KERNEL_DISPLAY_NAME, language: 'typescript', name: KERNEL_NAME },
  language_info: {
    codemirror_mode: { mode: 'typescript', name: 'javascript', typescript: true },
    file_extension: '.ts',
    mimetype: 'text/typescript',
    name: 'typescript',
    version: '3.7.2',
  },
} as const;

/**
 * The Python that has Jupyter: FERLAB_JUPYTER_PYTHON, else `python3`, else /usr/bin/python3 (Debian's, where pyenv or
 * a venv shadows it), the first that imports every module of `modules`.
 * @throws Error naming the install commands when none has them.
 */
export function jupyterPython(modules: string[] = ['jupyter_client']): string {
  const candidates = [process.env.FERLAB_JUPYTER_PYTHON, 'python3', '/usr/bin/python3'].filter((p): p is string => !!p);
  for (const py of candidates) {
    const r = spawnSync(py, ['-c', `import ${modules.join(', ')}`], { stdio: 'ignore' });
    if (r.status === 0) return py;
  }
  throw new Error(
    `No Python with Jupyter (${modules.join(', ')}) found among ${candidates.join(', ')}. Install it: apt-get install jupyter-notebook ` +
      'jupyter-nbconvert python3-nbclient jupyter-client (Debian/Ubuntu), or pip install notebook nbconvert; or set FERLAB_JUPYTER_PYTHON.',
  );
}

/**
 * Registers the ferlab kernel for the current user with the Jupyter of `py` (`jupyter kernelspec install --user
 * --name ferlab`, which replaces an earlier registration). Honours JUPYTER_DATA_DIR like every Jupyter command.
 * @throws Error with Jupyter's output when the install fails.
 */
export function registerKernel(py: string = jupyterPython(), root: string = ROOT, env: NodeJS.ProcessEnv = process.env): void {
  const dir = mkdtempSync(join(tmpdir(), 'ferlab-kernel-'));
  try {
    writeFileSync(join(dir, 'kernel.json'), JSON.stringify(kernelJson(root), null, 1) + '\n');
    const r = spawnSync(py, ['-m', 'jupyter', 'kernelspec', 'install', '--user', '--name', KERNEL_NAME, dir], { encoding: 'utf8', env });
    if (r.error) throw new Error(`${py} -m jupyter kernelspec install: ${r.error.message}`);
    if (r.status !== 0) throw new Error(`${py} -m jupyter kernelspec install failed (exit ${r.status}):\n${r.stdout}${r.stderr}`);
    // Jupyter logs "Installed kernelspec ferlab in <folder>" on stderr
    const where = /Installed kernelspec \S+ in (.+)/.exec(r.stderr + r.stdout)?.[1]?.trim();
    console.log(`registered the Jupyter kernel '${KERNEL_NAME}' ("${KERNEL_DISPLAY_NAME}")${where ? ` in ${where}` : ''}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Returns the notebook text `text` (nbformat 4 JSON) with `metadata.kernelspec` and `metadata.language_info` set to
 * {@link NOTEBOOK_METADATA}, every other byte unchanged. Edits are made in the text with jsonc-parser's `modify`
 * (rather than JSON.parse + JSON.stringify, which would re-escape and re-indent the cells), indented by one space as
 * nbformat writes (`json.dumps(indent=1, sort_keys=True)`).
 * @throws Error naming `file` when the text is not JSON or has no top-level `metadata` object.
 */
export function withKernelMetadata(text: string, file = 'notebook'): string {
  const errors: ParseError[] = [];
  const nb = parseJsonc(text, errors, { allowTrailingComma: false, disallowComments: true }) as { metadata?: unknown } | undefined;
  if (errors.length) throw new Error(`${file}: not valid JSON (${printParseErrorCode(errors[0].error)} at offset ${errors[0].offset})`);
  if (!nb?.metadata || typeof nb.metadata !== 'object') throw new Error(`${file}: expected a top-level "metadata" object, got ${JSON.stringify(nb?.metadata)}`);
  let out = text;
  for (const key of ['kernelspec', 'language_info'] as const) {
    const edits = modify(out, ['metadata', key], NOTEBOOK_METADATA[key], { formattingOptions: { insertSpaces: true, tabSize: 1, eol: '\n' } });
    out = applyEdits(out, edits);
  }
  return out;
}

/** Rewrites the metadata of every notebooks/*.ipynb with {@link withKernelMetadata}; returns the files changed. */
export function writeNotebookMetadata(root: string = ROOT): string[] {
  const dir = join(root, 'notebooks');
  const changed: string[] = [];
  for (const f of readdirSync(dir)
    .filter((n) => n.endsWith('.ipynb'))
    .sort()) {
    const text = readFileSync(join(dir, f), 'utf8');
    const out = withKernelMetadata(text, `notebooks/${f}`);
    if (out !== text) {
      writeFileSync(join(dir, f), out);
      changed.push(`notebooks/${f}`);
    }
  }
  return changed;
}

if (require.main === module) {
  try {
    if (process.argv.includes('--notebooks')) {
      const changed = writeNotebookMetadata();
      console.log(changed.length ? `kernel metadata written to ${changed.join(', ')}` : 'every notebook already names the ferlab kernel');
    } else {
      registerKernel();
    }
  } catch (e) {
    console.error((e as Error).message);
    process.exit(1);
  }
}
