/**
 * Recovery: two workers share a backlog whose submits each take 3 s to be answered;
 * one is SIGKILLed while it holds jobs mid-submit. The time from the kill until every
 * job it held has moved on again (taken by the other worker and settled), and how many
 * jobs were submitted to Segmind twice. Default worker settings.
 */
import { uniqueName } from '@renderq/testing';
import { type Stack, sleep, startWorker, stopChild, workerEnv } from '../processes.js';
import { benchJob, openStore, waitBatchFinished } from '../renderq.js';
import type { Row } from '../table.js';

const SECTION = 'recovery';
const JOBS = 200;

export async function recovery(stack: Stack): Promise<Row[]> {
  await stack.emulator.configure({ latencyScale: 1, latencyJitter: 0, submitDelayMs: 3_000 });
  const prefix = uniqueName('recovery');
  const env = workerEnv(stack, prefix, { WORKER_CONCURRENCY: '20' });
  const doomed = await startWorker(env);
  const survivor = await startWorker(env);
  const { store, close } = openStore(stack.redis.url, prefix);
  let seconds: number;
  let held: number;
  let duplicates: number;
  try {
    const before = await stack.emulator.stats();
    const created = await store.createBatch(
      { tenant: 'bench' },
      Array.from({ length: JOBS }, (_, i) => benchJob(i)),
    );
    // Both workers hold a full set of submits.
    while ((await stack.emulator.stats()).submits.attempts - before.submits.attempts < 40) await sleep(50);
    await sleep(500);
    doomed.child.kill('SIGKILL');
    const killedAt = performance.now();
    await doomed.exited;
    const submitting = new Set<string>();
    for await (const job of store.batchJobs(created.batch.id))
      if (job.stage.name === 'submitting') submitting.add(job.id);
    held = submitting.size;
    while (submitting.size > 0) {
      for (const id of submitting) if ((await store.get(id))?.stage.name !== 'submitting') submitting.delete(id);
      if (performance.now() - killedAt > 300_000) throw new Error('jobs held by the killed worker never moved on');
      await sleep(100);
    }
    seconds = (performance.now() - killedAt) / 1000;
    await waitBatchFinished(store, created.batch.id, 300_000);
    const after = await stack.emulator.stats();
    duplicates = after.submits.accepted - before.submits.accepted - JOBS;
  } finally {
    await Promise.all([stopChild(doomed.child, 'SIGKILL'), stopChild(survivor.child), close()]);
    await stack.emulator.configure({ submitDelayMs: 0 });
  }
  return [
    {
      section: SECTION,
      metric: `SIGKILL → all ${held} jobs mid-submit moving again, s`,
      renderq: seconds,
      target: '≤ 15 s',
      met: seconds <= 15,
      note: "both workers' submits in flight at the kill (Segmind answers submits after 3 s); the killed worker's fail under AMBIGUOUS_SUBMIT_POLICY=fail rather than risk a second charge",
    },
    {
      section: SECTION,
      metric: 'jobs submitted twice',
      renderq: duplicates,
      target: '0',
      met: duplicates === 0,
    },
  ];
}
