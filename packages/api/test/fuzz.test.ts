// 1,000 generated malformed requests: every answer is a 4xx problem+json, never a 5xx,
// and the server stays up. A seeded generator makes a failure reproducible.
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEYS, startApi, type TestApi } from './server.js';

let api: TestApi;
beforeAll(async () => {
  api = await startApi();
});
afterAll(() => api?.close());

/** mulberry32: small, seeded, good enough to pick cases. */
function random(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T };
}

const nested = (depth: number): unknown => {
  let value: unknown = 'deep';
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
};

/** Values wrong for every top-level field (no field takes null, booleans or arrays). */
const WRONG_VALUES: unknown[] = [null, true, [], [1, 2], -1.5, 1e308, '', 'a'.repeat(20_000)];
/** Values wrong for a model parameter such as prompt or samples. */
const WRONG_PARAMETERS: unknown[] = [null, true, [], {}, { prompt: 5 }, -1.5, 1e308, nested(50)];

interface FuzzRequest {
  readonly kind: string;
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: string | Buffer;
}

function generate(seed: number): FuzzRequest {
  const r = random(seed);
  const auth = { authorization: `Bearer ${KEYS.acme}` };
  const json = { ...auth, 'content-type': 'application/json' };
  const kind = r.pick([
    'wrong-type',
    'missing',
    'nested',
    'utf8',
    'content-type',
    'batch',
    'route',
    'idempotency',
    'query',
  ]);
  switch (kind) {
    case 'wrong-type': {
      const field = r.pick(['model', 'input', 'metadata', 'webhook_url', 'priority']);
      const body: Record<string, unknown> = {
        model: 'segmind-vega',
        input: { prompt: 'x' },
        [field]: r.pick(WRONG_VALUES),
      };
      if (field === 'input' && r.next() < 0.5) {
        body.input = { prompt: r.pick(WRONG_PARAMETERS), samples: r.pick(WRONG_PARAMETERS) };
      }
      return { kind, method: 'POST', path: '/v1/jobs', headers: json, body: JSON.stringify(body) };
    }
    case 'missing':
      return {
        kind,
        method: 'POST',
        path: '/v1/jobs',
        headers: json,
        body: JSON.stringify(r.pick([{}, { model: 'segmind-vega' }, { input: { prompt: 'x' } }, [], 'null', 42])),
      };
    case 'nested': {
      const depth = r.pick([100, 1_000, 5_000, 20_000]);
      const where = r.pick(['metadata', 'input']);
      const text = `{"model":"segmind-vega","${where}":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`;
      return {
        kind,
        method: 'POST',
        path: r.pick(['/v1/jobs', '/v1/batches']),
        headers: { ...json, 'idempotency-key': `nested-${seed}` },
        body: text,
      };
    }
    case 'utf8': {
      const bytes = Buffer.concat([
        Buffer.from('{"model":"segmind-vega","input":{"prompt":"'),
        Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xe2, 0x82]),
        Buffer.from('"}'),
      ]);
      return {
        kind,
        method: 'POST',
        path: '/v1/jobs',
        headers: json,
        body: r.next() < 0.5 ? bytes : bytes.subarray(0, 40),
      };
    }
    case 'content-type':
      return {
        kind,
        method: 'POST',
        path: r.pick(['/v1/jobs', '/v1/batches']),
        headers: {
          ...auth,
          'content-type': r.pick([
            'text/xml',
            'multipart/form-data; boundary=x',
            'application/octet-stream',
            'application/json; charset=latin-7',
            'image/png',
            'text/plain',
          ]),
        },
        body: '<job model="segmind-vega"/>',
      };
    case 'batch':
      return {
        kind,
        method: 'POST',
        path: '/v1/batches',
        headers: r.next() < 0.5 ? json : { ...auth, 'content-type': 'application/x-ndjson' },
        body: r.pick([
          '{"jobs": "all of them"}',
          '{"jobs": []}',
          '{"jobs": [{"model": 7}]}',
          'not json at all\n{"also": "not a job"}',
          '\n\n\n',
          `${JSON.stringify({ model: 'segmind-vega', input: { prompt: 'x', samples: 99 } })}\n`,
          '[1,2,3]',
        ]),
      };
    case 'route':
      return {
        kind,
        method: r.pick(['GET', 'PUT', 'DELETE', 'PATCH', 'POST']),
        path: r.pick([
          '/v1/jobs/../../etc/passwd',
          '/v1/jobs/%00',
          '/v1/nope',
          `/v1/jobs/${'x'.repeat(5_000)}`,
          '/v1/batches/bat_x/jobs/extra',
          '/v1/jobs/job_x/outputs/-1',
          '/v1/jobs/job_x/outputs/abc',
        ]),
        headers: auth,
      };
    case 'idempotency':
      return {
        kind,
        method: 'POST',
        path: '/v1/jobs',
        headers: { ...json, 'idempotency-key': r.pick(['', ' ', 'é', 'k'.repeat(300), 'bad key with spaces']) },
        body: '{"model": "segmind-vega", "input": {"prompt": 3}}',
      };
    default:
      return {
        kind,
        method: 'POST',
        path: `/v1/batches?priority=${r.pick(['x', '-5', '1e9', '%zz'])}&webhook_url=${r.pick(['ftp://x', 'not a url', 'javascript:alert(1)'])}`,
        headers: { ...auth, 'content-type': 'application/x-ndjson' },
        body: '{"model":"segmind-vega","input":{"prompt":"x"}}\n',
      };
  }
}

