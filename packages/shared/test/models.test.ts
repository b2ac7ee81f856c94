import { Validator } from '@cfworker/json-schema';
import { describe, expect, it } from 'vitest';
import { describeModel, findModel, listModels, validateModelInput } from '../src/index.js';

const strict = { allowUnknown: false };
// A real image, as a caller would send it in place of the seeds' placeholder paths.
const imageBase64 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';

/** Each seed's own example payload, unchanged but for the placeholder image. */
const SEED_EXAMPLES: Record<string, Record<string, unknown>> = {
  'segmind-vega-rt-v1': {
    prompt:
      'backlight, wilderness woman hunting in jungle hiding behind leaves, face paintings closeup face portrait, detailed eyes, nature documentary, dry skin, fuzzy skin, lens flare',
    num_inference_steps: 4,
    seed: 758143278,
    img_width: 1024,
    img_height: 1024,
    base64: false,
  },
  'segmind-vega': {
    prompt: 'cinematic photo detailed closeup portraid of a Beautiful cyberpunk woman, robotic parts, cables, lights',
    negative_prompt: '(worst quality, low quality)',
    samples: 1,
    scheduler: 'UniPC',
    num_inference_steps: 25,
    guidance_scale: 9,
    seed: 1232788698,
    img_width: 1024,
    img_height: 1024,
    base64: false,
  },
  'ssd-img2img': {
    image: imageBase64,
    prompt:
      'photo of beautiful age 18 girl, pink hair, beautiful, close up, young, dslr, 8k, 4k, ultrarealistic, realistic, natural skin, textured skin',
    negative_prompt:
      'painting, drawing, sketch, cartoon, anime, manga, render, CG, 3d, watermark, signature, label, long neck',
    samples: 1,
    scheduler: 'Euler a',
    num_inference_steps: 30,
    guidance_scale: 7.5,
    seed: 452361789,
    strength: 0.9,
    base64: false,
  },
  'stable-diffusion-3.5-turbo-txt2img': {
    prompt:
      "A panda in a glowing tech-infused jacket, standing in front of a bustling cyberpunk market, his T-shirt displaying 'Segmind'.",
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
    base64: false,
  },
  'sd1.5-img2img': {
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
    base64: false,
  },
};

/** Per model: [what is wrong, the input change, the path that must be named]. */
const INVALID: Record<string, [string, Record<string, unknown>, string][]> = {
  'segmind-vega-rt-v1': [
    ['out of range', { num_inference_steps: 11 }, 'input.num_inference_steps'],
    ['not allowed', { img_width: 512 }, 'input.img_width'],
    ['wrong type', { seed: '42' }, 'input.seed'],
    ['not an integer', { num_inference_steps: 4.5 }, 'input.num_inference_steps'],
    ['unknown parameter', { guidance_scale: 7 }, 'input.guidance_scale'],
  ],
  'segmind-vega': [
    ['out of range', { guidance_scale: 26 }, 'input.guidance_scale'],
    ['wrong enum', { scheduler: 'Euler b' }, 'input.scheduler'],
    ['wrong type', { samples: '2' }, 'input.samples'],
    ['out of range', { samples: 5 }, 'input.samples'],
  ],
  'ssd-img2img': [
    ['out of range', { strength: 1 }, 'input.strength'],
    ['wrong enum', { scheduler: 'dpmpp_2m' }, 'input.scheduler'],
    ['wrong type', { image: 42 }, 'input.image'],
    ['not an image', { image: 'not an image at all' }, 'input.image'],
  ],
  'stable-diffusion-3.5-turbo-txt2img': [
    ['out of range', { width: 4096 }, 'input.width'],
    ['wrong enum', { image_format: 'gif' }, 'input.image_format'],
    ['wrong enum', { sampler: 'DDIM' }, 'input.sampler'],
    ['wrong type', { batch_size: true }, 'input.batch_size'],
    ['bad ratio', { aspect_ratio: 'wide' }, 'input.aspect_ratio'],
  ],
  'sd1.5-img2img': [
    ['not allowed', { img_width: 1024 }, 'input.img_width'],
    ['out of range', { strength: 0 }, 'input.strength'],
    ['wrong enum', { scheduler: 'euler' }, 'input.scheduler'],
    ['wrong type', { guidance_scale: '7.5' }, 'input.guidance_scale'],
  ],
};

