// The API's limits against a running server and real Redis: NDJSON line cap, the bound on concurrent batch
// uploads, each tenant's enqueue rate, and the server's timeouts and connection cap (small settings here).
import { connect, type Socket } from 'node:net';
import { batchKey, jobKey } from '@renderq/shared/keys';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEYS, startApi, type TestApi, VEGA } from './server.js';

const MIB = 1024 * 1024;
const NDJSON = { 'content-type': 'application/x-ndjson' };

const isProblem = (
  answer: { status: number; headers: Headers; json: () => Record<string, unknown> },
  status: number,
) => {
  expect(answer.status).toBe(status);
  expect(answer.headers.get('content-type')).toContain('application/problem+json');
};

/** An img2img job whose NDJSON line is exactly `bytes` long (an inline data: URI image fills it). */
function lineOfBytes(bytes: number): string {
  const shell = (image: string) => JSON.stringify({ model: 'ssd-img2img', input: { prompt: 'x', image } });
  const empty = shell('data:image/png;base64,');
  const signature = 'iVBORw0KGgo'; // a PNG's first bytes: inline images must be what they say
  return shell(`data:image/png;base64,${signature}${'A'.repeat(bytes - Buffer.byteLength(empty) - signature.length)}`);
}

interface RawAnswer {
  readonly status: number;
  readonly head: string;
  readonly body: Record<string, unknown>;
}

/**
 * A connection driven byte by byte: answers as they arrive, and when the server closed it. With `halfOpen`
 * it does not close its own side when the server closes its: only a server that closes both ways ends it.
 */
function rawConnection(base: string, { halfOpen = false } = {}) {
  const url = new URL(base);
  const socket: Socket = connect({ port: Number(url.port), host: url.hostname, allowHalfOpen: halfOpen });
  const opened = performance.now();
  let received = Buffer.alloc(0);
  const answers: RawAnswer[] = [];
  const waiting: (() => void)[] = [];
  socket.on('data', (chunk: Buffer) => {
    received = Buffer.concat([received, chunk]);
    for (;;) {
      const text = received.toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      if (split === -1) return;
      const head = text.slice(0, split);
      const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? 0);
      if (received.length < split + 4 + length) return;
      const body = received.subarray(split + 4, split + 4 + length).toString('utf8');
      answers.push({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]), head, body: body ? JSON.parse(body) : {} });
      received = received.subarray(split + 4 + length);
      for (const wake of waiting.splice(0)) wake();
    }
  });
  socket.on('error', () => undefined);
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(performance.now() - opened)));
  const ended = new Promise<number>((resolve) => socket.once('end', () => resolve(performance.now() - opened)));
  return {
    socket,
    /** Milliseconds from opening to the connection being closed. */
    closed,
    /** Milliseconds from opening to the server closing its side (its FIN). */
    ended,
    async answer(index = 0): Promise<RawAnswer> {
      while (answers.length <= index) {
        if (socket.destroyed) throw new Error(`closed before answer ${index + 1}`);
        await Promise.race([new Promise<void>((wake) => waiting.push(wake)), closed]);
      }
      return answers[index] as RawAnswer;
    },
    write: (text: string) => socket.write(text),
    /** Sends `text` one byte every `everyMs` (the first at once) until the connection closes. */
    trickle(text: string, everyMs: number) {
      let at = 0;
      const next = () => {
        if (socket.destroyed || socket.writableEnded) clearInterval(timer);
        else socket.write(text[at++ % text.length] as string);
      };
      const timer = setInterval(next, everyMs);
      next();
      socket.once('close', () => clearInterval(timer));
    },
  };
}

