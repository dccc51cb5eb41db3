import { readFileSync } from 'node:fs';

/**
 * Redis URLs for distributed sweeps: the one parser, the one redaction of passwords, the password sources. No ioredis
 * here, so that any module (the CLI's error printer, src/cli/main.ts) can redact without loading a Redis client;
 * connections are in src/sweep/redis.ts.
 *
 * URLs: `redis://[[user]:password@]host[:port][/db]`, `rediss://...` for TLS. The scheme is case-insensitive
 * (`REDISS://` is TLS too: ferlab parses the URL itself and hands ioredis explicit options, `tls: {}` for rediss,
 * because ioredis turns TLS on only for a lower-case `rediss://` prefix and would otherwise talk plaintext). Query
 * parameters: `password`, `db`, `family` (4 or 6); any other is an error (ioredis would take any query parameter as a
 * connection option, `tls` included). A password in a URL must be percent-encoded when it holds `/ ? # % @` or a
 * space (`%2F`, ...); better, keep it off the URL (and off the command line, where `ps` shows it):
 * - `FERLAB_REDIS_PASSWORD_FILE=<file>` or `--redis-password-file <file>` (the CLI option sets that variable): the
 *   file's content, one trailing newline dropped;
 * - `FERLAB_REDIS_PASSWORD=<password>`.
 * Two sources at once (a URL password and a variable, or both variables) are an error, so that no password is used
 * silently instead of another.
 *
 * Redaction: what ferlab prints or records about a URL is {@link redactRedisUrl}'s rebuilt form (scheme, user, `***`
 * for the password, host, port, db), never the string as given; free text (error messages, command lines) goes
 * through {@link redactSecrets}, which also replaces every password this process has parsed, in any encoding.
 */

/** Redis's default port. */
const DEFAULT_PORT = 6379;

/** Query parameters a ferlab Redis URL may carry. */
const QUERY_KEYS = ['password', 'db', 'family'] as const;

/** A parsed Redis URL: what the connection uses, and what may be shown. */
export interface RedisTarget {
  /** The URL as logs, records and errors show it: scheme lower-cased, password `***` (see {@link redactRedisUrl}). */
  display: string;
  /** True for `rediss:` in any letter case. */
  tls: boolean;
  host: string;
  port: number;
  db: number;
  family?: 4 | 6;
  username?: string;
  password?: string;
  /** Where the password came from (`the URL`, `FERLAB_REDIS_PASSWORD`, `FERLAB_REDIS_PASSWORD_FILE <file>`), if any. */
  passwordSource?: string;
}

/** Passwords seen by {@link parseRedisUrl} in this process (and their encoded forms): {@link redactSecrets} hides them. */
const secrets = new Set<string>();

/** Registers a secret (and its percent-encoded forms) for {@link redactSecrets}; shorter than 3 characters: ignored. */
export function addSecret(secret: string | undefined): void {
  if (!secret || secret.length < 3) return;
  for (const s of [secret, encodeURIComponent(secret), encodeURI(secret), secret.replace(/ /g, '%20')]) secrets.add(s);
}

/** The parts of a Redis URL without any password source but the URL itself. @throws Error naming the problem. */
interface UrlParts {
  scheme: 'redis' | 'rediss';
  host: string;
  /** The port as written ('' when absent). */
  port: string;
  db: number;
  family?: 4 | 6;
  username: string;
  password: string;
  /** Where the URL's password was: userinfo or the query. */
  passwordIn?: 'userinfo' | 'query';
  /** Raw (still encoded) password text, for redaction. */
  rawPassword?: string;
}

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//;

/** Display form of URL parts (the password never appears). */
function displayOf(p: Pick<UrlParts, 'scheme' | 'host' | 'port' | 'db' | 'username' | 'password' | 'passwordIn' | 'family'>): string {
  const userinfo = p.username || p.passwordIn === 'userinfo' ? `${encodeURIComponent(p.username)}${p.passwordIn === 'userinfo' ? ':***' : ''}@` : '';
  const host = p.host.includes(':') ? `[${p.host}]` : p.host;
  const query = [p.passwordIn === 'query' ? 'password=***' : '', p.family ? `family=${p.family}` : ''].filter(Boolean).join('&');
  return `${p.scheme}://${userinfo}${host}${p.port ? `:${p.port}` : ''}${p.db ? `/${p.db}` : ''}${query ? `?${query}` : ''}`;
}

/**
 * Parses a Redis URL's structure (no password variables). Errors name the URL in its display form only.
 * @throws Error for an unknown scheme, an unparseable URL, no host, a bad port, db or family, an unknown query
 *   parameter, a password both in userinfo and query.
 */
