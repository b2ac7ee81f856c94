/**
 * Parameter building blocks shared by Segmind's diffusion models, so each model
 * file reads like the parameter tables in docs/segmind.md.
 */
import { z } from 'zod';

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

/** The largest inline (base64 or data: URI) input image, in characters: about 12 MB of image. */
const MAX_INLINE_IMAGE_CHARS = 16 * 1024 * 1024;

/**
 * An input image as Segmind's img2img models take it: an http(s) URL, a data URI,
 * or bare base64 of the file (as in Segmind's own examples).
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
  .describe('The input image: an http(s) URL, a data: URI, or base64 of the file.');
