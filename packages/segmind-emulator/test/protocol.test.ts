import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type Emulator, startEmulator } from '../src/index.js';
import { call, client, run } from './client.js';

let emulator: Emulator;
beforeEach(async () => {
  emulator = await startEmulator({ latencyScale: 0.01, latencyJitter: 0 });
});
afterEach(() => emulator.close());

const prompt = { prompt: 'a lighthouse at dusk' };

describe('the v2 async protocol', () => {
  it('submit → QUEUED with absolute URLs → PROCESSING → COMPLETED → result with output and metrics', async () => {
    // Long enough (about 3 s, no spread) that a loaded machine still sees the first request processing.
    emulator.configure({ gpusPerModel: 1, latencyScale: 2, latencyJitter: 0 });
    const segmind = client(emulator);
    const first = await segmind.submit('segmind-vega-rt-v1', prompt);
    const second = await segmind.submit('segmind-vega-rt-v1', prompt);
    expect(first.status).toBe(200);
    const body = first.json();
    expect(body).toMatchObject({ status: 'QUEUED' });
    expect(body.request_id).toEqual(expect.any(String));
    for (const field of ['status_url', 'response_url', 'poll_url']) {
      expect(String(body[field]).startsWith(`${emulator.url}/v2/requests/${body.request_id}`)).toBe(true);
    }
    // One GPU: the first is processing while the second waits.
    expect((await segmind.get(String(body.status_url))).json()).toEqual({ status: 'PROCESSING' });
    expect((await segmind.get(String(second.json().status_url))).json()).toEqual({ status: 'QUEUED' });

    expect((await segmind.wait(String(body.status_url))).json()).toEqual({ status: 'COMPLETED' });
    const result = (await segmind.get(String(body.response_url))).json();
    expect(result).toMatchObject({
      status: 'COMPLETED',
      output: expect.stringMatching(/^http:\/\/.*\/outputs\/.*\.jpg$/),
    });
    const metrics = result.metrics as Record<string, number>;
    expect(metrics).toMatchObject({ cost: 0.0015, remaining_credits: 999.9985 });
    for (const timing of ['inference_time', 'queue_time', 'total_time'])
      expect(metrics[timing]).toEqual(expect.any(Number));
    expect(metrics).not.toHaveProperty('retry_count');
  });

  it('serves FAILED as HTTP 422 with the error and timings but no cost', async () => {
    const segmind = client(emulator);
    const submitted = (await segmind.submit('segmind-vega', { prompt: 'blocked emulator:fail' })).json();
    const failed = await segmind.wait(String(submitted.status_url));
    expect(failed.status).toBe(422);
    expect(failed.json()).toMatchObject({ status: 'FAILED', error: expect.stringContaining('Inference failed') });
    expect(failed.json().metrics).toHaveProperty('inference_time');
    expect(failed.json().metrics).not.toHaveProperty('cost');
    const result = await segmind.get(String(submitted.response_url));
    expect(result.status).toBe(422);
    expect(emulator.stats().credits.spent).toBe(0);
  });

  it('fails a share of requests at the configured failure rate', async () => {
    emulator.configure({ failureRate: 1 });
    const segmind = client(emulator);
    const submitted = (await segmind.submit('segmind-vega', prompt)).json();
    expect((await segmind.wait(String(submitted.status_url))).status).toBe(422);
  });

  it('expires finished records after the TTL: both endpoints answer 404 "Request … not found"', async () => {
    emulator.configure({ resultTtlMs: 150 });
    const segmind = client(emulator);
    const submitted = (await segmind.submit('segmind-vega-rt-v1', prompt)).json();
    await segmind.wait(String(submitted.status_url));
    const result = (await segmind.get(String(submitted.response_url))).json();
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (const url of [submitted.status_url, submitted.response_url]) {
      const gone = await segmind.get(String(url));
      expect(gone.status).toBe(404);
      expect(gone.json()).toEqual({ error: `Request ${submitted.request_id} not found` });
    }
    // Output media outlive the request record.
    expect((await fetch(String(result.output))).status).toBe(200);
  });

  it('debits completed requests from the balance that /v1/get-user-credits reports', async () => {
    emulator.configure({ credits: 1 });
    await run(emulator, 'segmind-vega', { ...prompt, samples: 3 });
    const credits = await client(emulator).get(`${emulator.url}/v1/get-user-credits`);
    expect(credits.json()).toEqual({ credits: 0.994, 'free-credits': 0 });
  });

  it('keeps results of many requests apart', async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => run(emulator, 'segmind-vega-rt-v1', { prompt: `request ${i}`, seed: i })),
    );
    expect(new Set(results.map((r) => r.output)).size).toBe(20);
    expect(results.map((r) => r.seed)).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });
});

