/**
 * Redis URLs of distributed sweeps (src/sweep/redis.ts): one parser, TLS for `rediss:` in any letter case, passwords
 * redacted in every form and kept off the command line.
 *
 * - TLS: a loopback TCP server records the first bytes a client sends: for `REDISS://` / `Rediss://` they are a TLS
 *   handshake record (0x16 0x03), for `redis://` a RESP command; against a real plaintext Redis, `REDISS://` is an
 *   error, never a plaintext connection.
 * - Redaction, end to end: `ferlab sweep <spec> --queue <url>` against a real Redis whose password is in the URL as
 *   `?password=`, in userinfo with spaces, with `@`, percent-encoded `/`, and with an upper-case scheme (a budget of a
 *   few microseconds: the sweep writes sweep.json and stops before any trial): the password is nowhere in the output,
 *   the log line, sweep.json (`command`, `queue`, `environment`) or any file of the sweep folder; the same for a
 *   worker's log line. A raw `/` in a URL password is an error that does not print the password.
 * - Password sources: FERLAB_REDIS_PASSWORD, FERLAB_REDIS_PASSWORD_FILE and --redis-password-file connect to a
 *   Redis that requires a password given nowhere in the URL; two sources at once are an error.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { once } from 'node:events';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { assertRedisReachable, parseRedisUrl, redactCommandLine, redactRedisUrl, redactSecrets, redisOptions } from '../../src/sweep/redis';
import { spawn } from 'node:child_process';
import { commandLine } from '../../src/cli/sweep';
import { loadSweep } from '../../src/sweep/load';
import { runQueueWorker } from '../../src/sweep/queue';
import { runSweep } from '../../src/sweep/runner';
import { ROOT, spawnCli } from '../helpers/cli';
import { tempDir } from '../helpers/fixtures';
import { freePort, noRedisReason, startRedis } from '../helpers/redis';
import { skipFile } from '../helpers/skip';

test('parsing: scheme in any case, TLS for rediss only, options for ioredis, no stray query options', () => {
  const env = {};
  assert.equal(redisOptions('REDISS://u:p%20w@h.example:6380/2'), { host: 'h.example', port: 6380, db: 2, username: 'u', password: 'p w', tls: {} });
  assert.equal(redisOptions('Rediss://h'), { host: 'h', port: 6379, db: 0, tls: {} });
  assert.equal(redisOptions('REDIS://h:1?password=a%2Fb&family=6'), { host: 'h', port: 1, db: 0, family: 6, password: 'a/b' });
  assert.is(parseRedisUrl('rediss://h', env).tls, true);
  assert.is(parseRedisUrl('redis://h', env).tls, false);
  assert.throws(() => parseRedisUrl('redis://h?tls=false', env), /unknown query parameter 'tls'/);
  assert.throws(() => parseRedisUrl('http://h', env), /scheme http: is not redis: or rediss:/);
  assert.throws(() => parseRedisUrl('redis://:a@h?password=b', env), /password both/);
});

test('redaction of each form, in URLs, free text and command lines', () => {
  const cases: Array<[string, string, string[]]> = [
    ['redis://127.0.0.1:7000?password=qpass-7d1', 'redis://127.0.0.1:7000?password=***', ['qpass-7d1']],
    ['redis://:sp ace pw@127.0.0.1:7000', 'redis://:***@127.0.0.1:7000', ['sp ace', 'ace pw', 'sp%20ace']],
    ['redis://:at@sign-pw@127.0.0.1:7000', 'redis://:***@127.0.0.1:7000', ['at@sign', 'sign-pw']],
    ['redis://:sl%2Fash-pw@127.0.0.1:7000', 'redis://:***@127.0.0.1:7000', ['sl%2Fash', 'ash-pw']],
    ['redis://:sl/ash-pw@127.0.0.1:7000', 'redis://***@127.0.0.1:7000', ['sl/ash', 'ash-pw']],
    ['REDIS://:UpperPw-1@127.0.0.1:7000', 'redis://:***@127.0.0.1:7000', ['UpperPw']],
    ['REDISS://user:UpperPw-2@h:7000/3', 'rediss://user:***@h:7000/3', ['UpperPw']],
  ];
  for (const [url, shown, secrets] of cases) {
    assert.is(redactRedisUrl(url), shown, url);
    const cmd = redactCommandLine(['sweep', 'x', '--queue', url]).join(' ') + ' ' + redactCommandLine([`--queue=${url}`]).join(' ');
    const text = redactSecrets(`cannot connect to ${url}: refused`);
    for (const s of secrets) {
      assert.not.ok(cmd.includes(s), `command line of ${url} holds ${s}: ${cmd}`);
      assert.not.ok(text.includes(s), `text about ${url} holds ${s}: ${text}`);
    }
    assert.ok(cmd.includes(shown), cmd);
  }
  // text already redacted stays as it is (the CLI's error printer redacts again), trailing punctuation included
  const shown = 'ferlab: cannot reach Redis at redis://:***@127.0.0.1:1: connect ECONNREFUSED 127.0.0.1:1';
  assert.is(redactSecrets(shown), shown);
  assert.is(redactSecrets('at redis://127.0.0.1:1?password=***.'), 'at redis://127.0.0.1:1?password=***.');
  let message = '';
  try {
    parseRedisUrl('redis://:sl/ash-pw@127.0.0.1:7000', {});
  } catch (e) {
    message = (e as Error).message;
  }
  assert.match(message, /^--queue redis:\/\/\*\*\*@127\.0\.0\.1:7000: not a valid URL .*percent-encoded/);
  assert.not.ok(/sl\/ash|ash-pw/.test(message), message);
});

function leaks2(text: string, secrets: string[], where: string): void {
  for (const s of secrets) assert.not.ok(text.includes(s), `${where} holds '${s}':\n${text}`);
}

/** The first bytes a client sends to a loopback server, for `url`'s connection attempt (closed once they arrive). */
async function firstBytes(url: (port: number) => string): Promise<Buffer> {
  const got: Buffer[] = [];
  const sockets: Socket[] = [];
  const server = createServer((s) => {
    sockets.push(s);
    s.on('data', (d) => {
      got.push(d);
      s.destroy(); // the client's attempt ends here
    });
    s.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  await assertRedisReachable(url(port), 20_000).catch(() => {});
  for (const s of sockets) s.destroy();
  server.close();
  return Buffer.concat(got);
}

async function main(): Promise<void> {
  const why = noRedisReason();
  if (why) {
    skipFile(why);
    test.run();
    return;
  }

  test('REDISS:// and Rediss:// speak TLS (a TLS handshake record first); redis:// speaks RESP', async () => {
    for (const scheme of ['REDISS', 'Rediss', 'rediss']) {
      const b = await firstBytes((p) => `${scheme}://127.0.0.1:${p}`);
      assert.ok(b.length >= 2 && b[0] === 0x16 && b[1] === 0x03, `${scheme}: first bytes ${b.subarray(0, 8).toString('hex')} are a TLS handshake`);
    }
    const plain = await firstBytes((p) => `REDIS://127.0.0.1:${p}`);
    assert.is(plain.toString('latin1', 0, 1), '*', 'redis:// sends a RESP command');
  });

  test('REDISS:// against a plaintext Redis: an error, not a plaintext connection', async () => {
    const redis = await startRedis();
    try {
      await assertRedisReachable(`redis://127.0.0.1:${redis.port}`, 5000); // the server is up
      let err: Error | undefined;
      await assertRedisReachable(`REDISS://127.0.0.1:${redis.port}`, 2000).catch((e: Error) => (err = e));
      assert.ok(err, 'REDISS:// must not connect in plaintext');
      assert.match(err!.message, new RegExp(`cannot reach Redis at rediss://127\\.0\\.0\\.1:${redis.port}: .*TLS`));
    } finally {
      await redis.stop();
    }
  });

  test('password from FERLAB_REDIS_PASSWORD, FERLAB_REDIS_PASSWORD_FILE; two sources are an error', async () => {
    const pw = 'env pw/with@odd:chars';
    const redis = await startRedis(pw);
    const url = `redis://127.0.0.1:${redis.port}`;
    const file = join(tempDir('ferlab-redis-pw-'), 'pw');
    writeFileSync(file, `${pw}\n`);
    const saved = { a: process.env.FERLAB_REDIS_PASSWORD, b: process.env.FERLAB_REDIS_PASSWORD_FILE };
    try {
      let err: Error | undefined;
      await assertRedisReachable(url, 2000).catch((e: Error) => (err = e));
      assert.match(err?.message ?? '', /NOAUTH|Authentication required/, 'without a password: refused');
      process.env.FERLAB_REDIS_PASSWORD = pw;
      await assertRedisReachable(url, 2000);
      assert.throws(() => parseRedisUrl(`redis://:x1y2z3@127.0.0.1:${redis.port}`), /password is given twice \(the URL and FERLAB_REDIS_PASSWORD\)/);
      delete process.env.FERLAB_REDIS_PASSWORD;
      process.env.FERLAB_REDIS_PASSWORD_FILE = file;
      await assertRedisReachable(url, 2000);
      assert.equal(parseRedisUrl(url).passwordSource, `FERLAB_REDIS_PASSWORD_FILE ${file}`);
      assert.is(redactSecrets(`the password ${pw} and ${encodeURIComponent(pw)}`), 'the password *** and ***');
    } finally {
      for (const [k, v] of [
        ['FERLAB_REDIS_PASSWORD', saved.a],
        ['FERLAB_REDIS_PASSWORD_FILE', saved.b],
      ] as const)
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      await redis.stop();
    }
  });

  test('sweep --queue: no password form reaches the output, the log line, sweep.json (command, queue, environment) or the sweep folder', async () => {
    const specDir = tempDir('ferlab-redact-spec-');
    const spec = join(specDir, 'redact-sweep.ts');
    writeFileSync(
      spec,
      `import { defineSweep } from ${JSON.stringify(join(ROOT, 'src', 'sweep', 'spec'))};
export default defineSweep({
  name: 'redact-sweep',
  model: 'baseline',
  labels: 'majority',
  base: { epochs: 1 },
  space: { lr: { kind: 'choice', values: [0.001, 0.004] } },
  objective: { metric: 'accuracy' },
  sampler: { name: 'grid' },
  budget: { trials: 2 },
  seed: 1,
});
`,
    );
    const pwFile = join(specDir, 'pw');
    writeFileSync(pwFile, 'file-pw-93c1\n');
    type Case = { what: string; url: (port: number) => string; args?: string[]; secrets: string[]; shown: (port: number) => string; cli?: boolean };
    const cases: Case[] = [
      {
        what: '?password=',
        url: (p) => `redis://127.0.0.1:${p}?password=qpass-7d1`,
        secrets: ['qpass-7d1'],
        shown: (p) => `redis://127.0.0.1:${p}?password=***`,
      },
      {
        what: 'userinfo with spaces',
        url: (p) => `redis://:sp ace pw@127.0.0.1:${p}`,
        secrets: ['sp ace', 'ace pw', 'sp%20ace'],
        shown: (p) => `redis://:***@127.0.0.1:${p}`,
        cli: true,
      },
      {
        what: '@ in userinfo',
        url: (p) => `redis://:at@sign-pw@127.0.0.1:${p}`,
        secrets: ['at@sign', 'sign-pw', 'at%40sign'],
        shown: (p) => `redis://:***@127.0.0.1:${p}`,
      },
      {
        what: 'encoded / in userinfo',
        url: (p) => `redis://:sl%2Fash-pw@127.0.0.1:${p}`,
        secrets: ['sl/ash', 'sl%2Fash', 'ash-pw'],
        shown: (p) => `redis://:***@127.0.0.1:${p}`,
      },
      { what: 'upper-case scheme', url: (p) => `REDIS://:UpperPw-1@127.0.0.1:${p}`, secrets: ['UpperPw-1'], shown: (p) => `redis://:***@127.0.0.1:${p}` },
      {
        what: '--redis-password-file',
        url: (p) => `redis://127.0.0.1:${p}`,
        args: ['--redis-password-file', pwFile],
        secrets: ['file-pw-93c1'],
        shown: (p) => `redis://127.0.0.1:${p}`,
        cli: true,
      },
      {
        what: 'raw / in userinfo (an error)',
        url: (p) => `redis://:sl/ash-pw@127.0.0.1:${p}`,
        secrets: ['sl/ash', 'ash-pw'],
        shown: (p) => `redis://***@127.0.0.1:${p}`,
        cli: true,
      },
    ];
    // one Redis whose default user has every password of the cases
    const port = await freePort();
    const passwords = ['qpass-7d1', 'sp ace pw', 'at@sign-pw', 'sl/ash-pw', 'UpperPw-1', 'file-pw-93c1'];
    const server = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--user',
        'default',
        'on',
        ...passwords.map((p) => `>${p}`),
        '~*',
        '&*',
        '+@all',
      ],
      {
        stdio: 'ignore',
      },
    );
    process.once('exit', () => server.kill('SIGKILL'));
    try {
      const deadline = Date.now() + 20_000;
      for (;;) {
        try {
          await assertRedisReachable(`redis://:${encodeURIComponent(passwords[0])}@127.0.0.1:${port}`, 2000);
          break;
        } catch (e) {
          if (Date.now() > deadline) throw e;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      const def = loadSweep(spec);
      const results = await Promise.all(
        cases.map(async (c) => {
          const runsDir = tempDir('ferlab-redact-runs-');
          const url = c.url(port);
          const argv = ['sweep', spec, '--queue', url, ...(c.args ?? []), '--minutes', '0.000001', '--runs-dir', runsDir, '--no-progress'];
          if (c.cli) {
            const child = spawnCli(argv);
            let out = '';
            child.stdout.on('data', (d) => (out += d));
            child.stderr.on('data', (d) => (out += d));
            const [code] = (await once(child, 'exit')) as [number | null];
            return { c, runsDir, out, code };
          }
          // in this process: the same runner, the command line recorded as the CLI records it
          const lines: string[] = [];
          let code = 0;
          await runSweep(def, { queue: url, minutes: 0.000001, runsDir, command: commandLine(argv), log: (l) => lines.push(l) }).catch((e: Error) => {
            lines.push(e.message);
            code = 1;
          });
          return { c, runsDir, out: lines.join('\n'), code };
        }),
      );
      for (const { c, runsDir, out, code } of results) {
        const leaks = (text: string, where: string) => {
          for (const s of c.secrets) assert.not.ok(text.includes(s), `${c.what}: ${where} holds '${s}':\n${text.slice(0, 2000)}`);
        };
        leaks(out, 'the output');
        if (c.what.endsWith('(an error)')) {
          assert.is(code, 1, out);
          assert.ok(out.includes(`--queue ${c.shown(port)}: not a valid URL`), out);
          assert.equal(readdirSync(runsDir), [], 'no sweep folder');
          continue;
        }
        assert.ok(out.includes(`ferlab: trials go to the BullMQ queue on ${c.shown(port)} `), `${c.what}: the log line names ${c.shown(port)}:\n${out}`);
        const dirs = readdirSync(runsDir);
        assert.is(dirs.length, 1, `${c.what}: one sweep folder: ${out}`);
        const dir = join(runsDir, dirs[0]);
        const info = JSON.parse(readFileSync(join(dir, 'sweep.json'), 'utf8')) as { command: string; queue: string; environment: { backend: string } };
        assert.is(info.queue, c.shown(port), `${c.what}: sweep.json queue`);
        assert.is(info.environment.backend, `remote workers via ${c.shown(port)}`, `${c.what}: environment record`);
        assert.ok(info.command.includes(c.shown(port)), `${c.what}: sweep.json command ${info.command}`);
        leaks(info.command, 'sweep.json command');
        const walk = (d: string): string[] =>
          readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : [join(d, e.name)]));
        for (const f of walk(dir)) leaks(readFileSync(f, 'latin1'), f);
      }

      // a worker's log line, for the two forms ioredis alone would have shown
      for (const c of cases.slice(0, 2)) {
        const lines: string[] = [];
        const w = await runQueueWorker({ url: c.url(port), dataDir: tempDir(), cacheDir: false, backend: 'wasm', log: (l) => lines.push(l) });
        await w.close();
        const out = lines.join('\n');
        assert.ok(out.includes(`waiting for trials on ${c.shown(port)} `), `${c.what}: worker log line:\n${out}`);
        leaks2(out, c.secrets, `${c.what}: the worker's log`);
      }
    } finally {
      server.kill('SIGKILL');
    }
  });

  test.run();
}

void main();
