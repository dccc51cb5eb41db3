import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, sep } from 'node:path';
import { Worker as Thread } from 'node:worker_threads';
import { Queue, QueueEvents, UnrecoverableError, Worker, type Job } from 'bullmq';
import { z } from 'zod';
import type { BackendChoice } from '../backend/select';
import { isSafeRunName, RunConfigSchema, type RunConfig } from '../exp/config';
import type { RunSummary } from '../exp/run';
import { CHECKPOINT_FILE } from '../exp/status';
import { parseRecord, RecordError } from '../records/io';
import { CONFIG_FILE, runConfigFileSchema } from '../records/run';
import { workerCode, type PoolEvents, type RunQueue } from '../exp/pool';
import type { FromWorker, ToWorker, WorkerInit } from '../exp/worker';
import type { EpochRecord, StepProgress } from '../train/loop';
import { assertRedisReachable, lostAfterMs, redactRedisUrl, redactSecrets, redisClient, watchRedis } from './redis';

/**
 * Sweeps across machines through BullMQ (a job queue on Redis; bullmq + ioredis from npm, Redis from Debian's
 * `redis-server`): the coordinator (`npm run ferlab -- sweep <spec> --queue redis://host:port`) puts each trial on
 * the queue `ferlab-trials` as one job; `npm run ferlab -- worker --queue redis://...` on any machine that has the data
 * takes jobs, trains each in a worker thread (src/exp/worker.ts, as the local pool does) in a temporary folder of its
 * own, and returns the run record (epoch records, metrics, predictions, model files) as the job's result; the
 * coordinator writes it into the sweep folder, so the sweep's records look exactly like a local sweep's.
 *
 * Per-epoch pruning decisions travel as job progress (`epoch` records) and one Redis list per job and epoch that the
 * coordinator answers (`ferlab:decide:<job>:<epoch>`; the worker waits on it with BLPOP). While it trains, a worker
 * also sends its step progress as job progress at most every {@link heartbeatMs} (progress bars, and the coordinator's
 * sign that a worker is alive).
 *
 * Jobs are data, checked before use: anyone who can write to the Redis can queue a job, so a worker validates every
 * job it takes against the run-config schema (src/exp/config.ts RunConfigSchema: a strict schema, safe folder names,
 * every setting in range) before anything touches its disk, refuses `initFrom` (a path on the worker's disk), trains
 * only inside a fresh temporary folder (`<tmp>/ferlab-trial-XXXXXX/<run name>`), and returns only the regular files
 * of that run folder (no symlinks, nothing outside it, at most {@link MAX_RESULT_BYTES} in all). A refused job fails
 * (BullMQ UnrecoverableError, no retry) with the reason, and the worker goes on serving.
 *
 * A worker that dies mid-trial loses little: after every epoch the worker stores the trial's checkpoint (src/train/
 * checkpoint.ts, with the run's config.json) in Redis under `ferlab:checkpoint:<job id>` (a hash; at most
 * {@link MAX_CHECKPOINT_BYTES}, a larger one is not stored and a take-over starts from epoch 1; kept 7 days, deleted
 * when the trial finishes); BullMQ's stalled-job check (its lock is not renewed within `lockDuration`,
 * FERLAB_QUEUE_LOCK_MS, default 30 s) hands the job to another worker, which continues the trial from that checkpoint
 * (the same numbers as an uninterrupted run, as a local `--resume`). The coordinator only ever writes a finished
 * trial's record. Job ids are `<sweep folder>--<run>`, so a coordinator resumed after a crash finds the jobs it had
 * queued (finished ones included) instead of queueing them again.
 *
 * A job that vanishes from Redis while a worker trains it (FLUSHALL, a restart without persistence), or whose lock the
 * worker loses (another worker took it over): the worker stops that trial, logs `abandoned`, and keeps serving.
 *
 * The coordinator, while it waits for jobs:
 * - checks every min(5 s, FERLAB_QUEUE_IDLE_MS / 4) that Redis still holds each of them, and queues a lost one again
 *   under the same id (from its checkpoint when Redis still has it, else from epoch 1);
 * - stops the sweep as `failed` (its trials stay `running` in the journal, `--resume` continues them) when no worker
 *   has made progress (taken a job, sent a step, an epoch or a result) for FERLAB_QUEUE_IDLE_MS (default 15 min,
 *   {@link idleAfterMs}): no worker is alive, or none can reach this Redis;
 * - waits up to FERLAB_QUEUE_LOST_MS (default 60 s, {@link watchRedis}) for a Redis that stops answering (stopped,
 *   restarted, unreachable): when it answers again, every job it no longer holds is queued again; when it does not,
 *   the coordinator stops with `lost the connection to Redis at <url>` and the sweep keeps those trials as `running`,
 *   so `--resume` trains them again. Workers wait for Redis as long as it takes (BullMQ reconnects).
 *
 * Passwords never reach logs or records: URLs are shown through {@link redactRedisUrl}, other text through
 * {@link redactSecrets} (src/sweep/redis.ts).
 */