const header = (head: string, name: string) => new RegExp(`\\r\\n${name}: ([^\\r]+)`, 'i').exec(head)?.[1];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('NDJSON lines', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startApi();
  });
  afterAll(() => api?.close());

  it('takes a line of exactly 1 MiB (with \\n or \\r\\n), blank lines, and a last line without a newline', async () => {
    const small = JSON.stringify(VEGA);
    const body = `${small}\n\n${lineOfBytes(MIB)}\r\n\r\n${lineOfBytes(MIB)}\n${small}`;
    const created = await api.call('POST', '/v1/batches', { raw: body, headers: NDJSON });
    expect(created.status).toBe(202);
    expect(created.json()).toMatchObject({ counts: { total: 4 } });
  });

  it('refuses a line of 1 MiB + 1 with 413 naming the line and the cap, and records nothing', async () => {
    const before = await api.redis.keys(batchKey(api.prefix, '*'));
    const body = `${JSON.stringify(VEGA)}\n\n${lineOfBytes(MIB + 1)}\n${JSON.stringify(VEGA)}\n`;
    const refused = await api.call('POST', '/v1/batches', { raw: body, headers: NDJSON });
    isProblem(refused, 413);
    expect(refused.json().detail).toMatch(/^line 3 is longer than 1048576 bytes/);
    expect(refused.json().errors).toEqual([{ line: 3, path: '', message: 'longer than 1048576 bytes' }]);
    expect(refused.headers.get('connection')).toBe('close');
    expect(await api.redis.keys(batchKey(api.prefix, '*'))).toEqual(before);
  });

  it('serves nothing more on the connection it refused: a request pipelined after the over-long line is dropped', async () => {
    const jobs = (await api.redis.keys(jobKey(api.prefix, '*'))).length;
    const line = `${lineOfBytes(MIB + 100)}\n`;
    const job = JSON.stringify(VEGA);
    const connection = rawConnection(api.url);
    connection.write(
      `POST /v1/batches HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${KEYS.acme}\r\n` +
        `content-type: application/x-ndjson\r\ncontent-length: ${line.length}\r\n\r\n${line}` +
        `POST /v1/jobs HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${KEYS.acme}\r\n` +
        `content-type: application/json\r\ncontent-length: ${job.length}\r\n\r\n${job}`,
    );
    const answer = await connection.answer();
    expect(answer.status).toBe(413);
    expect(header(answer.head, 'connection')).toBe('close');
    await connection.closed;
    await expect(connection.answer(1)).rejects.toThrow('closed before answer 2');
    expect((await api.redis.keys(jobKey(api.prefix, '*'))).length).toBe(jobs);
  });

  it('refuses a JSON batch over 16 MiB with 413 pointing at NDJSON', async () => {
    const jobs = Array.from({ length: 20 }, () => ({ ...VEGA, input: { ...VEGA.input, prompt: 'x'.repeat(MIB) } }));
    const refused = await api.call('POST', '/v1/batches', { body: { jobs } });
    isProblem(refused, 413);
    expect(refused.json().detail).toContain('application/x-ndjson');
  });
});

