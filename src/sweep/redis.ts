import IORedis, { type RedisOptions } from 'ioredis';
import { parseRedisUrl, redactRedisUrl, redactSecrets } from './redisurl';

/**
 * Redis connections for distributed sweeps (BullMQ's queues live in Redis): ioredis clients from a Redis URL as
 * src/sweep/redisurl.ts parses it (TLS for `rediss:` in any letter case, the password from the URL, a file or the
 * environment), and a reachability probe with a clear error. Everything printed goes through that file's redaction.
 */

export { addSecret, checkRedisUrl, parseRedisUrl, redactCommandLine, redactRedisUrl, redactSecrets, type RedisTarget } from './redisurl';

/**
 * ioredis options for a Redis URL: host, port, db, family, user, password and, for rediss (any case), `tls: {}` (TLS
 * with the system's CA certificates, server name = host); `extra` is merged over them.
 * @throws the errors of {@link parseRedisUrl}.
 */
export function redisOptions(url: string, extra: RedisOptions = {}): RedisOptions {
  const t = parseRedisUrl(url);
  return {
    host: t.host,
    port: t.port,
    db: t.db,
    ...(t.family ? { family: t.family } : {}),
    ...(t.username ? { username: t.username } : {}),
    ...(t.password !== undefined ? { password: t.password } : {}),
    ...(t.tls ? { tls: {} } : {}),
    ...extra,
  };
}

/**
 * A new ioredis client for BullMQ (`maxRetriesPerRequest: null`, as BullMQ requires for workers).
 * @param url redis:// or rediss:// (TLS) URL, any scheme case; the password as {@link parseRedisUrl} finds it.
 */
export function redisClient(url: string, extra: RedisOptions = {}): IORedis {
  return new IORedis(redisOptions(url, { maxRetriesPerRequest: null, ...extra }));
}

/**
 * Connects once and sends PING, within `timeoutMs` (default 10 s: a busy machine may take seconds to answer).
 * @throws Error `cannot reach Redis at <redacted url>: <reason>` (connection refused, timeout, authentication, a TLS
 *   handshake that fails, e.g. rediss:// against a plaintext server); the errors of {@link parseRedisUrl}.
 */
export async function assertRedisReachable(url: string, timeoutMs = 10_000): Promise<void> {
  const target = parseRedisUrl(url);
  const client = new IORedis(
    redisOptions(url, {
      lazyConnect: true,
      connectTimeout: timeoutMs,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      enableOfflineQueue: false,
    }),
  );
  let lastError: Error | undefined;
  client.on('error', (e: Error) => (lastError = e)); // the socket's own error (ECONNREFUSED, ...) is the useful one
  try {
    await Promise.race([
      (async () => {
        await client.connect();
        await client.ping();
      })(),
      new Promise((_, reject) => setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs).unref()),
    ]);
  } catch (e) {
    const err = lastError ?? (e as Error);
    const reason = redactSecrets((err.message || String(err)).split(url).join(target.display));
    // a plaintext Redis does not answer a TLS ClientHello at all: say what the silence may mean
    const hint = target.tls && !lastError ? ' (rediss: is TLS; a server without TLS does not answer the TLS handshake)' : '';
    throw new Error(`cannot reach Redis at ${target.display}: ${reason}${hint}`);
  } finally {
    client.disconnect();
  }
}

/** How long (ms) a coordinator waits for a lost Redis to answer again before it stops (FERLAB_QUEUE_LOST_MS). */
export function lostAfterMs(): number {
  const v = Number(process.env.FERLAB_QUEUE_LOST_MS);
  return v > 0 ? v : 60_000;
}

/** A running {@link watchRedis}. */
export interface RedisWatch {
  /** Rejects with `lost the connection to Redis at <redacted url>: ...` once Redis has not answered for `lostMs`. */
  lost: Promise<never>;
  /** Ends the watch (the pending PING, if any, is left to the client). */
  stop: () => void;
}

/**
 * Watches a Redis connection by PING every min(lostMs / 4, 5 s), each answer awaited for at most that long: a server
 * that stopped or became unreachable (no TCP reset needed) shows as PINGs without answer, a restart as the socket
 * closing. ioredis reconnects by itself and BullMQ's calls wait for it, so without this watch a coordinator whose
 * Redis is gone waits forever. Our own code: neither ioredis nor BullMQ says "this connection has been down for N
 * seconds" (ioredis' retryStrategy counts attempts, not time, and ends the client when it gives up).
 * @param client an ioredis client that is not used for blocking commands (a PING behind a BLPOP would wait for it).
 * @param onBack called when a PING is answered after an unanswered one or a closed socket (e.g. Redis restarted: the
 *   caller checks that its jobs survived).
 */
export function watchRedis(client: IORedis, url: string, lostMs: number, onBack: () => void): RedisWatch {
  const every = Math.max(10, Math.min(lostMs / 4, 5000));
  let downSince: number | undefined;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let reject!: (e: Error) => void;
  const lost = new Promise<never>((_, r) => (reject = r));
  lost.catch(() => {}); // a caller that stopped listening must not see an unhandled rejection
  const tick = async (): Promise<void> => {
    const sent = Date.now();
    const answered = await Promise.race([
      client.ping().then(
        () => true,
        () => false,
      ),
      new Promise<boolean>((r) => setTimeout(() => r(false), every).unref()),
    ]);
    if (stopped) return;
    const now = Date.now();
    if (answered) {
      if (downSince !== undefined) {
        downSince = undefined;
        onBack();
      }
    } else {
      downSince ??= sent;
      if (now - downSince >= lostMs) {
        stopped = true;
        reject(
          new Error(
            `lost the connection to Redis at ${redactRedisUrl(url)}: no answer for ${Math.round((now - downSince) / 1000)} s (the limit is ${lostMs / 1000} s, FERLAB_QUEUE_LOST_MS)`,
          ),
        );
        return;
      }
    }
    timer = setTimeout(() => void tick(), Math.max(0, every - (now - sent))).unref();
  };
  // a restart faster than one PING interval shows only as the socket closing: count that as down too
  const closed = () => {
    if (!stopped) downSince ??= Date.now();
  };
  client.on('close', closed);
  timer = setTimeout(() => void tick(), every).unref();
  return {
    lost,
    stop: () => {
      stopped = true;
      client.removeListener('close', closed);
      if (timer) clearTimeout(timer);
    },
  };
}
