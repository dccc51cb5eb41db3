/**
 * `ferlab demo [model-dir]` (`npm run demo`, or `npm run demo -- models/<name>`; default the released models/ferlab-ferplus): serves the browser demo for a model folder or a run
 * folder (src/demo/server.ts) until interrupted. Registered in src/cli/main.ts by {@link registerDemoCommand}.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- the server module loads lazily */
import { InvalidArgumentError, type Command } from 'commander';

function port(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(`expected a TCP port 0-65535, got '${v}'`);
  return n;
}

/** Adds `demo` to the ferlab program. */
export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('serve a local web page that runs a model on the webcam or a photo: face boxes, labels, per-emotion bars, emotion over time')
    .argument(
      '[model-dir]',
      'model folder (models/<name>: model.json + weights + ferlab.json) or a run folder (its model/); default: the released models/ferlab-ferplus',
    )
    .option('--host <host>', 'interface to listen on (default 127.0.0.1: this machine only; the camera needs 127.0.0.1/localhost or https)', '127.0.0.1')
    .option('--port <n>', 'TCP port (0 = any free port)', port, 8080)
    .action(async (modelArg: string | undefined, o: { host: string; port: number }) => {
      const { startDemoServer } = require('../demo/server') as typeof import('../demo/server');
      let demo: Awaited<ReturnType<typeof startDemoServer>>;
      try {
        const { defaultModelOrThrow } = require('../export/release') as typeof import('../export/release');
        const model = modelArg ?? defaultModelOrThrow();
        demo = await startDemoServer(model, { host: o.host, port: o.port });
      } catch (e) {
        console.error(`ferlab: ${(e as Error).message}`);
        process.exitCode = 1;
        return;
      }
      console.log(`ferlab demo: ${demo.url} (model ${demo.modelDir}); Ctrl-C stops it`);
      if (o.host !== '127.0.0.1' && o.host !== 'localhost' && o.host !== '::1')
        console.log(`note: listening on ${o.host}: other machines can load the page (browsers allow the camera only on localhost or https)`);
      await new Promise<void>((resolveStop) => {
        const stop = () => demo.close().then(resolveStop);
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}