/** Requests no well-behaved client would send, over a raw socket. */
const RAW_REQUESTS = [
  `GET /v1/models HTTP/1.1\r\nhost: x\r\nx-absurd: ${'a'.repeat(100_000)}\r\n\r\n`,
  `GET /v1/models HTTP/1.1\r\nhost: x\r\n${Array.from({ length: 3_000 }, (_, i) => `x-h${i}: v`).join('\r\n')}\r\n\r\n`,
  'POST /v1/jobs HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\ncontent-length: 7\r\n\r\nabcdefg',
  'POST /v1/jobs HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nnot hex\r\n0\r\n\r\n',
  'GARBAGE\r\n\r\n',
  'GET /v1/models HTTP/9.9\r\n\r\n',
  `GET /v1/models HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${'\u0007'.repeat(10)}\r\n\r\n`,
];

function rawRequest(text: string): Promise<{ status: number; contentType: string }> {
  return new Promise((resolve, reject) => {
    const url = new URL(api.url);
    const socket = connect(Number(url.port), url.hostname);
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk));
    // A server that answers before reading all of a bad request (431, 400) and closes resets the
    // connection while this side is still writing; what it answered has arrived by then.
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'ECONNRESET' && error.code !== 'EPIPE') reject(error);
    });
    socket.on('close', () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0);
      const contentType = /content-type: ([^\r\n]+)/i.exec(answer)?.[1] ?? '';
      resolve({ status, contentType });
    });
    socket.end(text);
  });
}

describe('fuzzing the API', () => {
  it('answers 1,000 malformed requests with 4xx problem+json, never a 5xx, and stays up', async () => {
    const failures: string[] = [];
    const kinds = new Map<string, number>();
    const requests = Array.from({ length: 1_000 - RAW_REQUESTS.length * 5 }, (_, seed) => generate(seed));
    for (let i = 0; i < requests.length; i += 20) {
      await Promise.all(
        requests.slice(i, i + 20).map(async (request, offset) => {
          kinds.set(request.kind, (kinds.get(request.kind) ?? 0) + 1);
          const response = await fetch(`${api.url}${request.path}`, {
            method: request.method,
            headers: request.headers,
            body: request.body ?? null,
          });
          const type = response.headers.get('content-type') ?? '';
          await response.arrayBuffer();
          if (response.status < 400 || response.status >= 500 || !type.includes('application/problem+json')) {
            failures.push(
              `seed ${i + offset} (${request.kind} ${request.method} ${request.path.slice(0, 60)}): ${response.status} ${type}`,
            );
          }
        }),
      );
    }
    for (let round = 0; round < 5; round++) {
      for (const text of RAW_REQUESTS) {
        const { status, contentType } = await rawRequest(text);
        if (status < 400 || status >= 500 || !contentType.includes('application/problem+json')) {
          failures.push(`raw ${JSON.stringify(text.slice(0, 40))}: ${status} ${contentType}`);
        }
      }
    }
    expect(failures).toEqual([]);
    expect(kinds.size).toBe(9);
    expect((await fetch(`${api.url}/healthz`)).status).toBe(200);
  }, 120_000);
});
