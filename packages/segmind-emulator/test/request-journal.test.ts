// EMULATOR_DATA_DIR: an emulator stopped and started again with the same directory still
// knows every request it accepted, as Segmind would; without it, a restart forgets them.
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Emulator, startEmulator } from '../src/index.js';
import { client, download } from './client.js';

let dir: string;
const running: Emulator[] = [];
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'emulator-journal-'));
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((emulator) => emulator.close()));
  await rm(dir, { recursive: true, force: true });
});

async function start(options: Parameters<typeof startEmulator>[0]): Promise<Emulator> {
  const emulator = await startEmulator({ latencyJitter: 0, ...options });
  running.push(emulator);
  return emulator;
}

async function stop(emulator: Emulator): Promise<void> {
  running.splice(running.indexOf(emulator), 1);
  await emulator.close();
}

const portOf = (emulator: Emulator) => Number(new URL(emulator.url).port);

describe('requests across a restart', () => {
  it('with a data directory: finished ones keep result and images, unfinished ones finish', async () => {
    const first = await start({ dataDir: dir, latencyScale: 0.01 });
    const segmind = client(first);
    const red = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#c00' } })
      .png()
      .toBuffer();
    // Finished before the stop: a txt2img and an img2img one (its output is drawn over its input).
    const done = await Promise.all([
      segmind.submit('segmind-vega-rt-v1', { prompt: 'done before the stop' }),
      segmind.submit('ssd-img2img', { prompt: 'over red', image: red.toString('base64') }),
    ]);
    const results = [];
    for (const submitted of done) {
      const { status_url, response_url } = submitted.json() as { status_url: string; response_url: string };
      await segmind.wait(status_url);
      results.push((await segmind.get(response_url)).json());
    }
    const images = await Promise.all(results.map((result) => download(String(result.output))));
    // Still at Segmind at the stop: slow enough never to finish in this run.
    first.configure({ latencyScale: 1_000 });
    const unfinished = (await segmind.submit('segmind-vega', { prompt: 'in flight at the stop' })).json();
    expect((await segmind.get(String(unfinished.status_url))).json()).toMatchObject({ status: 'PROCESSING' });
    await stop(first);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect((await stat(path.join(dir, 'requests.json'))).mode & 0o777).toBe(0o600);

    const second = await start({ dataDir: dir, latencyScale: 0.01, port: portOf(first) });
    expect(second.kept).toMatchObject({ file: path.join(dir, 'requests.json'), restored: 3 });
    const again = client(second);
    expect((await again.wait(String(unfinished.status_url))).json()).toEqual({ status: 'COMPLETED' });
    const finished = (await again.get(String(unfinished.response_url))).json();
    expect((await download(String(finished.output))).contentType).toBe('image/jpeg');
    for (const [index, submitted] of done.entries()) {
      const result = (await again.get(String(submitted.json().response_url))).json();
      expect(result).toEqual(results[index]);
      // The same URL gives the same bytes: the img2img one still has its input image under it.
      expect((await download(String(result.output))).bytes.equals(images[index]?.bytes as Buffer)).toBe(true);
    }
  });

  it('without one, a restarted emulator no longer knows the request (404)', async () => {
    const first = await start({ latencyScale: 1_000 });
    const submitted = (await client(first).submit('segmind-vega', { prompt: 'forgotten' })).json();
    await stop(first);
    const second = await start({ latencyScale: 0.01, port: portOf(first) });
    expect(second.kept).toBeUndefined();
    expect((await client(second).get(String(submitted.status_url))).status).toBe(404);
  });

  it('sets aside a file it cannot read and starts empty, saying so', async () => {
    await writeFile(path.join(dir, 'requests.json'), '{"format": 1, "requests": [');
    const emulator = await start({ dataDir: dir });
    expect(emulator.kept).toMatchObject({ restored: 0, problem: expect.stringContaining('requests.json.unreadable') });
    expect(await readdir(dir)).toContain('requests.json.unreadable');
    expect(emulator.stats().requests).toEqual({ queued: 0, processing: 0, completed: 0, failed: 0 });
  });
});