/** BullMQ queue name of ferlab's trials. */
export const TRIAL_QUEUE = 'ferlab-trials';

/** Most bytes of run-record files a worker returns for one trial (200 MiB; base64 in Redis: about 267 MiB). */
export const MAX_RESULT_BYTES = 200 * 2 ** 20;

/** Most bytes of a checkpoint a worker stores in Redis for a take-over (128 MiB; `deep` needs about 17 MiB). */
export const MAX_CHECKPOINT_BYTES = 128 * 2 ** 20;

/** How long a stored checkpoint stays in Redis without a newer epoch (s): 7 days. */
const CHECKPOINT_TTL_S = 7 * 24 * 3600;

/**
 * What a job carries, as the worker checks it: the sweep folder's name on the coordinator (logs only), the resolved run
 * (src/exp/config.ts RunConfigSchema), and whether the coordinator decides after every epoch (pruning).
 */
export const TrialJobSchema = z.strictObject({
  sweep: z.string().min(1).max(256),
  run: RunConfigSchema,
  decide: z.boolean(),
});
/** What a job carries. */
type TrialJob = z.infer<typeof TrialJobSchema>;

/** What a job returns: the run record's files (base64, paths relative to the run folder) and how it ended. */
interface TrialResult {
  outcome: { done: RunSummary } | { stopped: number } | { failed: { error: string; epoch?: number | null; name?: string } };
  files: Record<string, string>;
  /** The worker that trained it (host name and pid). */
  worker: string;
}

type Progress =
  | { type: 'epoch'; record: EpochRecord }
  /** `attempt`: this training attempt's own id, so that an answer goes to this attempt only (not to an abandoned one). */
  | { type: 'decide'; record: EpochRecord; attempt?: string }
  /** Step progress, sent at most every heartbeatMs: progress bars, and the sign of a live worker. */
  | { type: 'step'; step: StepProgress };

/** Stalled-job timing (ms): the lock a live worker renews, and how often workers look for expired locks. */
function lockMs(): number {
  const v = Number(process.env.FERLAB_QUEUE_LOCK_MS);
  return v > 0 ? v : 30_000;
}

/** How often (ms) a training worker sends step progress: min(10 s, half the lock time). */
export function heartbeatMs(): number {
  return Math.min(10_000, lockMs() / 2);
}

/**
 * How long (ms) a coordinator waits without progress from any worker while it has trials queued or running before it
 * stops the sweep (FERLAB_QUEUE_IDLE_MS, default 15 min). Progress: a worker took a job, or sent a step (every
 * {@link heartbeatMs} while it trains), an epoch or a result. The default leaves room for the silent parts of a trial
 * (a worker loading the data, the final evaluation with test-time augmentation) on slow CPUs.
 */
export function idleAfterMs(): number {
  const v = Number(process.env.FERLAB_QUEUE_IDLE_MS);
  return v > 0 ? v : 15 * 60_000;
}

const decideKey = (jobId: string, epoch: number, attempt?: string) =>
  `ferlab:decide:${jobId}:${epoch}${attempt && /^[0-9a-f]{1,32}$/.test(attempt) ? `:${attempt}` : ''}`;
