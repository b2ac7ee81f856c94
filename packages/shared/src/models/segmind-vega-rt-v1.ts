/** Segmind-VegaRT: LCM-LoRA of Vega, text → image in 4-10 steps (seed 000). */
import { z } from 'zod';
import { base64, prompt, seed } from './fields.js';
import type { ModelDefinition } from './model-definition.js';

const SegmindVegaRtV1Input = z.strictObject({
  prompt,
  num_inference_steps: z.number().int().min(4).max(10).default(4),
  seed: seed.default(-1),
  img_width: z.literal(1024).default(1024),
  img_height: z.literal(1024).default(1024),
  base64,
});

export const segmindVegaRtV1: ModelDefinition = {
  name: 'segmind-vega-rt-v1',
  title: 'Segmind-VegaRT',
  kind: 'text-to-image',
  input: SegmindVegaRtV1Input,
  imageFields: [],
  outputCount: () => 1,
  priceUsd: 0.0015,
  example: {
    prompt:
      'backlight, wilderness woman hunting in jungle hiding behind leaves, face paintings closeup face portrait, ' +
      'detailed eyes, nature documentary, dry skin, fuzzy skin, lens flare',
    num_inference_steps: 4,
    seed: 758143278,
    img_width: 1024,
    img_height: 1024,
  },
};
