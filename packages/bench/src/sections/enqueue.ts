/**
 * Enqueue: single POST /v1/jobs at 50 connections against raw `queue.add` at the
 * same concurrency, and one 10,000-job batch against a raw `addBulk` of 10,000.
 * The API runs in a process of its own; the raw adds run in this one.
 */
import { queueOptions } from '@renderq/shared';
import { uniqueName } from '@renderq/testing';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { Pool } from 'undici';
import { API_KEY, type Stack, startApi } from '../processes.js';
import { BENCH_MODEL, benchInput } from '../renderq.js';
import type { Row } from '../table.js';

const SECTION = 'enqueue';
const CONNECTIONS = 50;
const BATCH = 10_000;

export async function enqueue(stack: Stack, seconds: number): Promise<Row[]> {
  const prefix = uniqueName('enqueue');
  const api = await startApi(stack, prefix);
  const pool = new Pool(api.url, { connections: CONNECTIONS, pipelining: 1 });
  const headers = { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' };
  const single = JSON.stringify({ model: BENCH_MODEL, input: benchInput(0) });
  const batch = JSON.stringify({
    jobs: Array.from({ length: BATCH }, (_, i) => ({ model: BENCH_MODEL, input: benchInput(i) })),
  });
  let posts: number;
  const batchSeconds: number[] = [];
  try {
    posts = await rate(seconds, async () => {
      const response = await pool.request({ method: 'POST', path: '/v1/jobs', headers, body: single });
      await response.body.dump();
      if (response.statusCode !== 202) throw new Error(`POST /v1/jobs answered ${response.statusCode}`);
    });
    for (let run = 0; run < 2; run++) {
      const t = performance.now();
      const response = await pool.request({ method: 'POST', path: '/v1/batches', headers, body: batch });
      const body = (await response.body.json()) as { counts?: { total: number } };
      if (response.statusCode !== 202 || body.counts?.total !== BATCH)
        throw new Error(`POST /v1/batches answered ${response.statusCode}`);
      batchSeconds.push((performance.now() - t) / 1000);
    }
  } finally {
    await pool.close();
    await api.stop();
  }

  const connection = new Redis(stack.redis.url, { maxRetriesPerRequest: null });
  const queue = new Queue('raw-enqueue', queueOptions(connection, uniqueName('raw')));
  let adds: number;
  const bulkSeconds: number[] = [];
  try {
    let n = 0;
    adds = await rate(seconds, async () => {
      await queue.add('render', { jobId: `job_${n++}` });
    });
    for (let run = 0; run < 2; run++) {
      const t = performance.now();
      await queue.addBulk(Array.from({ length: BATCH }, () => ({ name: 'render', data: { jobId: `job_${n++}` } })));
      bulkSeconds.push((performance.now() - t) / 1000);
    }
  } finally {
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
    connection.disconnect();
  }
  const best = (list: number[]) => Math.min(...list);
  return [
    {
      section: SECTION,
      metric: `single POST /v1/jobs, jobs/s (${CONNECTIONS} at once)`,
      renderq: posts,
      baseline: adds,
      baselineName: `raw queue.add, ${CONNECTIONS} at once`,
      target: '≥ 0.25× baseline',
      met: posts >= 0.25 * adds,
    },
    {
      section: SECTION,
      metric: `${BATCH.toLocaleString('en-US')}-job batch, s (best of 2)`,
      renderq: best(batchSeconds),
      baseline: best(bulkSeconds),
      baselineName: `raw addBulk of ${BATCH.toLocaleString('en-US')}`,
      target: '≤ 1 s',
      met: best(batchSeconds) <= 1,
    },
  ];
}

/** Calls per second of `call`, CONNECTIONS at once, after a second of warm-up. */
async function rate(seconds: number, call: () => Promise<void>): Promise<number> {
  let count = 0;
  const loop = async (until: number) => {
    while (Date.now() < until) {
      await call();
      count++;
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, () => loop(Date.now() + 1_000)));
  count = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: CONNECTIONS }, () => loop(Date.now() + seconds * 1000)));
  return count / ((performance.now() - started) / 1000);
}