function parseParts(url: string): UrlParts {
  const m = SCHEME.exec(url);
  const show = () => unparsedDisplay(url);
  const usage = 'expected redis://[user[:password]@]host[:port][/db], or rediss://... for TLS';
  if (!m) throw new Error(`--queue ${show()}: not a Redis URL (${usage})`);
  const scheme = m[1].toLowerCase();
  if (scheme !== 'redis' && scheme !== 'rediss') throw new Error(`--queue ${show()}: scheme ${scheme}: is not redis: or rediss: (TLS)`);
  let u: URL;
  try {
    u = new URL(scheme + url.slice(m[1].length));
  } catch {
    throw new Error(
      `--queue ${show()}: not a valid URL (${usage}; a password holding / ? # % @ or spaces must be percent-encoded, or given with FERLAB_REDIS_PASSWORD_FILE / --redis-password-file or FERLAB_REDIS_PASSWORD instead)`,
    );
  }
  const decode = (s: string, what: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      throw new Error(`--queue ${show()}: the ${what} is not valid percent-encoding`);
    }
  };
  const parts: UrlParts = {
    scheme: scheme as UrlParts['scheme'],
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port,
    db: 0,
    username: decode(u.username, 'user name'),
    password: decode(u.password, 'password'),
  };
  if (u.password) {
    parts.passwordIn = 'userinfo';
    parts.rawPassword = u.password;
  }
  for (const [k, v] of u.searchParams) {
    if (k === 'password') {
      if (parts.passwordIn) throw new Error(`--queue ${displayOf(parts)}: a password both before the host and in ?password=`);
      parts.passwordIn = 'query';
      parts.password = v;
      parts.rawPassword = encodeURIComponent(v);
      addSecret(v);
    }
  }
  addSecret(parts.password);
  addSecret(parts.rawPassword);
  for (const [k, v] of u.searchParams) {
    if (k === 'password') continue;
    if (!(QUERY_KEYS as readonly string[]).includes(k))
      throw new Error(`--queue ${displayOf(parts)}: unknown query parameter '${k}' (a ferlab Redis URL accepts ${QUERY_KEYS.join(', ')})`);
    if (k === 'family') {
      if (v !== '4' && v !== '6') throw new Error(`--queue ${displayOf(parts)}: family=${v} is not 4 or 6`);
      parts.family = Number(v) as 4 | 6;
    }
  }
  if (!parts.host) throw new Error(`--queue ${displayOf(parts)}: no host`);
  if (parts.port && !(Number(parts.port) > 0 && Number(parts.port) < 65536)) throw new Error(`--queue ${displayOf(parts)}: bad port ${parts.port}`);
  const path = u.pathname.replace(/^\//, '');
  const dbText = u.searchParams.get('db');
  if (path && dbText !== null) throw new Error(`--queue ${displayOf(parts)}: the database number both in the path and in ?db=`);
  const db = path || dbText || '0';
  if (!/^\d{1,5}$/.test(db)) throw new Error(`--queue ${displayOf(parts)}: database '${db}' is not a number`);
  parts.db = Number(db);
  return parts;
}

/**
 * The URL as logs, run records, sweep.json and errors may show it: rebuilt from its parsed parts with the scheme
 * lower-cased and the password (userinfo or `?password=`) as `***`; user names are kept. A URL that does not parse is
 * shown as `<scheme>://***` plus, when it has an `@`, what follows the last `@` up to any `?` (a password may be
 * anywhere before it). Never throws.
 */
export function redactRedisUrl(url: string): string {
  try {
    return displayOf(parseParts(url));
  } catch {
    return unparsedDisplay(url);
  }
}

