// Access is decided by the route that matched, never by how the path was spelled: every
// registered route × many spellings of its path × every kind of key, sent as raw HTTP (a
// client would normalise the path first). No spelling reaches a handler without the right key.
import { Agent, request as httpRequest } from 'node:http';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installAccessControl, Keyring } from '../src/http/access.js';
import { KEYS, startApi, type TestApi, VEGA } from './server.js';

type KeyName = 'none' | 'wrong' | 'owner' | 'other_tenant' | 'operator';
const AUTHORIZATION: Record<KeyName, string | undefined> = {
  none: undefined,
  wrong: 'Bearer not-a-key-of-anyone-0123456789',
  owner: `Bearer ${KEYS.acme}`,
  other_tenant: `Bearer ${KEYS.globex}`,
  operator: `Bearer ${KEYS.operator}`,
};

interface RawAnswer {
  readonly status: number;
  readonly type: string | undefined;
  readonly body: string;
}

let api: TestApi;
let port: number;
const agent = new Agent({ keepAlive: true, maxSockets: 32 });
let jobId: string;
let batchId: string;
let operationId: string;

beforeAll(async () => {
  api = await startApi();
  port = Number(new URL(api.url).port);
  jobId = (await api.call('POST', '/v1/jobs', { body: VEGA })).json().id as string;
  await api.complete(jobId, 1);
  batchId = (await api.call('POST', '/v1/batches', { body: { jobs: [VEGA] } })).json().id as string;
  // A bulk cancel of a finished job: an operation that acts on nothing and ends at once.
  operationId = (await api.call('POST', '/v1/jobs/cancel', { body: { ids: [jobId] } })).json().id as string;
});
afterAll(async () => {
  agent.destroy();
  await api?.close();
});

