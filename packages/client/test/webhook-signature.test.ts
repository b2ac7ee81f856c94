import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import {
  signWebhook,
  verifyWebhook,
  WebhookSecretError,
  WebhookVerificationError,
  WebhookVerifier,
  webhookSecretProblem,
} from '../src/index.js';

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

describe('WebhookVerifier: the secret is checked when it is made', () => {
  const key = (bytes: number) => `whsec_${randomBytes(bytes).toString('base64')}`;

  it.each([
    ['empty', '', /the webhook secret is empty/],
    ['without whsec_', randomBytes(32).toString('base64'), /does not start with whsec_/],
    ['whsec_ alone', 'whsec_', /holds 0 key bytes; at least 24 are needed/],
    ['too short', key(16), /holds 16 key bytes; at least 24 are needed/],
    ['not base64', `whsec_${'!'.repeat(44)}`, /is not base64 after whsec_/],
    ['URL-safe base64', `whsec_${'-_'.repeat(22)}`, /is not base64 after whsec_/],
    ['badly padded', `whsec_${'A'.repeat(41)}==`, /is not base64 after whsec_/],
    ['not a string', 42 as unknown as string, /must be a string \(got number\)/],
  ])('refuses a secret that is %s, saying so', (_what, secret, message) => {
    expect(() => new WebhookVerifier(secret)).toThrow(WebhookSecretError);
    expect(() => new WebhookVerifier(secret)).toThrow(message);
    // verifyWebhook builds on it: a bad secret is the receiver's configuration, not a forged delivery.
    expect(() => verifyWebhook(secret, signWebhook(key(32), 'evt_x', body), body)).toThrow(WebhookSecretError);
  });

  it('never repeats the secret in its message', () => {
    const secret = `whsec_${'A'.repeat(20)}`;
    expect(() => new WebhookVerifier(secret)).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining('A'.repeat(20)) }),
    );
  });

  it('accepts 24 bytes and more, padded or not, and is the rule the server applies', () => {
    for (const secret of [key(24), key(32), key(64), key(32).replace(/=+$/, '')]) {
      expect(webhookSecretProblem(secret)).toBeNull();
      expect(() => new WebhookVerifier(secret)).not.toThrow();
    }
  });

  it('takes several secrets during a rotation, naming the one that is wrong, and refuses none at all', () => {
    const next = key(32);
    const headers = signWebhook(secret, 'evt_list', body);
    expect(new WebhookVerifier([next, secret]).verify(headers, body)).toEqual(JSON.parse(body));
    const short = `whsec_${Buffer.from('8 bytes!').toString('base64')}`;
    expect(() => new WebhookVerifier([next, short])).toThrow(/webhook secret 2 of 2 holds 8 key bytes/);
    expect(() => new WebhookVerifier([])).toThrow(WebhookSecretError);
    expect(() => new WebhookVerifier(next).verify(headers, body)).toThrow(WebhookVerificationError);
  });

  it('refuses a negative tolerance', () => {
    expect(() => new WebhookVerifier(secret, { toleranceSeconds: -1 })).toThrow(RangeError);
  });
});

