import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { signWebhook, verifyWebhook, WebhookVerificationError } from '../src/index.js';

const secret = `whsec_${randomBytes(32).toString('base64')}`;
const body = JSON.stringify({ type: 'job.completed', timestamp: '2026-11-21T12:00:00.000Z', data: { id: 'job_1' } });

describe('Standard Webhooks signatures', () => {
  it('are accepted by the standardwebhooks package', () => {
    for (let i = 0; i < 20; i++) {
      const payload = JSON.stringify({
        type: 'job.completed',
        data: { id: `job_${i}`, n: randomBytes(8).toString('hex') },
      });
      const headers = signWebhook(secret, `evt_${i}`, payload);
      expect(new Webhook(secret).verify(payload, { ...headers })).toEqual(JSON.parse(payload));
      expect(verifyWebhook(secret, headers, payload)).toEqual(JSON.parse(payload));
    }
  });

  it('match what the standardwebhooks package signs', () => {
    const at = new Date('2026-11-21T12:00:00Z');
    const theirs = new Webhook(secret).sign('evt_1', at, body);
    expect(signWebhook(secret, 'evt_1', body, at)['webhook-signature']).toBe(theirs);
  });

  it('are rejected for a changed body, a wrong secret or a timestamp older than 5 minutes — by both', () => {
    const headers = signWebhook(secret, 'evt_2', body);
    const changed = body.replace('job_1', 'job_2');
    const other = `whsec_${randomBytes(32).toString('base64')}`;
    const old = signWebhook(secret, 'evt_3', body, new Date(Date.now() - 6 * 60 * 1000));
    for (const [payload, key, signed] of [
      [changed, secret, headers],
      [body, other, headers],
      [body, secret, old],
    ] as const) {
      expect(() => new Webhook(key).verify(payload, { ...signed })).toThrow();
      expect(() => verifyWebhook(key, signed, payload)).toThrow(WebhookVerificationError);
    }
  });

  it('verifies with headers in any case and one of several signatures', () => {
    const headers = signWebhook(secret, 'evt_4', body);
    const rotated = {
      'Webhook-Id': headers['webhook-id'],
      'WEBHOOK-TIMESTAMP': headers['webhook-timestamp'],
      'webhook-signature': `v1,bm90LWl0 ${headers['webhook-signature']}`,
    };
    expect(verifyWebhook(secret, rotated, body)).toEqual(JSON.parse(body));
    expect(() => verifyWebhook(secret, { 'webhook-id': 'x' }, body)).toThrow(/missing/);
  });

  it('carry one signature per secret during a rotation, accepted with either secret by both verifiers', () => {
    const next = `whsec_${randomBytes(32).toString('base64')}`;
    const headers = signWebhook([next, secret], 'evt_rot', body);
    expect(headers['webhook-signature'].split(' ')).toHaveLength(2);
    for (const key of [next, secret]) {
      expect(new Webhook(key).verify(body, { ...headers })).toEqual(JSON.parse(body));
      expect(verifyWebhook(key, headers, body)).toEqual(JSON.parse(body));
    }
    const stranger = `whsec_${randomBytes(32).toString('base64')}`;
    expect(() => verifyWebhook(stranger, headers, body)).toThrow(WebhookVerificationError);
  });
});
