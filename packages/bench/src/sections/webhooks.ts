/**
 * Webhooks: how many one worker delivers per second to a receiver that answers at
 * once (N jobs finishing together), against raw POSTs to the same receiver at the
 * same concurrency, with the CPU each process spent on it; and the time from a job
 * finishing to its webhook arriving while jobs finish at a steady 200 a second. Jobs
 * finish by being cancelled, so that no Segmind work is in the way.
 */
import { startWebhookReceiver, uniqueName } from '@renderq/testing';
import { Pool } from 'undici';
import { CpuMeter, type Stack, sleep, startWorker, stopChild, workerEnv } from '../processes.js';
import { BENCH_MODEL, benchInput, openStore } from '../renderq.js';
import type { Row } from '../table.js';
import { quantile } from './polls.js';

const SECTION = 'webhooks, one worker';
const SECRET = `whsec_${Buffer.from('renderq webhook benchmark secret!').toString('base64')}`;
/** The worker's default WEBHOOK_CONCURRENCY, given to it and to the raw POSTs alike. */
const CONCURRENCY = 200;

export async function webhooks(stack: Stack, burst: number, steadySeconds: number): Promise<Row[]> {
  const receiver = await startWebhookReceiver();
  const prefix = uniqueName('hooks');
  const { store, queue, close } = openStore(stack.redis.url, prefix, true);
  const finishedAt = new Map<string, number>();
  const record = async (count: number) => {
    const ids: string[] = [];
    for (let i = 0; i < count; i += 1000) {
      const created = await store.createBatch(
        { tenant: 'bench', webhookUrl: `${receiver.url}/hooks`, webhookEvents: ['job.cancelled'] },
        Array.from({ length: Math.min(1000, count - i) }, (_, j) => ({
          tenant: 'bench',
          model: BENCH_MODEL,
          input: benchInput(i + j),
        })),
      );
      await created.enqueued;
      ids.push(...created.jobIds);
    }
    // Only the webhooks are measured: nothing is to be submitted.
    await queue.drain();
    return ids;
  };
  const finish = async (id: string) => {
    finishedAt.set(`evt_${id}_cancelled`, Date.now());
    await store.transition(id, 'cancel', { name: 'cancelled' });
  };
  const lagsOf = (from: number) =>
    receiver.received
      .slice(from)
      .map((hook) => hook.at - (finishedAt.get(String(hook.headers['webhook-id'])) ?? hook.at));

  // Records first (no worker yet), so that only finishing and delivering are timed.
  const burstIds = await record(burst);
  const steadyIds = await record(200 * steadySeconds);
  const worker = await startWorker(
    workerEnv(stack, prefix, {
      WEBHOOK_SECRET: SECRET,
      WEBHOOK_ALLOW_PRIVATE: 'true',
      SEGMIND_BASE_URL: 'http://127.0.0.1:9',
      WEBHOOK_CONCURRENCY: String(CONCURRENCY),
    }),
  );
  const pid = worker.child.pid as number;
  let perSecond: number;
  let cpu: Record<string, number>;
  let steadyLags: number[];
  try {
    // The bench's own process finishes the jobs and runs the receiver: its CPU is shown apart.
    const meter = new CpuMeter({ worker: pid, redis: stack.redis.pid, bench: process.pid });
    const started = performance.now();
    for (let i = 0; i < burstIds.length; i += 200) await Promise.all(burstIds.slice(i, i + 200).map(finish));
    await receiver.waitFor(burst, () => true, 600_000);
    perSecond = burst / ((performance.now() - started) / 1000);
    cpu = meter.stop();

    // Steady: 4 jobs every 20 ms.
    const from = receiver.received.length;
    const t0 = performance.now();
    for (let i = 0; i < steadyIds.length; i += 4) {
      const due = t0 + (i / 4) * 20;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      await Promise.all(steadyIds.slice(i, i + 4).map(finish));
    }
    await receiver.waitFor(from + steadyIds.length, () => true, 120_000);
    steadyLags = lagsOf(from);
  } finally {
    await stopChild(worker.child);
    await close();
  }

  // Baseline: plain POSTs of a webhook-sized body to the same receiver, as many at once.
  const pool = new Pool(receiver.url, { connections: CONCURRENCY });
  const body = receiver.received[0]?.body ?? '{}';
  const rawCount = Math.min(burst, 5_000);
  const t = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next++ < rawCount) {
        const response = await pool.request({
          method: 'POST',
          path: '/raw',
          headers: { 'content-type': 'application/json' },
          body,
        });
        await response.body.dump();
      }
    }),
  );
  const rawPerSecond = rawCount / ((performance.now() - t) / 1000);
  await pool.close();
  await receiver.close();

  return [
    {
      section: SECTION,
      metric: `deliveries/s (${burst.toLocaleString('en-US')} finishing at once)`,
      renderq: perSecond,
      baseline: rawPerSecond,
      baselineName: `raw POSTs, ${CONCURRENCY} at once`,
      target: '≥ 3,000/s',
      met: perSecond >= 3_000,
    },
    { section: SECTION, metric: 'worker CPU ms/webhook', renderq: (cpu.worker ?? 0) / burst },
    { section: SECTION, metric: 'Redis CPU ms/webhook (finishing the jobs too)', renderq: (cpu.redis ?? 0) / burst },
    {
      section: SECTION,
      metric: 'CPU ms/webhook, bench: finishing + receiver (not renderq)',
      renderq: (cpu.bench ?? 0) / burst,
    },
    {
      section: SECTION,
      metric: 'finish → arrival p50 at 200 jobs/s, ms',
      renderq: quantile(steadyLags, 0.5),
      target: '≤ 100 ms',
      met: quantile(steadyLags, 0.5) <= 100,
    },
    { section: SECTION, metric: 'finish → arrival p99 at 200 jobs/s, ms', renderq: quantile(steadyLags, 0.99) },
  ];
}
