// Outputs are stored whole or not at all, within OUTPUT_MAX_BYTES, whether Segmind's answer is
// a small file with its length, a stream of unknown length, or bytes inline.

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createMetrics, FailJobError, FileStorage } from '@renderq/shared';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutputStore } from '../src/pipeline/output-store.js';
import { SMALL_PNG } from './stack.js';

const CAP = 64 * 1024;
const png = Buffer.from(SMALL_PNG, 'base64');

let server: Server;
let base: string;
let dir: string;
let outputs: OutputStore;
const agent = new Agent();

beforeAll(async () => {
  server = createServer((request, response) => {
    if (request.url === '/small.png') {
      response.writeHead(200, { 'content-type': 'image/png', 'content-length': png.length });
      response.end(png);
    } else if (request.url === '/large-declared.png') {
      response.writeHead(200, { 'content-type': 'image/png', 'content-length': CAP + 1 });
      response.end(Buffer.alloc(CAP + 1));
    } else if (request.url === '/large-chunked.png') {
      // No length: it is streamed, and the cap stops it on the way.
      response.writeHead(200, { 'content-type': 'image/png' });
      for (let i = 0; i < 4; i++) response.write(Buffer.alloc(CAP / 2));
      response.end();
    } else {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  dir = await mkdtemp(path.join(tmpdir(), 'renderq-outputs-'));
  outputs = new OutputStore({
    storage: new FileStorage(dir),
    dispatcher: agent,
    metrics: createMetrics({ processMetrics: false }),
    maxBytes: CAP,
    timeoutMs: 5_000,
  });
});

afterAll(async () => {
  await agent.close();
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

describe('the output store', () => {
  it('stores a small download and inline bytes exactly, with their digest', async () => {
    const downloaded = await outputs.store('job_small', 0, `${base}/small.png`);
    const inline = await outputs.store('job_small', 1, `data:image/png;base64,${SMALL_PNG}`);
    for (const stored of [downloaded, inline]) {
      expect(stored).toMatchObject({ content_type: 'image/png', size: png.length });
      expect(await readFile(path.join(dir, stored.storage_key))).toEqual(png);
    }
    expect(inline.sha256).toBe(downloaded.sha256);
  });

  it('refuses outputs above the cap, declared, streamed or inline, and keeps nothing of them', async () => {
    const inlineTooLarge = Buffer.alloc(CAP + 1, 1).toString('base64');
    for (const source of [`${base}/large-declared.png`, `${base}/large-chunked.png`, inlineTooLarge]) {
      const refused = await outputs.store('job_large', 0, source).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(FailJobError);
      expect((refused as FailJobError).message).toContain(`${CAP}`);
    }
    await expect(readFile(path.join(dir, 'job_large', '0.png'))).rejects.toThrow('ENOENT');
  });

  it('refuses a streamed output whose first chunk is over the cap, before storage has started reading it', async () => {
    // The refusal comes while storage is still making the job's directory: it must reach the job, not
    // escape as an uncaught exception (which stopped the worker).
    const tiny = new OutputStore({
      storage: new FileStorage(dir),
      dispatcher: agent,
      metrics: createMetrics({ processMetrics: false }),
      maxBytes: 1_024,
      timeoutMs: 5_000,
    });
    for (let i = 0; i < 5; i++) {
      await expect(tiny.store(`job_tiny_${i}`, 0, `${base}/large-chunked.png`)).rejects.toBeInstanceOf(FailJobError);
    }
  });

  it('fails a job whose output is gone (404)', async () => {
    await expect(outputs.store('job_gone', 0, `${base}/gone.png`)).rejects.toBeInstanceOf(FailJobError);
  });
});
