/**
 * Event streams at scale: one API process holding `streams` open event streams
 * (`GET /v1/jobs/{id}/events`), spread over `jobs` jobs, while those jobs move through their four
 * changes of stage (moved here through the job store, as a worker would). Its baseline is the same
 * jobs moved with no stream open, in the same run: Redis commands per job and the API's RSS, so
 * that what the streams cost shows — and that no stream reads Redis per change (a change reaches
 * the process as one message, and its view is read once for every stream of the job).
 */
import { uniqueName } from '@renderq/testing';
import { Agent, request } from 'undici';
import { API_KEY, commandsPerJob, redisCommandCalls, rssMiB, type Stack, sleep, startApi } from '../processes.js';
import { openStore, postBatch } from '../renderq.js';
import type { Row } from '../table.js';

const SECTION = 'event streams';

/** Moves each job through submitting, polling, storing and completed, as a worker would. */
async function moveThrough(store: ReturnType<typeof openStore>['store'], ids: readonly string[]): Promise<void> {
  const now = () => new Date().toISOString();
  for (let start = 0; start < ids.length; start += 100) {
    await Promise.all(
      ids.slice(start, start + 100).map(async (id) => {
        await store.transition(id, 'submit', { name: 'submitting', since: now() }, {});
        const polling = {
          name: 'polling' as const,
          request_id: `req-${id}`,
          status_url: 'https://segmind.test/s',
          response_url: 'https://segmind.test/r',
          submitted_at: now(),
          polls: 0,
        };
        await store.transition(id, 'submitted', polling, { segmind_request_id: `req-${id}` });
        await store.transition(
          id,
          'result',
          { name: 'storing', request_id: `req-${id}`, sources: [], attempts: 0 },
          {},
        );
        await store.transition(id, 'complete', { name: 'completed' }, { outputs: [] });
      }),
    );
  }
}

export async function streams(stack: Stack, jobs: number, streamCount: number): Promise<Row[]> {
  const prefix = uniqueName('bench-streams');
  const api = await startApi(stack, prefix, {
    EVENT_STREAMS_PER_TENANT: String(streamCount * 2),
    HTTP_MAX_CONNECTIONS: String(streamCount + 1_000),
    HTTP_MAX_CONNECTIONS_PER_IP: '0',
    FAIR_SHARE: 'false',
  });
  const open = openStore(stack.redis.url, prefix);
  const agent = new Agent({ connections: streamCount + 100, pipelining: 0 });
  try {
    const batchIds = async () => open.store.batchJobIds(await postBatch(api.url, jobs), 0, jobs);
    // Baseline: the same moves, nothing listening.
    const quiet = await batchIds();
    await sleep(500);
    const rssBefore = rssMiB(api.child.pid as number);
    const quietBefore = await redisCommandCalls(open.redis);
    await moveThrough(open.store, quiet);
    const quietCommands = commandsPerJob(quietBefore, await redisCommandCalls(open.redis), jobs);

    // The same with `streamCount` streams open over the next jobs.
    const followed = await batchIds();
    let events = 0;
    let ended = 0;
    const opened = await Promise.all(
      Array.from({ length: streamCount }, async (_, i) => {
        const { body } = await request(`${api.url}/v1/jobs/${followed[i % followed.length]}/events`, {
          dispatcher: agent,
          headers: { authorization: `Bearer ${API_KEY}` },
        });
        let buffer = '';
        body.on('data', (chunk: Buffer) => {
          buffer += chunk.toString('utf8');
          for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
            if (buffer.startsWith('id: ')) events++;
            buffer = buffer.slice(end + 2);
          }
        });
        body.on('end', () => ended++);
        body.on('error', () => undefined);
      }),
    );
    await sleep(1_000);
    const rssOpen = rssMiB(api.child.pid as number);
    const before = await redisCommandCalls(open.redis);
    const movedAt = Date.now();
    await moveThrough(open.store, followed);
    const moveMs = Date.now() - movedAt;
    const deadline = Date.now() + 120_000;
    while (ended < opened.length && Date.now() < deadline) await sleep(100);
    const deliveredMs = Date.now() - movedAt;
    const commands = commandsPerJob(before, await redisCommandCalls(open.redis), jobs);
    const expected = streamCount * 5;
    return [
      {
        section: SECTION,
        metric: `Redis commands per job, ${streamCount.toLocaleString('en-US')} streams open`,
        renderq: commands.total,
        baseline: quietCommands.total,
        baselineName: 'the same moves, no stream open',
        // Each of a job's four changes reads its view once in this process; a read per stream would add 4 × streams a job.
        // One spare for the bench's own readings (INFO) and rounding.
        target: `≤ baseline + 5 (a read per stream: + ${(4 * streamCount) / jobs})`,
        met: commands.total <= quietCommands.total + 5,
        note: commands.top,
      },
      {
        section: SECTION,
        metric: `API RSS with ${streamCount.toLocaleString('en-US')} streams open (MiB)`,
        renderq: rssOpen,
        baseline: rssBefore,
        baselineName: 'the same API process before',
        note: `${(((rssOpen - rssBefore) * 1024) / streamCount).toFixed(1)} KiB a stream`,
      },
      {
        section: SECTION,
        metric: 'events delivered',
        renderq: events,
        baseline: expected,
        baselineName: 'a snapshot and four changes per stream',
        target: '= baseline, every stream ended',
        met: events === expected && ended === streamCount,
        note: `${ended} of ${streamCount} ended; the last ${((deliveredMs - moveMs) / 1000).toFixed(1)} s after the moves (${(moveMs / 1000).toFixed(1)} s)`,
      },
    ];
  } finally {
    await agent.close().catch(() => undefined);
    await open.close();
    await api.stop();
  }
}