describe('concurrent batch uploads (BATCH_UPLOAD_CONCURRENCY=2, BATCH_UPLOAD_WAIT_MS=1000)', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startApi({
      BATCH_UPLOAD_CONCURRENCY: '2',
      BATCH_UPLOAD_WAIT_MS: '1000',
      // One tenant here; the share of one tenant is tested below.
      BATCH_UPLOAD_CONCURRENCY_PER_TENANT: '4',
    });
  });
  afterAll(() => api?.close());

  const uploadsInProgress = async () => {
    const text = await (await fetch(`${api.url}/metrics`)).text();
    return Number(/^renderq_batch_uploads_in_progress (\d+)$/m.exec(text)?.[1]);
  };
  const until = async (check: () => Promise<boolean>) => {
    const deadline = Date.now() + 5_000;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error('timed out');
      await sleep(20);
    }
  };
  /** An upload whose body is only partly sent: it holds its slot until `finish` sends the rest. */
  const partialUpload = (type: 'json' | 'ndjson') => {
    const body =
      type === 'json' ? JSON.stringify({ jobs: [VEGA, VEGA] }) : `${JSON.stringify(VEGA)}\n${JSON.stringify(VEGA)}\n`;
    const connection = rawConnection(api.url);
    connection.write(
      `POST /v1/batches HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${KEYS.acme}\r\n` +
        `content-type: application/${type === 'json' ? 'json' : 'x-ndjson'}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n` +
        body.slice(0, 10),
    );
    return { ...connection, finish: () => connection.write(body.slice(10)) };
  };

  it('makes a third upload wait, answers 503 with Retry-After when no slot frees in time, and serves it when one does', async () => {
    const ndjson = partialUpload('ndjson');
    const json = partialUpload('json');
    await until(async () => (await uploadsInProgress()) === 2);

    const started = performance.now();
    const refused = await api.call('POST', '/v1/batches', { body: { jobs: [VEGA] } });
    const waited = performance.now() - started;
    isProblem(refused, 503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.json().detail).toContain('BATCH_UPLOAD_CONCURRENCY');
    expect(waited).toBeGreaterThanOrEqual(900);

    // A slot that frees while an upload waits goes to it.
    const waiting = api.call('POST', '/v1/batches', { raw: `${JSON.stringify(VEGA)}\n`, headers: NDJSON });
    await sleep(200);
    json.finish();
    expect((await json.answer()).status).toBe(202);
    expect((await waiting).status).toBe(202);

    // A connection dropped mid-upload gives its slot back.
    ndjson.socket.destroy();
    await until(async () => (await uploadsInProgress()) === 0);
    const [a, b] = await Promise.all([
      api.call('POST', '/v1/batches', { body: { jobs: [VEGA] } }),
      api.call('POST', '/v1/batches', { raw: `${JSON.stringify(VEGA)}\n`, headers: NDJSON }),
    ]);
    expect([a.status, b.status]).toEqual([202, 202]);
    json.socket.destroy();
  });
});

describe('enqueue rate per tenant (TENANT_ENQUEUE_RATE=1, TENANT_ENQUEUE_BURST=10000)', () => {
  let api: TestApi & { redisServer: Awaited<ReturnType<typeof startApi>>['redisServer'] };
  let second: TestApi;
  const env = { TENANT_ENQUEUE_RATE: '1', TENANT_ENQUEUE_BURST: '10000' };
  beforeAll(async () => {
    api = await startApi(env);
    second = await startApi(env, { shareWith: { redisServer: api.redisServer, prefix: api.prefix } });
  });
  afterAll(async () => {
    await second?.close();
    await api?.close();
  });

  it('refuses beyond the burst with 429 and Retry-After, per tenant, shared by API processes, replays free', async () => {
    const first = await api.call('POST', '/v1/jobs', { body: VEGA, headers: { 'idempotency-key': 'rate-first' } });
    expect(first.status).toBe(202);
    // The rest of the bucket in one batch: the burst is exactly enough.
    const drained = await api.call('POST', '/v1/batches', {
      body: { jobs: Array.from({ length: 9_999 }, () => VEGA) },
    });
    expect(drained.status).toBe(202);
    // Recording the batch took a moment, in which a token or two came back: the request beyond them is refused.
    let limited: Awaited<ReturnType<TestApi['call']>> | undefined;
    let key = '';
    // (A loaded machine takes longer over the batch, so more may have come back: keep asking until refused.)
    for (let i = 0; i < 200 && !limited; i++) {
      key = `rate-${i}`;
      const answer = await api.call('POST', '/v1/jobs', { body: VEGA, headers: { 'idempotency-key': key } });
      if (answer.status !== 202) limited = answer;
    }
    if (!limited) throw new Error('no request was refused');
    isProblem(limited, 429);
    expect(limited.headers.get('retry-after')).toBe('1');
    expect(limited.json().detail).toContain('may enqueue 1 jobs per second');

    // The other API process draws from the same bucket; the other tenant from its own.
    isProblem(await second.call('POST', '/v1/batches', { body: { jobs: [VEGA, VEGA, VEGA] } }), 429);
    expect((await second.call('POST', '/v1/jobs', { body: VEGA, tenant: 'globex' })).status).toBe(202);
    // Replaying an Idempotency-Key creates nothing, so costs nothing: it is answered even from an empty bucket.
    for (const server of [api, second]) {
      const replay = await server.call('POST', '/v1/jobs', {
        body: VEGA,
        headers: { 'idempotency-key': 'rate-first' },
      });
      expect(replay.status).toBe(202);
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      expect(replay.json().id).toBe(first.json().id);
    }
    // The 429 was not kept as the key's answer: after the wait it named, the same key creates its job.
    await sleep(Number(limited.headers.get('retry-after')) * 1000);
    const later = await api.call('POST', '/v1/jobs', { body: VEGA, headers: { 'idempotency-key': key } });
    expect(later.status).toBe(202);
    expect(later.headers.get('idempotent-replayed')).toBeNull();
  });

  it('refuses a batch larger than what is left as a whole, recording nothing, with the wait it needs', async () => {
    // Empty the bucket first, however long the previous test took.
    for (let i = 0; i < 200; i++) {
      if ((await api.call('POST', '/v1/jobs', { body: VEGA })).status === 429) break;
    }
    const batches = await api.redis.keys(batchKey(api.prefix, '*'));
    const jobs = await api.redis.keys(jobKey(api.prefix, '*'));
    const refused = await api.call('POST', '/v1/batches', { body: { jobs: [VEGA, VEGA, VEGA, VEGA, VEGA] } });
    isProblem(refused, 429);
    // Five tokens at one a second, with what came back since the bucket was empty: at most 5 s.
    const available = Number(/this request needs 5 and (\d+) are available/.exec(String(refused.json().detail))?.[1]);
    expect(available).toBeLessThan(5);
    expect(Number(refused.headers.get('retry-after'))).toBe(5 - available);
    expect(await api.redis.keys(batchKey(api.prefix, '*'))).toEqual(batches);
    expect((await api.redis.keys(jobKey(api.prefix, '*'))).length).toBe(jobs.length);
  });
});

