/**
 * Idempotency-Key: per tenant, for 24 hours, the same key with the same JSON body
 * (compared as parsed JSON) gets the first answer again and never a second job; the
 * same key with another body is a 422; the same key while the first request is
 * still being handled is a 409. The claim is one `SET NX`, so concurrent retries race
 * safely.
 *
 * The claim names the job (or batch) it is about to create. If Redis stops answering mid-request
 * (the caller gets a 503), the claim stays: a retry finds the job if its creation
 * went through after all, and answers with it — never a second job — or, once the
 * claim is older than a lease, takes the key over and creates it. A request renews its
 * lease while it works (a batch of 10,000 inline images can take longer than one), so a
 * retry never takes over a claim whose request is still creating.
 */
import { createHash } from 'node:crypto';
import { defineScripts, idempotencyKey, type RedisConnection, writeCanonicalJson } from '@renderq/shared';

const TTL_SECONDS = 24 * 3600;

export type IdempotencyClaim =
  /** The key is this request's; `raw` is its claim as stored, to renew it by. */
  | { readonly kind: 'new'; readonly raw: string }
  | {
      readonly kind: 'replay';
      readonly status: number;
      /** The first answer, or what was kept of it (see IdempotentCreation.compact). */
      readonly body: unknown;
      /** What the first request made, when it said. */
      readonly madeId: string | undefined;
    }
  | {
      readonly kind: 'in_progress';
      /** The job or batch the first request was creating, if it said. */
      readonly jobId: string | undefined;
      /** Whether the claim outlived its lease (the first request gave up or died). */
      readonly expired: boolean;
      /** Milliseconds until it does. */
      readonly leaseLeftMs: number;
      /** The claim as stored, for a takeover. */
      readonly raw: string;
    }
  | { readonly kind: 'mismatch' };

interface Entry {
  readonly hash: string;
  readonly state: 'pending' | 'done';
  readonly job_id?: string;
  readonly claimed_at?: number;
  readonly status?: number;
  readonly body?: unknown;
}

export class IdempotencyStore {
  constructor(
    private readonly redis: RedisConnection,
    private readonly prefix: string,
    /**
     * How long a claim whose request gave no answer holds its key before a retry may take it
     * over: longer than a step of a request can take with every Redis call at its timeout (the
     * request renews it while it works). @defaultValue 30_000
     */
    readonly leaseMs = 30_000,
  ) {
    defineScripts(redis);
  }

  static bodyHash(body: unknown): string {
    const hash = createHash('sha256');
    writeCanonicalJson(body, (text) => hash.update(text));
    return hash.digest('hex');
  }

  async claim(tenant: string, key: string, hash: string, jobId?: string): Promise<IdempotencyClaim> {
    const redisKey = this.#key(tenant, key);
    const pending = JSON.stringify({
      hash,
      state: 'pending',
      ...(jobId ? { job_id: jobId } : {}),
      claimed_at: Date.now(),
    } satisfies Entry);
    if ((await this.redis.set(redisKey, pending, 'EX', TTL_SECONDS, 'NX')) === 'OK') {
      return { kind: 'new', raw: pending };
    }
    const raw = await this.redis.get(redisKey);
    // Gone between the two calls (abandoned, or expired): try once more.
    if (raw === null) return this.claim(tenant, key, hash, jobId);
    const entry = JSON.parse(raw) as Entry;
    if (entry.hash !== hash) return { kind: 'mismatch' };
    if (entry.state === 'pending') {
      const leaseLeftMs = (entry.claimed_at ?? 0) + this.leaseMs - Date.now();
      return { kind: 'in_progress', jobId: entry.job_id, expired: leaseLeftMs <= 0, leaseLeftMs, raw };
    }
    return { kind: 'replay', status: entry.status ?? 200, body: entry.body, madeId: entry.job_id };
  }

  /**
   * Takes over a claim whose lease ran out, if nobody else did first, or renews this request's
   * own (`previous` as this request stored it). Returns the claim as now stored, or undefined
   * when it had changed.
   */
  async takeOver(
    tenant: string,
    key: string,
    hash: string,
    previous: string,
    jobId: string,
  ): Promise<string | undefined> {
    const claim = JSON.stringify({ hash, state: 'pending', job_id: jobId, claimed_at: Date.now() } satisfies Entry);
    // take-over-claim-1.lua in @renderq/shared
    const taken = await this.redis.renderqTakeOverClaim(this.#key(tenant, key), previous, claim, String(TTL_SECONDS));
    return taken === 1 ? claim : undefined;
  }

  /** Records the first answer (and what it made), to be given again to every retry. */
  async complete(
    tenant: string,
    key: string,
    hash: string,
    status: number,
    body: unknown,
    madeId?: string,
  ): Promise<void> {
    const done: Entry = { hash, state: 'done', status, body, ...(madeId ? { job_id: madeId } : {}) };
    await this.redis.set(this.#key(tenant, key), JSON.stringify(done), 'EX', TTL_SECONDS);
  }

  /** Releases the key after a failure on our side, so a retry is handled afresh. */
  async abandon(tenant: string, key: string): Promise<void> {
    await this.redis.del(this.#key(tenant, key));
  }

  #key(tenant: string, key: string): string {
    return idempotencyKey(this.prefix, tenant, createHash('sha256').update(key).digest('hex'));
  }
}
