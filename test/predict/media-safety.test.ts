/**
 * Untrusted media (issue 26): a video file named like a URL (`http:127.0.0.1:PORT?x.mp4`) is read as a local file and
 * ffmpeg sends nothing (a local TCP server records any connection); a 0.26 MB PNG of 16383x16383 (268 megapixels,
 * admitted by sharp's own default limit) is refused before decoding with an error naming the file, its size and
 * MAX_INPUT_PIXELS, by predict and by the folder-dataset conversion; the per-frame CSV escapes text cells that a
 * spreadsheet would run as formulas and keeps numbers (negative ones too) as numbers.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import Papa from 'papaparse';
import { MAX_INPUT_PIXELS, toFerPixels } from '../../src/data/image';
import { predictImage } from '../../src/predict/image';
import { loadPredictModel } from '../../src/predict/model';
import { timelineCsv } from '../../src/predict/timeline';
import { extractFrames, type FrameResult } from '../../src/predict/video';
import { tempDir } from '../helpers/fixtures';
import { skipTest } from '../helpers/skip';
import { ffmpegPath, writeModelFolder } from './helpers';

const ffmpeg = ffmpegPath();

/** CRC-32 (PNG chunk checksums; ISO 3309 polynomial, as zlib's crc32). */
function crc32(buf: Buffer): number {
  let crc = 0xffffffff;
  for (const b of buf) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? 0xedb88320 ^ (crc >>> 1) : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** A valid all-black 8-bit grayscale PNG of width x height, written by hand (IHDR, one zlib IDAT, IEND). */
function blackPng(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // grayscale
  const idat = deflateSync(Buffer.alloc((width + 1) * height), { level: 9 }); // filter byte 0 + zero pixels per row
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', Buffer.alloc(0))]);
}

test('a 16383x16383 PNG (0.26 MB) is refused before decoding: predict and the dataset conversion name the file, size and limit', async () => {
  const dir = tempDir('ferlab-bigpng-');
  const file = join(dir, 'huge.png');
  const png = blackPng(16383, 16383);
  assert.ok(png.length < 400_000, `the PNG is small (${png.length} bytes)`);
  writeFileSync(file, png);
  const pm = await loadPredictModel(await writeModelFolder(join(dir, 'model')));
  const expected = new RegExp(
    `huge\\.png: cannot read it as an image \\(the image is too large \\(16383x16383 = 268402689 pixels\\): ferlab decodes at most ${MAX_INPUT_PIXELS} pixels \\(MAX_INPUT_PIXELS`,
  );
  const mem0 = process.memoryUsage().rss;
  for (const opts of [{}, { detect: false }]) {
    let err: Error | undefined;
    await predictImage(pm, file, opts).catch((e: Error) => (err = e));
    assert.ok(err, `predictImage ${JSON.stringify(opts)} refused it`);
    assert.match(err!.message, expected, err!.message);
  }
  let err: Error | undefined;
  await toFerPixels(file).catch((e: Error) => (err = e));
  assert.match(err?.message ?? '', expected);
  const grown = (process.memoryUsage().rss - mem0) / 2 ** 20;
  assert.ok(grown < 200, `refused without decoding (RSS grew ${grown.toFixed(0)} MB; a decode takes ~1 GB)`);
  assert.is(MAX_INPUT_PIXELS, 100_000_000);
});

if (!ffmpeg) skipTest('a video named like a URL', 'ffmpeg is not installed (apt-get install ffmpeg)');
else
  test('a video named http:127.0.0.1:PORT?x.mp4 is read as a local file: ffmpeg connects nowhere', async () => {
    const connections: string[] = [];
    const server = createServer((s) => {
      connections.push(`${s.remoteAddress}:${s.remotePort}`);
      s.destroy();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as AddressInfo).port;
    const dir = tempDir('ferlab-urlname-');
    const name = `http:127.0.0.1:${port}?x.mp4`;
    const made = spawnSync(ffmpeg, [
      '-hide_banner',
      '-loglevel',
      'error',
      '-f',
      'lavfi',
      '-i',
      'testsrc=size=64x48:rate=10',
      '-t',
      '1',
      '-pix_fmt',
      'yuv420p',
      join(dir, name),
    ]);
    assert.is(made.status, 0, String(made.stderr));
    const cwd = process.cwd();
    process.chdir(dir); // the name as a user types it, relative: the form ffmpeg reads as a URL
    try {
      const frames = await extractFrames(name, 5, mkdtempSync(join(dir, 'frames-')));
      assert.is(frames.length, 5, 'the local file was decoded (1 s at 5 fps)');
    } finally {
      process.chdir(cwd);
      await new Promise((r) => setTimeout(r, 200));
      server.close();
    }
    assert.equal(connections, [], 'no connection to the server named by the file name');
  });

test('per-frame CSV: text cells starting with = + - @ are escaped with a quote; numbers, negative ones too, stay numbers', () => {
  const classes = ['=HYPERLINK("http://x")', '@SUM(1)', 'happy'];
  const face = {
    face: 1,
    box: { left: -3, top: 4, width: 10, height: 12 },
    score: 0.9,
    crop: { left: 0, top: 0, width: 10, height: 10 },
    label: '=HYPERLINK("http://x")',
    probabilities: { '=HYPERLINK("http://x")': 0.5, '@SUM(1)': 0.25, happy: 0.25 },
    pixels: new Uint8Array(48 * 48),
  };
  const frames: FrameResult[] = [{ frame: 0, time: 0, faces: [face] }];
  const csv = timelineCsv(frames, classes);
  const rows = Papa.parse<string[]>(csv.trim()).data;
  const header = rows[0];
  const row = Object.fromEntries(header.map((h, i) => [h, rows[1][i]]));
  assert.is(row.label, `'=HYPERLINK("http://x")`, 'label escaped');
  assert.is(row.left, '-3', 'a negative number is not escaped');
  assert.is(row.score, '0.9');
  assert.is(row['p_=HYPERLINK("http://x")'], '0.5', 'probabilities stay numbers');
  for (const line of csv.trim().split('\n'))
    for (const cell of Papa.parse<string[]>(line).data[0]) assert.not.match(cell, /^[=+@\t\r]/, `cell ${JSON.stringify(cell)} would run as a formula`);
});

test.run();
