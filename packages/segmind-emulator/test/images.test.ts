import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Emulator, startEmulator } from '../src/index.js';
import { download, run } from './client.js';

let emulator: Emulator;
beforeAll(async () => {
  emulator = await startEmulator({ latencyScale: 0.005, latencyJitter: 0 });
});
afterAll(() => emulator.close());

const urlsOf = (result: Record<string, unknown>) => [result.output].flat() as string[];

/** Decodes with libvips (through sharp) and reports what it found. */
async function decode(url: string) {
  const { bytes, contentType } = await download(url);
  const { format, width, height } = await sharp(bytes).metadata();
  const { data } = await sharp(bytes).raw().toBuffer({ resolveWithObject: true });
  return { bytes, contentType, format, width, height, pixels: data };
}

function meanAbsoluteDifference(a: Buffer, b: Buffer): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs((a[i] ?? 0) - (b[i] ?? 0));
  return sum / a.length;
}

describe('output images', () => {
  it.each([
    ['segmind-vega-rt-v1', { prompt: 'x' }, 'jpeg', 1024, 1024],
    ['segmind-vega', { prompt: 'x' }, 'jpeg', 1024, 1024],
    ['sd1.5-img2img', { prompt: 'x', image: 'INPUT', img_width: 768, img_height: 512 }, 'jpeg', 768, 512],
    ['ssd-img2img', { prompt: 'x', image: 'INPUT' }, 'jpeg', 320, 200],
    [
      'stable-diffusion-3.5-turbo-txt2img',
      { prompt: 'x', sampler: 'euler', scheduler: 'karras', width: 640, height: 384, image_format: 'png' },
      'png',
      640,
      384,
    ],
    [
      'stable-diffusion-3.5-turbo-txt2img',
      { prompt: 'x', sampler: 'euler', scheduler: 'karras', width: 512, height: 768, image_format: 'webp' },
      'webp',
      512,
      768,
    ],
    [
      'stable-diffusion-3.5-turbo-txt2img',
      { prompt: 'x', sampler: 'euler', scheduler: 'karras', aspect_ratio: '16:9' },
      'jpeg',
      1344,
      768,
    ],
  ])('%s makes a real %s image of the requested size (%o)', async (model, input, format, width, height) => {
    const inputImage = await sharp({ create: { width: 320, height: 200, channels: 3, background: '#3366cc' } })
      .png()
      .toBuffer();
    const body = { ...input } as Record<string, unknown>;
    if (body.image === 'INPUT') body.image = inputImage.toString('base64');
    const result = await run(emulator, model, body);
    const [url] = urlsOf(result);
    const image = await decode(String(url));
    expect(image).toMatchObject({ format, width, height, contentType: `image/${format}` });
  });

  it('lists SD3.5 images with type, name and the size actually served', async () => {
    const result = await run(emulator, 'stable-diffusion-3.5-turbo-txt2img', {
      prompt: 'x',
      sampler: 'euler',
      scheduler: 'karras',
      batch_size: 2,
      width: 256,
      height: 256,
    });
    const images = result.images as { url: string; content_type: string; file_name: string; file_size: number }[];
    expect(images).toHaveLength(2);
    for (const image of images) {
      const { bytes, contentType } = await download(image.url);
      expect(image.file_size).toBe(bytes.length);
      expect(image.content_type).toBe(contentType);
      expect(image.file_name).toMatch(/^\d\.jpg$/);
    }
  });

  it('gives the same bytes for the same model, input and seed, and others for another seed', async () => {
    const input = { prompt: 'a red fox', seed: 1234 };
    const [a, b, c] = await Promise.all([
      run(emulator, 'segmind-vega', input),
      run(emulator, 'segmind-vega', input),
      run(emulator, 'segmind-vega', { ...input, seed: 1235 }),
    ]);
    const bytesOf = async (r: Record<string, unknown>) => (await download(urlsOf(r)[0] as string)).bytes;
    const [bytesA, bytesB, bytesC] = await Promise.all([bytesOf(a), bytesOf(b), bytesOf(c)]);
    expect(urlsOf(a)[0]).not.toBe(urlsOf(b)[0]);
    expect(bytesA.equals(bytesB)).toBe(true);
    expect(bytesA.equals(bytesC)).toBe(false);
  });

  it('serves one image per size and format in benchmark mode (fixedImages), whatever the prompt', async () => {
    const bench = await startEmulator({ latencyScale: 0.005, latencyJitter: 0, fixedImages: true });
    try {
      const sd35 = { sampler: 'euler', scheduler: 'karras', width: 64, height: 64 };
      const [a, b, c] = await Promise.all([
        run(bench, 'stable-diffusion-3.5-turbo-txt2img', { ...sd35, prompt: 'a red fox', seed: 1 }),
        run(bench, 'stable-diffusion-3.5-turbo-txt2img', { ...sd35, prompt: 'a blue whale', seed: 2 }),
        run(bench, 'stable-diffusion-3.5-turbo-txt2img', { ...sd35, width: 128, prompt: 'a red fox', seed: 1 }),
      ]);
      const [bytesA, bytesB, bytesC] = await Promise.all(
        [a, b, c].map(async (r) => (await download(urlsOf(r)[0] as string)).bytes),
      );
      expect(bytesA?.equals(bytesB as Buffer)).toBe(true);
      expect(bytesA?.equals(bytesC as Buffer)).toBe(false);
      expect((await sharp(bytesC).metadata()).width).toBe(128);
    } finally {
      await bench.close();
    }
  });

  it('draws the same bytes in another process that has no fonts at all (built: pnpm build)', async () => {
    // An empty fontconfig setup: SVG <text> drawn there comes out as empty boxes.
    const dir = mkdtempSync(path.join(tmpdir(), 'no-fonts-'));
    writeFileSync(path.join(dir, 'fonts.conf'), '<?xml version="1.0"?>\n<fontconfig></fontconfig>\n');
    const main = path.resolve(fileURLToPath(import.meta.url), '../../dist/main.js');
    const child = spawn(process.execPath, [main, '--port=0', '--latency-scale=0'], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, FONTCONFIG_FILE: path.join(dir, 'fonts.conf'), FONTCONFIG_PATH: dir },
    });
    try {
      const line = await new Promise<string>((resolve) =>
        createInterface({ input: child.stdout }).once('line', resolve),
      );
      const fontless = { url: /listening on (\S+)/.exec(line)?.[1] as string, apiKey: 'emulator-key' } as Emulator;
      const input = { prompt: 'a lighthouse at dusk — the same everywhere', seed: 7, samples: 2 };
      const [here, there] = await Promise.all([
        run(emulator, 'segmind-vega', input),
        run(fontless, 'segmind-vega', input),
      ]);
      for (const index of [0, 1]) {
        const [mine, theirs] = await Promise.all([
          download(urlsOf(here)[index] as string),
          download(urlsOf(there)[index] as string),
        ]);
        expect(mine.bytes.equals(theirs.bytes)).toBe(true);
      }
    } finally {
      child.kill('SIGTERM');
    }
  });

  it('picks and reports a random seed for seed -1', async () => {
    const [a, b] = await Promise.all([
      run(emulator, 'segmind-vega', { prompt: 'same', seed: -1 }),
      run(emulator, 'segmind-vega', { prompt: 'same', seed: -1 }),
    ]);
    expect(a.seed).toEqual(expect.any(Number));
    expect(a.seed).not.toBe(-1);
    expect(a.seed).not.toBe(b.seed);
    const again = await run(emulator, 'segmind-vega', { prompt: 'same', seed: a.seed });
    expect(
      (await download(urlsOf(again)[0] as string)).bytes.equals((await download(urlsOf(a)[0] as string)).bytes),
    ).toBe(true);
  });

  it('makes as many images as samples or batch_size ask for', async () => {
    expect(urlsOf(await run(emulator, 'segmind-vega', { prompt: 'x', samples: 3 }))).toHaveLength(3);
    const batch = await run(emulator, 'stable-diffusion-3.5-turbo-txt2img', {
      prompt: 'x',
      sampler: 'euler',
      scheduler: 'karras',
      batch_size: 4,
      width: 64,
      height: 64,
    });
    const urls = urlsOf(batch);
    expect(urls).toHaveLength(4);
    const bytes = await Promise.all(urls.map(async (url) => (await download(url)).bytes.toString('base64')));
    expect(new Set(bytes).size).toBe(4);
  });

  it('makes img2img outputs that follow the input image (URL or base64) and strength', async () => {
    const plain = (colour: string) =>
      sharp({ create: { width: 512, height: 512, channels: 3, background: colour } })
        .png()
        .toBuffer();
    const [red, blue] = await Promise.all([plain('#ff0000'), plain('#0000ff')]);
    const img2img = async (image: string, strength: number) => {
      const result = await run(emulator, 'sd1.5-img2img', { prompt: 'x', image, strength, seed: 5 });
      return decode(urlsOf(result)[0] as string);
    };
    const fromRed = await img2img(red.toString('base64'), 0.3);
    const fromBlue = await img2img(`data:image/png;base64,${blue.toString('base64')}`, 0.3);
    expect(fromRed.bytes.equals(fromBlue.bytes)).toBe(false);
    // Mostly red in, mostly red out: the red channel dominates.
    const channelMean = (pixels: Buffer, channel: number) => {
      let sum = 0;
      for (let i = channel; i < pixels.length; i += 3) sum += pixels[i] ?? 0;
      return sum / (pixels.length / 3);
    };
    expect(channelMean(fromRed.pixels, 0)).toBeGreaterThan(channelMean(fromRed.pixels, 2) + 60);
    expect(channelMean(fromBlue.pixels, 2)).toBeGreaterThan(channelMean(fromBlue.pixels, 0) + 60);

    // Strength moves the output away from the input.
    const gentle = await img2img(red.toString('base64'), 0.1);
    const strong = await img2img(red.toString('base64'), 0.9);
    const redPixels = await sharp(red).raw().toBuffer();
    expect(meanAbsoluteDifference(gentle.pixels, redPixels)).toBeLessThan(
      meanAbsoluteDifference(strong.pixels, redPixels),
    );

    // An input given by URL is fetched, like Segmind does.
    const byUrl = await run(emulator, 'ssd-img2img', {
      prompt: 'x',
      image: urlsOf(await run(emulator, 'segmind-vega-rt-v1', { prompt: 'seed image' }))[0],
    });
    expect((await decode(urlsOf(byUrl)[0] as string)).width).toBe(1024);
  });

  it('fails the request when the input image cannot be loaded', async () => {
    const { client } = await import('./client.js');
    const segmind = client(emulator);
    const submitted = (
      await segmind.submit('sd1.5-img2img', { prompt: 'x', image: `${emulator.url}/outputs/none/0.jpg` })
    ).json();
    const failed = await segmind.wait(String(submitted.status_url));
    expect(failed.status).toBe(422);
    expect(failed.json().error).toContain('input image');
  });

  it('inlines images as data URIs when base64 is asked for', async () => {
    const result = await run(emulator, 'segmind-vega', { prompt: 'x', samples: 2, base64: true });
    const output = result.output as string[];
    expect(output).toHaveLength(2);
    for (const item of output) {
      expect(item).toMatch(/^data:image\/jpeg;base64,/);
      const { width } = await sharp(Buffer.from(item.split(',')[1] as string, 'base64')).metadata();
      expect(width).toBe(1024);
    }
  });
});