describe('errors exactly as Segmind gives them', () => {
  const submitUrl = () => `${emulator.url}/v2/segmind-vega`;
  const json = { 'content-type': 'application/json' };

  it('401 without a key and with a wrong key', async () => {
    const none = await call(submitUrl(), { method: 'POST', headers: json, body: JSON.stringify(prompt) });
    expect(none.status).toBe(401);
    expect(none.json()).toEqual({ error: 'Unauthorized. API key is invalid or missing.' });
    const wrong = await client(emulator, 'not-the-key').submit('segmind-vega', prompt);
    expect(wrong.status).toBe(401);
    expect(emulator.stats().submits.accepted).toBe(0);
  });

  it('400 for a malformed body, a missing field and a parameter the model rejects', async () => {
    const headers = { ...json, 'x-api-key': emulator.apiKey };
    const malformed = await call(submitUrl(), { method: 'POST', headers, body: '{"prompt": ' });
    expect(malformed.status).toBe(400);
    expect(malformed.json().error).toMatch(/Malformed/);
    const missing = await client(emulator).submit('segmind-vega', { samples: 1 });
    expect(missing.status).toBe(400);
    expect(missing.json().error).toContain('prompt');
    const outOfRange = await client(emulator).submit('segmind-vega', { ...prompt, samples: 9 });
    expect(outOfRange.status).toBe(400);
    expect(outOfRange.json().error).toContain('samples');
    // Segmind ignores parameters it does not know.
    expect((await client(emulator).submit('segmind-vega', { ...prompt, colour: 'red' })).status).toBe(200);
  });

  it('403 for a model the account may not use, 410 for a retired one', async () => {
    emulator.configure({ forbiddenModels: ['segmind-vega'], retiredModels: ['sd1.5-img2img'] });
    const forbidden = await client(emulator).submit('segmind-vega', prompt);
    expect(forbidden.status).toBe(403);
    expect(forbidden.json().error).toContain('not permitted');
    const retired = await client(emulator).submit('sd1.5-img2img', { ...prompt, image: 'https://x.test/a.png' });
    expect(retired.status).toBe(410);
    expect(retired.json().error).toContain('retired');
  });

  it('404 for an unknown model and an unknown request', async () => {
    const model = await client(emulator).submit('no-such-model', prompt);
    expect(model.status).toBe(404);
    expect(model.json().error).toContain('no-such-model');
    const request = await client(emulator).get(
      `${emulator.url}/v2/requests/00000000-0000-0000-0000-000000000000/status`,
    );
    expect(request.status).toBe(404);
    expect(request.json()).toEqual({ error: 'Request 00000000-0000-0000-0000-000000000000 not found' });
  });

  it('405 with an HTML page for a wrong verb', async () => {
    const wrong = await call(submitUrl(), { method: 'GET', headers: { 'x-api-key': emulator.apiKey } });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('content-type')).toContain('text/html');
    expect(wrong.text).toMatch(/^<!DOCTYPE html>/);
    expect(() => wrong.json()).toThrow();
  });

  it('406 when the balance is below the cost, naming both; and without a JSON Content-Type', async () => {
    emulator.configure({ credits: 0.005 });
    const poor = await client(emulator).submit('segmind-vega', { ...prompt, samples: 4 });
    expect(poor.status).toBe(406);
    expect(poor.json().error).toMatch(/balance is 0\.005 credits.*costs 0\.008 credits/);
    const noType = await call(submitUrl(), {
      method: 'POST',
      headers: { 'x-api-key': emulator.apiKey },
      body: JSON.stringify(prompt),
    });
    expect(noType.status).toBe(406);
    expect(emulator.stats().submits.accepted).toBe(0);
  });

  // How windows are cut, reset and shared is tested on a fake clock (submit-windows.test.ts); here, what
  // a refusal looks like on the wire, with bounds a loaded machine cannot break.
  it('429 with x-rate-limit-reset-at-utc when the submit rate limit is exceeded, and no Retry-After', async () => {
    emulator.configure({ submitRateLimit: { max: 2, windowMs: 60_000 } });
    const segmind = client(emulator);
    const started = Date.now();
    expect((await segmind.submit('segmind-vega', prompt)).status).toBe(200);
    const firstAnswered = Date.now();
    expect((await segmind.submit('segmind-vega', prompt)).status).toBe(200);
    const limited = await segmind.submit('segmind-vega', prompt);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBeNull();
    // The window began with the first submit, so it ends 60 s after that submit was taken.
    const resetAt = Date.parse(String(limited.headers.get('x-rate-limit-reset-at-utc')));
    expect(resetAt).toBeGreaterThanOrEqual(started + 60_000);
    expect(resetAt).toBeLessThanOrEqual(firstAnswered + 60_000);
    expect(emulator.stats().submits).toMatchObject({ attempts: 3, accepted: 2 });
    // A new limit is a new window.
    emulator.configure({ submitRateLimit: { max: 1, windowMs: 60_000 } });
    expect((await segmind.submit('segmind-vega', prompt)).status).toBe(200);
  });

  it('names a late reset on clock windows, as told through the admin API', async () => {
    const answer = await call(`${emulator.url}/_emulator/config`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        submitRateLimit: { max: 1, windowMs: 60_000, windows: 'clock', resetLateMs: { min: 1_000, max: 1_500 } },
      }),
    });
    expect(answer.status).toBe(200);
    const segmind = client(emulator);
    // The first submit may fall in a window that has just begun or is about to end: one of the first
    // two submits in a row is refused, naming the end of its clock minute plus 1–1.5 s.
    const codes: number[] = [];
    let limited: Awaited<ReturnType<typeof segmind.submit>> | undefined;
    let window = { askedAt: 0, answeredAt: 0 };
    for (let i = 0; i < 3 && !limited; i++) {
      const askedAt = Date.now();
      const next = await segmind.submit('segmind-vega', prompt);
      window = { askedAt, answeredAt: Date.now() };
      codes.push(next.status);
      if (next.status === 429) limited = next;
    }
    expect(limited, `answers ${codes.join(', ')}`).toBeDefined();
    const resetAt = Date.parse(String(limited?.headers.get('x-rate-limit-reset-at-utc')));
    // The refusal was made between asking and answering: its minute ends at one of these.
    const ends = [window.askedAt, window.answeredAt].map((t) => t - (t % 60_000) + 60_000);
    expect(
      ends.some((end) => resetAt - end >= 1_000 && resetAt - end <= 1_500),
      `${resetAt} vs ${ends}`,
    ).toBe(true);
  });

  it('500, 502 and 504 at the configured rate per endpoint, with a JSON error body', async () => {
    emulator.configure({ serverErrorRate: { submit: 1 } });
    const codes = new Set<number>();
    for (let i = 0; i < 30; i++) {
      const answer = await client(emulator).submit('segmind-vega', prompt);
      codes.add(answer.status);
      expect(answer.json()).toHaveProperty('error');
    }
    expect([...codes].sort()).toEqual([500, 502, 504]);
    expect(emulator.stats().submits.accepted).toBe(0);

    emulator.configure({ serverErrorRate: { submit: 0, status: 1 } });
    const submitted = (await client(emulator).submit('segmind-vega', prompt)).json();
    expect((await client(emulator).get(String(submitted.status_url))).status).toBeGreaterThanOrEqual(500);
    emulator.configure({ serverErrorRate: { status: 0, result: 1 } });
    expect((await client(emulator).get(String(submitted.response_url))).status).toBeGreaterThanOrEqual(500);
  });
});

