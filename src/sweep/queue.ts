import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { Worker as Thread } from 'node:worker_threads';
import { Queue, QueueEvents, Worker, type Job } from 'bullmq';
import type { BackendChoice } from '../backend/select';
import type { RunConfig } from '../exp/config';
import type { RunSummary } from '../exp/run';
import { workerCode, type PoolEvents, type RunQueue } from '../exp/study';
import type { FromWorker, ToWorker, WorkerInit } from '../exp/worker';
import type { EpochRecord } from '../train/loop';
import { assertRedisReachable, lostAfterMs, redactRedisUrl, redisClient, watchRedis } from './redis';

/**
 * Sweeps across machines through BullMQ (a job queue on Redis; bullmq + ioredis from npm, Redis from Debian's
 * `redis-server`): the coordinator (`npm run ferlab -- sweep <spec> --queue redis://host:port`) puts each trial on
 * the queue `ferlab-trials` as one job; `npm run ferlab -- worker --queue redis://...` on any machine that has the data
 * takes jobs, trains each in a worker thread (src/exp/worker.ts, as the local pool does) in a temporary folder, and
 * returns the whole run record (epoch records, metrics, predictions, model files) as the job's result; the
 * coordinator writes it into the sweep folder, so the sweep's records look exactly like a local sweep's.
 *
 * Per-epoch pruning decisions travel as job progress (`epoch` records) and one Redis list per job and epoch that the
 * coordinator answers (`ferlab:decide:<job>:<epoch>`; the worker waits on it with BLPOP).
 *
 * A worker that dies mid-trial loses nothing: BullMQ's stalled-job check (its lock is not renewed within
 * `lockDuration`) hands the job to another worker, which restarts the trial from its first epoch (same seed, so the
 * same result); the coordinator only ever writes a finished trial's record. Job ids are `<sweep folder>--<run>`, so a
 * coordinator resumed after a crash finds the jobs it had queued (finished ones included) instead of queueing them
 * again.
 *
 * A coordinator whose Redis stops answering (stopped, restarted, unreachable) waits up to FERLAB_QUEUE_LOST_MS (default
 * 60 s, {@link watchRedis}) for it: when it answers again, every job the coordinator waits for that Redis no longer
 * holds (a restart without persistence) is queued again under the same id (the trial restarts from its first epoch,
 * same seed, same result); when it does not, the coordinator stops with `lost the connection to Redis at <url>` and
 * the sweep keeps those trials as `running`, so `--resume` trains them again. Workers wait for Redis as long as it
 * takes (BullMQ reconnects).
 *
 * Passwords in URLs (`redis://:pw@host`) never reach logs or records: everything ferlab prints goes through
 * {@link redactRedisUrl}.
 */

/** BullMQ queue name of ferlab's trials. */
export const TRIAL_QUEUE = 'ferlab-trials';

/** What a job carries. */
interface TrialJob {
  /** The sweep folder's name on the coordinator (job ids, logs). */
  sweep: string;
  run: RunConfig;
  /** Whether the coordinator decides after every epoch (pruning). */
  decide: boolean;
}

/** What a job returns: the run record's files (base64, paths relative to the run folder) and how it ended. */
interface TrialResult {
  outcome: { done: RunSummary } | { stopped: number } | { failed: { error: string; epoch?: number | null; name?: string } };
  files: Record<string, string>;
  /** The worker that trained it (host name and pid). */
  worker: string;
}

type Progress = { type: 'epoch'; record: EpochRecord } | { type: 'decide'; record: EpochRecord };

/** Stalled-job timing (ms): the lock a live worker renews, and how often workers look for expired locks. */
function lockMs(): number {
  const v = Number(process.env.FERLAB_QUEUE_LOCK_MS);
  return v > 0 ? v : 30_000;
}

const decideKey = (jobId: string, epoch: number) => `ferlab:decide:${jobId}:${epoch}`;

/**
 * Coordinator side: trains the runs of `queue` on remote workers, keeping up to `slots` jobs queued or running at a
 * time (as many as there are worker processes is a good value), with the same events as the local pool
 * (src/exp/study.ts runOnWorkers): the run record of `r` is written to `<dir>/<r.name>` when its job ends.
 * @param init.log where lines about lost and re-queued jobs go (default: none).
 * @throws Error `cannot reach Redis at <url>` (password redacted) when the queue is unreachable, before any job.
 * @throws Error `lost the connection to Redis at <url>: no answer for N s ...` when Redis stops answering for longer
 *   than FERLAB_QUEUE_LOST_MS mid-sweep; records of jobs that ended before are written, nothing else is.
 */
