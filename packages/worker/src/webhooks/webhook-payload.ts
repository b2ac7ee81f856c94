/**
 * The body of a webhook: `{type, timestamp, data}` with `data` the job or batch as
 * the API shows it, built when it is sent so that output links are fresh on every
 * retry (a tenant's budget warning carries what was recorded with it). Payloads stay small: outputs are links, and an input string longer than
 * a few KiB (an inline base64 image) is replaced by a note saying where to read it.
 */
import {
  type JobStore,
  type OutputLinks,
  type PublicJob,
  publicBatch,
  publicJob,
  type WebhookEventRecord,
} from '@renderq/shared';

const MAX_INPUT_STRING = 4_096;

export interface PayloadSources {
  readonly store: JobStore;
  readonly links: OutputLinks;
}

/** The body to send for `event`, or undefined when its subject is no longer kept. */
export async function webhookPayload(sources: PayloadSources, event: WebhookEventRecord): Promise<string | undefined> {
  const data = await subjectData(sources, event);
  if (!data) return undefined;
  return JSON.stringify({ type: event.type, timestamp: event.created_at, data });
}

async function subjectData(sources: PayloadSources, event: WebhookEventRecord): Promise<unknown> {
  switch (event.subject.kind) {
    case 'job':
      return jobData(sources, event.subject.id);
    case 'batch':
      return sources.store.getBatch(event.subject.id).then((batch) => batch && publicBatch(batch));
    case 'tenant':
      // Recorded with the event: what the tenant's spend was when it crossed the mark.
      return event.data === null ? undefined : JSON.parse(event.data);
  }
}

async function jobData(sources: PayloadSources, id: string): Promise<PublicJob | undefined> {
  const record = await sources.store.get(id);
  if (!record) return undefined;
  const job = await publicJob(record, sources.links);
  return { ...job, input: compactInput(job.input, id) };
}

function compactInput(input: Record<string, unknown>, jobId: string): Record<string, unknown> {
  const compact: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(input)) {
    compact[field] =
      typeof value === 'string' && value.length > MAX_INPUT_STRING
        ? `(${value.length} characters, left out of the webhook: GET /v1/jobs/${jobId})`
        : value;
  }
  return compact;
}
