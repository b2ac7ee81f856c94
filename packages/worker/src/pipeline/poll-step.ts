/**
 * The poll queue's steps, as BullMQ step jobs: while Segmind works the job waits as
 * a delayed job and holds no worker slot. Each pass polls once (or stores), saves
 * its progress to the job record, then either finishes the job or moves it back
 * to delayed until the next poll.
 *
 * A job cancelled while its request was at Segmind stays `cancelled`, but its
 * request is still polled until Segmind finishes it (or the deadline passes): Segmind
 * bills it, so its cost is recorded on the job and its batch. Nothing is stored and
 * no webhook is sent for it.
 */
import {
  type CancelledRequest,
  FailJobError,
  isFinal,
  type JobRecord,
  type JobStage,
  RetryAtError,
  StopTakingJobsError,
  type StoredOutput,
} from '@renderq/shared';
import { DelayedError, type Job } from 'bullmq';
import type { ResultAnswer, StatusAnswer } from '../segmind/answers.js';
import { outputSources } from './output-sources.js';
import { failedStage, finish, jobLogger, type PipelineDeps } from './pipeline-deps.js';

type PollingStage = Extract<JobStage, { name: 'polling' }>;
type StoringStage = Extract<JobStage, { name: 'storing' }>;
export type PollJob = Job<{ jobId: string }>;

export function pollStep(deps: PipelineDeps) {
  return async (job: PollJob, token?: string): Promise<void> => {
    const record = await deps.store.get(job.data.jobId);
    if (record?.stage.name === 'cancelled' && record.cancelled_request) {
      return follow(deps, job, token, record, record.cancelled_request);
    }
    if (!record || isFinal(record.stage.name)) return;
    const stage = record.stage;
    if (stage.name === 'polling') return poll(deps, job, token, record, stage);
    if (stage.name === 'storing') return store(deps, job, token, record, stage);
  };
}

async function poll(
  deps: PipelineDeps,
  job: PollJob,
  token: string | undefined,
  record: JobRecord,
  stage: PollingStage,
) {
  const submittedAt = Date.parse(stage.submitted_at);
  if (Date.now() > submittedAt + deps.settings.jobDeadlineMs) {
    await finish(
      deps,
      record,
      'fail_poll',
      failedStage({
        code: 'timeout',
        message: `Segmind did not finish request ${stage.request_id} within ${deps.settings.jobDeadlineMs / 1000} s`,
      }),
    );
    return;
  }
  const status = await ask(deps, record, () => deps.segmind.status(stage.status_url));
  if ('retryInMs' in status) return later(deps, job, token, record, stage, status.retryInMs);
  if ('failed' in status) return;
  switch (status.answer.status) {
    case 'QUEUED':
    case 'PROCESSING':
      return later(deps, job, token, record, stage);
    case 'FAILED':
      return failAtSegmind(deps, record, stage, status.answer);
    case 'COMPLETED':
      break;
  }
  const result = await ask(deps, record, () => deps.segmind.result(stage.response_url));
  if ('retryInMs' in result) return later(deps, job, token, record, stage, result.retryInMs);
  if ('failed' in result) return;
  const answer = result.answer as ResultAnswer;
  if (answer.status === 'FAILED') return failAtSegmind(deps, record, stage, answer);
  if (answer.status !== 'COMPLETED') return later(deps, job, token, record, stage);

  const sources = outputSources(answer);
  const polls = stage.polls + 1;
  deps.metrics.pollsPerJob.observe({ model: record.model }, polls);
  if (sources.length === 0) {
    await finish(
      deps,
      record,
      'fail_poll',
      failedStage({ code: 'segmind_failed', message: 'Segmind completed without any output' }),
    );
    return;
  }
  const metrics = answer.metrics;
  if (metrics?.total_time !== undefined) await deps.schedule.observe(record.model, metrics.total_time * 1000);
  if (metrics?.remaining_credits !== undefined) await deps.recordCredits(metrics.remaining_credits);
  const storing: StoringStage = { name: 'storing', request_id: stage.request_id, sources, attempts: 0 };
  const moved = await deps.store.transition(record, 'result', storing, {
    ...(metrics?.cost !== undefined ? { cost: metrics.cost } : {}),
  });
  if (!moved.ok) return;
  deps.metrics.jobStageSeconds.observe(
    { model: record.model, stage: 'segmind' },
    (Date.now() - Date.parse(stage.submitted_at)) / 1000,
  );
  return store(deps, job, token, { ...record, stage: storing }, storing);
}

/**
 * One pass over the request of a job cancelled while it was at Segmind: poll it, and once
 * Segmind has finished it, record what it cost (from the status, or else the result's
 * metrics) without fetching or storing any output. Past the deadline, or when Segmind no
 * longer knows the request, it is settled with whatever is known (nothing).
 */
