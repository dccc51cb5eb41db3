/**
 * Distributed sweeps through BullMQ on a real Redis (Debian's redis-server, started on a free loopback port with a
 * password and no persistence, stopped at the end): the quick grid sweep of 4 `baseline` trials x 2 epochs trained by
 * two `ferlab worker --queue` processes, one of them SIGKILLed during its first trial; BullMQ's stalled-job check
 * (lock 2 s here) hands that trial to the other worker. Every trial completes exactly once (journal), and the
 * leaderboard (params, objectives, PublicTest and PrivateTest accuracy, macro-F1, epochs) equals that of the same sweep
 * on the local pool: a grid sampler without pruning, so the trials do not depend on the order in which they finish.
 * The password appears nowhere in the sweep folder. An unreachable Redis is a clear error naming the URL (password
 * redacted), exit status 1, and no sweep folder.
 *
 * Redis going away mid-sweep (src/sweep/redis.ts watchRedis): stopped for good, the coordinator stops once it has not
 * answered for FERLAB_QUEUE_LOST_MS (2 s here) with an error naming the redacted URL, the sweep is `failed` with its
 * queued trials still `running` (none marked complete or failed), and `--resume` on a new Redis finishes it with the
 * local pool's leaderboard; restarted empty on the same port within the limit, the coordinator queues the lost jobs
 * again and the sweep completes by itself, again with the local pool's leaderboard. These two run the sweep cut to its
 * first 2 trials (the budget override `trials: 2`; the two jobs that are queued when Redis goes away).
 * test-time-limit: 600
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadSweep } from '../../src/sweep/load';
import { resumeSweep, runSweep, type SweepResult } from '../../src/sweep/runner';
import { journalPath, readJournal } from '../../src/sweep/journal';
import { noRealDataReason, realDataDir } from '../helpers/realdata';
import { noRedisReason, startRedis } from '../helpers/redis';
import { skipFile } from '../helpers/skip';
import { tempDir } from '../helpers/fixtures';
import { ROOT, runCli, spawnCli } from '../helpers/cli';

const PASSWORD = 'test-pw-5f1c';

/**
 * The sweep spec file: 4 grid trials x 2 epochs on a 256/128/128-image slice (what is compared, leaderboards of the
 * local pool and the queue, does not depend on the slice's size; 2 epochs so that a worker can be killed mid-trial).
 * An epoch here takes about 2 s on a loaded 2-core machine: the kill after a trial's first epoch record still leaves
 * its second epoch and its PublicTest/PrivateTest scoring, several seconds, to the other worker.
 */
function specFile(): string {
  const file = join(tempDir('ferlab-queue-spec-'), 'queue-sweep.ts');
  writeFileSync(
    file,
    `import { defineSweep } from ${JSON.stringify(join(ROOT, 'src', 'sweep', 'spec'))};
import { defineQuickSweep } from ${JSON.stringify(join(ROOT, 'src', 'sweep', 'load'))};
export default defineSweep({
  name: 'queue-sweep',
  model: 'baseline',
  labels: 'majority',
  base: { epochs: 2 },
  space: { lr: { kind: 'choice', values: [0.001, 0.004] }, labelSmoothing: { kind: 'choice', values: [0, 0.1] } },
  objective: { metric: 'accuracy' },
  sampler: { name: 'grid' },
  budget: { trials: 4 },
  seed: 3,
});
export const quick = defineQuickSweep({ slice: { train: 256, val: 128, test: 128 } });
`,
  );
  return file;
}

/** The leaderboard without timings and folders. */
const board = (r: SweepResult) =>
  r.trials.map((t) => ({
    run: t.run,
    params: t.params,
    state: t.state,
    objective: t.objective,
    publicTest: t.publicTest,
    privateTest: t.privateTest,
    bestEpoch: t.bestEpoch,
    attempts: t.attempts,
    epochs: t.epochs,
  }));

/**
 * The rows of trials 0 and 1 of a leaderboard, in its order (best first): the grid sampler proposes the same first two
 * trials whatever the budget, so a sweep cut to 2 trials (`trials: 2`, the Redis-failure tests) has these rows.
 */
const firstTwo = (rows: ReturnType<typeof board>) => rows.filter((r) => r.run === 'trial-0000' || r.run === 'trial-0001');

function startWorker(url: string, dataDir: string, logs: string[]): ChildProcess {
  const w = spawnCli(['worker', '--queue', url, '--data-dir', dataDir, '--backend', 'wasm'], { env: { FERLAB_QUEUE_LOCK_MS: '2000' } });
  w.stdout.on('data', (d) => logs.push(String(d)));
  w.stderr.on('data', (d) => logs.push(String(d)));
  return w;
}

/** BullMQ's job hashes of the trials in the Redis on `port` (`bull:ferlab-trials:<sweep>--trial-NNNN`). */
function jobKeys(port: number): string[] {
  const r = spawnSync('redis-cli', ['-p', String(port), '-a', PASSWORD, '--no-auth-warning', 'keys', 'bull:ferlab-trials:*--trial-*'], { encoding: 'utf8' });
  return r.stdout.split('\n').filter((l) => /--trial-\d+$/.test(l.trim()));
}

