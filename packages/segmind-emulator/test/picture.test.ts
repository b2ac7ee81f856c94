// Emulator pictures as a person sees them: each says which job made it, and is the same bytes every time.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { type ImageCaption, type ImageSpec, imageDigest, renderImage } from '../src/images.js';
import type { ImageFormat } from '../src/model-profiles.js';

/** A spec as the service makes one: the digest covers model, prompt, seed and size. */
function spec(overrides: Partial<ImageCaption> & { width?: number; height?: number; format?: ImageFormat } = {}) {
  const caption: ImageCaption = {
    model: 'segmind-vega',
    prompt: 'a lighthouse at dusk',
    seed: 42,
    index: 0,
    count: 1,
    ...overrides,
  };
  const { width = 640, height = 640, format = 'png' } = overrides;
  return {
    digest: imageDigest([caption.model, caption.prompt, caption.seed, caption.index, width, height]),
    width,
    height,
    format,
    quality: 90,
    caption,
  } satisfies ImageSpec;
}

async function pixels(bytes: Buffer) {
  const { data, info } = await sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/** Mean absolute difference of 16×16 thumbnails: what a person sees at a glance. */
async function glanceDifference(a: Buffer, b: Buffer): Promise<number> {
  const thumb = (bytes: Buffer) => sharp(bytes).resize(16, 16, { fit: 'fill' }).removeAlpha().raw().toBuffer();
  const [x, y] = await Promise.all([thumb(a), thumb(b)]);
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += Math.abs((x[i] ?? 0) - (y[i] ?? 0));
  return sum / x.length;
}

/** The bounding box of the pixels that differ, and how many do. */
async function differences(a: Buffer, b: Buffer) {
  const [x, y] = await Promise.all([pixels(a), pixels(b)]);
  let count = 0;
  const box = { left: x.width, top: x.height, right: -1, bottom: -1 };
  for (let p = 0; p < x.width * x.height; p++) {
    const i = p * 3;
    const d = Math.abs((x.data[i] ?? 0) - (y.data[i] ?? 0)) + Math.abs((x.data[i + 1] ?? 0) - (y.data[i + 1] ?? 0));
    if (d + Math.abs((x.data[i + 2] ?? 0) - (y.data[i + 2] ?? 0)) > 0) {
      count++;
      const [col, row] = [p % x.width, Math.floor(p / x.width)];
      box.left = Math.min(box.left, col);
      box.right = Math.max(box.right, col);
      box.top = Math.min(box.top, row);
      box.bottom = Math.max(box.bottom, row);
    }
  }
  return { count, box };
}

describe('emulator pictures', () => {
  it.each<ImageFormat>(['jpeg', 'png', 'webp'])('are the same bytes for the same request (%s)', async (format) => {
    const input = await sharp({ create: { width: 300, height: 200, channels: 3, background: '#2277aa' } })
      .png()
      .toBuffer();
    const txt2img = spec({ format, width: 512, height: 384 });
    const img2img = { ...txt2img, source: { image: input, strength: 0.4 } };
    const [a, b, c, d] = await Promise.all([
      renderImage(txt2img),
      renderImage(txt2img),
      renderImage(img2img),
      renderImage(img2img),
    ]);
    expect(a.equals(b)).toBe(true);
    expect(c.equals(d)).toBe(true);
    expect(a.equals(c)).toBe(false);
  });

  it('look different at a glance for another prompt, seed or model', async () => {
    const base = await renderImage(spec());
    const others = await Promise.all([
      renderImage(spec({ prompt: 'a red fox in the snow' })),
      renderImage(spec({ seed: 43 })),
      renderImage(spec({ model: 'segmind-vega-rt-v1' })),
    ]);
    for (const other of others) expect(await glanceDifference(base, other)).toBeGreaterThan(10);
  });

  it.each([
    ['prompt', { prompt: 'a blue whale under the ice' }],
    ['seed', { seed: 987654 }],
    ['model', { model: 'stable-diffusion-3.5-turbo-txt2img' }],
    ['image index', { index: 2, count: 4 }],
  ])('draw the %s as text on a card: with the background held, only the card changes', async (_field, change) => {
    const held = spec();
    const [before, after] = await Promise.all([
      renderImage(held),
      renderImage({ ...held, caption: { ...held.caption, ...change } }),
    ]);
    const { count, box } = await differences(before, after);
    // Enough changed pixels to be letters, all of them inside the card at the bottom.
    expect(count).toBeGreaterThan(300);
    expect(box.top).toBeGreaterThan(held.height * 0.4);
    expect(box.bottom).toBeLessThan(held.height - 20);
    expect(box.left).toBeGreaterThan(20);
    expect(box.right).toBeLessThan(held.width - 20);
  });

  it('leave text off pictures too small to read it (the 64×64 ones benchmarks ask for)', async () => {
    const tiny = spec({ width: 64, height: 64 });
    const other = { ...tiny, caption: { ...tiny.caption, prompt: 'another prompt', seed: 1 } };
    expect((await renderImage(tiny)).equals(await renderImage(other))).toBe(true);
    const small = spec({ width: 256, height: 256 });
    const smallOther = { ...small, caption: { ...small.caption, prompt: 'another prompt', seed: 1 } };
    expect((await renderImage(small)).equals(await renderImage(smallOther))).toBe(false);
  });

  it('draw characters the font lacks as ?', async () => {
    const held = spec();
    const draw = (prompt: string) => renderImage({ ...held, caption: { ...held.caption, prompt } });
    const [foreign, questioned, accented] = await Promise.all([draw('日本の灯台'), draw('????? '), draw('café')]);
    expect(foreign.equals(questioned)).toBe(true);
    expect(accented.equals(await draw('caf?'))).toBe(false);
  });

  it('keep a very long prompt to the card', async () => {
    const held = spec({ width: 1024, height: 1024, format: 'jpeg' });
    const bytes = await renderImage({
      ...held,
      caption: { ...held.caption, prompt: 'an endless prompt about lighthouses '.repeat(500) },
    });
    expect(await sharp(bytes).metadata()).toMatchObject({ width: 1024, height: 1024, format: 'jpeg' });
  });

  it('match the committed golden picture (the text as a person read it)', async () => {
    const golden = fileURLToPath(new URL('golden/caption-640x360.png', import.meta.url));
    const drawn = await renderImage(
      spec({
        width: 640,
        height: 360,
        prompt: 'GOLDEN picture: a lighthouse at dusk, 0123456789 (áéí) — wrapped onto a second line when it is long',
        seed: 20240501,
        index: 1,
        count: 2,
      }),
    );
    // After a deliberate change of design, look at the new picture and commit it: UPDATE_GOLDEN=1.
    if (process.env.UPDATE_GOLDEN === '1') writeFileSync(golden, drawn);
    const [want, got] = await Promise.all([pixels(readFileSync(golden)), pixels(drawn)]);
    expect([got.width, got.height]).toEqual([want.width, want.height]);
    expect(farApart(want.data, got.data)).toBeLessThan(10);
  });
});

/**
 * How many channel values differ by more than 16 of 255: none on this machine; another
 * CPU's rounding in libvips may shade an edge pixel by a level or two, while one changed
 * character of the prompt (a 3 for an 8, an á for an a) moves about fifty.
 */
function farApart(a: Buffer, b: Buffer): number {
  let far = 0;
  for (let i = 0; i < a.length; i++) if (Math.abs((a[i] ?? 0) - (b[i] ?? 0)) > 16) far++;
  return far;
}
