/**
 * Parameter building blocks shared by Segmind's diffusion models, so each model
 * file reads like the parameter tables in docs/segmind.md.
 */
import { z } from 'zod';
import { sniffImageType } from '../storage/sniff-image.js';

export const prompt = z.string().trim().min(1, 'must not be empty').max(10_000).describe('What to render.');

export const negativePrompt = z.string().max(10_000).describe('What to keep out of the image.');

/** -1 asks Segmind for a random seed. */
export const seed = z
  .number()
  .int()
  .min(-1)
  .max(999_999_999_999_999)
  .describe('Seed for image generation; -1 picks a random one.');

/** Segmind's `base64` is a transport detail the worker decides; callers' values are dropped. */
export const base64 = z
  .boolean()
  .optional()
  .describe('Accepted for compatibility with Segmind examples and ignored: renderq stores outputs and links to them.');

/**
 * The diffusers scheduler names on Segmind's SD/SDXL pages. The pages cut the list
 * off after PNDM ("+2 more"); UniPC is one of those, as Vega's own example uses it.
 */
export const diffusersScheduler = z.enum([
  'DDIM',
  'DPM Multi',
  'DPM Single',
  'Euler a',
  'Euler',
  'Heun',
  'DPM2 a Karras',
  'DPM2 Karras',
  'LMS',
  'PNDM',
  'UniPC',
]);

const httpUrl = /^https?:\/\/[^\s/$.?#][^\s]*$/i;
const dataUri = /^data:image\/[a-z0-9.+-]+;base64,[A-Za-z0-9+/]+={0,2}$/i;
const bareBase64 = /^[A-Za-z0-9+/\r\n]+={0,2}$/;
const dataUriHead = /^data:(image\/[a-z0-9.+-]+);base64,/i;

/** The largest inline (base64 or data: URI) input image, in characters: about 12 MB of image. */
const MAX_INLINE_IMAGE_CHARS = 16 * 1024 * 1024;

/** The image types an inline input may be: stored and served back by renderq, so never a page or a script. */
const INLINE_IMAGE_TYPES: Record<string, string> = {
  'image/png': 'image/png',
  'image/jpeg': 'image/jpeg',
  'image/jpg': 'image/jpeg',
  'image/webp': 'image/webp',
  'image/gif': 'image/gif',
};
const INLINE_IMAGE_NAMES = 'a PNG, JPEG, WebP or GIF image';

/**
 * Why an inline image (bare base64 or a data: URI) is refused, from its declared type and its
 * first bytes, or undefined. URLs and values of another shape are left to the other checks.
 */
function inlineImageProblem(value: string): string | undefined {
  if (httpUrl.test(value)) return undefined;
  // The whole value, not its start: a declared type of any length must be looked at.
  const dataUri = dataUriHead.exec(value);
  if (!dataUri && /^data:/i.test(value)) return `must be a data:image/…;base64, URI of ${INLINE_IMAGE_NAMES}`;
  const base64 = dataUri ? value.slice((dataUri[0] as string).length) : value;
  const head = Buffer.from(
    base64
      .slice(0, 64)
      .replace(/[\r\n]/g, '')
      .slice(0, 16),
    'base64',
  );
  const sniffed = sniffImageType(head);
  if (dataUri) {
    const declared = (dataUri[1] as string).toLowerCase();
    if (!INLINE_IMAGE_TYPES[declared]) return `must be ${INLINE_IMAGE_NAMES}, not ${declared}`;
    if (INLINE_IMAGE_TYPES[declared] !== sniffed) {
      return `says ${declared}, but its bytes are ${sniffed === 'application/octet-stream' ? 'not an image' : sniffed}`;
    }
    return undefined;
  }
  if (value.length < 64 || !bareBase64.test(value.slice(0, 256))) return undefined;
  return INLINE_IMAGE_TYPES[sniffed] ? undefined : `must be base64 of ${INLINE_IMAGE_NAMES}: its bytes are not one`;
}

/**
 * An input image as Segmind's img2img models take it: an http(s) URL, a data URI,
 * or bare base64 of the file (as in Segmind's own examples). Inline images must be
 * PNG, JPEG, WebP or GIF, as their first bytes show.
 */
export const inputImage = z
  .string()
  .min(1, 'must be an image URL or base64')
  .max(MAX_INLINE_IMAGE_CHARS, `must be at most ${MAX_INLINE_IMAGE_CHARS} characters (pass larger images by URL)`)
  .refine((value) => !httpUrl.test(value) || value.length <= 2_048, 'must be a URL of at most 2048 characters')
  .refine(
    (value) =>
      httpUrl.test(value) ||
      dataUri.test(value) ||
      (value.length >= 64 && value.length % 4 === 0 && bareBase64.test(value)),
    'must be an http(s) URL, a data:image/… URI or base64 of an image file',
  )
  .superRefine((value, ctx) => {
    const problem = inlineImageProblem(value);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  })
  .describe('The input image: an http(s) URL, a data: URI, or base64 of the file.');