describe('timeouts (headers 1.5 s, request 4 s, keep-alive 1 s, idle 3 s)', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startApi({
      HTTP_HEADERS_TIMEOUT_MS: '1500',
      HTTP_REQUEST_TIMEOUT_MS: '4000',
      HTTP_KEEP_ALIVE_TIMEOUT_MS: '1000',
      HTTP_IDLE_TIMEOUT_MS: '3000',
    });
  });
  afterAll(() => api?.close());

  const jobHead = (length: number) =>
    `POST /v1/jobs HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${KEYS.acme}\r\n` +
    `content-type: application/json\r\ncontent-length: ${length}\r\n\r\n`;

  it.concurrent('closes a connection trickling its headers a byte a second at the headers timeout, with 408', async () => {
    // Half-open: it keeps trickling after the server's answer, as the connections still open after 130 s did.
    const connection = rawConnection(api.url, { halfOpen: true });
    connection.trickle(jobHead(100), 1_000);
    const answer = await connection.answer();
    expect(answer.status).toBe(408);
    expect(header(answer.head, 'content-type')).toContain('application/problem+json');
    expect(answer.body.detail).toContain('HTTP_HEADERS_TIMEOUT_MS');
    // Node looks for late headers every quarter of the timeout (here 375 ms); the upper bounds
    // leave room for a loaded machine (a byte is trickled each second).
    const endedAfter = await connection.ended;
    expect(endedAfter).toBeGreaterThan(1_400);
    expect(endedAfter).toBeLessThan(3_000);
    // Closed both ways: the next byte trickled in is refused (reset), not taken in silence.
    const closedAfter = await connection.closed;
    expect(closedAfter - endedAfter).toBeLessThan(2_500);
  });

  it.concurrent('closes an idle keep-alive connection after the keep-alive timeout', async () => {
    const connection = rawConnection(api.url);
    connection.write('GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n');
    expect((await connection.answer()).status).toBe(200);
    const answered = performance.now();
    await connection.closed;
    // Node keeps a connection a second past the keep-alive it announces, so clients never race its close.
    const idleFor = performance.now() - answered;
    expect(idleFor).toBeGreaterThan(900);
    expect(idleFor).toBeLessThan(2_800);
  });

  it.concurrent('cuts a body trickled slowly at the request timeout, with 408', async () => {
    const connection = rawConnection(api.url);
    connection.write(jobHead(10_000));
    connection.trickle(`{"model":"segmind-vega","input":{"prompt":"${'x'.repeat(10_000)}`, 200);
    const answer = await connection.answer();
    expect(answer.status).toBe(408);
    expect(answer.body.detail).toContain('HTTP_REQUEST_TIMEOUT_MS');
    const closedAfter = await connection.closed;
    expect(closedAfter).toBeGreaterThan(3_900);
    expect(closedAfter).toBeLessThan(5_500);
  });

  it.concurrent('answers a body that stops arriving with 408 after the idle timeout, and never serves it after', async () => {
    const jobs = (await api.redis.keys(jobKey(api.prefix, '*'))).length;
    const body = JSON.stringify(VEGA);
    const connection = rawConnection(api.url);
    connection.write(`${jobHead(body.length)}${body.slice(0, 10)}`);
    const answer = await connection.answer();
    expect(answer.status).toBe(408);
    expect(answer.body.detail).toContain('no part of the request arrived for 3000 ms');
    // The rest of the body, too late: the request was refused and stays refused.
    connection.write(body.slice(10));
    const closedAfter = await connection.closed;
    expect(closedAfter).toBeGreaterThan(2_900);
    expect(closedAfter).toBeLessThan(3_900);
    await sleep(200);
    expect((await api.redis.keys(jobKey(api.prefix, '*'))).length).toBe(jobs);
  });
});