describe('ambiguous submits', () => {
  it('drops the connection after accepting: the request exists and is billed, the caller never hears', async () => {
    emulator.configure({ dropAfterSubmitRate: 1 });
    await expect(client(emulator).submit('segmind-vega', { prompt: 'marker:dropped-1 a cat' })).rejects.toThrow();
    expect(emulator.stats().submits.byMarker).toEqual({ 'dropped-1': 1 });
    expect(emulator.stats().errors.dropped).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(emulator.stats().credits.spent).toBe(0.002);
  });

  it('answers slowly when told to, after the request already exists', async () => {
    emulator.configure({ submitDelayMs: 10_000 });
    // The caller gives up once the request exists (not after a fixed time: on a loaded machine the
    // emulator may not have read the request by then).
    const controller = new AbortController();
    const submit = call(`${emulator.url}/v2/segmind-vega`, {
      method: 'POST',
      headers: { 'x-api-key': emulator.apiKey, 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'marker:slow-1 x' }),
      signal: controller.signal,
    });
    await vi.waitFor(() => expect(emulator.stats().submits.byMarker).toEqual({ 'slow-1': 1 }), { timeout: 9_000 });
    controller.abort();
    await expect(submit).rejects.toThrow();
    expect(emulator.stats().submits.byMarker).toEqual({ 'slow-1': 1 });
  });
});