describe('WebhookVerifier: every bad delivery is a WebhookVerificationError', () => {
  const verifier = new WebhookVerifier(secret);
  const signed = (payload: string, at?: Date) => signWebhook(secret, 'evt_bad', payload, at);

  /** Runs `verify` and returns what it threw, so each case can assert the class, name and reason. */
  const failure = (headers: unknown, payload: unknown, options?: { now?: Date }) => {
    try {
      verifier.verify(headers as never, payload as never, options);
    } catch (error) {
      return error as WebhookVerificationError;
    }
    throw new Error('verify accepted it');
  };

  const expectFailure = (error: WebhookVerificationError, reason: string, message: RegExp) => {
    expect(error).toBeInstanceOf(WebhookVerificationError);
    expect(error.name).toBe('WebhookVerificationError');
    expect(error.reason).toBe(reason);
    expect(error.message).toMatch(message);
  };

  it('accepts a good delivery, as text or as the exact bytes, with Node or Fetch headers', () => {
    const headers = signed(body);
    expect(verifier.verify(headers, body)).toEqual(JSON.parse(body));
    expect(verifier.verify(headers, Buffer.from(body))).toEqual(JSON.parse(body));
    expect(verifier.verify(new Headers({ ...headers }), new TextEncoder().encode(body))).toEqual(JSON.parse(body));
    expect(verifier.verify({ ...headers, 'webhook-id': [headers['webhook-id'], 'ignored'] }, body)).toEqual(
      JSON.parse(body),
    );
  });

  it('missing headers, naming them', () => {
    const { 'webhook-signature': _, ...unsigned } = signed(body);
    expectFailure(failure(unsigned, body), 'missing_headers', /missing webhook headers: webhook-signature$/);
    expectFailure(failure({}, body), 'missing_headers', /webhook-id, webhook-timestamp, webhook-signature/);
    expectFailure(failure(undefined, body), 'missing_headers', /missing/);
    expectFailure(failure(null, body), 'missing_headers', /missing/);
    expectFailure(failure({ ...signed(body), 'webhook-id': 42 }, body), 'missing_headers', /webhook-id/);
  });

  it.each(['soon', '1e9', '-5', '12.5', ' 1700000000', '', 'NaN', '9'.repeat(40)])(
    'a timestamp that is not unix seconds: %j',
    (timestamp) => {
      const reason = timestamp === '' ? 'missing_headers' : 'bad_timestamp';
      expectFailure(failure({ ...signed(body), 'webhook-timestamp': timestamp }, body), reason, /timestamp/);
    },
  );

  it('a timestamp too old or too new, and an invalid clock', () => {
    const old = signed(body, new Date(Date.now() - 301_000));
    expectFailure(failure(old, body), 'stale_timestamp', /too old or too new \(30\d s ago/);
    const future = signed(body, new Date(Date.now() + 600_000));
    expectFailure(failure(future, body), 'stale_timestamp', /too old or too new/);
    expectFailure(failure(signed(body), body, { now: new Date(Number.NaN) }), 'stale_timestamp', /too old/);
  });

  it.each([
    ['garbled', 'v1 nonsense'],
    ['another version only', 'v1a,c2lnbmF0dXJl'],
    ['not base64', 'v1,***'],
    ['empty', ' '],
  ])('a signature header that is %s', (_what, header) => {
    expectFailure(failure({ ...signed(body), 'webhook-signature': header }, body), 'bad_signature', /no v1 signature/);
  });

  it('a signature that does not match', () => {
    const other = `v1,${Buffer.alloc(32).toString('base64')}`;
    expectFailure(
      failure({ ...signed(body), 'webhook-signature': other }, body),
      'bad_signature',
      /no signature matches/,
    );
    expectFailure(failure(signed(body), `${body} `), 'bad_signature', /no signature matches/);
  });

  it.each([
    ['text', 'hello, receiver'],
    ['truncated JSON', body.slice(0, -1)],
    ['invalid UTF-8 bytes', Buffer.from([0x7b, 0xff, 0xfe, 0x7d])],
  ])('a correctly signed body that is not JSON (%s)', (_what, payload) => {
    const headers = signWebhook(secret, 'evt_text', payload as never);
    expectFailure(failure(headers, payload), 'bad_body', /not JSON/);
  });

  it.each(['"a string"', '[1,2]', 'null', '42', '{"type":"job.completed"}', '{"type":1,"data":{}}'])(
    'a correctly signed JSON body that is not a webhook payload: %s',
    (payload) => {
      expectFailure(failure(signed(payload), payload), 'bad_body', /not a webhook payload/);
    },
  );

  it.each([
    ['an already parsed object', JSON.parse(body)],
    ['undefined', undefined],
    ['a number', 42],
    ['null', null],
  ])('a body of the wrong type: %s', (_what, payload) => {
    expectFailure(failure(signed(body), payload), 'bad_body', /must be the raw request body/);
  });
});
