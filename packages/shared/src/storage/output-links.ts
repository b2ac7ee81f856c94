/**
 * The key-free links to stored outputs and input images that jobs hand out
 * (docs/api.md: a browser or a webhook receiver can fetch them): signed, expiring
 * API links, or presigned S3 URLs where the store can make them and the operator
 * asked for them. The signing key is shared by every API process through Redis
 * unless configured.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Config } from '../config/config.js';
import type { RedisConnection } from '../redis/create-redis.js';
import { outputLinkSecretKey } from '../redis/keys.js';
import type { Storage } from './storage.js';
import type { StoredInput, StoredOutput } from './stored-objects.js';

export interface OutputLinksOptions {
  readonly publicBaseUrl: string;
  readonly ttlSeconds: number;
  readonly presigned: boolean;
  readonly storage: Storage;
}

export class OutputLinks {
  readonly #secret: Buffer;
  readonly #options: OutputLinksOptions;

  private constructor(secret: Buffer, options: OutputLinksOptions) {
    this.#secret = secret;
    this.#options = options;
  }

  /** The links configuration asks for (OUTPUT_LINKS, OUTPUT_LINK_SECRET, …), for the API and the worker alike. */
  static fromConfig(redis: RedisConnection, config: Config, storage: Storage): Promise<OutputLinks> {
    return OutputLinks.create(redis, config.redis.prefix, config.api.outputLinkSecret, {
      publicBaseUrl: config.api.publicBaseUrl,
      ttlSeconds: config.api.outputLinkTtlMs / 1000,
      presigned: config.api.outputLinks === 'presigned',
      storage,
    });
  }

  /** Uses `secret` when configured, otherwise one random key kept in Redis for every API process. */
  static async create(redis: RedisConnection, prefix: string, secret: string | undefined, options: OutputLinksOptions) {
    if (secret) return new OutputLinks(Buffer.from(secret), options);
    const key = outputLinkSecretKey(prefix);
    await redis.set(key, randomBytes(32).toString('base64'), 'NX');
    const shared = await redis.get(key);
    if (!shared) throw new Error('could not read the output link secret from Redis');
    return new OutputLinks(Buffer.from(shared, 'base64'), options);
  }

  async url(jobId: string, output: StoredOutput, now = Date.now()): Promise<string> {
    const { storage, presigned, ttlSeconds, publicBaseUrl } = this.#options;
    if (presigned && storage.presignedUrl) return storage.presignedUrl(output.storage_key, ttlSeconds);
    const expires = Math.floor(now / 1000) + ttlSeconds;
    const signature = this.#sign(jobId, output.index, expires);
    return `${publicBaseUrl}/v1/jobs/${jobId}/outputs/${output.index}?expires=${expires}&signature=${signature}`;
  }

  /** The link to an input image stored at enqueue (`GET /v1/jobs/{id}/inputs/{field}`). */
  async inputUrl(jobId: string, input: StoredInput, now = Date.now()): Promise<string> {
    const { storage, presigned, ttlSeconds, publicBaseUrl } = this.#options;
    if (presigned && storage.presignedUrl) return storage.presignedUrl(input.storage_key, ttlSeconds);
    const expires = Math.floor(now / 1000) + ttlSeconds;
    const signature = this.#sign(jobId, `inputs/${input.field}`, expires);
    return `${publicBaseUrl}/v1/jobs/${jobId}/inputs/${encodeURIComponent(input.field)}?expires=${expires}&signature=${signature}`;
  }

  /**
   * The link to a job's or batch's event stream (`GET /v1/jobs/{id}/events`, `…/batches/{id}/events`),
   * for a browser's EventSource, which cannot send a key. Always renderq's own link, never presigned.
   */
  eventsUrl(id: string, now = Date.now()): string {
    const { ttlSeconds, publicBaseUrl } = this.#options;
    const expires = Math.floor(now / 1000) + ttlSeconds;
    const kind = id.startsWith('bat_') ? 'batches' : 'jobs';
    return `${publicBaseUrl}/v1/${kind}/${id}/events?expires=${expires}&signature=${this.#sign(id, 'events', expires)}`;
  }

  /** Whether a link's query proves access to this job's or batch's event stream. */
  verifyEvents(id: string, expires: unknown, signature: unknown, now = Date.now()): boolean {
    return this.#verify(id, 'events', expires, signature, now);
  }

  /** Whether a link's query proves access to this output (signed by us, not expired). */
  verify(jobId: string, index: number, expires: unknown, signature: unknown, now = Date.now()): boolean {
    return this.#verify(jobId, String(index), expires, signature, now);
  }

  /** Whether a link's query proves access to this input image (signed by us, not expired). */
  verifyInput(jobId: string, field: string, expires: unknown, signature: unknown, now = Date.now()): boolean {
    return this.#verify(jobId, `inputs/${field}`, expires, signature, now);
  }

  #verify(jobId: string, what: string, expires: unknown, signature: unknown, now: number): boolean {
    const expiresAt = Number(expires);
    if (!Number.isInteger(expiresAt) || expiresAt * 1000 < now || typeof signature !== 'string') return false;
    const expected = Buffer.from(this.#sign(jobId, what, expiresAt));
    const given = Buffer.from(signature);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  /** `what` is an output's index, `inputs/FIELD` or `events`: a signature for one never fits another. */
  #sign(jobId: string, what: number | string, expires: number): string {
    return createHmac('sha256', this.#secret).update(`${jobId}/${what}/${expires}`).digest('base64url');
  }
}