/** Redis hash of a trial's latest checkpoint: fields `epoch`, `checkpoint.bin`, `config.json`. */
export const checkpointKey = (jobId: string) => `ferlab:checkpoint:${jobId}`;

/**
 * Why a queued job cannot be trained, or undefined when it can. The checks a worker makes before anything touches its
 * disk; the coordinator makes the `initFrom` one before queueing.
 */
function jobProblem(data: unknown): string | undefined {
  const r = TrialJobSchema.safeParse(data);
  if (!r.success) return `not a valid trial job: ${z.prettifyError(r.error).replace(/\n/g, ' ')}`;
  if (r.data.run.initFrom !== null)
    return `run '${r.data.run.name}' sets initFrom (${JSON.stringify(r.data.run.initFrom)}), a model on the worker's disk: queued trials may not read files the worker has`;
  return undefined;
}

/**
 * Checks a job a worker took from Redis (see the module comment).
 * @returns the job's data as validated (the schema's output: the same values, key order included).
 * @throws UnrecoverableError (BullMQ: the job fails without retry) naming the job and every problem.
 */
export function parseTrialJob(id: string | undefined, data: unknown): TrialJob {
  const problem = jobProblem(data);
  if (problem) throw new UnrecoverableError(`job ${id}: refused: ${problem}`);
  return TrialJobSchema.parse(data);
}

/**
 * Coordinator side: trains the runs of `queue` on remote workers, keeping up to `slots` jobs queued or running at a
 * time (as many as there are worker processes is a good value), with the same events as the local pool
 * (src/exp/pool.ts runOnWorkers): the run record of `r` is written to `<dir>/<r.name>` when its job ends.
 * @param init.log where lines about lost and re-queued jobs go (default: none).
 * @throws Error `cannot reach Redis at <url>` (password redacted) when the queue is unreachable, before any job.
 * @throws Error `lost the connection to Redis at <url>: no answer for N s ...` when Redis stops answering for longer
 *   than FERLAB_QUEUE_LOST_MS mid-sweep; records of jobs that ended before are written, nothing else is.
 * @throws Error `no worker has made progress ... for N s (the limit is ... FERLAB_QUEUE_IDLE_MS)` when no worker took
 *   a job or reported for {@link idleAfterMs} while trials were queued or running.
 */
