/**
 * Event streams (Server-Sent Events) of a job (`GET /v1/jobs/{id}/events`) or a batch
 * (`GET /v1/batches/{id}/events`): a snapshot first — or, resuming with `Last-Event-ID`, exactly
 * the events after that one, read once from the subject's change stream — then each change as it
 * happens, fanned out by job-changes.ts; a comment every 15 s keeps proxies from closing it; the
 * stream ends after the final event. Event ids are the change stream's entry ids, so they increase.
 * A change's view is read once per process, however many streams show it (stream-state.ts).
 */
import type { PassThrough } from 'node:stream';
import {
  type BatchRecord,
  batchEventsKey,
  isFinal,
  type JobRecord,
  type JobStage,
  jobEventsKey,
  publicBatch,
  statusOf,
} from '@renderq/shared';
import type { ApiContext } from '../api-context.js';
import type { JobChange } from './job-changes.js';
import { jobView } from './job-views.js';

const HEARTBEAT_MS = 15_000;
/** What a stream may hold unread by its client before it is ended (a batch's events come fast). */
const MAX_UNREAD_BYTES = 1024 * 1024;
/** Change stream entries read at a time when catching up (a batch's may hold 10,000). */
const CATCH_UP_PAGE = 500;

/** A stream entry id, `ms-seq`: what `Last-Event-ID` must be. */
export const EVENT_ID = /^\d{1,15}-\d{1,15}$/;

/** Stream entry ids in order. */
function after(a: string, b: string): boolean {
  const [aMs = 0, aSeq = 0] = a.split('-').map(Number);
  const [bMs = 0, bSeq = 0] = b.split('-').map(Number);
  return aMs > bMs || (aMs === bMs && aSeq > bSeq);
}

/** One change, as its stream entry or its message has it: a job's stage, or a batch job's final status. */
interface Change {
  readonly eventId: string;
  readonly stage: string;
  readonly job: string;
}

/** What an event stream of one kind of subject shows. */
export interface Subject {
  readonly id: string;
  /** Its change stream's key. */
  readonly changes: string;
  /** The snapshot's data, and whether the subject has finished. */
  snapshot(): Promise<{ readonly data: unknown; readonly final: boolean }>;
  /** The event a change makes. */
  event(change: Change): Promise<{ readonly name: string; readonly data: unknown; readonly final: boolean }>;
  /** A change from a stream entry's fields. */
  fromEntry(eventId: string, fields: readonly string[]): Change;
}

const field = (fields: readonly string[], name: string) => fields[fields.indexOf(name) + 1] ?? '';

/**
 * A view as a stream sends it: without its `events_url`. A stream may be opened with that link and no
 * key; a fresh link in what it sends would let the link renew itself past its expiry.
 */
function withoutEventsLink<T extends { readonly events_url: string }>(view: T): Omit<T, 'events_url'> {
  const { events_url: _, ...rest } = view;
  return rest;
}

export function jobSubject(ctx: ApiContext, record: JobRecord): Subject {
  return {
    id: record.id,
    changes: jobEventsKey(ctx.config.redis.prefix, record.id),
    async snapshot() {
      const current = (await ctx.store.get(record.id)) ?? record;
      const job = withoutEventsLink(await jobView(ctx, current));
      return { data: { stage: current.stage.name, job }, final: isFinal(current.stage.name) };
    },
    async event({ stage }) {
      // The status is the change's; the job is as it is when the event is made (once per change and process).
      const current = await ctx.store.get(record.id);
      const job = current && withoutEventsLink(await jobView(ctx, current));
      const name = stage as JobStage['name'];
      return { name: stage, data: { stage, status: statusOf(name), job }, final: isFinal(name) };
    },
    fromEntry: (eventId, fields) => ({ eventId, stage: field(fields, 'stage'), job: '' }),
  };
}

export function batchSubject(ctx: ApiContext, batch: BatchRecord): Subject {
  return {
    id: batch.id,
    changes: batchEventsKey(ctx.config.redis.prefix, batch.id),
    async snapshot() {
      const current = (await ctx.store.getBatch(batch.id)) ?? batch;
      return {
        data: { batch: withoutEventsLink(publicBatch(current, ctx.links)) },
        final: current.finished_at !== null,
      };
    },
    async event({ stage, job }) {
      if (stage === 'batch.completed') {
        // The final event shows the batch finished: read now, never a view from before.
        const finished = await ctx.store.getBatch(batch.id);
        const view = finished && withoutEventsLink(publicBatch(finished, ctx.links));
        return { name: stage, data: { batch: view }, final: true };
      }
      const view = await ctx.changeViews.batch(batch.id);
      const batchView = view && withoutEventsLink(view);
      return { name: `job.${stage}`, data: { job_id: job, status: stage, batch: batchView }, final: false };
    },
    fromEntry: (eventId, fields) => {
      const status = field(fields, 'status');
      return { eventId, stage: status, job: status === 'batch.completed' ? '' : field(fields, 'job') };
    },
  };
}