export async function runOnQueue(
  queue: RunQueue,
  slots: number,
  init: { dir: string; url: string; log?: (line: string) => void },
  ev: PoolEvents,
): Promise<void> {
  await assertRedisReachable(init.url);
  const connection = redisClient(init.url);
  const answers = redisClient(init.url);
  const q = new Queue<TrialJob, TrialResult>(TRIAL_QUEUE, { connection });
  const eventsConnection = redisClient(init.url);
  const events = new QueueEvents(TRIAL_QUEUE, { connection: eventsConnection });
  const sweep = basename(init.dir);
  const runs = new Map<string, RunConfig>(); // job id -> run
  const jobData = (run: RunConfig): TrialJob => ({ sweep, run, decide: ev.decide !== undefined });
  const jobOpts = (jobId: string) => ({ jobId, attempts: 1, removeOnComplete: false, removeOnFail: false });
  events.on('progress', ({ jobId, data }) => {
    const run = runs.get(jobId);
    const p = data as Progress;
    if (!run || typeof p !== 'object' || !p) return;
    if (p.type === 'epoch') ev.onEpoch(run.name, p.record);
    else if (p.type === 'decide') {
      let stop = false;
      try {
        stop = ev.decide?.(run.name, p.record) === 'stop';
      } finally {
        const key = decideKey(jobId, p.record.epoch);
        void answers
          .multi()
          .rpush(key, stop ? 'stop' : 'continue')
          .expire(key, 3600)
          .exec();
      }
    }
  });
  // reported by the calls that fail, or by the watch below when Redis is gone (else BullMQ prints every reconnection error)
  for (const c of [connection, answers, eventsConnection]) c.on('error', () => {});
  q.on('error', () => {});
  events.on('error', () => {});
  await events.waitUntilReady();
  // Redis back after answering no PINGs: queue again every awaited job it no longer holds (restarted without
  // persistence); waitUntilFinished listens by job id, so the waiting coordinator takes the new job's result
  const requeueLost = async () => {
    for (const [jobId, run] of runs) {
      if (await q.getJob(jobId)) continue;
      await q.add('trial', jobData(run), jobOpts(jobId));
      init.log?.(`  ${run.name}: Redis no longer held its job ${jobId}: queued again (the trial starts over)`);
    }
  };
  const watch = watchRedis(answers, init.url, lostAfterMs(), () => {
    init.log?.(`ferlab: Redis at ${redactRedisUrl(init.url)} answers again`);
    requeueLost().catch((e) => init.log?.(`ferlab: could not check the queued jobs after Redis came back: ${(e as Error).message}`));
  });
  let failed = false;
  try {
    const inFlight = new Set<Promise<void>>();
    const one = async (run: RunConfig): Promise<void> => {
      const jobId = `${sweep}--${run.name}`; // BullMQ job ids may not contain ':'
      runs.set(jobId, run);
      let job = await q.getJob(jobId);
      if (job && (await job.isFailed())) {
        await job.remove();
        job = undefined;
      }
      job ??= await q.add('trial', jobData(run), jobOpts(jobId));
      let result: TrialResult;
      try {
        result = (await job.waitUntilFinished(events)) as TrialResult;
      } catch (e) {
        ev.fail(run.name, `queue job ${jobId} failed: ${(e as Error).message}`, null);
        return;
      } finally {
        runs.delete(jobId);
      }
      const rdir = join(init.dir, run.name);
      writeRecordFiles(rdir, result.files);
      const o = result.outcome;
      if ('done' in o) ev.done({ ...o.done, dir: rdir });
      else if ('stopped' in o) ev.stopped?.(run.name, o.stopped);
      else ev.fail(run.name, o.failed.error, o.failed.epoch, o.failed.name);
      // the finished job stays in Redis so that a resumed coordinator finds it; drop it once its record is written
      await job.remove().catch(() => {});
    };
    for (;;) {
      while (inFlight.size < Math.max(1, slots)) {
        const run = queue.next();
        if (!run) break;
        const p = one(run).finally(() => inFlight.delete(p));
        inFlight.add(p);
      }
      if (inFlight.size === 0) {
        if (!queue.more()) break;
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      await Promise.race([...inFlight, watch.lost]);
    }
  } catch (e) {
    failed = true;
    throw e;
  } finally {
    watch.stop();
    const closing = Promise.allSettled([events.close(), q.close()]);
    // with Redis gone (the usual failure here), BullMQ's close would wait for it: give it a moment, then drop the connections
    await (failed ? Promise.race([closing, new Promise((r) => setTimeout(r, 1000))]) : closing);
    // connections passed to BullMQ stay open on close(): end them here
    for (const c of [connection, answers, eventsConnection]) c.disconnect();
  }
}

/** Writes the files of a returned run record (base64) under `dir`, replacing what is there. */
function writeRecordFiles(dir: string, files: Record<string, string>): void {
  rmSync(dir, { recursive: true, force: true });
  for (const [rel, b64] of Object.entries(files)) {
    if (rel.includes('..')) throw new Error(`run record file ${rel}: a path outside the run folder`);
    const p = join(dir, rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, Buffer.from(b64, 'base64'));
  }
}

/** Every file under `dir` but checkpoints, base64, keyed by relative path. */
function readRecordFiles(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (!name.startsWith('checkpoint')) out[relative(dir, p)] = readFileSync(p).toString('base64');
    }
  };
  walk(dir);
  return out;
}

