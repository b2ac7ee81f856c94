/**
 * Outputs in S3 or an S3-compatible store (MinIO, R2, …) through the AWS SDK v3.
 * Uploads stream in bounded parts (memory does not grow with the object), and the
 * client sends plain bodies: recent SDKs default to `aws-chunked` checksummed
 * uploads, which some S3-compatible servers store framing and all.
 */

import type { Readable } from 'node:stream';
import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import {
  assertSafeKey,
  buildInputKey,
  buildKey,
  Digest,
  digestOf,
  ObjectNotFoundError,
  type Storage,
  StorageUnusableError,
  type StoredObject,
  type StoredObjectStream,
  storageCheckKey,
} from './storage.js';

interface S3Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

export interface S3StorageOptions {
  readonly bucket: string;
  /** Key prefix without surrounding slashes; may be empty. */
  readonly prefix: string;
  readonly region: string;
  readonly endpoint?: string | undefined;
  readonly forcePathStyle?: boolean;
  /** Explicit credentials; undefined: the AWS SDK default chain. */
  readonly credentials?: S3Credentials | undefined;
  /** Multipart part size in bytes (S3's minimum is 5 MiB). @defaultValue 5 MiB */
  readonly partSizeBytes?: number;
  /** Parts uploaded at once; each holds one part in memory. @defaultValue 2 */
  readonly partsInParallel?: number;
  /** `check()` creates a missing bucket instead of reporting it. @defaultValue false */
  readonly createBucket?: boolean;
}

export class S3Storage implements Storage {
  readonly description: string;
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #prefix: string;
  readonly #partSize: number;
  readonly #queueSize: number;
  readonly #createBucket: boolean;
  readonly #where: string;

  constructor(options: S3StorageOptions) {
    this.#bucket = options.bucket;
    this.#createBucket = options.createBucket ?? false;
    this.#where = options.endpoint ?? `AWS S3 (${options.region})`;
    this.#prefix = options.prefix;
    this.#partSize = options.partSizeBytes ?? 5 * 1024 * 1024;
    this.#queueSize = options.partsInParallel ?? 2;
    this.description = `s3://${options.bucket}/${options.prefix}`;
    this.#client = new S3Client({
      region: options.region,
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      forcePathStyle: options.forcePathStyle ?? false,
      // A copy: the SDK marks the object it is given, and configuration is frozen.
      ...(options.credentials ? { credentials: { ...options.credentials } } : {}),
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  outputKey(jobId: string, index: number, extension: string): string {
    return buildKey(this.#prefix, jobId, index, extension);
  }

  inputKey(jobId: string, field: string, extension: string): string {
    return buildInputKey(this.#prefix, jobId, field, extension);
  }

  async check(): Promise<void> {
    await this.#ensureBucket();
    const key = this.#prefix ? `${this.#prefix}/${storageCheckKey()}` : storageCheckKey();
    try {
      await this.#client.send(
        new PutObjectCommand({
          Bucket: this.#bucket,
          Key: key,
          Body: 'renderq storage check',
          ContentType: 'text/plain',
        }),
      );
      await this.#client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: key }));
    } catch (error) {
      throw new StorageUnusableError(`cannot write to ${this.description} at ${this.#where}: ${reasonOf(error)}`);
    }
  }

  async #ensureBucket(): Promise<void> {
    try {
      await this.#client.send(new HeadBucketCommand({ Bucket: this.#bucket }));
      return;
    } catch (error) {
      if (statusOf(error) !== 404) {
        throw new StorageUnusableError(`cannot reach bucket "${this.#bucket}" at ${this.#where}: ${reasonOf(error)}`);
      }
    }
    if (!this.#createBucket) {
      throw new StorageUnusableError(
        `bucket "${this.#bucket}" does not exist at ${this.#where} (STORAGE_URL; S3_CREATE_BUCKET=true creates it)`,
      );
    }
    try {
      await this.#client.send(new CreateBucketCommand({ Bucket: this.#bucket }));
    } catch (error) {
      // Another process (the API beside a worker) may be making it at the same moment: stores
      // answer BucketAlreadyOwnedByYou or BucketAlreadyExists. Ours if it can be reached now.
      if (!(await this.#bucketAppears())) {
        throw new StorageUnusableError(
          `could not create bucket "${this.#bucket}" at ${this.#where}: ${reasonOf(error)}`,
        );
      }
    }
  }

  /** Whether the bucket can be reached within about two seconds (another's create may still be settling). */
  async #bucketAppears(): Promise<boolean> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const found = await this.#client.send(new HeadBucketCommand({ Bucket: this.#bucket })).then(
        () => true,
        () => false,
      );
      if (found) return true;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    return false;
  }

  async put(key: string, body: Readable | Uint8Array, contentType: string): Promise<StoredObject> {
    assertSafeKey(key);
    if (body instanceof Uint8Array) {
      // Bytes in memory: one PutObject with its length, no multipart machinery.
      await this.#client.send(
        new PutObjectCommand({ Bucket: this.#bucket, Key: key, Body: body, ContentType: contentType }),
      );
      return { key, ...digestOf(body), contentType };
    }
    const digest = new Digest();
    const passThrough = new PassThrough();
    const feeding = pipeline(body, digest, passThrough);
    const upload = new Upload({
      client: this.#client,
      params: { Bucket: this.#bucket, Key: key, Body: passThrough, ContentType: contentType },
      partSize: this.#partSize,
      queueSize: this.#queueSize,
      leavePartsOnError: false,
    });
    // The digest is known only once the body has ended, so the job record keeps it, not S3.
    await Promise.all([feeding, upload.done()]).catch((error: unknown) => {
      passThrough.destroy();
      throw error;
    });
    return { key, size: digest.size, sha256: digest.sha256(), contentType };
  }

  async get(key: string): Promise<StoredObjectStream> {
    assertSafeKey(key);
    try {
      const answer = await this.#client.send(new GetObjectCommand({ Bucket: this.#bucket, Key: key }));
      return {
        key,
        body: answer.Body as Readable,
        size: answer.ContentLength ?? 0,
        contentType: answer.ContentType ?? 'application/octet-stream',
      };
    } catch (error) {
      if (error instanceof NoSuchKey || (error as { name?: string }).name === 'NoSuchKey') {
        throw new ObjectNotFoundError(key);
      }
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    assertSafeKey(key);
    await this.#client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: key }));
  }

  async presignedUrl(key: string, expiresInSeconds: number): Promise<string> {
    assertSafeKey(key);
    return getSignedUrl(this.#client, new GetObjectCommand({ Bucket: this.#bucket, Key: key }), {
      expiresIn: expiresInSeconds,
    });
  }

  async close(): Promise<void> {
    this.#client.destroy();
  }
}

function statusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

/** What an operator can act on: the HTTP status and S3's error name, or the network error's code. */
function reasonOf(error: unknown): string {
  const status = statusOf(error);
  const { name, code } = error as { name?: string; code?: string };
  if (status !== undefined) return `${status} ${name ?? 'error'}`;
  return code ?? name ?? String(error);
}