/** Polls `ok` every 50 ms. @throws Error naming `what` after `ms`. */
async function waitFor(ok: () => boolean, what: string, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The last state of every trial in a sweep folder's journal. */
function lastStates(dir: string): Map<number, string> {
  const states = new Map<number, string>();
  for (const ev of readJournal(journalPath(dir)).events) if (ev.event === 'state') states.set(ev.trial, ev.state);
  return states;
}

/** How many times each trial was journalled complete. */
function completeCounts(dir: string): number[][] {
  const completes = new Map<number, number>();
  for (const ev of readJournal(journalPath(dir)).events)
    if (ev.event === 'state' && ev.state === 'complete') completes.set(ev.trial, (completes.get(ev.trial) ?? 0) + 1);
  return [...completes.entries()].sort();
}

/** Runs `f` with FERLAB_QUEUE_LOST_MS set to `ms`, restoring it after. */
async function withLostMs<T>(ms: number, f: () => Promise<T>): Promise<T> {
  const before = process.env.FERLAB_QUEUE_LOST_MS;
  process.env.FERLAB_QUEUE_LOST_MS = String(ms);
  try {
    return await f();
  } finally {
    if (before === undefined) delete process.env.FERLAB_QUEUE_LOST_MS;
    else process.env.FERLAB_QUEUE_LOST_MS = before;
  }
}

async function main(): Promise<void> {
  const dataDir = realDataDir();
  const why = dataDir ? noRedisReason() : noRealDataReason();
  if (why || !dataDir) {
    skipFile(why!);
    test.run();
    return;
  }
  const file = specFile();
  let localBoard: ReturnType<typeof board> | undefined;

  test('two BullMQ workers, one SIGKILLed mid-trial: every trial completes once, same leaderboard as the local pool', async () => {
    const def = loadSweep(file);
    const local = await runSweep(def, { quick: true, workers: 2, dataDir, runsDir: tempDir(), backend: 'wasm', log: () => {} });
    assert.is(local.trials.length, 4);
    localBoard = board(local);

    const redis = await startRedis(PASSWORD);
    const logs: string[][] = [[], []];
    const workers = [startWorker(redis.url, dataDir, logs[0]), startWorker(redis.url, dataDir, logs[1])];
    let killed: number | undefined;
    try {
      const runsDir = tempDir();
      const remote = await runSweep(def, {
        quick: true,
        workers: 2,
        queue: redis.url,
        dataDir,
        runsDir,
        log: () => {},
        // the first epoch record of any trial: kill the worker that trains it (mid-trial: one epoch of two done)
        onEpoch: (run) => {
          if (killed !== undefined) return;
          const i = logs.findIndex((l) => l.join('').includes(`training ${run} `));
          if (i < 0) return;
          killed = i;
          workers[i].kill('SIGKILL');
        },
      });
      assert.ok(killed !== undefined, 'a worker was killed during a trial');
      const other = 1 - killed!;
      const killedRun = logs[killed!].join('').match(/training (trial-\d+) /)![1];
      assert.match(logs[other].join(''), new RegExp(`training ${killedRun} `), `the surviving worker took over ${killedRun}`);

      // every trial complete exactly once in the journal
      assert.equal(completeCounts(remote.dir), [
        [0, 1],
        [1, 1],
        [2, 1],
        [3, 1],
      ]);
      assert.equal(board(remote), board(local), 'same leaderboard as the local pool');
      for (const t of remote.trials)
        for (const f of ['config.json', 'epochs.jsonl', 'metrics.json', 'predictions.json', 'model/model.json', 'model/weights.bin'])
          assert.ok(existsSync(join(remote.dir, t.run, f)), `${t.run}/${f} written by the coordinator`);
      // the password is nowhere in the sweep folder
      const walk = (d: string): string[] =>
        readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : [join(d, e.name)]));
      for (const f of walk(remote.dir)) assert.not.ok(readFileSync(f).includes(PASSWORD), `${f} holds the Redis password`);
      assert.match(readFileSync(join(remote.dir, 'sweep.json'), 'utf8'), /redis:\/\/:\*\*\*@127\.0\.0\.1:\d+/);
    } finally {
      for (const w of workers) w.kill('SIGKILL');
      await redis.stop();
    }
  });

  test('Redis gone mid-sweep: the coordinator stops after FERLAB_QUEUE_LOST_MS, trials stay running, --resume on a new Redis finishes it', async () => {
    assert.ok(localBoard, 'the first test ran the local sweep');
    const def = loadSweep(file);
    const redis = await startRedis(PASSWORD);
    const runsDir = tempDir();
    let error: Error | undefined;
    let waited = 0;
    await withLostMs(2000, async () => {
      // no worker: the two jobs stay queued while Redis goes away
      const sweep = runSweep(def, { quick: true, trials: 2, workers: 2, queue: redis.url, dataDir, runsDir, log: () => {} }).catch((e: Error) => {
        error = e;
      });
      await waitFor(() => jobKeys(redis.port).length === 2, 'two queued jobs');
      const stoppedAt = Date.now();
      await redis.stop();
      await sweep;
      waited = Date.now() - stoppedAt;
    });
    assert.ok(error, 'the sweep stops with an error instead of waiting for Redis');
    assert.match(
      error!.message,
      /lost the connection to Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+: no answer for \d+ s \(the limit is 2 s, FERLAB_QUEUE_LOST_MS\)/,
    );
    assert.match(error!.message, /npm run ferlab -- sweep --resume /);
    assert.not.ok(error!.message.includes(PASSWORD), 'the password is not in the error');
    assert.ok(waited >= 2000, `the coordinator waited ${waited} ms, not the 2000 ms limit, before giving up`);
    const dir = join(runsDir, readdirSync(runsDir)[0]);
    const info = JSON.parse(readFileSync(join(dir, 'sweep.json'), 'utf8')) as { state: string; error: string };
    assert.is(info.state, 'failed');
    assert.match(info.error, /lost the connection to Redis/);
    assert.equal([...lastStates(dir).entries()].sort(), [
      [0, 'running'],
      [1, 'running'],
    ]);

    const again = await startRedis(PASSWORD);
    const logs: string[] = [];
    const worker = startWorker(again.url, dataDir, logs);
    try {
      const resumed = await resumeSweep(dir, { trials: 2, workers: 2, queue: again.url, dataDir, log: () => {} });
      assert.equal(completeCounts(dir), [
        [0, 1],
        [1, 1],
      ]);
      assert.equal(board(resumed), firstTwo(localBoard!), 'same leaderboard as the local pool (its trials 0 and 1)');
    } finally {
      worker.kill('SIGKILL');
      await again.stop();
    }
  });

  test('Redis restarted empty mid-sweep: the coordinator queues its lost jobs again and the sweep completes by itself', async () => {
    assert.ok(localBoard, 'the first test ran the local sweep');
    const def = loadSweep(file);
    const redis = await startRedis(PASSWORD);
    const logs: string[] = [];
    const workerLogs: string[] = [];
    let worker: ChildProcess | undefined;
    let again: Awaited<ReturnType<typeof startRedis>> | undefined;
    try {
      // 15 s: far more than a restart of redis-server takes, and room for a coordinator whose event loop a slow, loaded
      // CI machine stalls for seconds; its watch pings every 3.75 s (a quarter of it; src/sweep/redis.ts watchRedis),
      // so that it sees the restarted Redis, and queues the jobs again, soon after (it was 30 s: pings every 5 s)
      const remote = await withLostMs(15_000, async () => {
        const sweep = runSweep(def, { quick: true, trials: 2, workers: 2, queue: redis.url, dataDir, runsDir: tempDir(), log: (l) => logs.push(l) });
        await waitFor(() => jobKeys(redis.port).length === 2, 'two queued jobs');
        await redis.stop();
        again = await startRedis(PASSWORD, redis.port); // no persistence: the jobs are gone
        await waitFor(() => logs.filter((l) => l.includes('queued again')).length === 2, 'both jobs queued again');
        assert.is(jobKeys(redis.port).length, 2, 'the restarted Redis holds the two jobs again');
        worker = startWorker(again.url, dataDir, workerLogs);
        return sweep;
      });
      assert.equal(
        logs
          .filter((l) => l.includes('queued again'))
          .map((l) => l.trim().split(':')[0])
          .sort(),
        ['trial-0000', 'trial-0001'],
      );
      assert.equal(completeCounts(remote.dir), [
        [0, 1],
        [1, 1],
      ]);
      assert.equal(board(remote), firstTwo(localBoard!), 'same leaderboard as the local pool (its trials 0 and 1)');
    } finally {
      worker?.kill('SIGKILL');
      await again?.stop();
      await redis.stop();
    }
  });

  test('an unreachable Redis: clear error naming the URL without its password, exit 1, no sweep folder', () => {
    const runsDir = tempDir();
    const r = runCli(['sweep', file, '--quick', '--queue', `redis://:${PASSWORD}@127.0.0.1:1`, '--runs-dir', runsDir, '--data-dir', dataDir]);
    const out = r.out;
    assert.is(r.status, 1, out);
    assert.match(out, /cannot reach Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:1: connect ECONNREFUSED/);
    assert.not.ok(out.includes(PASSWORD), 'the password is not printed');
    assert.equal(readdirSync(runsDir), [], 'no sweep folder');
    const w = runCli(['worker', '--queue', 'redis://127.0.0.1:1', '--data-dir', dataDir]);
    assert.is(w.status, 1);
    assert.match(w.out, /cannot reach Redis at redis:\/\/127\.0\.0\.1:1/);
  });

  test.run();
}

void main();
