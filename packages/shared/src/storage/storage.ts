/**
 * Where outputs (and input images sent inline) are kept. One interface, two backends
 * (files and S3); keys are `PREFIX/JOB_ID/INDEX.EXT` for outputs and
 * `PREFIX/JOB_ID/inputs/FIELD.EXT` for inputs, so a job that runs again writes the same keys.
 */
import { createHash, randomBytes } from 'node:crypto';
import { type Readable, Transform } from 'node:stream';

export interface StoredObject {
  /** The whole key, prefix included. */
  readonly key: string;
  readonly size: number;
  /** Hex SHA-256 of the stored bytes. */
  readonly sha256: string;
  readonly contentType: string;
}

/** An object read back; its digest is in the job record that points at it. */
export interface StoredObjectStream extends Omit<StoredObject, 'sha256'> {
  readonly body: Readable;
}

export interface Storage {
  /** Which backend, for logs: `file:///abs/dir` or `s3://bucket/prefix`. */
  readonly description: string;
  /** The key an output is stored under. */
  outputKey(jobId: string, index: number, extension: string): string;
  /** The key an input image sent inline is stored under, beside the job's outputs. */
  inputKey(jobId: string, field: string, extension: string): string;
  /**
   * Stores `body` at `key` (overwriting it) and reports what was stored: a stream is streamed;
   * bytes already in memory (a small output, an inline image) are written in one go.
   */
  put(key: string, body: Readable | Uint8Array, contentType: string): Promise<StoredObject>;
  /** Streams an object back; rejects with `ObjectNotFoundError` when there is none. */
  get(key: string): Promise<StoredObjectStream>;
  delete(key: string): Promise<void>;
  /** A time-limited URL that needs no credentials, where the backend can make one. */
  presignedUrl?(key: string, expiresInSeconds: number): Promise<string>;
  /**
   * Proves the store can be written (writes and removes a small object); rejects with a
   * `StorageUnusableError` naming what is wrong: a missing bucket, denied access, no route.
   */
  check(): Promise<void>;
  close(): Promise<void>;
}

/** The store cannot take outputs: a configuration or outage problem, named for an operator. */
export class StorageUnusableError extends Error {
  override readonly name = 'StorageUnusableError';
}

/**
 * A key for one storage check to write and remove: outside any job's keys (job ids never start with
 * a dot), and its own, so the API and the workers checking one store at once never write and delete
 * the same object (a store that takes such a race badly failed both checks).
 */
export function storageCheckKey(): string {
  return `.renderq-check-${randomBytes(6).toString('hex')}`;
}

export class ObjectNotFoundError extends Error {
  override readonly name = 'ObjectNotFoundError';
  constructor(readonly key: string) {
    super(`no stored object at "${key}"`);
  }
}

const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,254}$/;

/** Joins a key from safe segments; a segment with a slash, `..` or odd characters is a bug. */
export function buildKey(prefix: string, jobId: string, index: number, extension: string): string {
  const parts = [jobId, `${index}.${extension.replace(/^\./, '')}`];
  for (const part of parts) {
    if (!SEGMENT.test(part)) throw new Error(`unsafe storage key segment "${part}"`);
  }
  return prefix ? `${prefix}/${parts.join('/')}` : parts.join('/');
}

/** Joins an input's key from safe segments: `PREFIX/JOB_ID/inputs/FIELD.EXT`. */
export function buildInputKey(prefix: string, jobId: string, field: string, extension: string): string {
  const parts = [jobId, 'inputs', `${field}.${extension.replace(/^\./, '')}`];
  for (const part of parts) {
    if (!SEGMENT.test(part)) throw new Error(`unsafe storage key segment "${part}"`);
  }
  return prefix ? `${prefix}/${parts.join('/')}` : parts.join('/');
}

/** Rejects keys that could escape the store (absolute, `..`, empty segments). */
export function assertSafeKey(key: string): void {
  const segments = key.split('/');
  if (
    key.length === 0 ||
    key.length > 1024 ||
    segments.some((s) => s === '' || s === '.' || s === '..' || s.includes('\\') || s.includes('\0'))
  ) {
    throw new Error(`unsafe storage key "${key}"`);
  }
}

/** A pass-through stream that counts and hashes what flows through it. */
/** Size and sha256 of bytes in memory, as a Digest would report them. */
export function digestOf(bytes: Uint8Array): { readonly size: number; readonly sha256: string } {
  return { size: bytes.byteLength, sha256: createHash('sha256').update(bytes).digest('hex') };
}

export class Digest extends Transform {
  readonly #hash = createHash('sha256');
  size = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.#hash.update(chunk);
    this.size += chunk.length;
    this.push(chunk);
    callback();
  }

  /** The hex digest; call once the stream has ended. */
  sha256(): string {
    return this.#hash.digest('hex');
  }
}

const EXTENSIONS: Record<string, string> = {
  'image/jpeg': 'jpg',
  'image/png': 'png',
  'image/webp': 'webp',
  'image/gif': 'gif',
  'video/mp4': 'mp4',
  'application/json': 'json',
};

/** The file extension for a content type (`bin` for anything unknown). */
export function extensionFor(contentType: string): string {
  return EXTENSIONS[contentType.split(';')[0]?.trim().toLowerCase() ?? ''] ?? 'bin';
}
