/**
 * Segmind's checks on a submit, one after the other: the model exists, is not
 * retired, the account may use it, the rate limit has room, the parameters parse, the
 * balance covers the cost. A submit that passes becomes a QUEUED, billable request;
 * one that does not is told which check refused it.
 */
import { randomInt, randomUUID } from 'node:crypto';
import { findModel } from '@renderq/shared';
import { z } from 'zod';
import { roundCredits } from './credits.js';
import type { EmulatedRequest } from './emulated-request.js';
import { MODEL_PROFILES } from './model-profiles.js';
import type { FaultSettings } from './settings.js';
import { SubmitWindows } from './submit-windows.js';

export type SubmitOutcome =
  | { readonly kind: 'accepted'; readonly request: EmulatedRequest }
  | { readonly kind: 'unknown_model' }
  | { readonly kind: 'forbidden'; readonly message: string }
  | { readonly kind: 'retired'; readonly message: string }
  | { readonly kind: 'invalid'; readonly message: string }
  | { readonly kind: 'insufficient_credits'; readonly message: string }
  | { readonly kind: 'rate_limited'; readonly resetAt: Date };

export class SubmitAdmission {
  readonly #windows = new SubmitWindows();
  readonly #lenientSchemas = new Map<string, z.ZodType>();

  /** A new limit counts from its own first submit, not within a window of the old one. */
  limitChanged(): void {
    this.#windows.reset();
  }

  admit(model: string, body: unknown, settings: FaultSettings): SubmitOutcome {
    const definition = findModel(model);
    const profile = MODEL_PROFILES[model];
    if (!definition || !profile) return { kind: 'unknown_model' };
    if (settings.retiredModels.includes(model)) {
      return { kind: 'retired', message: `Model ${model} has been retired and is no longer available` };
    }
    if (settings.forbiddenModels.includes(model)) {
      return { kind: 'forbidden', message: `Your account is not permitted to use model ${model}` };
    }
    const limit = settings.submitRateLimit;
    const rateLimited = limit ? this.#windows.take(limit, Date.now()) : undefined;
    if (rateLimited) return { kind: 'rate_limited', resetAt: rateLimited };
    const parsed = this.#lenientSchema(model).safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const field = issue?.path.join('.') || 'body';
      return { kind: 'invalid', message: `Invalid parameter ${field}: ${issue?.message ?? 'invalid'}` };
    }
    const { base64, ...input } = parsed.data as Record<string, unknown>;
    const imageCount = definition.outputCount(input);
    const cost = roundCredits(profile.costPerImage * imageCount);
    if (settings.credits < cost) {
      return {
        kind: 'insufficient_credits',
        message: `Insufficient credits: your balance is ${roundCredits(settings.credits)} credits and this request costs ${cost} credits`,
      };
    }
    const seed = typeof input.seed === 'number' && input.seed >= 0 ? input.seed : randomInt(0, 2 ** 32);
    const request: EmulatedRequest = {
      id: randomUUID(),
      model,
      input: { ...input, seed },
      wantsBase64: base64 === true,
      seed,
      imageCount,
      cost,
      status: 'QUEUED',
      createdAt: Date.now(),
    };
    return { kind: 'accepted', request };
  }

  #lenientSchema(model: string): z.ZodType {
    let schema = this.#lenientSchemas.get(model);
    if (!schema) {
      // renderq rejects unknown parameters to catch typos; Segmind ignores them.
      const input = findModel(model)?.input;
      schema = input instanceof z.ZodObject ? input.loose() : z.never();
      this.#lenientSchemas.set(model, schema);
    }
    return schema;
  }
}
