/**
 * Distributed sweeps under hostile or broken conditions, on a real Redis (Debian's redis-server on a free loopback
 * port, no persistence) with real `ferlab worker --queue` processes (stalled-job lock 8 s, each with a TMPDIR of its
 * own so that what it writes can be checked) training `baseline` for 2 epochs on a fixture dataset (192 / 64 / 64
 * images in the real file formats, test/helpers/fixtures.ts; label set fer):
 *
 * - no worker alive: the coordinator stops after FERLAB_QUEUE_IDLE_MS (1.5 s here) with a clear error instead of
 *   waiting forever; the sweep is `failed`, its journal reads, its trial is still `running`;
 * - a job queued straight into Redis whose run name climbs out (`../escaped`) with an invalid label set: refused with
 *   the reason before anything is written (nothing under the worker's TMPDIR), and the worker keeps serving;
 * - FLUSHALL while the worker trains: the worker abandons the trial with a log line and stays alive, the coordinator
 *   notices that Redis lost the job and queues it again, the same worker takes it and the sweep completes;
 * - a worker SIGKILLed after epoch 1: the other worker takes the stalled trial over and continues it from the
 *   checkpoint the first one stored in Redis (epoch 2 only; the coordinator sees epochs 1 and 2 once each).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { DEFAULT_SETTINGS } from '../../src/exp/config';
import { journalPath, readJournal } from '../../src/sweep/journal';
import { TRIAL_QUEUE } from '../../src/sweep/queue';
import { redisClient } from '../../src/sweep/redis';
import { runSweep, type SweepResult } from '../../src/sweep/runner';
import type { SweepSpecInput } from '../../src/sweep/spec';
import { spawnCli } from '../helpers/cli';
import { makeRows, tempDir, writeFixture } from '../helpers/fixtures';
import { noRedisReason, startRedis } from '../helpers/redis';
import { skipFile } from '../helpers/skip';

const spec = (name: string): { spec: SweepSpecInput; quick: { slice: { train: number; val: number; test: number } } } => ({
  spec: {
    name,
    model: 'baseline',
    labels: 'fer',
    base: { epochs: 2 },
    space: { lr: { kind: 'choice', values: [0.002] } },
    objective: { metric: 'accuracy' },
    sampler: { name: 'grid' },
    budget: { trials: 1 },
    seed: 5,
  },
  quick: { slice: { train: 192, val: 64, test: 64 } },
});

/** Polls `ok` every 100 ms. @throws Error naming `what` after `ms`. */
async function waitFor(ok: () => boolean | Promise<boolean>, what: string, ms = 600_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** `p`, or a rejection naming `what` after `ms` (today's coordinator waited forever). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  const timeout = new Promise<T>((_, reject) => {
    setTimeout(() => reject(new Error(`${what}: no result within ${ms / 1000} s`)), ms).unref();
  });
  return Promise.race([p, timeout]);
}

interface WorkerProc {
  proc: ChildProcess;
  tmp: string;
  log: () => string;
}

