/**
 * Outputs as files under one directory. Each object is written to a temporary file
 * and renamed into place, so a reader never sees half an object and a rewrite
 * replaces it whole; its content type and digest sit beside it in `KEY.meta.json`.
 * Files are 0600 and the directories made for them 0700, whatever the umask: outputs
 * are the tenants' and only renderq's user reads them.
 */

import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createPrivateFile, createPrivateWriteStream, makePrivateDir, writePrivateFile } from './private-files.js';
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

export class FileStorage implements Storage {
  readonly description: string;
  readonly #dir: string;

  constructor(dir: string) {
    this.#dir = path.resolve(dir);
    this.description = `file://${this.#dir}`;
  }

  outputKey(jobId: string, index: number, extension: string): string {
    return buildKey('', jobId, index, extension);
  }

  inputKey(jobId: string, field: string, extension: string): string {
    return buildInputKey('', jobId, field, extension);
  }

  async check(): Promise<void> {
    const probe = path.join(this.#dir, storageCheckKey());
    try {
      await makePrivateDir(this.#dir);
      await writePrivateFile(probe, 'renderq storage check');
      await rm(probe, { force: true });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? String(error);
      throw new StorageUnusableError(`cannot write to ${this.description} (STORAGE_URL): ${code}`);
    }
  }

  async put(key: string, body: Readable | Uint8Array, contentType: string): Promise<StoredObject> {
    const file = this.#pathOf(key);
    await makePrivateDir(path.dirname(file));
    const temporary = `${file}.${randomUUID()}.partial`;
    try {
      const { size, sha256 } =
        body instanceof Uint8Array ? await writeBytes(temporary, body) : await writeStream(temporary, body);
      const stored: StoredObject = { key, size, sha256, contentType };
      await createPrivateFile(`${temporary}.meta`, JSON.stringify(stored));
      await rename(temporary, file);
      await rename(`${temporary}.meta`, `${file}.meta.json`);
      return stored;
    } catch (error) {
      await rm(temporary, { force: true });
      await rm(`${temporary}.meta`, { force: true });
      throw error;
    }
  }

  async get(key: string): Promise<StoredObjectStream> {
    const file = this.#pathOf(key);
    let meta: StoredObject;
    try {
      meta = JSON.parse(await readFile(`${file}.meta.json`, 'utf8')) as StoredObject;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new ObjectNotFoundError(key);
      throw error;
    }
    const body = createReadStream(file);
    // Open before answering, so a missing file is a not-found and not a stream error later.
    await new Promise<void>((resolve, reject) => {
      body.once('open', () => resolve());
      body.once('error', (error: NodeJS.ErrnoException) =>
        reject(error.code === 'ENOENT' ? new ObjectNotFoundError(key) : error),
      );
    });
    return { key, size: meta.size, contentType: meta.contentType, body };
  }

  async delete(key: string): Promise<void> {
    const file = this.#pathOf(key);
    await rm(file, { force: true });
    await rm(`${file}.meta.json`, { force: true });
  }

  async close(): Promise<void> {}

  #pathOf(key: string): string {
    assertSafeKey(key);
    return path.join(this.#dir, ...key.split('/'));
  }
}

async function writeBytes(file: string, bytes: Uint8Array): Promise<{ size: number; sha256: string }> {
  await createPrivateFile(file, bytes);
  return digestOf(bytes);
}

async function writeStream(file: string, body: Readable): Promise<{ size: number; sha256: string }> {
  const digest = new Digest();
  await pipeline(body, digest, await createPrivateWriteStream(file));
  return { size: digest.size, sha256: digest.sha256() };
}