export async function runOnQueue(
  queue: RunQueue,
  slots: number,
  init: { dir: string; url: string; log?: (line: string) => void },
  ev: PoolEvents,
): Promise<void> {
  await assertRedisReachable(init.url);
  const display = redactRedisUrl(init.url);
  const connection = redisClient(init.url);
  const answers = redisClient(init.url);
  const q = new Queue<TrialJob, TrialResult>(TRIAL_QUEUE, { connection });
  const eventsConnection = redisClient(init.url);
  const events = new QueueEvents(TRIAL_QUEUE, { connection: eventsConnection });
  const sweep = basename(init.dir);
  const runs = new Map<string, RunConfig>(); // job id -> run
  const jobData = (run: RunConfig): TrialJob => ({ sweep, run, decide: ev.decide !== undefined });
  const jobOpts = (jobId: string) => ({ jobId, attempts: 1, removeOnComplete: false, removeOnFail: false });
  const idleMs = idleAfterMs();
  let lastProgress = Date.now();
  const touch = (jobId: string) => {
    if (runs.has(jobId)) lastProgress = Date.now();
  };
  events.on('active', ({ jobId }) => touch(jobId));
  events.on('completed', ({ jobId }) => touch(jobId));
  events.on('failed', ({ jobId }) => touch(jobId));
  events.on('progress', ({ jobId, data }) => {
    const run = runs.get(jobId);
    const p = data as Progress;
    if (!run || typeof p !== 'object' || !p) return;
    touch(jobId);
    if (p.type === 'step') ev.onStep(run.name, p.step);
    else if (p.type === 'epoch') ev.onEpoch(run.name, p.record);
    else if (p.type === 'decide') {
      let stop = false;
      try {
        stop = ev.decide?.(run.name, p.record) === 'stop';
      } finally {
        const key = decideKey(jobId, p.record.epoch, p.attempt);
        answers
          .multi()
          .rpush(key, stop ? 'stop' : 'continue')
          .expire(key, 3600)
          .exec()
          .catch(() => {}); // Redis gone: the watch below reports it
      }
    }
  });
  // reported by the calls that fail, or by the watch below when Redis is gone (else BullMQ prints every reconnection error)
  for (const c of [connection, answers, eventsConnection]) c.on('error', () => {});
  q.on('error', () => {});
  events.on('error', () => {});
  await events.waitUntilReady();
  // every awaited job that Redis no longer holds (restarted without persistence, FLUSHALL) is queued again under the
  // same id; waitUntilFinished listens by job id, so the waiting coordinator takes the new job's result. One check at a
  // time, so that a job is queued again once.
  let requeueing: Promise<void> = Promise.resolve();
  const requeueLost = () =>
    (requeueing = requeueing
      .then(async () => {
        for (const [jobId, run] of runs) {
          if (await q.getJob(jobId)) continue;
          if (!runs.has(jobId)) continue; // finished meanwhile
          await q.add('trial', jobData(run), jobOpts(jobId));
          const ck = await answers.exists(checkpointKey(jobId));
          init.log?.(`  ${run.name}: Redis no longer held its job ${jobId}: queued again (the trial starts ${ck ? 'from its checkpoint in Redis' : 'over'})`);
          lastProgress = Date.now();
        }
      })
      .catch((e) => init.log?.(`ferlab: could not check the queued jobs: ${redactSecrets((e as Error).message)}`)));
  const watch = watchRedis(answers, init.url, lostAfterMs(), () => {
    init.log?.(`ferlab: Redis at ${display} answers again`);
    void requeueLost();
  });
  // the monitor: lost jobs, and no progress from any worker for idleMs
  let rejectIdle!: (e: Error) => void;
  const idle = new Promise<never>((_, r) => (rejectIdle = r));
  idle.catch(() => {});
  let checking = false;
  const monitor = setInterval(
    () => {
      if (runs.size === 0) {
        lastProgress = Date.now();
        return;
      }
      const quiet = Date.now() - lastProgress;
      if (quiet >= idleMs) {
        rejectIdle(
          new Error(
            `no worker has made progress on the ${runs.size} queued trial(s) for ${Math.round(quiet / 1000)} s (the limit is ${idleMs / 1000} s, FERLAB_QUEUE_IDLE_MS): no worker is alive, or none reaches ${display}; start workers with npm run ferlab -- worker --queue <url>`,
          ),
        );
        return;
      }
      if (checking) return;
      checking = true;
      void requeueLost().finally(() => (checking = false));
    },
    Math.max(50, Math.min(5000, idleMs / 4)),
  );
  monitor.unref();
  let failed = false;
  try {
    const inFlight = new Set<Promise<void>>();
    const one = async (run: RunConfig): Promise<void> => {
      const jobId = `${sweep}--${run.name}`; // BullMQ job ids may not contain ':'
      const problem = jobProblem(jobData(run));
      if (problem) {
        ev.fail(run.name, problem, null);
        return;
      }
      let job = await q.getJob(jobId);
      if (job && (await job.isFailed())) {
        await job.remove();
        job = undefined;
      }
      job ??= await q.add('trial', jobData(run), jobOpts(jobId));
      if (runs.size === 0) lastProgress = Date.now();
      runs.set(jobId, run); // from here on the monitor looks after the job
      let result: TrialResult;
      try {
        result = (await job.waitUntilFinished(events)) as TrialResult;
      } catch (e) {
        ev.fail(run.name, `queue job ${jobId} failed: ${redactSecrets((e as Error).message)}`, null);
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
      // the finished job stays in Redis so that a resumed coordinator finds it; drop it once its record is written, and
      // the checkpoint of a finished trial (a failed one keeps it: its retry continues from there)
      await job.remove().catch(() => {});
      if (!('failed' in o)) await answers.del(checkpointKey(jobId)).catch(() => {});
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
      await Promise.race([...inFlight, watch.lost, idle]);
    }
  } catch (e) {
    failed = true;
    throw e;
  } finally {
    clearInterval(monitor);
    watch.stop();
    const closing = Promise.allSettled([events.close(), q.close()]);
    // with Redis gone (the usual failure here), BullMQ's close would wait for it: give it a moment, then drop the connections
    await (failed ? Promise.race([closing, new Promise((r) => setTimeout(r, 1000))]) : closing);
    // connections passed to BullMQ stay open on close(): end them here
    for (const c of [connection, answers, eventsConnection]) c.disconnect();
  }
}

/**
 * Whether `rel` is a plain relative path inside a run folder: `/`-separated segments of safe names (no `.`, `..`,
 * empty segment, backslash or absolute path).
 */
function isSafeRelativePath(rel: string): boolean {
  return rel.length > 0 && rel.length < 1024 && rel.split('/').every((seg) => isSafeRunName(seg));
}

/**
 * Writes the files of a returned run record (base64) under `dir`, replacing what is there. Exported for the tests.
 * @throws Error naming a path that is not a plain relative path inside the run folder (nothing is written then).
 */
export function writeRecordFiles(dir: string, files: Record<string, string>): void {
  for (const rel of Object.keys(files))
    if (!isSafeRelativePath(rel)) throw new Error(`run record file ${JSON.stringify(rel)}: not a plain path inside the run folder`);
  rmSync(dir, { recursive: true, force: true });
  for (const [rel, b64] of Object.entries(files)) {
    const p = join(dir, ...rel.split('/'));
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, Buffer.from(b64, 'base64'));
  }
}

