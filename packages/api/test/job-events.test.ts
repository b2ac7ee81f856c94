// A job's event stream (Server-Sent Events) and requests that wait for a job (`Prefer: wait`),
// driven by moving a job through its stages as a worker would.

import { jobEventsKey } from '@renderq/shared/keys';
import type { RedisHandle } from '@renderq/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEYS, startApi, type TestApi, VEGA } from './server.js';

interface SseEvent {
  readonly id: string;
  readonly event: string;
  readonly data: { stage: string; status?: string; job: { id: string; status: string } };
}

/** Reads events from an event stream until `stop` says so or the stream ends. */
async function readEvents(
  response: Response,
  stop: (events: readonly SseEvent[]) => boolean = () => false,
): Promise<{ events: SseEvent[]; ended: boolean; comments: number }> {
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  const events: SseEvent[] = [];
  let buffer = '';
  let comments = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return { events, ended: true, comments };
    buffer += decoder.decode(value, { stream: true });
    let end = buffer.indexOf('\n\n');
    while (end >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (block.startsWith(':')) comments++;
      else {
        const field = (name: string) =>
          block
            .split('\n')
            .find((line) => line.startsWith(`${name}: `))
            ?.slice(name.length + 2) ?? '';
        events.push({ id: field('id'), event: field('event'), data: JSON.parse(field('data')) });
      }
      end = buffer.indexOf('\n\n');
    }
    if (stop(events)) {
      await reader.cancel();
      return { events, ended: false, comments };
    }
  }
}

