/**
 * Input images sent inline (bare base64 or a data: URI, in a model's image fields):
 * stored at enqueue under the job's id (`PREFIX/JOB_ID/inputs/FIELD.EXT`), so the
 * record, every read of the job and every webhook carry a link and a digest instead
 * of the bytes; the worker reads them back when it submits, since Segmind cannot
 * reach renderq's storage. A URL stays in the input as given.
 */

import { sniffImageType } from './sniff-image.js';
import { extensionFor, type Storage } from './storage.js';
import type { StoredInput } from './stored-objects.js';

export interface InlineImage {
  readonly field: string;
  readonly bytes: Buffer;
  readonly contentType: string;
  readonly encoding: StoredInput['encoding'];
}

const DATA_URI = /^data:([^;,]+);base64,(.*)$/is;

/** The inline images among `input`'s `imageFields`, decoded; URLs and absent fields are not among them. */
export function inlineImages(imageFields: readonly string[], input: Record<string, unknown>): InlineImage[] {
  const found: InlineImage[] = [];
  for (const field of imageFields) {
    const value = input[field];
    if (typeof value !== 'string' || /^https?:\/\//i.test(value)) continue;
    const dataUri = DATA_URI.exec(value);
    const bytes = Buffer.from(dataUri ? (dataUri[2] as string) : value, 'base64');
    found.push({
      field,
      bytes,
      contentType: dataUri ? (dataUri[1] as string).toLowerCase() : sniffImageType(bytes),
      encoding: dataUri ? 'data_uri' : 'base64',
    });
  }
  return found;
}

/**
 * Stores each image under the job's id; the same job and bytes always land under the
 * same key. All or none: when one fails, those already stored are removed again.
 */
export async function storeInputImages(
  storage: Storage,
  jobId: string,
  images: readonly InlineImage[],
): Promise<StoredInput[]> {
  const stored: StoredInput[] = [];
  try {
    for (const image of images) {
      const key = storage.inputKey(jobId, image.field, extensionFor(image.contentType));
      const object = await storage.put(key, image.bytes, image.contentType);
      stored.push({
        field: image.field,
        storage_key: object.key,
        content_type: object.contentType,
        size: object.size,
        sha256: object.sha256,
        encoding: image.encoding,
      });
    }
  } catch (error) {
    await deleteStoredInputs(storage, stored);
    throw error;
  }
  return stored;
}

/** `input` without the fields that were stored. */
export function withoutStoredFields(
  input: Record<string, unknown>,
  stored: readonly { readonly field: string }[],
): Record<string, unknown> {
  if (stored.length === 0) return input;
  const fields = new Set(stored.map((s) => s.field));
  return Object.fromEntries(Object.entries(input).filter(([field]) => !fields.has(field)));
}

/** Each stored input as the caller sent it (bare base64, or a data: URI), by field. */
export async function readStoredInputs(
  storage: Storage,
  inputs: readonly StoredInput[],
): Promise<Record<string, string>> {
  const read: Record<string, string> = {};
  for (const input of inputs) {
    const object = await storage.get(input.storage_key);
    const chunks: Buffer[] = [];
    for await (const chunk of object.body) chunks.push(chunk as Buffer);
    const base64 = Buffer.concat(chunks).toString('base64');
    read[input.field] = input.encoding === 'data_uri' ? `data:${input.content_type};base64,${base64}` : base64;
  }
  return read;
}

/** Deletes stored inputs (a request that failed after storing them), ignoring what is already gone. */
export async function deleteStoredInputs(storage: Storage, inputs: readonly StoredInput[]): Promise<void> {
  await Promise.all(inputs.map((input) => storage.delete(input.storage_key).catch(() => undefined)));
}
