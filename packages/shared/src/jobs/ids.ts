/**
 * Identifiers for jobs and batches: a readable prefix, then a time-sortable body
 * (48-bit milliseconds and 80 random bits, Crockford base32, as ULID), so ids sort
 * by creation and never collide across processes.
 */
import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

export function newId(prefix: 'job' | 'bat', now = Date.now()): string {
  let time = '';
  let ms = now;
  for (let i = 0; i < 10; i++) {
    time = ALPHABET[ms % 32] + time;
    ms = Math.floor(ms / 32);
  }
  const bytes = randomBytes(16);
  let random = '';
  for (const byte of bytes) random += ALPHABET[byte % 32];
  return `${prefix}_${time}${random}`;
}

export const ID_PATTERN = /^(job|bat)_[0-9a-hjkmnp-tv-z]{26}$/;