describe('job event streams and Prefer: wait', () => {
  let api: TestApi & { redisServer: RedisHandle };
  beforeAll(async () => {
    api = await startApi({ EVENT_STREAMS_PER_TENANT: '3' });
  });
  afterAll(async () => api?.close());

  const open = (id: string, headers: Record<string, string> = {}, tenant: keyof typeof KEYS = 'acme') =>
    fetch(`${api.url}/v1/jobs/${id}/events`, { headers: { authorization: `Bearer ${KEYS[tenant]}`, ...headers } });
  const newJob = async () => (await api.call('POST', '/v1/jobs', { body: VEGA })).json().id as string;

  it('gives a snapshot then each change (each with its own status); a dropped connection resumes with Last-Event-ID exactly after what it saw', async () => {
    const id = await newJob();
    const first = await open(id);
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const seen = readEvents(first, (events) => events.length === 3);
    await api.start(id); // submitting, then polling
    const before = await seen;
    expect(before.events.map((e) => e.event)).toEqual(['snapshot', 'submitting', 'polling']);
    expect(before.events[0]?.data).toMatchObject({ stage: 'queued', job: { id, status: 'queued' } });
    expect(before.events[2]?.data).toMatchObject({ stage: 'polling', status: 'running', job: { status: 'running' } });

    // Dropped; meanwhile the job moves on (a poll is no change of stage), and finishes later.
    await api.store.transition(id, 'poll', { ...(await pollingStage(api, id)), polls: 1 }, {});
    await api.store.transition(
      id,
      'result',
      { name: 'storing', request_id: `req-${id}`, sources: [], attempts: 0 },
      {},
    );
    const second = await open(id, { 'last-event-id': before.events[2]?.id as string });
    const rest = readEvents(second);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await api.store.transition(id, 'complete', { name: 'completed' }, { outputs: [] });
    const after = await rest;
    expect(after.ended).toBe(true);
    expect(after.events.map((e) => e.event)).toEqual(['storing', 'completed']);
    expect(after.events[1]?.data).toMatchObject({
      stage: 'completed',
      status: 'completed',
      job: { status: 'completed' },
    });
    const ids = [...before.events, ...after.events].map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort(byEventId)).toEqual(ids);

    // A finished job's stream: its snapshot, and the end; resumed after its last event: nothing, and the end.
    const done = await readEvents(await open(id));
    expect(done).toMatchObject({ ended: true, events: [{ event: 'snapshot', data: { stage: 'completed' } }] });
    // Resumed after its last event: 204, nothing more will come (an EventSource stops there).
    const resumed = await open(id, { 'last-event-id': ids.at(-1) as string });
    expect(resumed.status).toBe(204);
    // An id the stream never gave (ahead of its latest event): a snapshot, as a first connection.
    const ahead = await readEvents(await open(id, { 'last-event-id': '99999999999999-0' }));
    expect(ahead).toMatchObject({ ended: true, events: [{ event: 'snapshot', data: { stage: 'completed' } }] });
  });

  it("refuses another tenant's job, a Last-Event-ID it never gave, and streams past the tenant's cap", async () => {
    const id = await newJob();
    expect((await open(id, {}, 'globex')).status).toBe(404);
    const bad = await open(id, { 'last-event-id': '../../etc' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { detail: string }).detail).toMatch(/Last-Event-ID/);
    const streams = await Promise.all([open(id), open(id), open(id)]);
    expect(streams.map((s) => s.status)).toEqual([200, 200, 200]);
    const over = await open(id);
    expect(over.status).toBe(429);
    expect(((await over.json()) as { detail: string }).detail).toMatch(/at most 3 \(EVENT_STREAMS_PER_TENANT\)/);
    // A closed stream frees its place.
    await streams[0]?.body?.cancel();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const again = await open(id);
    expect(again.status).toBe(200);
    for (const stream of [...streams.slice(1), again]) await stream.body?.cancel();
  });

  it("opens with the signed link the job or batch gives, without a key, and refuses a link that is not that one's", async () => {
    const job = (await api.call('POST', '/v1/jobs', { body: VEGA })).json() as { id: string; events_url: string };
    const other = await newJob();
    const url = new URL(job.events_url);
    expect(url.pathname).toBe(`/v1/jobs/${job.id}/events`);
    const linked = await fetch(`${api.url}${url.pathname}${url.search}`);
    expect(linked.status).toBe(200);
    // A browser's EventSource on another origin may read it; a stream opened with a key says nothing of the kind.
    expect(linked.headers.get('access-control-allow-origin')).toBe('*');
    const { events } = await readEvents(linked, (seen) => seen.length === 1);
    expect(events[0]).toMatchObject({ event: 'snapshot', data: { job: { id: job.id, status: 'queued' } } });
    // What it sends carries no fresh link: a link must not outlive its expiry by renewing itself.
    expect(events[0]?.data.job).not.toHaveProperty('events_url');
    const keyed = await open(job.id);
    expect(keyed.headers.get('access-control-allow-origin')).toBeNull();
    await keyed.body?.cancel();

    // Another job's path, a changed expiry, no signature: each a 401 that tells nothing.
    const refused = [
      `${api.url}/v1/jobs/${other}/events${url.search}`,
      `${api.url}${url.pathname}?expires=${Number(url.searchParams.get('expires')) + 1}&signature=${url.searchParams.get('signature')}`,
      `${api.url}${url.pathname}`,
      `${api.url}${url.pathname}?expires=${url.searchParams.get('expires')}&signature=${'A'.repeat(43)}`,
    ];
    for (const attempt of refused) expect((await fetch(attempt)).status).toBe(401);
    // A batch's link opens the batch's stream, and no job's.
    const batch = (await api.call('POST', '/v1/batches', { body: { jobs: [VEGA] } })).json() as {
      id: string;
      events_url: string;
    };
    const batchUrl = new URL(batch.events_url);
    expect(batchUrl.pathname).toBe(`/v1/batches/${batch.id}/events`);
    const batchStream = await fetch(`${api.url}${batchUrl.pathname}${batchUrl.search}`);
    expect(batchStream.status).toBe(200);
    await batchStream.body?.cancel();
    expect((await fetch(`${api.url}/v1/jobs/${job.id}/events${batchUrl.search}`)).status).toBe(401);
  });

  it("counts streams opened with links apart from the tenant's own, so that a leaked link cannot take them", async () => {
    const job = (await api.call('POST', '/v1/jobs', { body: VEGA })).json() as { id: string; events_url: string };
    const link = new URL(job.events_url);
    const linked = await Promise.all([1, 2, 3].map(() => fetch(`${api.url}${link.pathname}${link.search}`)));
    expect(linked.map((r) => r.status)).toEqual([200, 200, 200]);
    expect((await fetch(`${api.url}${link.pathname}${link.search}`)).status).toBe(429);
    const keyed = await open(job.id);
    expect(keyed.status).toBe(200);
    await Promise.all([...linked, keyed].map((r) => r.body?.cancel()));
  });

  it('ends its streams and waiting reads when the process closes, so that closing does not wait for them', async () => {
    const other = await startApi({}, { shareWith: { redisServer: api.redisServer, prefix: api.prefix } });
    const id = await newJob();
    const stream = await fetch(`${other.url}/v1/jobs/${id}/events`, {
      headers: { authorization: `Bearer ${KEYS.acme}` },
    });
    const reading = readEvents(stream);
    const waiting = other.call('GET', `/v1/jobs/${id}`, { headers: { prefer: 'wait=60' } });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const started = Date.now();
    await other.close();
    expect(Date.now() - started).toBeLessThan(2_500);
    expect(await reading).toMatchObject({ ended: true, events: [{ event: 'snapshot' }] });
    expect((await waiting).json()).toMatchObject({ id, status: 'queued' });
  });

  it("streams a 1,000-job batch's every job finishing once, across a dropped connection, then the batch", async () => {
    const body = { jobs: Array.from({ length: 1_000 }, (_, i) => ({ ...VEGA, metadata: { i } })) };
    const created = (await api.call('POST', '/v1/batches', { body })).json() as { id: string; jobs: { id: string }[] };
    const ids = created.jobs.map((job) => job.id);
    const url = `${api.url}/v1/batches/${created.id}/events`;
    const auth = { authorization: `Bearer ${KEYS.acme}` };
    const first = readBatchEvents(await fetch(url, { headers: auth }), (events) => events.length >= 400);
    // Jobs finish as a worker would finish them: most cancelled, some completed, a few at a time.
    const finishing = (async () => {
      for (let start = 0; start < ids.length; start += 50) {
        await Promise.all(
          ids
            .slice(start, start + 50)
            .map((id, i) =>
              i % 10 === 0 ? api.complete(id) : api.store.transition(id, 'cancel', { name: 'cancelled' }, {}),
            ),
        );
      }
    })();
    const before = await first;
    expect(before.events[0]?.event).toBe('snapshot');
    const second = readBatchEvents(
      await fetch(url, { headers: { ...auth, 'last-event-id': before.events.at(-1)?.id as string } }),
    );
    await finishing;
    const after = await second;
    expect(after.ended).toBe(true);
    const all = [...before.events.slice(1), ...after.events];
    // The final event shows the batch finished, never a view from just before.
    expect(all.at(-1)).toMatchObject({
      event: 'batch.completed',
      data: { batch: { id: created.id, finished_at: expect.any(String) } },
    });
    const finished = all.slice(0, -1).map((e) => e.data.job_id);
    expect(finished.length).toBe(1_000);
    expect(new Set(finished)).toEqual(new Set(ids));
    expect(all.filter((e) => e.event === 'job.completed').length).toBe(100);
    const eventIds = all.map((e) => e.id);
    expect([...eventIds].sort(byEventId)).toEqual(eventIds);
  });

  it('sends a change whose message was lost at the next keep-alive, and ends', async () => {
    // Keep-alives every 500 ms (half the idle timeout).
    const quick = await startApi(
      { HTTP_IDLE_TIMEOUT_MS: '1000' },
      { shareWith: { redisServer: api.redisServer, prefix: api.prefix } },
    );
    try {
      const id = await newJob();
      const stream = await fetch(`${quick.url}/v1/jobs/${id}/events`, {
        headers: { authorization: `Bearer ${KEYS.acme}` },
      });
      const reading = readEvents(stream);
      await new Promise((resolve) => setTimeout(resolve, 200));
      // A change in the job's change stream with no message published (a worker of an earlier version, a
      // subscription that was reconnecting).
      await api.redis.xadd(jobEventsKey(api.prefix, id), '*', 'stage', 'cancelled', 'status', 'cancelled');
      const read = await reading;
      expect(read.ended).toBe(true);
      expect(read.events.map((e) => e.event)).toEqual(['snapshot', 'cancelled']);
      expect(read.comments).toBeGreaterThan(0);
    } finally {
      await quick.close();
    }
  });

  it('answers a waiting read when the job finishes, and with the job as it is when the wait is over', async () => {
    const id = await newJob();
    setTimeout(() => void api.complete(id), 700);
    const started = Date.now();
    const finished = await api.call('GET', `/v1/jobs/${id}`, { headers: { prefer: 'wait=10' } });
    const took = Date.now() - started;
    expect(finished.status).toBe(200);
    expect(finished.headers.get('preference-applied')).toBe('wait=10');
    expect(finished.json()).toMatchObject({ id, status: 'completed' });
    expect(took).toBeGreaterThanOrEqual(650);
    expect(took).toBeLessThan(5_000);

    const waiting = await newJob();
    const begun = Date.now();
    const unfinished = await api.call('GET', `/v1/jobs/${waiting}`, { headers: { prefer: 'respond-async, wait=1' } });
    expect(Date.now() - begun).toBeGreaterThanOrEqual(950);
    expect(unfinished.status).toBe(200);
    expect(unfinished.headers.get('preference-applied')).toBe('wait=1');
    expect(unfinished.json()).toMatchObject({ id: waiting, status: 'queued' });

    // Creating with a wait: 202 and the job as it is, since no worker runs here.
    const created = await api.call('POST', '/v1/jobs', { body: VEGA, headers: { prefer: 'wait=1' } });
    expect(created.status).toBe(202);
    expect(created.headers.get('preference-applied')).toBe('wait=1');
    expect(created.json()).toMatchObject({ status: 'queued' });
    // No preference, no wait; a job not the caller's: a 404 that says nothing of a wait.
    const plain = await api.call('GET', `/v1/jobs/${waiting}`);
    expect(plain.headers.get('preference-applied')).toBeNull();
    const notOwn = await api.call('GET', `/v1/jobs/${waiting}`, { tenant: 'globex', headers: { prefer: 'wait=5' } });
    expect(notOwn.status).toBe(404);
    expect(notOwn.headers.get('preference-applied')).toBeNull();
  });
});

/** Reads a batch's events (their data as the batch stream gives it) until `stop` or the end. */
async function readBatchEvents(
  response: Response,
  stop?: (events: readonly { id: string; event: string }[]) => boolean,
): Promise<{
  events: { id: string; event: string; data: { job_id?: string; batch?: { id: string } } }[];
  ended: boolean;
}> {
  const read = await readEvents(response, stop as (events: readonly SseEvent[]) => boolean);
  return { events: read.events as never, ended: read.ended };
}

async function pollingStage(api: TestApi, id: string) {
  const record = await api.store.get(id);
  if (record?.stage.name !== 'polling') throw new Error(`job ${id} is not polling`);
  return record.stage;
}

function byEventId(a: string, b: string): number {
  const [aMs = 0, aSeq = 0] = a.split('-').map(Number);
  const [bMs = 0, bSeq = 0] = b.split('-').map(Number);
  return aMs - bMs || aSeq - bSeq;
}
