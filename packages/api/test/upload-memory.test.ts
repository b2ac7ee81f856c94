// The API as `pnpm start:api` runs it (built, its own process) under uploads meant to exhaust its memory:
// 16 concurrent NDJSON batches of one 250 MB line each. Each is refused at once with 413 naming line 1,
// the API stays up, and its peak RSS (VmHWM, read from /proc) grows by less than 200 MB.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, type RedisHandle, startRedis } from '@renderq/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const main = path.resolve(fileURLToPath(import.meta.url), '../../dist/main.js');
const KEY = 'memory-key-0123456789';
const MB = 1_000_000;
const LINE_BYTES = 250 * MB;
const UPLOADS = 16;

let redis: RedisHandle;
let dir: string;
let api: ChildProcess;
let url: URL;
let output = '';

beforeAll(async () => {
  redis = await startRedis();
  dir = await mkdtemp(path.join(tmpdir(), 'renderq-memory-'));
  const port = await freePort();
  api = spawn(process.execPath, [main], {
    env: {
      PATH: process.env.PATH ?? '',
      REDIS_URL: redis.url,
      PORT: String(port),
      RENDERQ_API_KEYS: `memory:${KEY}`,
      STORAGE_URL: `file://${dir}`,
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  api.stdout?.on('data', (chunk) => (output += chunk));
  api.stderr?.on('data', (chunk) => (output += chunk));
  url = new URL(`http://127.0.0.1:${port}`);
  const deadline = Date.now() + 20_000;
  while (
    !(await fetch(new URL('/healthz', url)).then(
      (r) => r.ok,
      () => false,
    ))
  ) {
    if (api.exitCode !== null || Date.now() > deadline) throw new Error(`the API did not start:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
});

afterAll(async () => {
  if (api && api.exitCode === null) {
    const exited = new Promise((resolve) => api.once('exit', resolve));
    api.kill('SIGTERM');
    await exited;
  }
  await redis?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The child's peak resident set so far, in bytes. */
async function peakRss(): Promise<number> {
  const status = await readFile(`/proc/${api.pid}/status`, 'utf8');
  const kb = /^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1];
  if (!kb) throw new Error('no VmHWM in /proc/PID/status');
  return Number(kb) * 1024;
}

interface Upload {
  readonly status: number;
  readonly contentType: string;
  readonly connection: string;
  readonly body: Record<string, unknown>;
  /** From the first byte sent to the whole answer in hand. */
  readonly ms: number;
  /** Bytes the kernel had taken from us when the answer arrived. */
  readonly sentBytes: number;
}

/** One chunk of a chunked body. */
const chunk = (bytes: Buffer) =>
  Buffer.concat([Buffer.from(`${bytes.length.toString(16)}\r\n`), bytes, Buffer.from('\r\n')]);

/**
 * POSTs an NDJSON batch whose first line is `LINE_BYTES` long, generated as it is sent (one 64 KiB chunk,
 * written again and again, with backpressure), and stops sending the moment an answer arrives. The body is
 * chunked, as a stream is sent: no length announced up front that could be refused before a byte is read.
 */
function uploadHugeLine(): Promise<Upload> {
  const lineStart = Buffer.from('{"model":"segmind-vega","input":{"prompt":"');
  const fillerBytes = 64 * 1024;
  const filler = chunk(Buffer.alloc(fillerBytes, 'a'));
  const head =
    'POST /v1/batches HTTP/1.1\r\n' +
    `host: ${url.host}\r\n` +
    `authorization: Bearer ${KEY}\r\n` +
    'content-type: application/x-ndjson\r\n' +
    'transfer-encoding: chunked\r\n\r\n';
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = connect(Number(url.port), url.hostname);
    let answer = Buffer.alloc(0);
    let done = false;
    let sentAtAnswer = 0;
    const finish = () => {
      const text = answer.toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      if (split === -1) return false;
      const length = Number(/\r\ncontent-length: (\d+)/i.exec(text.slice(0, split))?.[1] ?? Number.NaN);
      if (answer.length < split + 4 + length) return false;
      done = true;
      resolve({
        status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0),
        contentType: /\r\ncontent-type: ([^\r]+)/i.exec(text)?.[1] ?? '',
        connection: /\r\nconnection: ([^\r]+)/i.exec(text)?.[1] ?? '',
        body: JSON.parse(answer.subarray(split + 4, split + 4 + length).toString('utf8')),
        ms: performance.now() - started,
        sentBytes: sentAtAnswer,
      });
      socket.destroy();
      return true;
    };
    socket.on('data', (chunk: Buffer) => {
      if (answer.length === 0) sentAtAnswer = socket.bytesWritten;
      answer = Buffer.concat([answer, chunk]);
      finish();
    });
    // The server closes the connection after its answer; writes racing that close fail, as they should.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (!done) reject(new Error(`closed without a whole answer: ${JSON.stringify(answer.toString('latin1'))}`));
    });
    socket.on('connect', async () => {
      socket.write(head);
      socket.write(chunk(lineStart));
      let left = LINE_BYTES - lineStart.length;
      while (left > 0 && !done && !socket.destroyed) {
        const piece = left >= fillerBytes ? filler : chunk(Buffer.alloc(left, 'a'));
        left -= Math.min(left, fillerBytes);
        if (!socket.write(piece)) {
          await new Promise<void>((resume) => {
            const go = () => {
              socket.off('drain', go);
              socket.off('close', go);
              resume();
            };
            socket.once('drain', go);
            socket.once('close', go);
          });
        }
      }
      if (left === 0 && !done && !socket.destroyed)
        socket.write(Buffer.concat([chunk(Buffer.from('\n')), Buffer.from('0\r\n\r\n')]));
    });
  });
}

describe('memory under oversized NDJSON lines', () => {
  it('answers 16 concurrent 250 MB lines with 413 naming line 1 at once, stays up, and its RSS grows < 200 MB', async () => {
    // Warm: code paths loaded and compiled before the first reading.
    const warm = await fetch(new URL('/v1/batches', url), {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/x-ndjson' },
      body: `${JSON.stringify({ model: 'segmind-vega', input: { prompt: 'warm' } })}\n`,
    });
    expect(warm.status).toBe(202);
    const before = await peakRss();

    const uploads = await Promise.all(Array.from({ length: UPLOADS }, () => uploadHugeLine()));
    const after = await peakRss();

    for (const upload of uploads) {
      expect(upload.status).toBe(413);
      expect(upload.contentType).toContain('application/problem+json');
      expect(upload.connection).toBe('close');
      expect(upload.body.detail).toContain('line 1 ');
      expect(upload.body.detail).toContain(String(1024 * 1024));
      expect(upload.body.errors).toEqual([{ line: 1, path: '', message: expect.any(String) }]);
      // The answer comes after about a mebibyte, not after the 250 MB the request announced.
      expect(upload.sentBytes).toBeLessThan(32 * MB);
    }
    const growth = after - before;
    const figures = {
      msToAnswer: uploads.map((u) => Math.round(u.ms)).sort((a, b) => a - b),
      sentBeforeAnswerMB: uploads.map((u) => +(u.sentBytes / MB).toFixed(1)).sort((a, b) => a - b),
      peakRssBeforeMB: +(before / MB).toFixed(1),
      peakRssAfterMB: +(after / MB).toFixed(1),
      growthMB: +(growth / MB).toFixed(1),
    };
    process.stdout.write(`upload-memory figures: ${JSON.stringify(figures)}\n`);
    expect(Math.max(...uploads.map((u) => u.ms))).toBeLessThan(15_000);
    expect(growth).toBeLessThan(200 * MB);

    // Still up, and still taking batches.
    expect(api.exitCode).toBeNull();
    const next = await fetch(new URL('/v1/batches', url), {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/x-ndjson' },
      body: `${JSON.stringify({ model: 'segmind-vega', input: { prompt: 'after' } })}\n`,
    });
    expect(next.status).toBe(202);
  }, 60_000);
});
