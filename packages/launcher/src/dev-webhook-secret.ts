/**
 * `pnpm start` on one machine signs webhooks even when WEBHOOK_SECRET is unset: it
 * makes a secret once, keeps it in ./data/webhook-secret (so receivers keep working
 * across restarts), and says where it is. Production sets WEBHOOK_SECRET itself.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

export async function devWebhookSecret(dataDir: string): Promise<{ secret: string; file: string }> {
  const file = path.join(dataDir, 'webhook-secret');
  const existing = await readFile(file, 'utf8').catch(() => '');
  if (existing.trim().startsWith('whsec_')) return { secret: existing.trim(), file };
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  await mkdir(dataDir, { recursive: true });
  // Only its owner may read it: it signs every webhook.
  await writeFile(file, `${secret}\n`, { mode: 0o600 });
  return { secret, file };
}