describe('what one tenant may hold (2 of 4 upload slots, uploads of 1 KB/s at least, a 1 s wait)', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startApi({
      BATCH_UPLOAD_CONCURRENCY: '4',
      BATCH_UPLOAD_CONCURRENCY_PER_TENANT: '2',
      // Shorter than the floor's 10 s grace: a refusal is answered while the trickles still hold their slots.
      BATCH_UPLOAD_WAIT_MS: '1000',
      BATCH_UPLOAD_MIN_BYTES_PER_SECOND: '1000',
    });
  });
  afterAll(() => api?.close());

  const trickling = (tenant: keyof typeof KEYS, route = '/v1/batches', type = 'application/x-ndjson') => {
    const connection = rawConnection(api.url);
    connection.write(
      `POST ${route} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${KEYS[tenant]}\r\n` +
        `content-type: ${type}\r\ntransfer-encoding: chunked\r\n\r\n`,
    );
    connection.trickle('1\r\n \r\n', 400);
    return connection;
  };

  it('keeps one tenant to its share of the upload slots, and cuts an upload slower than the floor', async () => {
    const held = [trickling('acme'), trickling('acme')];
    await sleep(300);
    const third = await api.call('POST', '/v1/batches', { body: { jobs: [VEGA] } });
    isProblem(third, 429);
    expect(third.json().detail).toContain('BATCH_UPLOAD_CONCURRENCY_PER_TENANT');
    // Another tenant is not kept out by the first one's uploads.
    expect((await api.call('POST', '/v1/batches', { body: { jobs: [VEGA] }, tenant: 'globex' })).status).toBe(202);
    // The trickles (a few bytes a second) are cut once their first 10 s are over, with a 408.
    for (const connection of held) {
      const answer = await connection.answer();
      expect(answer.status).toBe(408);
      expect(answer.body.detail).toContain('BATCH_UPLOAD_MIN_BYTES_PER_SECOND');
      expect(await connection.closed).toBeLessThan(14_000);
    }
    expect((await api.call('POST', '/v1/batches', { body: { jobs: [VEGA] } })).status).toBe(202);
  }, 30_000);

  it('holds single jobs with large or unannounced bodies to the same slots and floor; small ones pass', async () => {
    const held = [trickling('acme', '/v1/jobs', 'application/json'), trickling('acme', '/v1/jobs', 'application/json')];
    await sleep(300);
    isProblem(await api.call('POST', '/v1/batches', { body: { jobs: [VEGA] } }), 429);
    // A large job of the same tenant waits for the same share...
    const large = JSON.stringify({
      ...VEGA,
      metadata: { note: 'x'.repeat(10_000) },
      input: { prompt: 'y'.repeat(9_000) },
    });
    const padded = `${large}${' '.repeat(70 * 1024 - large.length)}`;
    const refused = await api.call('POST', '/v1/jobs', {
      raw: padded,
      headers: { 'content-type': 'application/json' },
    });
    isProblem(refused, 429);
    expect(refused.json().detail).toContain('BATCH_UPLOAD_CONCURRENCY_PER_TENANT');
    // ...a small one does not, nor does another tenant's large one.
    expect((await api.call('POST', '/v1/jobs', { body: VEGA })).status).toBe(202);
    expect(
      (
        await api.call('POST', '/v1/jobs', {
          raw: padded,
          headers: { 'content-type': 'application/json' },
          tenant: 'globex',
        })
      ).status,
    ).toBe(202);
    for (const connection of held) {
      const answer = await connection.answer();
      expect(answer.status).toBe(408);
      expect(answer.body.detail).toContain('BATCH_UPLOAD_MIN_BYTES_PER_SECOND');
    }
    expect(
      (await api.call('POST', '/v1/jobs', { raw: padded, headers: { 'content-type': 'application/json' } })).status,
    ).toBe(202);
  }, 30_000);

  it('answers a batch that arrived whole even when the request after it on the connection cannot be read', async () => {
    const batches = async () => (await api.redis.keys(batchKey(api.prefix, '*'))).filter((k) => !k.endsWith(':jobs'));
    const before = (await batches()).length;
    const body = `${JSON.stringify(VEGA)}\n`;
    const connection = rawConnection(api.url);
    connection.write(
      `POST /v1/batches HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${KEYS.acme}\r\n` +
        `content-type: application/x-ndjson\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}XXXX\r\n\r\n`,
    );
    const answer = await connection.answer();
    expect(answer.status).toBe(202);
    await connection.closed;
    expect((await batches()).length).toBe(before + 1);
  });
});

