/**
 * Storing a finished request's outputs, on the poll queue: every output is downloaded
 * (or decoded) and written to renderq's storage, then the job completes. An outage is
 * tried again later, the job waiting as a delayed job that holds no worker slot, until
 * `maxStoreAttempts` is spent.
 */
import type { Span } from '@opentelemetry/api';
import { FailJobError, type JobRecord, type JobStage, type StoredOutput } from '@renderq/shared';
import { DelayedError } from 'bullmq';
import { failedStage, finish, jobLogger, type PipelineDeps, type PollJob } from './pipeline-deps.js';

export type StoringStage = Extract<JobStage, { name: 'storing' }>;

export async function storeOutputs(
  deps: PipelineDeps,
  job: PollJob,
  token: string | undefined,
  record: JobRecord,
  stage: StoringStage,
  span: Span,
) {
  const stored: StoredOutput[] = [];
  const started = performance.now();
  try {
    for (const [index, source] of stage.sources.entries()) {
      stored.push(await deps.outputs.store(record.id, index, source));
    }
  } catch (error) {
    if (error instanceof FailJobError) {
      await finish(deps, record, 'fail_store', failedStage({ code: error.code, message: error.message }));
      return;
    }
    const attempts = stage.attempts + 1;
    if (attempts >= deps.settings.maxStoreAttempts) {
      await finish(
        deps,
        record,
        'fail_store',
        failedStage({ code: 'storage_failed', message: (error as Error).message }),
      );
      return;
    }
    jobLogger(deps, record).warn({ err: error, attempts }, 'storing outputs failed; trying again later');
    const moved = await deps.store.transition(record, 'retry_store', { ...stage, attempts });
    if (!moved.ok) return;
    await job.moveToDelayed(Date.now() + Math.min(300_000, 1_000 * 2 ** (attempts - 1)), token);
    throw new DelayedError();
  }
  deps.metrics.jobStageSeconds.observe({ model: record.model, stage: 'store' }, (performance.now() - started) / 1000);
  span.setAttributes({
    'renderq.output.bytes': stored.map((output) => output.size),
    'renderq.output.sha256': stored.map((output) => output.sha256),
  });
  const completed = await finish(deps, record, 'complete', { name: 'completed' }, { outputs: stored });
  if (!completed && (await deps.store.get(record.id))?.stage.name === 'cancelled') {
    // Cancelled while storing: nothing of it is kept. (Another run of this step that completed the job first
    // wrote the same keys with the same bytes: those are the completed job's outputs, and stay.)
    await Promise.all(stored.map((output) => deps.outputs.remove(output.storage_key)));
  }
}
