// Takes a job to completed the way a worker does, by the lifecycle's moves (there is no shortcut from queued).
import type { JobChanges, JobStore, TransitionResult } from '../src/index.js';

/** Moves a queued job through submitting, polling and storing to completed; answers as the last move. */
export async function completeQueuedJob(
  store: JobStore,
  id: string,
  changes: JobChanges = {},
): Promise<TransitionResult> {
  const storing = await moveQueuedToStoring(store, id);
  return storing.ok ? store.transition(id, 'complete', { name: 'completed' }, changes) : storing;
}

/** Moves a submitting job through polling and storing to completed; answers as the last move. */
export async function completeSubmittingJob(store: JobStore, id: string): Promise<TransitionResult> {
  const storing = await moveSubmittingToStoring(store, id);
  return storing.ok ? store.transition(id, 'complete', { name: 'completed' }) : storing;
}

/** Moves a queued job through submitting and polling to storing (one move from completed). */
export async function moveQueuedToStoring(store: JobStore, id: string): Promise<TransitionResult> {
  const submit = await store.transition(id, 'submit', { name: 'submitting', since: new Date().toISOString() });
  return submit.ok ? moveSubmittingToStoring(store, id) : submit;
}

async function moveSubmittingToStoring(store: JobStore, id: string): Promise<TransitionResult> {
  const url = `https://api.segmind.com/v2/requests/req-${id}`;
  const polling = await store.transition(id, 'submitted', {
    name: 'polling',
    request_id: `req-${id}`,
    status_url: `${url}/status`,
    response_url: url,
    submitted_at: new Date().toISOString(),
    polls: 0,
  });
  if (!polling.ok) return polling;
  return store.transition(id, 'result', { name: 'storing', request_id: `req-${id}`, sources: [], attempts: 0 });
}
