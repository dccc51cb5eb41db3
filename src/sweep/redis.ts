import IORedis, { type RedisOptions } from 'ioredis';

/**
 * Redis connections for distributed sweeps (BullMQ's queues live in Redis): URL checks, password redaction and a
 * reachability probe with a clear error. URLs as ioredis reads them: `redis://[[user]:password@]host[:port][/db]`,
 * `rediss://...` for TLS (ioredis turns TLS on for the `rediss:` scheme).
 */

/** The URL with any password replaced by `***` (user names are kept): what logs, run records and reports may show. */
export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url.replace(/\/\/([^@/]*):[^@/]*@/, '//$1:***@');
  }
}

/**
 * Validates a Redis URL.
 * @throws Error naming the (redacted) URL when it is not `redis://` or `rediss://` with a host, or has a bad port.
 */
export function checkRedisUrl(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`--queue ${redactRedisUrl(url)}: not a URL (expected redis://[:password@]host[:port] or rediss://... for TLS)`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:')
    throw new Error(`--queue ${redactRedisUrl(url)}: scheme ${u.protocol} is not redis: or rediss: (TLS)`);
  if (!u.hostname) throw new Error(`--queue ${redactRedisUrl(url)}: no host`);
  if (u.port && !(Number(u.port) > 0 && Number(u.port) < 65536)) throw new Error(`--queue ${redactRedisUrl(url)}: bad port ${u.port}`);
  return u;
}

/**
 * A new ioredis client for BullMQ (`maxRetriesPerRequest: null`, as BullMQ requires for workers).
 * @param url redis:// or rediss:// (TLS) URL, password allowed.
 */
export function redisClient(url: string, extra: RedisOptions = {}): IORedis {
  checkRedisUrl(url);
  return new IORedis(url, { maxRetriesPerRequest: null, ...extra });
}

/**
 * Connects once and sends PING, within `timeoutMs`.
 * @throws Error `cannot reach Redis at <redacted url>: <reason>` (connection refused, timeout, authentication).
 */
export async function assertRedisReachable(url: string, timeoutMs = 3000): Promise<void> {
  checkRedisUrl(url);
  const client = new IORedis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
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
    const reason = (err.message || String(err)).split(url).join(redactRedisUrl(url));
    throw new Error(`cannot reach Redis at ${redactRedisUrl(url)}: ${reason}`);
  } finally {
    client.disconnect();
  }
}
