/**
 * Idempotency-Key (CONTRACT.md, "Idempotency"): per tenant, for 24 hours, the same
 * key with the same JSON body (compared as parsed JSON) gets the first answer again
 * and never a second job; the same key with another body is a 422; the same key
 * while the first request is still being handled is a 409. The claim is one
 * `SET NX`, so concurrent retries race safely.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '@renderq/shared';
import type { Redis } from 'ioredis';

const TTL_SECONDS = 24 * 3600;

export type IdempotencyClaim =
  | { readonly kind: 'new' }
  | { readonly kind: 'replay'; readonly status: number; readonly body: unknown }
  | { readonly kind: 'in_progress' }
  | { readonly kind: 'mismatch' };

interface Entry {
  readonly hash: string;
  readonly state: 'pending' | 'done';
  readonly status?: number;
  readonly body?: unknown;
}

export class IdempotencyStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  static bodyHash(body: unknown): string {
    return createHash('sha256').update(canonicalJson(body)).digest('hex');
  }

  async claim(tenant: string, key: string, hash: string): Promise<IdempotencyClaim> {
    const redisKey = this.#key(tenant, key);
    const pending: Entry = { hash, state: 'pending' };
    if ((await this.redis.set(redisKey, JSON.stringify(pending), 'EX', TTL_SECONDS, 'NX')) === 'OK') {
      return { kind: 'new' };
    }
    const raw = await this.redis.get(redisKey);
    // Gone between the two calls (abandoned, or expired): try once more.
    if (raw === null) return this.claim(tenant, key, hash);
    const entry = JSON.parse(raw) as Entry;
    if (entry.hash !== hash) return { kind: 'mismatch' };
    if (entry.state === 'pending') return { kind: 'in_progress' };
    return { kind: 'replay', status: entry.status ?? 200, body: entry.body };
  }

  /** Records the first answer, to be given again to every retry. */
  async complete(tenant: string, key: string, hash: string, status: number, body: unknown): Promise<void> {
    const done: Entry = { hash, state: 'done', status, body };
    await this.redis.set(this.#key(tenant, key), JSON.stringify(done), 'EX', TTL_SECONDS);
  }

  /** Releases the key after a failure on our side, so a retry is handled afresh. */
  async abandon(tenant: string, key: string): Promise<void> {
    await this.redis.del(this.#key(tenant, key));
  }

  #key(tenant: string, key: string): string {
    return `${this.prefix}:idempotency:${tenant}:${createHash('sha256').update(key).digest('hex')}`;
  }
}