describe('model catalogue', () => {
  it('holds the five seed models', () => {
    expect(listModels().map((m) => m.name)).toEqual(Object.keys(SEED_EXAMPLES));
  });

  it.each(Object.entries(SEED_EXAMPLES))("accepts %s's own example payload unchanged", (model, payload) => {
    const result = validateModelInput(model, payload, strict);
    expect(result).toMatchObject({ ok: true, model, known: true });
    if (!result.ok) return;
    // base64 is the worker's choice: accepted, then dropped.
    expect(result.input).not.toHaveProperty('base64');
    const { base64: _b, ...rest } = payload;
    expect(result.input).toMatchObject(rest);
  });

  it.each(listModels().map((m) => [m.name, m]))(
    "carries a valid example request for %s, the seed page's own but for the image",
    (name, model) => {
      const result = validateModelInput(name, model.example, strict);
      expect(result).toMatchObject({ ok: true, model: name });
      const { image: _image, base64: _base64, ...seed } = SEED_EXAMPLES[name] ?? {};
      const { image: _example, ...example } = model.example;
      // The seeds here shorten some prompts: each example starts with its seed's.
      expect(String(example.prompt)).toContain(String(seed.prompt).slice(0, 60));
      expect({ ...example, prompt: '' }).toEqual({ ...seed, prompt: '' });
    },
  );

  describe.each(Object.entries(INVALID))('%s rejects', (model, cases) => {
    it('a missing prompt, naming input.prompt', () => {
      const { prompt: _p, ...withoutPrompt } = SEED_EXAMPLES[model] as Record<string, unknown>;
      const result = validateModelInput(model, withoutPrompt, strict);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.issues.map((i) => i.path)).toEqual(['input.prompt']);
    });

    it.each(cases)('%s: %o', (_what, change, path) => {
      const result = validateModelInput(model, { ...SEED_EXAMPLES[model], ...change }, strict);
      expect(result.ok).toBe(false);
      if (!result.ok) {
        expect(result.issues.map((i) => i.path)).toEqual([path]);
        expect(result.issues[0]?.message).toBeTruthy();
      }
    });
  });

  it('fills in defaults, with the contradictions resolved as docs/segmind.md says', () => {
    const ssd = validateModelInput('ssd-img2img', { image: imageBase64, prompt: 'a cat' }, strict);
    expect(ssd).toMatchObject({
      ok: true,
      input: {
        samples: 1,
        scheduler: 'DPM2 Karras',
        num_inference_steps: 25,
        guidance_scale: 7.5,
        seed: -1,
        strength: 0.9,
      },
    });
    const sd35 = validateModelInput(
      'stable-diffusion-3.5-turbo-txt2img',
      { prompt: 'a cat', sampler: 'euler', scheduler: 'karras' },
      strict,
    );
    expect(sd35).toMatchObject({
      ok: true,
      input: {
        negative_prompt: 'low quality, blurry',
        steps: 4,
        guidance_scale: 1,
        seed: 98552302,
        width: 1024,
        height: 1024,
        aspect_ratio: 'custom',
        batch_size: 1,
        image_format: 'jpeg',
        image_quality: 95,
      },
    });
    const sd15 = validateModelInput('sd1.5-img2img', { image: 'https://example.com/a.png', prompt: 'x' }, strict);
    expect(sd15).toMatchObject({
      ok: true,
      input: { scheduler: 'DDIM', num_inference_steps: 20, strength: 1, img_width: 512 },
    });
    const rt = validateModelInput('segmind-vega-rt-v1', { prompt: 'x' }, strict);
    expect(rt).toEqual({
      ok: true,
      model: 'segmind-vega-rt-v1',
      known: true,
      input: { prompt: 'x', num_inference_steps: 4, seed: -1, img_width: 1024, img_height: 1024 },
    });
  });

  it('reports every wrong field at once, with paths inside a batch', () => {
    const result = validateModelInput('segmind-vega', { prompt: '', samples: 9, scheduler: 'nope' }, strict, [
      'jobs',
      3,
    ]);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.issues.map((i) => i.path).sort()).toEqual(
        ['jobs[3].input.prompt', 'jobs[3].input.samples', 'jobs[3].input.scheduler'].sort(),
      );
    }
  });

  it('counts the outputs an input asks for', () => {
    const vega = findModel('segmind-vega');
    const sd35 = findModel('stable-diffusion-3.5-turbo-txt2img');
    expect(vega?.outputCount({ samples: 3 })).toBe(3);
    expect(sd35?.outputCount({ batch_size: 7 })).toBe(7);
  });

  describe('models outside the catalogue', () => {
    it('are refused by default, naming the known ones', () => {
      const result = validateModelInput('flux-schnell', { prompt: 'x' }, strict);
      expect(result.ok).toBe(false);
      if (!result.ok) {
        expect(result.issues[0]?.path).toBe('model');
        expect(result.issues[0]?.message).toContain('segmind-vega');
      }
    });

    it('pass through in the opt-in mode, needing only a string prompt', () => {
      const open = { allowUnknown: true };
      expect(validateModelInput('flux-schnell', { prompt: 'x', steps: 4, base64: true }, open)).toEqual({
        ok: true,
        model: 'flux-schnell',
        known: false,
        input: { prompt: 'x', steps: 4 },
      });
      const noPrompt = validateModelInput('flux-schnell', { steps: 4 }, open);
      expect(noPrompt.ok).toBe(false);
      expect(validateModelInput('../etc/passwd', { prompt: 'x' }, open).ok).toBe(false);
      // Known models keep their schema even in the open mode.
      expect(validateModelInput('segmind-vega', { prompt: 'x', samples: 9 }, open).ok).toBe(false);
    });
  });

  it('describes each model with a JSON Schema that a real validator applies the same way', () => {
    for (const model of listModels()) {
      const description = describeModel(model);
      expect(description.input_schema).toMatchObject({ type: 'object' });
      expect(description.input_schema.required).toContain('prompt');
      const validator = new Validator(description.input_schema as never, '2020-12', false);
      expect(validator.validate(SEED_EXAMPLES[model.name]).valid).toBe(true);
      expect(validator.validate({ ...SEED_EXAMPLES[model.name], prompt: 42 }).valid).toBe(false);
    }
  });
});

describe('input sizes', () => {
  it('bounds inline images, image URLs and an unknown model’s input', () => {
    const huge = 'A'.repeat(16 * 1024 * 1024 + 4);
    const image = validateModelInput('sd1.5-img2img', { prompt: 'x', image: huge }, { allowUnknown: false });
    expect(image.ok).toBe(false);
    if (!image.ok)
      expect(image.issues[0]).toMatchObject({ path: 'input.image', message: expect.stringContaining('by URL') });
    const url = validateModelInput(
      'sd1.5-img2img',
      { prompt: 'x', image: `https://images.example/${'a'.repeat(3_000)}.png` },
      { allowUnknown: false },
    );
    expect(url.ok).toBe(false);
    const unknown = validateModelInput(
      'flux-pro',
      { prompt: 'x', extra: 'b'.repeat(300 * 1024) },
      { allowUnknown: true },
    );
    expect(unknown.ok).toBe(false);
    if (!unknown.ok) expect(unknown.issues[0]?.message).toContain('256 KiB');
    expect(validateModelInput('flux-pro', { prompt: 'x', steps: 4 }, { allowUnknown: true }).ok).toBe(true);
  });
});