function send(method: string, path: string, authorization: string | undefined): Promise<RawAnswer> {
  const body = ['POST', 'PUT', 'PATCH'].includes(method) ? JSON.stringify(bodyFor(path)) : undefined;
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent,
        headers: {
          ...(authorization ? { authorization } : {}),
          ...(body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {}),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        const answer = () => ({ status: res.statusCode ?? 0, type: res.headers['content-type'], body: text });
        // An event stream of an unfinished job goes on: its first event shows the handler was reached.
        if (res.headers['content-type']?.startsWith('text/event-stream')) {
          res.once('data', (chunk) => {
            text += chunk;
            resolve(answer());
            req.destroy();
          });
          return;
        }
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => resolve(answer()));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** A valid body for the route a path names, so that a handler that runs does its work. */
function bodyFor(path: string): unknown {
  const plain = decodeURIComponent(path.replace(/%(?![0-9a-f]{2})/gi, '%25')).toLowerCase();
  if (/\/v1\/+jobs\/*$/.test(plain)) return VEGA;
  if (/\/v1\/+batches\/*$/.test(plain)) return { jobs: [VEGA] };
  return {};
}

/** A concrete path for a route pattern, naming the owner's own job and batch. */
function concrete(url: string): string {
  return url
    .replace(/^\/v1\/jobs\/:id/, `/v1/jobs/${jobId}`)
    .replace(/^\/v1\/batches\/:id/, `/v1/batches/${batchId}`)
    .replace(/^\/v1\/operations\/:id/, `/v1/operations/${operationId}`)
    .replace(':index', '0')
    .replace(':field', 'image')
    .replace(':queueName', 'render')
    .replace(':jobId', jobId)
    .replace(':queueStatus', 'completed')
    .replace(':schedulerId', 'nightly')
    .replace('*', 'main.js');
}

const hex = (char: string) => `%${char.charCodeAt(0).toString(16).padStart(2, '0')}`;

/** Ways to spell `path` that a careless check would read differently from the router. */
function spellings(path: string): string[] {
  const segments = path.split('/').slice(1);
  const join = (parts: string[]) => `/${parts.join('/')}`;
  const out = new Set<string>([path]);
  for (const [i, segment] of segments.entries()) {
    const letter = segment.search(/[a-z]/i);
    const digit = segment.search(/[0-9]/);
    for (const at of [letter, digit]) {
      if (at < 0) continue;
      const encoded = `${segment.slice(0, at)}${hex(segment[at] as string)}${segment.slice(at + 1)}`;
      out.add(join(segments.map((s, j) => (j === i ? encoded : s))));
      out.add(join(segments.map((s, j) => (j === i ? encoded.toUpperCase() : s))));
    }
  }
  const [first = '', ...rest] = segments;
  out.add(join([[...first].map(hex).join(''), ...rest]));
  out.add(join([`%25${hex(first[0] ?? 'v').slice(1)}${first.slice(1)}`, ...rest]));
  out.add(`/${path}`);
  out.add(join([first, '', ...rest]));
  out.add(join([first, '.', ...rest]));
  out.add(join(['.', first, ...rest]));
  out.add(join([first, 'x', '..', ...rest]));
  out.add(join([first, '%2e', ...rest]));
  out.add(join([first, '%2E%2E', first, ...rest]));
  out.add(path.toUpperCase());
  out.add(join([first.toUpperCase(), ...rest]));
  out.add(`${path}/`);
  out.add(`${path}?`);
  out.add(`${path};x=1`);
  out.add(`/${first}%2F${rest.join('/')}`);
  out.add(`/${first}%2f${rest.join('%2f')}`);
  out.add(`/${first}\\${rest.join('/')}`);
  return [...out];
}

/** What answers show that no handler ran: refused, or no route (or an unreadable URL). */
function refusedOrUnrouted(answer: RawAnswer): boolean {
  if (answer.status === 401 || answer.status === 403 || answer.status === 414) return true;
  if (answer.status === 404) return answer.body.includes('route-not-found');
  return answer.status === 400 && answer.body.includes('could not be read');
}

describe('access by matched route', () => {
  it('lets no spelling of any route reach a handler without the right key', async () => {
    const routes = api.app
      .routeAccess()
      .flatMap((route) =>
        (Array.isArray(route.method) ? route.method : [route.method]).map((method) => ({ ...route, method })),
      );
    expect(routes.length).toBeGreaterThan(60);
    const cases = routes.flatMap((route) =>
      spellings(concrete(route.url)).flatMap((path) =>
        (Object.keys(AUTHORIZATION) as KeyName[]).map((key) => ({ route, path, key })),
      ),
    );
    const results: { route: (typeof routes)[number]; path: string; key: KeyName; answer: RawAnswer }[] = [];
    // A few at a time: thousands of requests in a handful of seconds.
    for (let start = 0; start < cases.length; start += 32) {
      const slice = cases.slice(start, start + 32);
      results.push(
        ...(await Promise.all(
          slice.map(async (c) => ({ ...c, answer: await send(c.route.method, c.path, AUTHORIZATION[c.key]) })),
        )),
      );
    }
    // A HEAD answer has no body to say which 404 it is: the GET of the same path and key says it.
    const gets = new Map(results.filter((r) => r.route.method === 'GET').map((r) => [`${r.path} ${r.key}`, r.answer]));
    const leaks: string[] = [];
    let reachedWithRightKey = 0;
    let encodedReached = 0;
    for (const result of results) {
      const { route, path, key } = result;
      const get =
        gets.get(`${path} ${key}`) ??
        (route.method === 'HEAD' ? await send('GET', path, AUTHORIZATION[key]) : undefined);
      const answer = route.method === 'HEAD' && get && get.status === result.answer.status ? get : result.answer;
      const describe = `${route.method} ${path} [${route.access}] with ${key} → ${answer.status} ${answer.body.slice(0, 120)}`;
      if (route.access === 'public') continue;
      const right =
        (route.access === 'operator' && key === 'operator') ||
        (route.access === 'tenant_or_operator' && key === 'operator') ||
        (route.access !== 'operator' && (key === 'owner' || (key === 'other_tenant' && !route.url.includes(':'))));
      if (right) {
        if (!refusedOrUnrouted(answer)) {
          reachedWithRightKey++;
          if (path.includes('%')) encodedReached++;
        }
        continue;
      }
      if (key === 'other_tenant' && route.access !== 'operator') {
        // Another tenant's key is a key: its handler runs and finds nothing of the owner's.
        if (!(refusedOrUnrouted(answer) || answer.status === 404)) leaks.push(describe);
        continue;
      }
      if (!refusedOrUnrouted(answer)) leaks.push(describe);
    }
    expect(leaks).toEqual([]);
    console.warn(
      `${results.length} requests over ${routes.length} routes; ${reachedWithRightKey} reached a handler with the right key`,
    );
    // The walk is not vacuous: the right keys did reach handlers, percent-encoded spellings included.
    expect(reachedWithRightKey).toBeGreaterThan(routes.length);
    expect(encodedReached).toBeGreaterThan(routes.length);
    // ~14,000 requests: seconds on a quiet machine, a minute or more on a loaded one.
  }, 240_000);

  it('refuses a tenant key on every admin route and dashboard action (403), and lets an operator key in', async () => {
    const operatorRoutes = api.app.routeAccess().filter((route) => route.access === 'operator');
    for (const route of operatorRoutes) {
      for (const method of Array.isArray(route.method) ? route.method : [route.method]) {
        const path = concrete(route.url);
        const tenant = await send(method, path, AUTHORIZATION.owner);
        expect(tenant.status, `${method} ${path}`).toBe(403);
        expect(tenant.type).toContain('application/problem+json');
      }
    }
    const basic = `Basic ${Buffer.from(`ops:${KEYS.operator}`).toString('base64')}`;
    expect((await send('GET', '/admin/queues', basic)).status).toBe(200);
    expect((await send('GET', '/admin/queues/api/queues', AUTHORIZATION.operator)).status).toBe(200);
    expect((await send('POST', '/v1/admin/pause', AUTHORIZATION.operator)).status).toBe(200);
    expect(JSON.parse((await send('GET', '/v1/admin/status', AUTHORIZATION.operator)).body)).toMatchObject({
      pause: { paused: true, reason: 'operator' },
    });
    expect(JSON.parse((await send('POST', '/v1/admin/resume', AUTHORIZATION.operator)).body)).toEqual({
      paused: false,
    });
    // The dashboard is read-only: its actions are refused even for operators, and change nothing.
    expect((await send('PUT', '/admin/queues/api/queues/render/pause', AUTHORIZATION.operator)).status).toBe(405);
    expect((await send('PUT', '/admin/queues/api/queues/render/empty', AUTHORIZATION.operator)).status).toBe(405);
    for (const action of ['pause', 'resume']) {
      const all = await send('PUT', `/admin/queues/api/queues/${action}`, AUTHORIZATION.operator);
      expect(all.status, action).toBe(405);
      expect(all.type).toContain('application/problem+json');
    }
    // Basic is for the dashboard (browsers) only: cached credentials cannot reach the admin routes.
    expect((await send('POST', '/v1/admin/resume', basic)).status).toBe(401);
    expect((await send('GET', '/v1/admin/status', basic)).status).toBe(401);
    expect(JSON.parse((await send('GET', '/v1/admin/status', AUTHORIZATION.operator)).body).pause).toEqual({
      paused: false,
    });
    // An operator key owns no jobs.
    expect((await send('GET', `/v1/jobs/${jobId}`, AUTHORIZATION.operator)).status).toBe(403);
  });

  it('shows the renderq job id, tenant, model and stage on dashboard job cards', async () => {
    const queued = (await api.call('POST', '/v1/jobs', { body: VEGA, tenant: 'globex' })).json().id as string;
    // On the render queue once fair share releases it (a worker's part; no worker runs here).
    await api.store.releaseFairShare(1_000, () => 1);
    const card = await send('GET', `/admin/queues/api/queues/render/${queued}`, AUTHORIZATION.operator);
    expect(card.status).toBe(200);
    expect(JSON.parse(card.body).job).toMatchObject({
      id: queued,
      data: { job_id: queued, tenant: 'globex', model: 'segmind-vega', stage: 'queued' },
      name: 'segmind-vega · globex · queued',
    });
    const list = await send(
      'GET',
      '/admin/queues/api/queues?activeQueue=render&status=waiting',
      AUTHORIZATION.operator,
    );
    const { queues } = JSON.parse(list.body) as { queues: { name: string; jobs: { data: { tenant?: string } }[] }[] };
    const render = queues.find((queue) => queue.name === 'render');
    expect(render?.jobs.length).toBeGreaterThan(0);
    expect(render?.jobs.every((job) => typeof job.data.tenant === 'string')).toBe(true);
  });

  it('answers ids that are not well formed with 404, and over-long or malformed URLs with problem+json', async () => {
    for (const path of [
      `/v1/batches/${batchId}:jobs`,
      '/v1/jobs/job_0000',
      '/v1/jobs/..%2f..%2fhealthz',
      `/v1/jobs/${jobId}%00`,
      `/v1/batches/${jobId}`,
    ]) {
      const answer = await send('GET', path, AUTHORIZATION.owner);
      expect(answer.status, path).toBe(404);
      expect(answer.type).toContain('application/problem+json');
    }
    const long = await send('GET', `/v1/jobs/${'a'.repeat(5_000)}`, AUTHORIZATION.owner);
    expect(long.status).toBe(414);
    expect(long.type).toContain('application/problem+json');
    const malformed = await send('GET', '/v1/jobs/%E0%A4%A', AUTHORIZATION.owner);
    expect(malformed.status).toBe(400);
    expect(malformed.type).toContain('application/problem+json');
  });

  it('refuses to start when a route declares no access', async () => {
    const app = Fastify();
    installAccessControl(app, new Keyring(undefined, []));
    app.get('/undeclared', async () => 'reached');
    await expect(app.ready()).rejects.toThrow(/every route must declare its access.*GET \/undeclared/);
  });
});