async function main(): Promise<void> {
  const why = noRedisReason();
  if (why) {
    skipFile(why);
    test.run();
    return;
  }
  const dataDir = writeFixture(makeRows({ train: 192, val: 64, test: 64 }, 7));
  const redis = await startRedis();
  const cacheDir = tempDir('ferlab-hardening-cache-');
  const workers: WorkerProc[] = [];
  const startWorker = (): WorkerProc => {
    const tmp = tempDir('ferlab-hardening-tmp-');
    const proc = spawnCli(['worker', '--queue', redis.url, '--data-dir', dataDir, '--backend', 'wasm'], {
      env: { FERLAB_QUEUE_LOCK_MS: '8000', TMPDIR: tmp, FERLAB_CACHE_DIR: cacheDir },
    });
    let out = '';
    proc.stdout!.on('data', (d) => (out += d));
    proc.stderr!.on('data', (d) => (out += d));
    const w = { proc, tmp, log: () => out };
    workers.push(w);
    return w;
  };
  const sweepOpts = (over: Record<string, unknown> = {}) => ({ quick: true, workers: 1, queue: redis.url, runsDir: tempDir(), ...over });
  const lastStates = (dir: string) => {
    const states = new Map<number, string>();
    for (const e of readJournal(journalPath(dir)).events) if (e.event === 'state') states.set(e.trial, e.state);
    return [...states.entries()];
  };

  test('no worker alive: the coordinator stops after FERLAB_QUEUE_IDLE_MS, the sweep is failed, the journal reads', async () => {
    const before = process.env.FERLAB_QUEUE_IDLE_MS;
    process.env.FERLAB_QUEUE_IDLE_MS = '1500';
    const runsDir = tempDir();
    const own = await startRedis(); // its job stays queued: a Redis of its own, so that no later worker takes it
    let error: Error | undefined;
    const t0 = Date.now();
    try {
      await within(
        runSweep(spec('idle-sweep'), sweepOpts({ queue: own.url, runsDir, log: () => {} })).catch((e: Error) => {
          error = e;
        }),
        60_000,
        'the coordinator with no worker',
      );
    } finally {
      if (before === undefined) delete process.env.FERLAB_QUEUE_IDLE_MS;
      else process.env.FERLAB_QUEUE_IDLE_MS = before;
      await own.stop();
    }
    assert.ok(error, 'the sweep fails instead of waiting forever');
    assert.match(error!.message, /no worker has made progress on the 1 queued trial\(s\) for \d+ s \(the limit is 1\.5 s, FERLAB_QUEUE_IDLE_MS\)/);
    assert.match(error!.message, /sweep --resume /);
    assert.ok(Date.now() - t0 >= 1500);
    const dir = join(runsDir, readdirSync(runsDir)[0]);
    assert.is(JSON.parse(readFileSync(join(dir, 'sweep.json'), 'utf8')).state, 'failed');
    assert.equal(lastStates(dir), [[0, 'running']], 'the trial is still running in the journal (--resume continues it)');
  });

  test('a queued job whose run name climbs out (../escaped): refused before anything is written, the worker keeps serving', async () => {
    const w = startWorker();
    await waitFor(() => w.log().includes('waiting for trials'), 'the worker');
    const connection = redisClient(redis.url);
    const q = new Queue(TRIAL_QUEUE, { connection });
    try {
      const run = {
        ...DEFAULT_SETTINGS,
        experiment: 'evil',
        name: '../escaped',
        model: 'baseline',
        labels: 'bogus',
        slice: { train: 256, val: 128, test: 128 },
      };
      const job = await q.add('trial', { sweep: 'evil', run, decide: false }, { jobId: 'evil-1', attempts: 3 });
      await waitFor(async () => ['failed', 'completed'].includes(await job.getState()), 'the job to end', 600_000);
      const ended = (await q.getJob('evil-1'))!;
      assert.is(await ended.getState(), 'failed');
      assert.match(ended.failedReason, /job evil-1: refused: not a valid trial job: .*run\.name/);
      assert.match(ended.failedReason, /run\.labels/);
      assert.is(ended.attemptsMade, 1, 'not retried');
      assert.match(w.log(), /job evil-1: refused/);
      assert.not.ok(existsSync(join(w.tmp, 'escaped')), 'nothing written where ../escaped points');
      // tsx keeps its compile cache in TMPDIR (tsx-<uid>); nothing else may be there
      assert.equal(
        readdirSync(w.tmp).filter((f) => !f.startsWith('tsx-')),
        [],
        "nothing under the worker's TMPDIR",
      );
      assert.is(w.proc.exitCode, null, 'the worker is alive');
    } finally {
      await q.close();
      connection.disconnect();
    }
  });

  test('FLUSHALL mid-trial: the worker abandons the trial and lives; the coordinator queues the job again; the same worker completes it', async () => {
    const w = workers[0];
    const logs: string[] = [];
    let flushed = false;
    const result: SweepResult = await within(
      runSweep(
        spec('flush-sweep'),
        sweepOpts({
          log: (l: string) => logs.push(l),
          onEpoch: (_run: string, r: { epoch: number }) => {
            if (flushed || r.epoch !== 1) return;
            flushed = true;
            spawnSync('redis-cli', ['-p', String(redis.port), 'flushall']);
          },
        }),
      ),
      900_000,
      'the sweep after FLUSHALL',
    );
    assert.ok(flushed, `no epoch 1 was reported:\n${logs.join('\n')}\n${w.log()}`);
    assert.match(w.log(), /trial trial-0000 abandoned: .*; waiting for the next job/);
    assert.ok(
      logs.some((l) => /trial-0000: Redis no longer held its job .*queued again/.test(l)),
      logs.join('\n'),
    );
    assert.is(w.log().match(/training trial-0000 /g)?.length, 2, 'the worker took the job queued again');
    assert.is(w.proc.exitCode, null, 'the worker is alive');
    assert.is(result.trials[0].state, 'complete');
    assert.is(result.trials[0].epochs, 2);
  });

  test('a worker SIGKILLed after epoch 1: the other worker continues the stalled trial from the checkpoint in Redis', async () => {
    const b = startWorker();
    await waitFor(() => b.log().includes('waiting for trials'), 'the second worker');
    const epochs: number[] = [];
    let killed: WorkerProc | undefined;
    const result = await within(
      runSweep(
        spec('takeover-sweep'),
        sweepOpts({
          log: () => {},
          onEpoch: (_run: string, r: { epoch: number }) => {
            epochs.push(r.epoch);
            if (killed) return;
            killed = workers.find((x) => x.proc.exitCode === null && /takeover-sweep-quick-\S*--trial-0000: training trial-0000 /.test(x.log()));
            killed?.proc.kill('SIGKILL');
          },
        }),
      ),
      900_000,
      'the sweep after the SIGKILL',
    );
    assert.ok(killed, `a worker was killed after epoch 1:\n${workers.map((x) => x.log()).join('\n')}`);
    const other = workers.find((x) => x !== killed && x.proc.exitCode === null)!;
    assert.match(other.log(), /takeover-sweep-quick-\S*--trial-0000: continues trial-0000 from its checkpoint after epoch 1 \(from Redis\)/);
    assert.equal(epochs, [1, 2], 'epoch 1 is not trained again');
    assert.is(result.trials[0].state, 'complete');
    assert.is(result.trials[0].epochs, 2);
    const history = readFileSync(join(result.dir, 'trial-0000', 'epochs.jsonl'), 'utf8')
      .trim()
      .split('\n');
    assert.equal(
      history.map((l) => JSON.parse(l).epoch),
      [1, 2],
    );
  });

  test('cleanup', async () => {
    for (const w of workers) w.proc.kill('SIGKILL');
    await redis.stop();
  });

  test.run();
}

void main();
