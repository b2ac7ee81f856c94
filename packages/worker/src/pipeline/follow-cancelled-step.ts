/**
 * Following the request of a job cancelled while it was at Segmind, on the poll queue.
 * The job stays `cancelled`, but Segmind runs and bills the request all the same, so it
 * is polled until Segmind finishes it (or the deadline passes) and its cost is recorded
 * on the job and its batch. Nothing is fetched or stored and no webhook is sent for it.
 */
import { type CancelledRequest, FailJobError, type JobRecord, StopTakingJobsError } from '@renderq/shared';
import { DelayedError } from 'bullmq';
import type { ResultAnswer, StatusAnswer } from '../segmind/answers.js';
import { countSpend, jobLogger, type PipelineDeps, type PollJob } from './pipeline-deps.js';

/**
 * One pass: poll the request, and once Segmind has finished it, record what it cost (from
 * the status, or else the result's metrics). Past the deadline, or when Segmind no longer
 * knows the request, it is settled with whatever is known (nothing).
 */
export async function followCancelledRequest(
  deps: PipelineDeps,
  job: PollJob,
  token: string | undefined,
  record: JobRecord,
  request: CancelledRequest,
): Promise<void> {
  const log = jobLogger(deps, { ...record, segmind_request_id: request.request_id });
  const settle = async (cost: number | null, why: string) => {
    if (await deps.store.settleCancelled(record, request.request_id, cost)) {
      if (cost !== null) countSpend(deps, record, cost);
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
