/**
 * A job's event stream (`GET /v1/jobs/{id}/events`, Server-Sent Events): a snapshot of the job
 * first — or, resuming with `Last-Event-ID`, exactly the changes after that event, read once from
 * the job's capped change stream — then each change of its stage as it happens, fanned out by
 * job-changes.ts, with the job's view; a comment every 15 s keeps proxies from closing it; it ends
 * after the job's final event. Event ids are the change stream's entry ids, so they increase.
 * A change's view is read once per process, however many streams show it.
 */
import type { PassThrough } from 'node:stream';
import { isFinal, type JobRecord, type JobStage, jobEventsKey, publicJob } from '@renderq/shared';
import type { ApiContext } from '../api-context.js';
import type { JobChange } from './job-changes.js';

const HEARTBEAT_MS = 15_000;

/** A stream entry id, `ms-seq`: what `Last-Event-ID` must be. */
export const EVENT_ID = /^\d{1,15}-\d{1,15}$/;

/** Stream entry ids in order. */
function after(a: string, b: string): boolean {
  const [aMs = 0, aSeq = 0] = a.split('-').map(Number);
  const [bMs = 0, bSeq = 0] = b.split('-').map(Number);
  return aMs > bMs || (aMs === bMs && aSeq > bSeq);
}

interface StreamOptions {
  readonly ctx: ApiContext;
  readonly record: JobRecord;
  readonly out: PassThrough;
  /** The last event the caller saw (`Last-Event-ID`), when it resumes. */
  readonly lastEventId: string | undefined;
  /** Called once when the stream ends, however it ends. */
  readonly onEnd: () => void;
}

/** Writes a job's events to `out` until its final event, or until `out` is closed. */
export async function streamJobEvents(options: StreamOptions): Promise<void> {
  const { ctx, record, out } = options;
  let lastSent = options.lastEventId ?? '0-0';
  let ended = false;
  let live = false;
  const held: JobChange[] = [];
  let queue = Promise.resolve();

  const write = (id: string, event: string, data: unknown) => {
    if (!ended) out.write(`id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };
  const heartbeat = setInterval(() => {
    if (!ended) out.write(': keep-alive\n\n');
  }, HEARTBEAT_MS);
  let stop: () => void = () => undefined;
  const end = () => {
    if (ended) return;
    ended = true;
    clearInterval(heartbeat);
    stop();
    out.end();
    options.onEnd();
  };
  out.once('close', end);

  const sendChange = async (eventId: string, stage: string) => {
    if (ended || !after(eventId, lastSent)) return;
    lastSent = eventId;
    const job = await ctx.changeViews.of(record.id, eventId);
    write(eventId, stage, { stage, status: job?.status, job });
    if (isFinal(stage as JobStage['name'])) end();
  };
  /** What the change stream holds after the last event sent: read on resuming and after a resync. */
  const catchUp = async () => {
    const entries = await ctx.redis.xrange(jobEventsKey(ctx.config.redis.prefix, record.id), `(${lastSent}`, '+');
    for (const [eventId, fields] of entries) await sendChange(eventId, fields[fields.indexOf('stage') + 1] ?? '');
  };
  const handle = (change: JobChange) => {
    if (change.kind === 'closing') return end();
    if (!live) {
      held.push(change);
      return;
    }
    queue = queue
      .then(() => (change.kind === 'change' ? sendChange(change.eventId, change.stage) : catchUp()))
      .catch(() => end());
  };

  try {
    stop = await ctx.jobChanges.listen(record.id, handle);
    if (ended) return stop();
    if (options.lastEventId !== undefined) {
      await catchUp();
    } else {
      const [latest] = await ctx.redis.xrevrange(
        jobEventsKey(ctx.config.redis.prefix, record.id),
        '+',
        '-',
        'COUNT',
        1,
      );
      const current = (await ctx.store.get(record.id)) ?? record;
      lastSent = latest?.[0] ?? '0-0';
      write(lastSent, 'snapshot', { stage: current.stage.name, job: await publicJob(current, ctx.links) });
      if (isFinal(current.stage.name)) return end();
    }
    live = true;
    for (const change of held.splice(0)) handle(change);
    await queue;
    // Resumed after the final event, or the job finished with no change left to send: done.
    const now = await ctx.store.get(record.id);
    if (!now || (isFinal(now.stage.name) && !after(await latestEventId(ctx, record.id), lastSent))) end();
  } catch {
    end();
  }
}

async function latestEventId(ctx: ApiContext, jobId: string): Promise<string> {
  const [latest] = await ctx.redis.xrevrange(jobEventsKey(ctx.config.redis.prefix, jobId), '+', '-', 'COUNT', 1);
  return latest?.[0] ?? '0-0';
}
