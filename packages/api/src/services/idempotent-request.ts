/**
 * A creating request (a job, a batch) answered under its Idempotency-Key: the first
 * answer again for a retry, never a second creation. The claim names what the request
 * is about to create, so a retry after Redis stopped answering mid-request finds it if it
 * was made after all. The store and its rules are in idempotency.ts.
 */
import { isRedisUnavailable } from '@renderq/shared';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ApiContext } from '../api-context.js';
import { Problem, RetryLaterProblem } from '../http/problems.js';
import { IdempotencyStore } from './idempotency.js';

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

interface Answer {
  readonly status: number;
  readonly body: unknown;
}

export interface IdempotentCreation {
  /** The request as compared with its retries (parsed JSON; for NDJSON, the lines and the query). */
  readonly request: unknown;
  /** A fresh id for what the request creates. */
  readonly newId: () => string;
  /** What a first request made under `id`, as the 202 answer shows it, if it was made (and is the tenant's). */
  readonly made: (id: string) => Promise<unknown>;
  /** Creates it under `id`. */
  readonly create: (id: string) => Promise<Answer>;
  /**
   * For answers too large to keep for 24 h (a batch's 10,000 job ids): what is kept of a
   * successful answer, and the answer restored from it and the id of what was made.
   */
  readonly compact?: {
    readonly keep: (body: unknown) => unknown;
    readonly restore: (kept: unknown, id: string) => Promise<unknown>;
  };
}

/** The Idempotency-Key header, checked; undefined when none was sent. */
export function idempotencyKeyOf(request: FastifyRequest): string | undefined {
  const key = request.headers['idempotency-key'];
  if (key === undefined) return undefined;
  if (typeof key !== 'string' || !IDEMPOTENCY_KEY.test(key)) {
    throw new Problem('validation_failed', 'Idempotency-Key must be 1-255 visible ASCII characters', [
      { path: 'headers.idempotency-key', message: 'must be 1-255 visible ASCII characters' },
    ]);
  }
  return key;
}

export async function answerIdempotently(
  ctx: ApiContext,
  request: FastifyRequest,
  reply: FastifyReply,
  key: string,
  creation: IdempotentCreation,
) {
  const hash = IdempotencyStore.bodyHash(creation.request);
  const id = creation.newId();
  const claim = await ctx.idempotency.claim(request.tenant, key, hash, id);
  let held: string | undefined;
  switch (claim.kind) {
    case 'replay': {
      if (claim.status >= 400) reply.type('application/problem+json');
      const body =
        creation.compact && claim.status < 300 && claim.madeId
          ? await creation.compact.restore(claim.body, claim.madeId)
          : claim.body;
      return reply.code(claim.status).header('idempotent-replayed', 'true').send(body);
    }
    case 'mismatch':
      throw new Problem('idempotency_key_reused', `Idempotency-Key ${key} was used with a different body`);
    case 'in_progress': {
      // The first request may have created it and then lost Redis before answering: that is the answer.
      const made = claim.jobId ? await creation.made(claim.jobId) : undefined;
      if (made !== undefined) {
        await ctx.idempotency.complete(request.tenant, key, hash, 202, kept(creation, made), claim.jobId);
        return reply.code(202).header('idempotent-replayed', 'true').send(made);
      }
      held = claim.expired ? await ctx.idempotency.takeOver(request.tenant, key, hash, claim.raw, id) : undefined;
      if (!held) {
        reply.header('retry-after', String(Math.max(1, Math.ceil(claim.leaseLeftMs / 1000))));
        throw new Problem('idempotency_in_progress', `a request with Idempotency-Key ${key} is still being handled`);
      }
      break;
    }
    case 'new':
      held = claim.raw;
      break;
  }
  // The lease is renewed while the request works, so that no retry takes the key over meanwhile.
  let claimed = held;
  const renewal = setInterval(() => {
    void ctx.idempotency.takeOver(request.tenant, key, hash, claimed, id).then(
      (renewed) => {
        if (renewed) claimed = renewed;
      },
      () => undefined, // Redis not answering: the next renewal tries again; the lease is long enough for one miss.
    );
  }, ctx.idempotency.leaseMs / 3);
  renewal.unref();
  try {
    const answer = await creation.create(id);
    await ctx.idempotency.complete(request.tenant, key, hash, answer.status, kept(creation, answer.body), id);
    return reply.code(answer.status).send(answer.body);
  } catch (error) {
    // The caller's mistakes are the answer for good; what passes with time (429, 503) is not.
    if (error instanceof Problem && error.status < 500 && !(error instanceof RetryLaterProblem)) {
      await ctx.idempotency.complete(request.tenant, key, hash, error.status, error.body());
    } else if (!isRedisUnavailable(error)) {
      await ctx.idempotency.abandon(request.tenant, key);
    }
    // Redis not answering: it may yet be created; the claim names it, so a retry finds it.
    throw error;
  } finally {
    clearInterval(renewal);
  }
}

/** What the store keeps of a successful answer. */
function kept(creation: IdempotentCreation, body: unknown): unknown {
  return creation.compact ? creation.compact.keep(body) : body;
}