/** Options of {@link runQueueWorker}. */
export interface QueueWorkerOptions {
  url: string;
  dataDir: string;
  cacheDir: string | false;
  backend: BackendChoice;
  /** Trials trained at the same time by this process (default 1; one per core at most makes sense). */
  concurrency?: number;
  log?: (line: string) => void;
}

/**
 * Worker side (`npm run ferlab -- worker --queue redis://...`): takes trial jobs until stopped (SIGINT/SIGTERM, or the
 * returned `close()`), trains each in a fresh worker thread in a temporary folder, and returns its run record.
 * @throws Error `cannot reach Redis at <url>` (password redacted) when the queue is unreachable.
 */
export async function runQueueWorker(opts: QueueWorkerOptions): Promise<{ close: () => Promise<void>; done: Promise<void> }> {
  const log = opts.log ?? ((l: string) => console.log(l));
  await assertRedisReachable(opts.url);
  const blocking = redisClient(opts.url);
  const me = `${process.env.HOSTNAME ?? 'host'}:${process.pid}`;
  const lock = lockMs();
  const connection = redisClient(opts.url);
  const worker = new Worker<TrialJob, TrialResult>(
    TRIAL_QUEUE,
    async (job: Job<TrialJob, TrialResult>) => {
      const { run } = job.data;
      log(`worker ${me}: ${job.id}: training ${run.name} (${run.model}, ${run.labels}, ${run.epochs} epochs)`);
      const dir = mkdtempSync(join(tmpdir(), 'ferlab-trial-'));
      try {
        const outcome = await trainInThread(run, join(dir, run.name), opts, job, blocking);
        const files = readRecordFiles(join(dir, run.name));
        log(
          `worker ${me}: ${job.id}: ${'done' in outcome ? 'complete' : 'stopped' in outcome ? `pruned after epoch ${outcome.stopped}` : `failed: ${outcome.failed.error}`}`,
        );
        return { outcome, files, worker: me };
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    { connection, concurrency: opts.concurrency ?? 1, lockDuration: lock, stalledInterval: lock, maxStalledCount: 3 },
  );
  worker.on('error', (e) => log(`worker ${me}: queue error: ${e.message.split(opts.url).join(redactRedisUrl(opts.url))}`));
  log(`worker ${me}: waiting for trials on ${redactRedisUrl(opts.url)} (queue ${TRIAL_QUEUE})`);
  let closed: Promise<void> | undefined;
  const close = () =>
    (closed ??= (async () => {
      await worker.close();
      blocking.disconnect();
      connection.disconnect();
    })());
  return { close, done: new Promise((resolve) => worker.on('closed', () => resolve())) };
}

/** Trains `run` into `dir` in a fresh worker thread, relaying epochs and decisions through the job. */
function trainInThread(
  run: RunConfig,
  dir: string,
  opts: QueueWorkerOptions,
  job: Job<TrialJob, TrialResult>,
  blocking: ReturnType<typeof redisClient>,
): Promise<TrialResult['outcome']> {
  return new Promise((resolve, reject) => {
    const decisions = new SharedArrayBuffer(8);
    const t = new Thread(workerCode(), {
      eval: true,
      workerData: { backend: opts.backend, dataDir: opts.dataDir, cacheDir: opts.cacheDir, decisions } satisfies WorkerInit,
    });
    let outcome: TrialResult['outcome'] | undefined;
    const finish = (o: TrialResult['outcome']) => {
      outcome = o;
      void t.terminate();
    };
    t.on('message', (m: FromWorker) => {
      if (m.type === 'ready') t.postMessage({ type: 'run', run, dir, decide: job.data.decide } satisfies ToWorker);
      else if (m.type === 'epoch') void job.updateProgress({ type: 'epoch', record: m.record } satisfies Progress);
      else if (m.type === 'decide') {
        void (async () => {
          let stop = false;
          try {
            await job.updateProgress({ type: 'decide', record: m.record } satisfies Progress);
            // a connection of its own: BLPOP blocks it (concurrent trials of this process wait side by side)
            const conn = blocking.duplicate();
            try {
              const r = await conn.blpop(decideKey(job.id!, m.record.epoch), Math.ceil(lockMs() / 1000) * 20);
              stop = r?.[1] === 'stop';
            } finally {
              conn.disconnect();
            }
          } finally {
            const a = new Int32Array(decisions);
            Atomics.store(a, 1, stop ? 1 : 0);
            Atomics.store(a, 0, 1);
            Atomics.notify(a, 0);
          }
        })();
      } else if (m.type === 'done') finish({ done: m.summary });
      else if (m.type === 'stopped') finish({ stopped: m.epoch });
      else if (m.type === 'failed') finish({ failed: { error: m.error, epoch: m.epoch, name: m.name } });
    });
    t.on('error', (e) => reject(e));
    t.on('exit', (code) => (outcome ? resolve(outcome) : reject(new Error(`trial thread exited with code ${code}`))));
  });
}
