/** Stable Diffusion 3.5 Turbo, text → image (seed 003). */
import { z } from 'zod';
import { base64, negativePrompt, prompt } from './fields.js';
import type { ModelDefinition } from './model-definition.js';

/** ComfyUI's KSampler sampler names, the family Segmind's page draws its examples from. */
const sampler = z.enum([
  'euler',
  'euler_ancestral',
  'heun',
  'heunpp2',
  'dpm_2',
  'dpm_2_ancestral',
  'lms',
  'dpm_fast',
  'dpm_adaptive',
  'dpmpp_2s_ancestral',
  'dpmpp_sde',
  'dpmpp_sde_gpu',
  'dpmpp_2m',
  'dpmpp_2m_sde',
  'dpmpp_2m_sde_gpu',
  'dpmpp_3m_sde',
  'dpmpp_3m_sde_gpu',
  'ddpm',
  'lcm',
  'ddim',
  'uni_pc',
  'uni_pc_bh2',
]);

const scheduler = z.enum(['normal', 'karras', 'exponential', 'sgm_uniform', 'simple', 'ddim_uniform', 'beta']);

const StableDiffusion35TurboInput = z.strictObject({
  prompt,
  negative_prompt: negativePrompt.default('low quality, blurry'),
  // The page says 10-70 while its own default and example are 4 (a turbo model): accept 1-70.
  steps: z.number().int().min(1).max(70).default(4),
  guidance_scale: z.number().min(1).max(15).default(1),
  seed: z.number().int().min(-1).max(Number.MAX_SAFE_INTEGER).default(98552302),
  sampler,
  scheduler,
  width: z.number().int().min(64).max(2048).default(1024),
  height: z.number().int().min(64).max(2048).default(1024),
  // "custom" uses width/height; the page lists ratios by example only, so any W:H ratio is accepted.
  aspect_ratio: z
    .string()
    .regex(/^(custom|\d{1,2}:\d{1,2})$/, 'must be "custom" or a ratio such as "16:9"')
    .default('custom'),
  batch_size: z.number().int().min(1).max(10).default(1),
  image_format: z.enum(['jpeg', 'png', 'webp']).default('jpeg'),
  image_quality: z.number().int().min(10).max(100).default(95),
  base64,
});

export const stableDiffusion35TurboTxt2Img: ModelDefinition = {
  name: 'stable-diffusion-3.5-turbo-txt2img',
  title: 'Stable Diffusion 3.5 Turbo',
  kind: 'text-to-image',
  input: StableDiffusion35TurboInput,
  imageFields: [],
  outputCount: (input) => Number(input.batch_size ?? 1),
  priceUsd: 0.005,
  example: {
    prompt:
      "A panda in a glowing tech-infused jacket, standing in front of a bustling cyberpunk market, his T-shirt displaying 'Segmind'. " +
      'Neon lights illuminate his face, with a futuristic cityscape behind him. Reflections shimmer on the wet pavement.',
    negative_prompt: 'low quality, blurry',
    steps: 4,
    guidance_scale: 1,
    seed: 98552302,
    sampler: 'dpmpp_2m',
    scheduler: 'sgm_uniform',
    width: 1024,
    height: 1024,
    aspect_ratio: 'custom',
    batch_size: 1,
    image_format: 'jpeg',
    image_quality: 95,
  },
};
