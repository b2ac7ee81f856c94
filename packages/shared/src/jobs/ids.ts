/**
 * Identifiers for jobs, batches and bulk operations: a readable prefix, then a time-sortable body
 * (48-bit milliseconds and 80 random bits, Crockford base32, as ULID), so ids sort
 * by creation and never collide across processes.
 */
import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

/** What a job's and a batch's id look like: checked at the edge, so nothing else ever reaches a key. */
export const ID_PATTERNS = {
  job: /^job_[0-9a-hjkmnp-tv-z]{26}$/,
  batch: /^bat_[0-9a-hjkmnp-tv-z]{26}$/,
  operation: /^op_[0-9a-hjkmnp-tv-z]{26}$/,
} as const;

export function newId(prefix: 'job' | 'bat' | 'op', now = Date.now()): string {
  let time = '';
  let ms = now;
  for (let i = 0; i < 10; i++) {
    time = ALPHABET[ms % 32] + time;
    ms = Math.floor(ms / 32);
  }
  const bytes = randomChunk();
  let random = '';
  for (const byte of bytes) random += ALPHABET[byte % 32];
  return `${prefix}_${time}${random}`;
}

// Random bytes drawn 4 KiB at a time: one system call for 256 ids.
let pool = Buffer.alloc(0);
let offset = 0;

function randomChunk(): Buffer {
  if (offset + 16 > pool.length) {
    pool = randomBytes(4096);
    offset = 0;
  }
  offset += 16;
  return pool.subarray(offset - 16, offset);
}