describe('connections from one address (HTTP_MAX_CONNECTIONS_PER_IP=3)', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startApi({ HTTP_MAX_CONNECTIONS_PER_IP: '3' });
  });
  afterAll(() => api?.close());

  it('refuses a fourth connection from one address with 503, and serves it again once one closes', async () => {
    const open = [rawConnection(api.url), rawConnection(api.url), rawConnection(api.url)];
    open[0]?.write('GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n');
    expect((await open[0]?.answer())?.status).toBe(200);
    const refused = await rawConnection(api.url).answer();
    expect(refused.status).toBe(503);
    expect(refused.body.detail).toContain('HTTP_MAX_CONNECTIONS_PER_IP');
    open[1]?.socket.destroy();
    await sleep(100);
    const next = rawConnection(api.url);
    next.write('GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n');
    expect((await next.answer()).status).toBe(200);
    for (const connection of open) connection.socket.destroy();
  });
});

describe('connection cap (HTTP_MAX_CONNECTIONS=3)', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startApi({ HTTP_MAX_CONNECTIONS: '3' });
  });
  afterAll(() => api?.close());

  it('answers connection 4 with 503 and Retry-After while 3 are open, and serves again once one closes', async () => {
    const open = [rawConnection(api.url), rawConnection(api.url), rawConnection(api.url)];
    open[0]?.write('GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n');
    expect((await open[0]?.answer())?.status).toBe(200);
    const refused = rawConnection(api.url);
    const answer = await refused.answer();
    expect(answer.status).toBe(503);
    expect(header(answer.head, 'retry-after')).toBe('1');
    expect(header(answer.head, 'content-type')).toContain('application/problem+json');
    expect(answer.body.detail).toContain('HTTP_MAX_CONNECTIONS');
    await refused.closed;

    open[1]?.socket.destroy();
    await sleep(100);
    const next = rawConnection(api.url);
    next.write('GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n');
    expect((await next.answer()).status).toBe(200);
    for (const connection of open) connection.socket.destroy();
  });
});