interface StreamOptions {
  readonly ctx: ApiContext;
  readonly subject: Subject;
  readonly out: PassThrough;
  /** The last event the caller saw (`Last-Event-ID`), when it resumes. */
  readonly lastEventId: string | undefined;
  /** What the answer itself holds unsent (beyond `out`'s own buffer). */
  readonly answerBuffered?: () => number;
  /** The keep-alive comment's period. @defaultValue 15 s */
  readonly heartbeatMs?: number;
  /** Called once when the stream ends, however it ends. */
  readonly onEnd: () => void;
}

/**
 * Starts a subject's event stream into `out`, which then goes on until the final event or until
 * `out` is closed. Resolves once its first part is written — the snapshot, or what follows
 * `Last-Event-ID` — to `'streaming'`, or to `'nothing more'` when a resumed stream has nothing
 * left to send (its final event was seen); rejects when Redis cannot be read, with nothing sent.
 */
export async function streamEvents(options: StreamOptions): Promise<'streaming' | 'nothing more'> {
  const { ctx, subject, out } = options;
  let lastSent = options.lastEventId ?? '0-0';
  let ended = false;
  let live = false;
  const held: JobChange[] = [];
  let queue = Promise.resolve();

  const write = (id: string, event: string, data: unknown) => writeText(formatEvent(id, event, data));
  const writeText = (text: string) => {
    if (ended) return;
    out.write(text);
    // A reader this far behind is cut off rather than buffered for: it resumes with Last-Event-ID.
    if (out.writableLength + out.readableLength + (options.answerBuffered?.() ?? 0) > MAX_UNREAD_BYTES) end(true);
  };
  let stop: () => void = () => undefined;
  /** Ends the stream: after what was written, or (`cut`) at once, dropping what its reader has not taken. */
  const end = (cut = false) => {
    if (ended) return;
    ended = true;
    clearInterval(heartbeat);
    stop();
    if (cut) out.destroy();
    else out.end();
    options.onEnd();
  };
  out.once('close', () => end());

  const send = async (change: Change) => {
    if (ended || !after(change.eventId, lastSent)) return;
    lastSent = change.eventId;
    // Made once per change and process, and written as it is to every stream of the subject.
    const event = await ctx.changeViews.event(`${subject.id}|${change.eventId}`, async () => {
      const made = await subject.event(change);
      return { text: formatEvent(change.eventId, made.name, made.data), final: made.final };
    });
    writeText(event.text);
    if (event.final) end();
  };
  /** What the change stream holds after the last event sent, a page at a time. */
  const catchUp = async () => {
    for (;;) {
      const entries = await ctx.redis.xrange(subject.changes, `(${lastSent}`, '+', 'COUNT', CATCH_UP_PAGE);
      for (const [eventId, fields] of entries) await send(subject.fromEntry(eventId, fields));
      if (ended || entries.length < CATCH_UP_PAGE) return;
    }
  };
  const enqueue = (work: () => Promise<void>) => {
    queue = queue.then(work).catch(() => end(true));
  };
  const handle = (change: JobChange) => {
    if (change.kind === 'closing') return end();
    if (!live) {
      held.push(change);
      return;
    }
    enqueue(() => (change.kind === 'change' ? send(change) : catchUp()));
  };
  // Each keep-alive also reads what the change stream holds beyond the last event sent: a change
  // whose message was lost (a reconnecting or moving subscription, a worker of an earlier version)
  // is sent within a period, and the stream still ends. One read a period, not one per change.
  const heartbeat = setInterval(() => {
    if (ended) return;
    out.write(': keep-alive\n\n');
    if (live) enqueue(catchUp);
  }, options.heartbeatMs ?? HEARTBEAT_MS);

  try {
    stop = await ctx.jobChanges.listen(subject.id, handle);
    if (ended) return 'streaming';
    const latest = await latestEventId(ctx, subject.changes);
    // An id this stream never gave (ahead of its latest event): as a first connection.
    const resuming = options.lastEventId !== undefined && !after(options.lastEventId, latest);
    if (resuming) {
      // A line at once, so that the answer's headers go out now, not at the first change or keep-alive.
      out.write(`: resuming after ${lastSent}\n\n`);
      await catchUp();
    } else {
      // The latest event first, then the subject: a change in between shows twice, never not at all.
      lastSent = latest;
      const snapshot = await subject.snapshot();
      write(lastSent, 'snapshot', snapshot.data);
      if (snapshot.final) {
        end();
        return 'streaming';
      }
    }
    live = true;
    for (const change of held.splice(0)) handle(change);
    await queue;
    if (ended) return 'streaming';
    // The subject first, then its change stream: a final move in between is caught up, not missed.
    if ((await subject.snapshot()).final) {
      const before = lastSent;
      await catchUp();
      if (!ended) end();
      if (resuming && lastSent === before) return 'nothing more';
    }
    return 'streaming';
  } catch (error) {
    end(true);
    throw error;
  }
}

function formatEvent(id: string, event: string, data: unknown): string {
  return `id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

async function latestEventId(ctx: ApiContext, key: string): Promise<string> {
  const [latest] = await ctx.redis.xrevrange(key, '+', '-', 'COUNT', 1);
  return latest?.[0] ?? '0-0';
}
