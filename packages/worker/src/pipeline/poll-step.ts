/**
 * One poll of a request Segmind is working on, on the poll queue. Until Segmind has
 * finished it, the poll is counted on the job record and the job waits, holding no
 * worker slot, for the next (poll-schedule.ts says when). A completed request's job moves to
 * storing and its outputs are stored at once (store-step.ts, by the caller); a request that failed, completed without outputs,
 * or is still unfinished at the deadline fails the job.
 */
import type { Span } from '@opentelemetry/api';
import { FailJobError, type JobRecord, type JobStage, StopTakingJobsError } from '@renderq/shared';
import { DelayedError } from 'bullmq';
import type { ResultAnswer, StatusAnswer } from '../segmind/answers.js';
import { outputSources } from './output-sources.js';
import { countSpend, failedStage, finish, jobLogger, type PipelineDeps, type PollJob } from './pipeline-deps.js';
import type { StoringStage } from './store-step.js';

type PollingStage = Extract<JobStage, { name: 'polling' }>;

export async function pollRequest(
  deps: PipelineDeps,
  job: PollJob,
  token: string | undefined,
  record: JobRecord,
  stage: PollingStage,
  span: Span,
): Promise<{ record: JobRecord; stage: StoringStage } | undefined> {
  if (stage.polls > 0) span.setAttribute('renderq.poll', stage.polls + 1);
  // Past the deadline Segmind is still asked: a result that is there (workers were away) is paid
  // for, and fetched — a passing fault on the way is tried again, until Segmind forgets the request
  // (404: segmind_expired); only a request Segmind says is still unfinished fails the job.
  const pastDeadline = Date.now() > Date.parse(stage.submitted_at) + deps.settings.jobDeadlineMs;
  const timedOut = () =>
    finish(
      deps,
      record,
      'fail_poll',
      failedStage({
        code: 'timeout',
        message: `Segmind did not finish request ${stage.request_id} within ${deps.settings.jobDeadlineMs / 1000} s`,
      }),
    );
  const status = await ask(deps, record, () => deps.segmind.status(stage.status_url));
  if ('retryInMs' in status) return later(deps, job, token, record, stage, status.retryInMs);
  if ('failed' in status) return;
  span.setAttribute('segmind.status', status.answer.status);
  switch (status.answer.status) {
    case 'QUEUED':
    case 'PROCESSING':
      if (pastDeadline) return void (await timedOut());
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
  const metrics = answer.metrics;
  const cost = metrics?.cost !== undefined ? { cost: metrics.cost } : {};
  span.setAttributes(segmindTimes(metrics));
  if (sources.length === 0) {
    // Segmind said COMPLETED: what it charged for it is spent, output or not.
    const failed = failedStage({ code: 'segmind_failed', message: 'Segmind completed without any output' });
    if ((await finish(deps, record, 'fail_poll', failed, cost)) && metrics?.cost !== undefined) {
      countSpend(deps, record, metrics.cost);
    }
    return;
  }
  if (metrics?.total_time !== undefined) await deps.schedule.observe(record.model, metrics.total_time * 1000);
  if (metrics?.remaining_credits !== undefined) await deps.recordCredits(metrics.remaining_credits);
  const storing: StoringStage = { name: 'storing', request_id: stage.request_id, sources, attempts: 0 };
  const moved = await deps.store.transition(record, 'result', storing, cost);
  if (!moved.ok) return;
  if (metrics?.cost !== undefined) {
    countSpend(deps, record, metrics.cost);
  }
  deps.metrics.jobStageSeconds.observe(
    { model: record.model, stage: 'segmind' },
    (Date.now() - Date.parse(stage.submitted_at)) / 1000,
  );
  return { record: { ...record, stage: storing }, stage: storing };
}

/** What Segmind said of a finished request, as span attributes (seconds, and credits). */
function segmindTimes(metrics: ResultAnswer['metrics']) {
  const attributes: Record<string, number> = {};
  if (metrics?.queue_time !== undefined) attributes['segmind.queue_time_s'] = metrics.queue_time;
  if (metrics?.inference_time !== undefined) attributes['segmind.inference_time_s'] = metrics.inference_time;
  if (metrics?.total_time !== undefined) attributes['segmind.total_time_s'] = metrics.total_time;
  if (metrics?.cost !== undefined) attributes['renderq.cost'] = metrics.cost;
  return attributes;
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

async function failAtSegmind(
  deps: PipelineDeps,
  record: JobRecord,
  stage: PollingStage,
  answer: StatusAnswer,
): Promise<undefined> {
  deps.metrics.pollsPerJob.observe({ model: record.model }, stage.polls + 1);
  const message = typeof answer.error === 'string' ? answer.error : JSON.stringify(answer.error ?? 'inference failed');
  await finish(deps, record, 'fail_poll', failedStage({ code: 'segmind_failed', message }));
  return undefined;
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
  const next: PollingStage = { ...stage, polls: stage.polls + 1, checked_at: new Date().toISOString() };
  const moved = await deps.store.transition(record, 'poll', next);
  if (!moved.ok) return undefined;
  const wait = delayMs ?? (await deps.schedule.nextPollDelayMs(record.model, Date.parse(stage.submitted_at)));
  await job.moveToDelayed(Date.now() + Math.max(1, Math.round(wait)), token);
  throw new DelayedError();
}
