/**
 * Real images for emulated requests, drawn by picture-svg.ts (a background from a hash
 * of the request, and a card naming model, prompt, seed and size) and encoded by sharp
 * (libvips) as JPEG, PNG or WebP. The same request makes the same bytes. For img2img
 * models the input image lies underneath, the background drawn over it as opaque as
 * `strength`, so the output visibly follows the input.
 */
import { createHash } from 'node:crypto';
import sharp from 'sharp';
import type { ImageFormat } from './model-profiles.js';
import { type ImageCaption, pictureSvg } from './picture-svg.js';

export type { ImageCaption } from './picture-svg.js';

export interface ImageSpec {
  /** Hex digest of everything the image depends on. */
  readonly digest: string;
  readonly width: number;
  readonly height: number;
  readonly format: ImageFormat;
  readonly quality: number;
  /** What the image says about the job that made it. */
  readonly caption: ImageCaption;
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

export async function renderImage(spec: ImageSpec): Promise<Buffer> {
  const { width, height, source } = spec;
  const svg = Buffer.from(
    pictureSvg({
      digest: spec.digest,
      width,
      height,
      format: spec.format,
      caption: spec.caption,
      ...(source ? { strength: source.strength } : {}),
    }),
  );
  const image = source
    ? sharp(source.image)
        .removeAlpha()
        .toColourspace('srgb')
        .resize(width, height, { fit: 'fill' })
        .composite([{ input: svg }])
    : sharp(svg).removeAlpha();
  switch (spec.format) {
    case 'jpeg':
      return image.jpeg({ quality: spec.quality }).toBuffer();
    case 'png':
      return image.png({ compressionLevel: 6 }).toBuffer();
    case 'webp':
      return image.webp({ quality: spec.quality, effort: 0 }).toBuffer();
  }
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