/** How a URL that does not parse is shown: `<scheme>://***[@<after the last @, up to ? or #>]`. */
function unparsedDisplay(url: string): string {
  const m = SCHEME.exec(url);
  const scheme = m ? m[1].toLowerCase() : '';
  const at = url.lastIndexOf('@');
  const tail = at >= 0 ? url.slice(at + 1).split(/[?#]/)[0] : '';
  return redactKnown(`${scheme ? `${scheme}://` : ''}***${at >= 0 ? `@${tail}` : ''}`);
}

/** Replaces every registered secret in `text` by `***`, longest first. */
function redactKnown(text: string): string {
  let out = text;
  for (const s of [...secrets].sort((a, b) => b.length - a.length)) out = out.split(s).join('***');
  return out;
}

/**
 * The one redaction of free text (log lines, error messages, command lines): every password this process has parsed
 * (URL, `?password=`, FERLAB_REDIS_PASSWORD, the password file), raw or percent-encoded, is replaced by `***`, and
 * every `redis://` / `rediss://` URL in it (any letter case, up to the next white space or quote) by
 * {@link redactRedisUrl}'s form. A password this process never parsed that holds white space can only be redacted up
 * to that space: URLs in text should have gone through {@link redactRedisUrl} whole first.
 */
export function redactSecrets(text: string): string {
  // known secrets first: a password with a space would otherwise be cut in two by the URL pattern
  // a URL ends before trailing punctuation (`at redis://h:1: refused`); a URL already shown redacted stays as it is
  return redactKnown(
    redactKnown(text).replace(/rediss?:\/\/[^\s"'`]*/gi, (m) => {
      const [, u, tail] = /^(.*?)([:.,;)\]]*)$/s.exec(m)!;
      return redactRedisUrl(u) + tail;
    }),
  );
}

/**
 * A command line as it may be recorded (sweep.json `command`): each argument through {@link redactSecrets}; an
 * argument that is a Redis URL (any letter case), the value of `--queue` (separate or `--queue=...`) is redacted whole
 * with {@link redactRedisUrl}, spaces included.
 */
export function redactCommandLine(argv: readonly string[]): string[] {
  return argv.map((a, i) => {
    if (/^rediss?:\/\//i.test(a) || (i > 0 && argv[i - 1] === '--queue')) return redactRedisUrl(a);
    const eq = /^(--queue=)(.*)$/s.exec(a);
    if (eq) return `${eq[1]}${redactRedisUrl(eq[2])}`;
    return redactSecrets(a);
  });
}

/** Reads a password file: its content with one trailing newline dropped. @throws Error naming the file and variable. */
function readPasswordFile(file: string, what: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`${what} ${file}: cannot read the Redis password: ${(e as Error).message}`);
  }
  const pw = text.replace(/\r?\n$/, '');
  if (!pw) throw new Error(`${what} ${file}: the file is empty (expected the Redis password)`);
  return pw;
}

/**
 * Parses a Redis URL and finds its password: in the URL (userinfo or `?password=`), else in the file named by
 * FERLAB_REDIS_PASSWORD_FILE (set by `--redis-password-file`), else in FERLAB_REDIS_PASSWORD. Every password found is
 * registered for {@link redactSecrets}.
 * @param env where the variables are read (default process.env).
 * @throws Error naming the URL (display form) for a bad URL (see the module comment), or the source of a password that
 *   conflicts with another, or a password file that cannot be read or is empty.
 */
export function parseRedisUrl(url: string, env: NodeJS.ProcessEnv = process.env): RedisTarget {
  const p = parseParts(url);
  const file = env.FERLAB_REDIS_PASSWORD_FILE || undefined;
  const plain = env.FERLAB_REDIS_PASSWORD || undefined;
  const display = displayOf(p);
  const sources = [
    p.passwordIn ? 'the URL' : '',
    file ? `FERLAB_REDIS_PASSWORD_FILE (or --redis-password-file) ${file}` : '',
    plain ? 'FERLAB_REDIS_PASSWORD' : '',
  ].filter(Boolean);
  if (sources.length > 1) throw new Error(`--queue ${display}: the Redis password is given twice (${sources.join(' and ')}): give it once`);
  let password: string | undefined = p.passwordIn ? p.password : undefined;
  let passwordSource: string | undefined = p.passwordIn ? 'the URL' : undefined;
  if (file) {
    password = readPasswordFile(file, 'FERLAB_REDIS_PASSWORD_FILE (or --redis-password-file)');
    passwordSource = `FERLAB_REDIS_PASSWORD_FILE ${file}`;
  } else if (plain) {
    password = plain;
    passwordSource = 'FERLAB_REDIS_PASSWORD';
  }
  addSecret(password);
  return {
    display,
    tls: p.scheme === 'rediss',
    host: p.host,
    port: p.port ? Number(p.port) : DEFAULT_PORT,
    db: p.db,
    ...(p.family ? { family: p.family } : {}),
    ...(p.username ? { username: p.username } : {}),
    ...(password !== undefined && password !== '' ? { password, passwordSource } : {}),
  };
}

/**
 * Validates a Redis URL (structure and password sources, see {@link parseRedisUrl}).
 * @throws Error naming the (redacted) URL when it is not a valid `redis://` or `rediss://` URL.
 */
export function checkRedisUrl(url: string): RedisTarget {
  return parseRedisUrl(url);
}