async function follow(
  deps: PipelineDeps,
  job: PollJob,
  token: string | undefined,
  record: JobRecord,
  request: CancelledRequest,
): Promise<void> {
  const log = jobLogger(deps, { ...record, segmind_request_id: request.request_id });
  const settle = async (cost: number | null, why: string) => {
    if (await deps.store.settleCancelled(record, request.request_id, cost)) {
      log.info({ cost }, `cancelled job's request settled: ${why}`);
    }
  };
  if (Date.now() > Date.parse(request.submitted_at) + deps.settings.jobDeadlineMs) {
    return settle(null, 'Segmind did not finish it before the deadline; its cost is unknown');
  }
  const wait = async (delayMs?: number): Promise<never | undefined> => {
    const next = { ...request, polls: request.polls + 1 };
    if (!(await deps.store.followCancelled(record.id, next, 'poll'))) return undefined;
    const ms = delayMs ?? (await deps.schedule.nextPollDelayMs(record.model, Date.parse(request.submitted_at)));
    await job.moveToDelayed(Date.now() + Math.max(1, Math.round(ms)), token);
    throw new DelayedError();
  };
  let finished: StatusAnswer | ResultAnswer;
  try {
    const status = await deps.segmind.status(request.status_url);
    if (status.status === 'QUEUED' || status.status === 'PROCESSING') return wait();
    finished =
      status.status === 'COMPLETED' && status.metrics?.cost === undefined
        ? await deps.segmind.result(request.response_url)
        : status;
  } catch (error) {
    if (error instanceof FailJobError) return settle(null, `Segmind no longer knows it (${error.message})`);
    if (error instanceof StopTakingJobsError && error.resumeAt) return wait(error.resumeAt.getTime() - Date.now());
    if (error instanceof RetryAtError) return wait(error.retryAt.getTime() - Date.now());
    if (deps.closing())
      log.info({ why: (error as Error).message }, "polling a cancelled job's request cut short by shutdown");
    else log.warn({ err: error }, "polling a cancelled job's request failed; polling again later");
    return wait();
  }
  if (finished.status === 'QUEUED' || finished.status === 'PROCESSING') return wait();
  const remaining = finished.metrics?.remaining_credits;
  if (remaining !== undefined) await deps.recordCredits(remaining);
  return settle(finished.metrics?.cost ?? null, `Segmind finished it (${finished.status})`);
}

type Asked<T> = { answer: T } | { retryInMs: number | undefined } | { failed: true };

/** One Segmind call, its failure turned into what the step does next. */
async function ask<T extends StatusAnswer | ResultAnswer>(
  deps: PipelineDeps,
  record: JobRecord,
  call: () => Promise<T>,
): Promise<Asked<T>> {
  try {
    return { answer: await call() };
  } catch (error) {
    if (error instanceof FailJobError) {
      await finish(deps, record, 'fail_poll', failedStage({ code: error.code, message: error.message }));
      return { failed: true };
    }
    if (error instanceof StopTakingJobsError && error.resumeAt) {
      return { retryInMs: Math.max(0, error.resumeAt.getTime() - Date.now()) };
    }
    if (error instanceof RetryAtError) return { retryInMs: Math.max(0, error.retryAt.getTime() - Date.now()) };
    // 5xx, network, a refused key: polling is safe to repeat, so keep polling with backoff.
    if (deps.closing()) {
      // Cut short by the shutdown (Segmind's side may be stopping too): the next start polls again.
      jobLogger(deps, record).info(
        { why: (error as Error).message },
        'poll cut short by shutdown; polling again later',
      );
    } else {
      jobLogger(deps, record).warn({ err: error }, 'poll failed; polling again later');
    }
    return { retryInMs: undefined };
  }
}

async function failAtSegmind(deps: PipelineDeps, record: JobRecord, stage: PollingStage, answer: StatusAnswer) {
  deps.metrics.pollsPerJob.observe({ model: record.model }, stage.polls + 1);
  const message = typeof answer.error === 'string' ? answer.error : JSON.stringify(answer.error ?? 'inference failed');
  await finish(deps, record, 'fail_poll', failedStage({ code: 'segmind_failed', message }));
}

/** Saves one more poll and waits, holding no slot, until the next. */
async function later(
  deps: PipelineDeps,
  job: PollJob,
  token: string | undefined,
  record: JobRecord,
  stage: PollingStage,
  delayMs?: number,
): Promise<never | undefined> {
  const next: PollingStage = { ...stage, polls: stage.polls + 1 };
  const moved = await deps.store.transition(record, 'poll', next);
  if (!moved.ok) return undefined;
  const wait = delayMs ?? (await deps.schedule.nextPollDelayMs(record.model, Date.parse(stage.submitted_at)));
  await job.moveToDelayed(Date.now() + Math.max(1, Math.round(wait)), token);
  throw new DelayedError();
}

async function store(
  deps: PipelineDeps,
  job: PollJob,
  token: string | undefined,
  record: JobRecord,
  stage: StoringStage,
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
  const completed = await finish(deps, record, 'complete', { name: 'completed' }, { outputs: stored });
  if (!completed && (await deps.store.get(record.id))?.stage.name === 'cancelled') {
    // Cancelled while storing: nothing of it is kept. (Another run of this step that completed the job first
    // wrote the same keys with the same bytes: those are the completed job's outputs, and stay.)
    await Promise.all(stored.map((output) => deps.outputs.remove(output.storage_key)));
  }
}
