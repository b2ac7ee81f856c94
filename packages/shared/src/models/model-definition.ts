/** What renderq knows of one Segmind model: its input schema and how to read it. */
import type { z } from 'zod';

export type ModelKind = 'text-to-image' | 'image-to-image';

export interface ModelDefinition {
  /** Segmind's slug, as in `POST /v2/{name}`. */
  readonly name: string;
  readonly title: string;
  readonly kind: ModelKind;
  /** Every parameter with its default, range and enum; unknown keys are rejected. */
  readonly input: z.ZodType<Record<string, unknown>, Record<string, unknown>>;
  /** Input fields holding an image (URL or base64), which the worker may need to fetch or check. */
  readonly imageFields: readonly string[];
  /** How many images a (validated) input asks for. */
  readonly outputCount: (input: Record<string, unknown>) => number;
  /**
   * USD per image made: what a job reserves against its tenant's spend budget until Segmind says
   * what it cost. An estimate at or above Segmind's price keeps budgets from being overrun;
   * MODEL_PRICES_USD replaces it.
   */
  readonly priceUsd: number;
  /** A valid input: the example of Segmind's own page for the model (OpenAPI shows it). */
  readonly example: Record<string, unknown>;
}
