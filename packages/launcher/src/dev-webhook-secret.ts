/**
 * `pnpm start` on one machine signs webhooks even when WEBHOOK_SECRET is unset: it
 * makes a secret once, keeps it in ./data/webhook-secret (so receivers keep working
 * across restarts), and says where it is. Production sets WEBHOOK_SECRET itself.
 * Only its owner may read the file (0600, in a 0700 directory when this makes it): it
 * signs every webhook.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { makePrivateDir, tightenFileMode, writePrivateFile } from '@renderq/shared';

export async function devWebhookSecret(dataDir: string): Promise<{ secret: string; file: string; tightened: boolean }> {
  const file = path.join(dataDir, 'webhook-secret');
  const existing = await readFile(file, 'utf8').catch(() => '');
  if (existing.trim().startsWith('whsec_')) {
    // One left readable by others (copied, or written under a wide umask) is narrowed as it is read.
    const tightened = await tightenFileMode(file);
    return { secret: existing.trim(), file, tightened };
  }
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  await makePrivateDir(dataDir);
  await writePrivateFile(file, `${secret}\n`);
  return { secret, file, tightened: false };
}
