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

export interface Payload {
  readonly body: string;
  /** The trace context of the job or batch the event is about (its delivery's span goes under it); null: none. */
  readonly traceParent: string | null;
}

/** The body to send for `event`, or undefined when its subject is no longer kept. */
export async function webhookPayload(sources: PayloadSources, event: WebhookEventRecord): Promise<Payload | undefined> {
  const subject = await subjectData(sources, event);
  if (!subject) return undefined;
  const body = JSON.stringify({ type: event.type, timestamp: event.created_at, data: subject.data });
  return { body, traceParent: subject.traceParent };
}

type Subject = { readonly data: unknown; readonly traceParent: string | null } | undefined;

async function subjectData(sources: PayloadSources, event: WebhookEventRecord): Promise<Subject> {
  switch (event.subject.kind) {
    case 'job':
      return jobData(sources, event.subject.id);
    case 'batch': {
      const batch = await sources.store.getBatch(event.subject.id);
      return batch && { data: publicBatch(batch, sources.links), traceParent: batch.trace_parent };
    }
    case 'tenant':
      // Recorded with the event: what the tenant's spend was when it crossed the mark.
      return event.data === null ? undefined : { data: JSON.parse(event.data), traceParent: null };
  }
}

async function jobData(sources: PayloadSources, id: string): Promise<Subject> {
  const record = await sources.store.get(id);
  if (!record) return undefined;
  const job: PublicJob = await publicJob(record, sources.links);
  return { data: { ...job, input: compactInput(job.input, id) }, traceParent: record.trace_parent };
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
