/** SSD-1B image → image (seed 002). */
import { z } from 'zod';
import { base64, diffusersScheduler, inputImage, negativePrompt, prompt, seed } from './fields.js';
import type { ModelDefinition } from './model-definition.js';

const SsdImg2ImgInput = z.strictObject({
  image: inputImage,
  prompt,
  negative_prompt: negativePrompt.optional(),
  samples: z.number().int().min(1).max(4).default(1),
  scheduler: diffusersScheduler.default('DPM2 Karras'),
  num_inference_steps: z.number().int().min(20).max(100).default(25),
  guidance_scale: z.number().min(1).max(25).default(7.5),
  seed: seed.default(-1),
  // Segmind's page says default 7.5 but range 0-0.99; its own example's 0.9 is the only valid reading.
  strength: z.number().min(0).max(0.99).default(0.9),
  base64,
});

export const ssdImg2Img: ModelDefinition = {
  name: 'ssd-img2img',
  title: 'SSD-1B Img2Img',
  kind: 'image-to-image',
  input: SsdImg2ImgInput,
  imageFields: ['image'],
  outputCount: (input) => Number(input.samples ?? 1),
  priceUsd: 0.003,
  // The page sends this image as base64; renderq takes its URL as well.
  example: {
    image: 'https://segmind-sd-models.s3.amazonaws.com/outputs/ssd_img2img_input.jpeg',
    prompt:
      'photo of beautiful age 18 girl, pink hair, beautiful, close up, young, dslr, 8k, 4k, ultrarealistic, ' +
      'realistic, natural skin, textured skin',
    negative_prompt:
      'painting, drawing, sketch, cartoon, anime, manga, render, CG, 3d, watermark, signature, label, long neck',
    samples: 1,
    scheduler: 'Euler a',
    num_inference_steps: 30,
    guidance_scale: 7.5,
    seed: 452361789,
    strength: 0.9,
  },
};
