/**
 * Outputs in S3 or an S3-compatible store (MinIO, R2, …) through the AWS SDK v3.
 * Uploads stream in bounded parts (memory does not grow with the object), and the
 * client sends plain bodies: recent SDKs default to `aws-chunked` checksummed
 * uploads, which some S3-compatible servers store framing and all.
 */

import type { Readable } from 'node:stream';
import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DeleteObjectCommand, GetObjectCommand, NoSuchKey, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import {
  assertSafeKey,
  buildInputKey,
  buildKey,
  Digest,
  ObjectNotFoundError,
  type Storage,
  type StoredObject,
  type StoredObjectStream,
} from './storage.js';

export interface S3Credentials {
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
}

export class S3Storage implements Storage {
  readonly description: string;
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #prefix: string;
  readonly #partSize: number;
  readonly #queueSize: number;

  constructor(options: S3StorageOptions) {
    this.#bucket = options.bucket;
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

  async put(key: string, body: Readable, contentType: string): Promise<StoredObject> {
    assertSafeKey(key);
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