/**
 * The regular files under a worker's run folder, checkpoints left out, base64, keyed by `/`-separated relative path.
 * Symlinks and other non-regular entries are skipped (reported through `skipped`), so nothing outside the folder is
 * read. Exported for the tests.
 * @param maxBytes the cap (default {@link MAX_RESULT_BYTES}).
 * @throws Error when the files add up to more than `maxBytes`.
 */
export function readRecordFiles(dir: string, skipped: (rel: string) => void, maxBytes = MAX_RESULT_BYTES): Record<string, string> {
  const out: Record<string, string> = {};
  let total = 0;
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const rel = relative(dir, p).split(sep).join('/');
      const st = lstatSync(p);
      if (st.isDirectory()) walk(p);
      else if (!st.isFile() || !isSafeRelativePath(rel)) skipped(rel);
      else if (!name.startsWith('checkpoint')) {
        total += st.size;
        if (total > maxBytes)
          throw new Error(`the run record in ${dir} holds more than ${maxBytes / 2 ** 20} MiB, the most a worker returns through Redis (MAX_RESULT_BYTES)`);
        out[rel] = readFileSync(p).toString('base64');
      }
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

/** A trial this worker stopped because its job vanished from Redis or its lock went to another worker. */
class TrialAbandoned extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TrialAbandoned';
  }
}

/**
 * Worker side (`npm run ferlab -- worker --queue redis://...`): takes trial jobs until stopped (SIGINT/SIGTERM, or the
 * returned `close()`), validates each (a bad one fails with the reason, see the module comment), trains it in a fresh
 * worker thread in a temporary folder of its own (continuing from the checkpoint Redis holds for the job, if any), and
 * returns its run record. A trial whose job vanishes or whose lock is lost is abandoned with a log line; the worker
 * goes on serving.
 * @throws Error `cannot reach Redis at <url>` (password redacted) when the queue is unreachable.
 */
