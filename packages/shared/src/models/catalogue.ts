/**
 * The model catalogue: the Segmind models renderq knows, looked up by name, and
 * input validation against them. The catalogue is data — add a model by adding a
 * definition to `KNOWN_MODELS`. Models outside it are accepted only in the opt-in
 * pass-through mode (`RENDERQ_ALLOW_UNKNOWN_MODELS=true`).
 */
import { z } from 'zod';
import { formatPath, issuesFromZod, parseWithMessages, type ValidationIssue } from '../validation.js';
import type { ModelDefinition, ModelKind } from './model-definition.js';
import { sd15Img2Img } from './sd1-5-img2img.js';
import { segmindVega } from './segmind-vega.js';
import { segmindVegaRtV1 } from './segmind-vega-rt-v1.js';
import { ssdImg2Img } from './ssd-img2img.js';
import { stableDiffusion35TurboTxt2Img } from './stable-diffusion-3-5-turbo-txt2img.js';

const KNOWN_MODELS: readonly ModelDefinition[] = [
  segmindVegaRtV1,
  segmindVega,
  ssdImg2Img,
  stableDiffusion35TurboTxt2Img,
  sd15Img2Img,
];

const byName = new Map(KNOWN_MODELS.map((model) => [model.name, model]));

/** Segmind model slugs: what may stand in `/v2/{model}`. */
const ModelName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,127}$/i, 'must be a Segmind model slug such as "segmind-vega"');

/** Input of a model outside the catalogue: any object with a string prompt, passed through. */
/** The most an unknown model's input may weigh as JSON: it is kept in the job record and read back on every GET. */
const MAX_PASS_THROUGH_INPUT_BYTES = 256 * 1024;

const PassThroughInput = z
  .looseObject({ prompt: z.string().trim().min(1, 'must not be empty').max(10_000) })
  .refine(
    (input) => Buffer.byteLength(JSON.stringify(input)) <= MAX_PASS_THROUGH_INPUT_BYTES,
    `must be at most ${MAX_PASS_THROUGH_INPUT_BYTES / 1024} KiB as JSON for a model renderq does not know (pass images by URL)`,
  );

export interface CatalogueOptions {
  /** Accept models outside the catalogue (input passed through). @defaultValue false */
  readonly allowUnknown: boolean;
}

export type ValidatedInput =
  | {
      readonly ok: true;
      readonly model: string;
      readonly known: boolean;
      /** The input with defaults filled in and `base64` removed (the worker sets it). */
      readonly input: Record<string, unknown>;
    }
  | { readonly ok: false; readonly issues: readonly ValidationIssue[] };

export function listModels(): readonly ModelDefinition[] {
  return KNOWN_MODELS;
}

export function findModel(name: string): ModelDefinition | undefined {
  return byName.get(name);
}

/**
 * Validates `{model, input}` as a caller sends it; issue paths are relative to
 * `base` (for example `['jobs', 3]` inside a batch).
 */
export function validateModelInput(
  model: unknown,
  input: unknown,
  options: CatalogueOptions,
  base: readonly PropertyKey[] = [],
): ValidatedInput {
  const name = parseWithMessages(ModelName, model);
  if (!name.success) return { ok: false, issues: issuesFromZod(name.error, [...base, 'model']) };
  const definition = byName.get(name.data);
  if (!definition && !options.allowUnknown) {
    return {
      ok: false,
      issues: [
        {
          path: formatPath([...base, 'model']),
          message: `unknown model "${name.data}"; known models: ${KNOWN_MODELS.map((m) => m.name).join(', ')}`,
        },
      ],
    };
  }
  const schema = definition?.input ?? PassThroughInput;
  const parsed = parseWithMessages(schema, input);
  if (!parsed.success) {
    const unknownKey = `is not a parameter of ${name.data}`;
    return { ok: false, issues: issuesFromZod(parsed.error, [...base, 'input'], unknownKey) };
  }
  const { base64: _dropped, ...rest } = parsed.data as Record<string, unknown>;
  return { ok: true, model: name.data, known: definition !== undefined, input: rest };
}

export interface ModelDescription {
  readonly name: string;
  readonly title: string;
  readonly kind: ModelKind;
  readonly price_usd: number;
  readonly input_schema: Record<string, unknown>;
}

/**
 * A model as `/v1/models` and OpenAPI show it: its price per image (`priceUsd`, the catalogue's
 * unless the configuration gives another) and the JSON Schema of what a caller may send.
 */
export function describeModel(model: ModelDefinition, priceUsd = model.priceUsd): ModelDescription {
  return {
    name: model.name,
    title: model.title,
    kind: model.kind,
    price_usd: priceUsd,
    input_schema: z.toJSONSchema(model.input, { io: 'input' }) as Record<string, unknown>,
  };
}