describe('the admin API and stats', () => {
  it('counts submits per prompt marker, polls, results and errors by code', async () => {
    await run(emulator, 'segmind-vega-rt-v1', { prompt: 'marker:job-a x' });
    await run(emulator, 'segmind-vega-rt-v1', { prompt: 'marker:job-b x' });
    await run(emulator, 'segmind-vega-rt-v1', { prompt: 'marker:job-b again' });
    await client(emulator, 'wrong').submit('segmind-vega', prompt);
    const stats = emulator.stats();
    expect(stats.submits).toEqual({ attempts: 4, accepted: 3, byMarker: { 'job-a': 1, 'job-b': 2 } });
    expect(stats.polls).toBeGreaterThanOrEqual(3);
    expect(stats.results).toBe(3);
    expect(stats.errors).toEqual({ '401': 1 });
    const overHttp = await call(`${emulator.url}/_emulator/stats`);
    expect(overHttp.json()).toMatchObject({ submits: { accepted: 3 } });
  });

  it('changes faults at run time and refuses invalid settings', async () => {
    const patched = await call(`${emulator.url}/_emulator/config`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ credits: 0, serverErrorRate: { result: 0.5 } }),
    });
    expect(patched.json()).toMatchObject({ credits: 0, serverErrorRate: { submit: 0, status: 0, result: 0.5 } });
    expect((await client(emulator).submit('segmind-vega', prompt)).status).toBe(406);
    const invalid = await call(`${emulator.url}/_emulator/config`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ failureRate: 2 }),
    });
    expect(invalid.status).toBe(400);
    expect(invalid.json().error).toContain('failureRate');
    await call(`${emulator.url}/_emulator/reset`, { method: 'POST' });
    expect(emulator.stats().submits.attempts).toBe(0);
  });
});

describe('the v1 synchronous API', () => {
  it('answers with the image bytes and accounting in x-* headers', async () => {
    const answer = await fetch(`${emulator.url}/v1/segmind-vega-rt-v1`, {
      method: 'POST',
      headers: { 'x-api-key': emulator.apiKey, 'content-type': 'application/json' },
      body: JSON.stringify({ ...prompt, seed: 42, base64: false }),
    });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toBe('image/jpeg');
    expect(answer.headers.get('x-cost')).toBe('0.0015');
    expect(answer.headers.get('x-seed-value')).toBe('42');
    expect(Number(answer.headers.get('x-remaining-credits'))).toBeCloseTo(999.9985);
    expect(answer.headers.get('x-request-id')).toEqual(expect.any(String));
    expect(Number(answer.headers.get('x-generation-time'))).toBeGreaterThanOrEqual(0);
    const bytes = Buffer.from(await answer.arrayBuffer());
    expect(bytes.subarray(0, 3)).toEqual(Buffer.from([0xff, 0xd8, 0xff]));
  });
});
