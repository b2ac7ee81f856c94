/** Segmind-Vega: distilled SDXL, text → image (seed 001). */
import { z } from 'zod';
import { base64, diffusersScheduler, negativePrompt, prompt, seed } from './fields.js';
import type { ModelDefinition } from './model-definition.js';

const SegmindVegaInput = z.strictObject({
  prompt,
  negative_prompt: negativePrompt.optional(),
  samples: z.number().int().min(1).max(4).default(1),
  scheduler: diffusersScheduler.default('DPM2 Karras'),
  num_inference_steps: z.number().int().min(20).max(100).default(25),
  guidance_scale: z.number().min(1).max(25).default(7.5),
  seed: seed.default(-1),
  img_width: z.literal(1024).default(1024),
  img_height: z.literal(1024).default(1024),
  base64,
});

export const segmindVega: ModelDefinition = {
  name: 'segmind-vega',
  title: 'Segmind-Vega',
  kind: 'text-to-image',
  input: SegmindVegaInput,
  imageFields: [],
  outputCount: (input) => Number(input.samples ?? 1),
  priceUsd: 0.002,
  example: {
    prompt:
      'cinematic photo detailed closeup portraid of a Beautiful cyberpunk woman, robotic parts, cables, lights, ' +
      'text; , high quality photography, 3 point lighting, flash with softbox, 4k, Canon EOS R3, hdr, smooth, sharp ' +
      'focus, high resolution, award winning photo, 80mm, f2.8, bokeh . 35mm photograph, film, bokeh, professional, ' +
      '4k, highly detailed, high quality photography, 3 point lighting, flash with softbox, 4k, Canon EOS R3, hdr, ' +
      'smooth, sharp focus, high resolution, award winning photo, 80mm, f2.8, bokeh',
    negative_prompt: '(worst quality, low quality)',
    samples: 1,
    scheduler: 'UniPC',
    num_inference_steps: 25,
    guidance_scale: 9,
    seed: 1232788698,
    img_width: 1024,
    img_height: 1024,
  },
};
