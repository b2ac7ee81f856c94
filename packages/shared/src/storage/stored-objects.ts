/**
 * What renderq keeps of a stored object in a job's record: its key, type, size and sha256 — the
 * outputs Segmind made, and the input images a caller sent inline.
 */
import { z } from 'zod';

export const StoredOutput = z.object({
  index: z.number().int().min(0),
  storage_key: z.string(),
  content_type: z.string(),
  size: z.number().int().min(0),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});
export type StoredOutput = z.infer<typeof StoredOutput>;

/**
 * An input image the caller sent inline (base64 or a data: URI), stored at enqueue
 * beside the job's outputs instead of living in the record: the job shows a link to
 * it, and the worker reads the bytes back when it submits.
 */
export const StoredInput = z.object({
  /** The input field it was given in (`image`). */
  field: z.string(),
  storage_key: z.string(),
  content_type: z.string(),
  size: z.number().int().min(0),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** How the caller sent it, so that Segmind gets it the same way. */
  encoding: z.enum(['base64', 'data_uri']),
});
export type StoredInput = z.infer<typeof StoredInput>;
