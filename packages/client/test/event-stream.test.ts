// The client's event stream reader against a stand-in fetch: events parsed as they come, comments
// skipped, and a stream dropped before its final event resumed with Last-Event-ID — no event lost
// or repeated.
import { describe, expect, it } from 'vitest';
import { RenderqClient, type StreamEvent } from '../src/index.js';

function sse(blocks: readonly string[], { chunk = 7 }: { chunk?: number } = {}): Response {
  const text = blocks.join('');
  const bytes = new TextEncoder().encode(text);
  // Cut into small pieces: an event may arrive across several reads.
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let at = 0; at < bytes.length; at += chunk) controller.enqueue(bytes.slice(at, at + chunk));
      controller.close();
    },
  });
  return new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream' } });
}

const event = (id: string, name: string, data: unknown) =>
  `id: ${id}\nevent: ${name}\ndata: ${JSON.stringify(data)}\n\n`;

describe('events()', () => {
  it('reads events across chunks and resumes a dropped stream after the last event it gave', async () => {
    const asked: (string | null)[] = [];
    const answers = [
      sse([
        event('1-0', 'snapshot', { stage: 'queued', job: { status: 'queued' } }),
        ': keep-alive\n\n',
        event('2-0', 'submitting', { stage: 'submitting', status: 'running', job: { status: 'running' } }),
      ]),
      sse([event('3-0', 'polling', { stage: 'polling' }), event('4-0', 'completed', { stage: 'completed' })]),
    ];
    const fetch = async (_url: string | URL | Request, init?: RequestInit) => {
      asked.push(new Headers(init?.headers).get('last-event-id'));
      const answer = answers.shift();
      if (!answer) throw new Error('asked once too often');
      return answer;
    };
    const client = new RenderqClient({
      baseUrl: 'http://127.0.0.1:1',
      apiKey: 'k',
      fetch: fetch as typeof globalThis.fetch,
    });
    const seen: StreamEvent[] = [];
    for await (const e of client.events('job', 'job_1')) seen.push(e);
    expect(seen.map((e) => [e.id, e.event])).toEqual([
      ['1-0', 'snapshot'],
      ['2-0', 'submitting'],
      ['3-0', 'polling'],
      ['4-0', 'completed'],
    ]);
    expect(asked).toEqual([null, '2-0']);
  });

  it("ends at a batch's batch.completed, or at once with a finished job's snapshot", async () => {
    const batch = new RenderqClient({
      baseUrl: 'http://127.0.0.1:1',
      fetch: (async () =>
        sse([
          event('1-0', 'snapshot', { batch: { finished_at: null } }),
          event('2-0', 'job.completed', { job_id: 'job_1', status: 'completed' }),
          event('3-0', 'batch.completed', { batch: { finished_at: '2026-12-06T00:00:00Z' } }),
        ])) as typeof globalThis.fetch,
    });
    const names: string[] = [];
    for await (const e of batch.events('batch', 'bat_1')) names.push(e.event);
    expect(names).toEqual(['snapshot', 'job.completed', 'batch.completed']);

    const done = new RenderqClient({
      baseUrl: 'http://127.0.0.1:1',
      fetch: (async () =>
        sse([event('9-0', 'snapshot', { stage: 'failed', job: { status: 'failed' } })])) as typeof globalThis.fetch,
    });
    const once: string[] = [];
    for await (const e of done.events('job', 'job_2')) once.push(e.event);
    expect(once).toEqual(['snapshot']);
  });
});
