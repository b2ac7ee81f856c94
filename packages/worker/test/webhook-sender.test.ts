// The connect-time half of the SSRF guard: WebhookSender against a real receiver on
// loopback, reached through spellings and IPv6 forms of 127.0.0.1 that must be refused.
import { startWebhookReceiver, type WebhookReceiver } from '@renderq/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebhookSender } from '../src/webhooks/webhook-sender.js';

describe('WebhookSender and private addresses', () => {
  let receiver: WebhookReceiver;
  let port: string;
  const strict = new WebhookSender({ timeoutMs: 2_000, allowPrivate: false });
  const open = new WebhookSender({ timeoutMs: 2_000, allowPrivate: true });
  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    port = new URL(receiver.url).port;
  });
  afterAll(async () => {
    await Promise.all([strict.close(), open.close(), receiver?.close()]);
  });

  it.each([
    'http://2130706433:PORT/decimal',
    'http://0x7f.1:PORT/hex',
    'http://127.1:PORT/short',
    'http://[::FFFF:127.0.0.1]:PORT/mapped',
    'http://[::127.0.0.1]:PORT/compatible',
    'http://[2002:7f00:1::1]:PORT/6to4',
    'http://[64:ff9b:1::7f00:1]:PORT/nat64',
    'http://localhost:PORT/name',
    'http://localhost.:PORT/name-with-dot',
  ])('refuses %s before sending anything', async (template) => {
    const result = await strict.send(template.replace('PORT', port), { 'content-type': 'application/json' }, '{}');
    expect(result).toMatchObject({ kind: 'refused', error: expect.stringMatching(/private address/) });
    expect(receiver.received).toEqual([]);
  });

  it('reaches the same receiver through such a spelling when private addresses are allowed', async () => {
    const result = await open.send(`http://2130706433:${port}/allowed`, {}, '{}');
    expect(result).toMatchObject({ kind: 'answered', statusCode: 200 });
    expect(receiver.received.map((hook) => hook.path)).toEqual(['/allowed']);
  });
});
