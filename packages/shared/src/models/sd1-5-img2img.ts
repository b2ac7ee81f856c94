/** Stable Diffusion 1.5 image → image (seed 004). */
import { z } from 'zod';
import { base64, diffusersScheduler, inputImage, negativePrompt, prompt, seed } from './fields.js';
import type { ModelDefinition } from './model-definition.js';

const resolution = z.union([z.literal(512), z.literal(768)]);

const Sd15Img2ImgInput = z.strictObject({
  image: inputImage,
  prompt,
  negative_prompt: negativePrompt.optional(),
  samples: z.number().int().min(1).max(4).default(1),
  scheduler: diffusersScheduler.default('DDIM'),
  num_inference_steps: z.number().int().min(20).max(100).default(20),
  guidance_scale: z.number().min(0.1).max(25).default(7.5),
  strength: z.number().min(0.1).max(1).default(1),
  seed: seed.default(-1),
  img_width: resolution.default(512),
  img_height: resolution.default(512),
  base64,
});

export const sd15Img2Img: ModelDefinition = {
  name: 'sd1.5-img2img',
  title: 'Stable Diffusion 1.5 Img2Img',
  kind: 'image-to-image',
  input: Sd15Img2ImgInput,
  imageFields: ['image'],
  outputCount: (input) => Number(input.samples ?? 1),
  priceUsd: 0.002,
  // The page's image is a path on its own site; any image URL (or base64) will do.
  example: {
    image: 'https://segmind-sd-models.s3.amazonaws.com/outputs/ssd_img2img_input.jpeg',
    samples: 1,
    prompt: 'A fantasy landscape, trending on artstation, mystical sky',
    negative_prompt: 'nude, disfigured, blurry',
    scheduler: 'DDIM',
    num_inference_steps: 25,
    guidance_scale: 10.5,
    strength: 0.75,
    seed: 98877465625,
    img_width: 512,
    img_height: 512,
  },
};