export async function runQueueWorker(opts: QueueWorkerOptions): Promise<{ close: () => Promise<void>; done: Promise<void> }> {
  const log = opts.log ?? ((l: string) => console.log(l));
  await assertRedisReachable(opts.url);
  const display = redactRedisUrl(opts.url);
  const blocking = redisClient(opts.url);
  const store = redisClient(opts.url); // checkpoints (not BullMQ's connection, not a blocking one)
  const me = `${process.env.HOSTNAME ?? 'host'}:${process.pid}`;
  const lock = lockMs();
  const connection = redisClient(opts.url);
  for (const c of [blocking, store, connection]) c.on('error', () => {}); // BullMQ's own 'error' below reports what matters
  // three parameters: BullMQ then passes an AbortSignal, aborted by worker.cancelJob (lost lock, below)
  const processor = async (job: Job<TrialJob, TrialResult>, _token: string | undefined, signal?: AbortSignal): Promise<TrialResult> => {
    let data: TrialJob;
    try {
      data = parseTrialJob(job.id, job.data);
    } catch (e) {
      log(`worker ${me}: ${redactSecrets((e as Error).message)}`);
      throw e;
    }
    const { run } = data;
    const jobId = job.id!;
    log(`worker ${me}: ${jobId}: training ${run.name} (${run.model}, ${run.labels}, ${run.epochs} epochs)`);
    const dir = mkdtempSync(join(tmpdir(), 'ferlab-trial-'));
    const rdir = join(dir, run.name);
    try {
      if (dirname(rdir) !== dir) throw new UnrecoverableError(`job ${jobId}: run name ${JSON.stringify(run.name)} leaves the worker's folder`);
      const from = await restoreCheckpoint(store, jobId, run, rdir);
      if (from.epoch) log(`worker ${me}: ${jobId}: continues ${run.name} from its checkpoint after epoch ${from.epoch} (from Redis)`);
      else if (from.note) log(`worker ${me}: ${jobId}: ${from.note}`);
      const outcome = await trainInThread(run, rdir, opts, job, data.decide, { blocking, store, signal, log: (l) => log(`worker ${me}: ${jobId}: ${l}`) });
      const files = readRecordFiles(rdir, (rel) => log(`worker ${me}: ${jobId}: not returned (not a regular file): ${rel}`));
      log(
        `worker ${me}: ${jobId}: ${'done' in outcome ? 'complete' : 'stopped' in outcome ? `pruned after epoch ${outcome.stopped}` : `failed: ${outcome.failed.error}`}`,
      );
      return { outcome, files, worker: me };
    } catch (e) {
      if (e instanceof TrialAbandoned) log(`worker ${me}: ${jobId}: trial ${run.name} abandoned: ${e.message}; waiting for the next job`);
      throw e;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  const worker = new Worker<TrialJob, TrialResult>(TRIAL_QUEUE, processor, {
    connection,
    concurrency: opts.concurrency ?? 1,
    lockDuration: lock,
    stalledInterval: lock,
    maxStalledCount: 3,
  });
  // a lock that cannot be renewed: the job vanished or went to another worker; stop training it
  worker.on('lockRenewalFailed', (ids) => {
    for (const id of ids) worker.cancelJob(id, 'the job lost its lock (it vanished from Redis, or another worker took it over)');
  });
  worker.on('error', (e) => log(`worker ${me}: queue error: ${redactSecrets(e.message.split(opts.url).join(display))}`));
  log(`worker ${me}: waiting for trials on ${display} (queue ${TRIAL_QUEUE})`);
  let closed: Promise<void> | undefined;
  const close = () =>
    (closed ??= (async () => {
      await worker.close();
      for (const c of [blocking, store, connection]) c.disconnect();
    })());
  return { close, done: new Promise((resolve) => worker.on('closed', () => resolve())) };
}

/**
 * Puts the checkpoint Redis holds for `jobId` (stored by a worker that trained the job before, see
 * {@link storeCheckpoint}) into the fresh run folder `rdir`, when it belongs to the same run config.
 * @returns the epoch it continues after (0: none), and a note when a stored one was not used.
 */
async function restoreCheckpoint(
  store: ReturnType<typeof redisClient>,
  jobId: string,
  run: RunConfig,
  rdir: string,
): Promise<{ epoch: number; note?: string }> {
  const h = await store.hgetallBuffer(checkpointKey(jobId));
  const ck = h[CHECKPOINT_FILE];
  const config = h[CONFIG_FILE];
  if (!ck) return { epoch: 0 };
  const epoch = Number(h.epoch?.toString());
  const refuse = (why: string) => ({ epoch: 0, note: `the checkpoint in Redis is not used (${why}): the trial starts from epoch 1` });
  if (ck.length > MAX_CHECKPOINT_BYTES || ck.toString('latin1', 0, 8) !== 'FERLABCK') return refuse('not a ferlab checkpoint of an allowed size');
  if (!(Number.isInteger(epoch) && epoch >= 1)) return refuse('no epoch');
  if (config) {
    let stored: unknown;
    try {
      stored = JSON.parse(config.toString('utf8'));
    } catch {
      return refuse('its config.json is not JSON');
    }
    // the run record's config.json (src/records/run.ts), its `run` a resolved run config (src/exp/config.ts)
    let recorded: { run: unknown };
    try {
      recorded = parseRecord(runConfigFileSchema(RunConfigSchema), stored, `${checkpointKey(jobId)} ${CONFIG_FILE}`);
    } catch (e) {
      if (!(e instanceof RecordError)) throw e;
      return refuse(`its config.json is not a run record's: ${e.issues.join('; ')}`);
    }
    if (JSON.stringify(recorded.run) !== JSON.stringify(run)) return refuse('another run config');
  }
  mkdirSync(rdir, { recursive: true });
  writeFileSync(join(rdir, CHECKPOINT_FILE), ck);
  if (config) writeFileSync(join(rdir, CONFIG_FILE), config);
  return { epoch };
}

/**
 * Stores the run folder's checkpoint (after `epoch`) and config.json in Redis for a worker that may take the job over.
 * @returns a note when it is not stored (too large, unreadable).
 */
async function storeCheckpoint(store: ReturnType<typeof redisClient>, jobId: string, rdir: string, epoch: number): Promise<string | undefined> {
  let ck: Buffer;
  let config: Buffer | undefined;
  try {
    ck = readFileSync(join(rdir, CHECKPOINT_FILE));
    config = readFileSync(join(rdir, CONFIG_FILE));
  } catch (e) {
    return `checkpoint after epoch ${epoch} not stored in Redis: ${(e as Error).message}`;
  }
  if (ck.length > MAX_CHECKPOINT_BYTES)
    return `checkpoint after epoch ${epoch} not stored in Redis: ${(ck.length / 2 ** 20).toFixed(1)} MiB, over the ${MAX_CHECKPOINT_BYTES / 2 ** 20} MiB limit (a take-over starts from epoch 1)`;
  const key = checkpointKey(jobId);
  await store
    .multi()
    .del(key)
    .hset(key, { epoch: String(epoch), [CHECKPOINT_FILE]: ck, ...(config ? { [CONFIG_FILE]: config } : {}) })
    .expire(key, CHECKPOINT_TTL_S)
    .exec();
  return undefined;
}

/**
 * Trains `run` into `dir` in a fresh worker thread, relaying steps (at most every heartbeatMs), epochs (after storing
 * the epoch's checkpoint in Redis) and decisions through the job, in order. A progress update that fails (the job
 * vanished from Redis) or an aborted `signal` (the lock was lost) ends the thread and rejects with TrialAbandoned.
 */
function trainInThread(
  run: RunConfig,
  dir: string,
  opts: QueueWorkerOptions,
  job: Job<TrialJob, TrialResult>,
  decide: boolean,
  io: { blocking: ReturnType<typeof redisClient>; store: ReturnType<typeof redisClient>; signal?: AbortSignal; log: (line: string) => void },
): Promise<TrialResult['outcome']> {
  return new Promise((resolve, reject) => {
    const decisions = new SharedArrayBuffer(8);
    const t = new Thread(workerCode(), {
      eval: true,
      workerData: { backend: opts.backend, dataDir: opts.dataDir, cacheDir: opts.cacheDir, decisions } satisfies WorkerInit,
    });
    let outcome: TrialResult['outcome'] | undefined;
    let abandoned: string | undefined;
    const attempt = randomBytes(8).toString('hex');
    const waiting = new Set<ReturnType<typeof redisClient>>(); // BLPOP connections waiting for a decision
    const finish = (o: TrialResult['outcome']) => {
      outcome = o;
      void t.terminate();
    };
    const answer = (stop: boolean) => {
      const a = new Int32Array(decisions);
      Atomics.store(a, 1, stop ? 1 : 0);
      Atomics.store(a, 0, 1);
      Atomics.notify(a, 0);
    };
    const abandon = (why: string) => {
      if (outcome || abandoned) return;
      abandoned = why;
      // terminate() does not interrupt a thread blocked in Atomics.wait (waiting for a per-epoch decision that will
      // never come from a vanished job): wake it first; its folder is deleted with the trial
      answer(true);
      void t.terminate();
      for (const conn of waiting) conn.disconnect(); // its pending BLPOP ends
    };
    const onAbort = () => abandon(String(io.signal?.reason ?? 'cancelled'));
    if (io.signal?.aborted) onAbort();
    io.signal?.addEventListener('abort', onAbort, { once: true });
    // Redis calls about this job, one after another (an epoch's checkpoint before its record, the record before the
    // decision); the first that fails abandons the trial
    let chain: Promise<void> = Promise.resolve();
    const send = (f: () => Promise<void>) => {
      chain = chain.then(async () => {
        if (abandoned) return;
        try {
          await f();
        } catch (e) {
          abandon(`its job is gone from Redis (${redactSecrets((e as Error).message)})`);
        }
      });
      return chain;
    };
    let lastBeat = 0;
    t.on('message', (m: FromWorker) => {
      if (m.type === 'ready') t.postMessage({ type: 'run', run, dir, decide } satisfies ToWorker);
      else if (m.type === 'step') {
        const now = Date.now();
        if (now - lastBeat < heartbeatMs()) return;
        lastBeat = now;
        const { epoch, epochs, step, steps, loss, imagesPerSec } = m;
        void send(() => job.updateProgress({ type: 'step', step: { epoch, epochs, step, steps, loss, imagesPerSec } } satisfies Progress));
      } else if (m.type === 'epoch')
        void send(async () => {
          const note = await storeCheckpoint(io.store, job.id!, dir, m.record.epoch);
          if (note) io.log(note);
          await job.updateProgress({ type: 'epoch', record: m.record } satisfies Progress);
        });
      else if (m.type === 'decide') {
        let sent = false;
        void send(async () => {
          await job.updateProgress({ type: 'decide', record: m.record, attempt } satisfies Progress);
          sent = true;
        }).then(async () => {
          let stop = false;
          try {
            if (sent && !abandoned) {
              // a connection of its own: BLPOP blocks it (concurrent trials of this process wait side by side)
              const conn = io.blocking.duplicate();
              conn.on('error', () => {});
              waiting.add(conn);
              try {
                const r = await conn.blpop(decideKey(job.id!, m.record.epoch, attempt), Math.ceil(lockMs() / 1000) * 20);
                stop = r?.[1] === 'stop';
              } finally {
                waiting.delete(conn);
                conn.disconnect();
              }
            }
          } catch {
            stop = false; // no answer: go on (the coordinator journals the epoch when it sees it)
          } finally {
            answer(stop);
          }
        });
      } else if (m.type === 'done') finish({ done: m.summary });
      else if (m.type === 'stopped') finish({ stopped: m.epoch });
      else if (m.type === 'failed') finish({ failed: { error: m.error, epoch: m.epoch, name: m.name } });
    });
    t.on('error', (e) => reject(e));
    t.on('exit', (code) => {
      io.signal?.removeEventListener('abort', onAbort);
      if (abandoned) return reject(new TrialAbandoned(abandoned));
      // the last epoch's record goes out before the result
      void chain.then(() => {
        if (abandoned) reject(new TrialAbandoned(abandoned));
        else if (outcome) resolve(outcome);
        else reject(new Error(`trial thread exited with code ${code}`));
      });
    });
  });
}
