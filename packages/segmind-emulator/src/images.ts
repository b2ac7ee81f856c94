/**
 * Real images for emulated requests: a smooth colour field drawn from a hash of
 * (model, input, seed, index), so the same request makes the same bytes; for
 * img2img models the input image is blended in by `strength`, so the output
 * visibly follows the input. Encoded by sharp (libvips) as JPEG, PNG or WebP.
 */
import { createHash } from 'node:crypto';
import sharp from 'sharp';
import type { ImageFormat } from './model-profiles.js';

export interface ImageSpec {
  /** Hex digest of everything the image depends on. */
  readonly digest: string;
  readonly width: number;
  readonly height: number;
  readonly format: ImageFormat;
  readonly quality: number;
  /** img2img: the decoded input image and how far to move away from it (0-1). */
  readonly source?: { readonly image: Buffer; readonly strength: number };
}

export const CONTENT_TYPES: Readonly<Record<ImageFormat, string>> = {
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
};

export const EXTENSIONS: Readonly<Record<ImageFormat, string>> = { jpeg: 'jpg', png: 'png', webp: 'webp' };

/** The digest an output image is drawn from. */
export function imageDigest(parts: readonly (string | number | Buffer)[]): string {
  const hash = createHash('sha256');
  for (const part of parts) {
    hash.update(typeof part === 'string' || Buffer.isBuffer(part) ? part : String(part));
    hash.update('\0');
  }
  return hash.digest('hex');
}

const GRID = 12;

export async function renderImage(spec: ImageSpec): Promise<Buffer> {
  const { width, height } = spec;
  // A small grid of colours from the digest, enlarged smoothly: cheap, and distinct per digest.
  const grid = Buffer.alloc(GRID * GRID * 3);
  let block = Buffer.from(spec.digest, 'hex');
  for (let offset = 0; offset < grid.length; offset += block.length) {
    block.copy(grid, offset);
    block = createHash('sha256').update(block).digest();
  }
  let pixels: Buffer = await sharp(grid, { raw: { width: GRID, height: GRID, channels: 3 } })
    .resize(width, height, { kernel: 'cubic', fit: 'fill' })
    .raw()
    .toBuffer();
  if (spec.source) pixels = await blend(spec.source.image, pixels, width, height, spec.source.strength);
  const image = sharp(pixels, { raw: { width, height, channels: 3 } });
  switch (spec.format) {
    case 'jpeg':
      return image.jpeg({ quality: spec.quality }).toBuffer();
    case 'png':
      return image.png({ compressionLevel: 6 }).toBuffer();
    case 'webp':
      return image.webp({ quality: spec.quality, effort: 0 }).toBuffer();
  }
}

async function blend(
  source: Buffer,
  pattern: Buffer,
  width: number,
  height: number,
  strength: number,
): Promise<Buffer> {
  const base = await sharp(source).removeAlpha().resize(width, height, { fit: 'fill' }).raw().toBuffer();
  const out = Buffer.allocUnsafe(pattern.length);
  const keep = 1 - strength;
  for (let i = 0; i < out.length; i++) out[i] = Math.round((base[i] ?? 0) * keep + (pattern[i] ?? 0) * strength);
  return out;
}

/** Width and height of an encoded image, or undefined when it is not one sharp can read. */
export async function imageSize(bytes: Buffer): Promise<{ width: number; height: number } | undefined> {
  try {
    const { width, height } = await sharp(bytes).metadata();
    return width && height ? { width, height } : undefined;
  } catch {
    return undefined;
  }
}
