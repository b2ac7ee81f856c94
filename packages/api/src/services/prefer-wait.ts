/**
 * `Prefer: wait=N` (RFC 7240) on creating or reading a job: the answer waits up to N seconds (at
 * most 60) for the job to finish, woken by the job's change (job-changes.ts) rather than by reading
 * Redis again and again, and says so with `Preference-Applied`.
 */
import { isFinal, type JobRecord, type JobStage } from '@renderq/shared';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { ApiContext } from '../api-context.js';
import { jobView } from './job-views.js';

export const MAX_WAIT_SECONDS = 60;

/** The header as routes document it. */
export const PREFER_HEADERS = z.object({
  prefer: z
    .string()
    .optional()
    .describe(`\`wait=N\`: answer once the job has finished, or after N seconds (at most ${MAX_WAIT_SECONDS}).`),
});

/** The wait a `Prefer` header asks for, in seconds (capped at MAX_WAIT_SECONDS); undefined for none. */
export function preferredWait(request: FastifyRequest): number | undefined {
  const header = request.headers.prefer;
  const values = Array.isArray(header) ? header : header === undefined ? [] : [header];
  for (const preference of values.flatMap((value) => value.split(','))) {
    const match = /^\s*wait\s*=\s*"?(\d{1,9})"?\s*(?:;.*)?$/i.exec(preference);
    if (match) return Math.min(Number(match[1]), MAX_WAIT_SECONDS);
  }
  return undefined;
}

/**
 * The job once it is final, or as it is when `seconds` have passed (or the process closes): `read`
 * reads it, once now and again after each change of its stage.
 */
export async function waitForFinish(
  ctx: ApiContext,
  reply: FastifyReply,
  jobId: string,
  seconds: number,
  read: () => Promise<JobRecord>,
): Promise<JobRecord> {
  let wake: () => void = () => undefined;
  let woken = new Promise<void>((resolve) => {
    wake = resolve;
  });
  let over = false;
  const end = () => {
    over = true;
    wake();
  };
  // Listening first, then reading: a change between the two is not missed.
  const stop = await ctx.jobChanges.listen(jobId, (change) => {
    // Closing: answered now, on a connection that closes with it, so that the server's close waits for none.
    if (change.kind === 'closing') reply.header('connection', 'close');
    if (change.kind === 'closing' || (change.kind === 'change' && isFinal(change.stage as JobStage['name']))) end();
    else if (change.kind === 'resync') wake();
  });
  const timer = setTimeout(end, seconds * 1_000);
  reply.raw.once('close', end);
  try {
    for (;;) {
      const record = await read();
      // Said once the job is known to be the caller's (a 404 says nothing of a wait).
      reply.header('preference-applied', `wait=${seconds}`);
      if (over || isFinal(record.stage.name)) return record;
      await woken;
      woken = new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  } finally {
    clearTimeout(timer);
    reply.raw.off('close', end);
    stop();
  }
}

/**
 * A created job's answer (`payload`, 202) after the wait `Prefer` asks for: 200 with the job once
 * it has finished, or 202 with the job as it is then. Other answers go as they are.
 */
export async function waitedCreation(
  ctx: ApiContext,
  request: FastifyRequest,
  reply: FastifyReply,
  payload: unknown,
): Promise<unknown> {
  const wait = preferredWait(request);
  if (wait === undefined || reply.statusCode !== 202 || typeof payload !== 'string') return payload;
  const { id } = JSON.parse(payload) as { id?: unknown };
  if (typeof id !== 'string') return payload;
  try {
    const record = await waitForFinish(ctx, reply, id, wait, async () => {
      const found = await ctx.store.getOwned(request.tenant, id);
      if (!found) throw new Error(`job ${id} is gone`);
      return found;
    });
    if (isFinal(record.stage.name)) reply.code(200);
    return JSON.stringify(await jobView(ctx, record));
  } catch {
    // The job was made: its answer stands, without the wait (a retry with the same key waits again).
    reply.removeHeader('preference-applied');
    return payload;
  }
}
