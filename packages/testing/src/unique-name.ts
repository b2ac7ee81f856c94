/** Names no other test uses: tests never share a queue name or a key prefix. */
import { randomBytes } from 'node:crypto';

export function uniqueName(label = 'test'): string {
  return `${label}-${process.pid}-${randomBytes(4).toString('hex')}`;
}
