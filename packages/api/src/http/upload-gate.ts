/**
 * The gate in front of uploads that can hold a lot of memory while they are read: every
 * batch, and a single job whose body is over LARGE_BODY_BYTES (an inline image) or of
 * unknown length. Such an upload takes one of the process's upload slots (a tenant at most
 * its share) before its body is read, gives it back however the request ends, and is cut
 * with a 408 when it arrives slower than the floor. A small job passes untouched: its body
 * is read at once and costs little to hold, and it is most of the traffic.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ApiContext } from '../api-context.js';
import { RetryLaterProblem } from './problems.js';
import { atLeast } from './upload-rate.js';
import { TenantUploadsBusyError, UploadSlotsBusyError } from './upload-slots.js';

/** A single job's body above this goes through the gate. */
const LARGE_BODY_BYTES = 64 * 1024;

/** Whether a request's body is large, or of a length not declared (chunked). */
export function hasLargeBody(request: FastifyRequest): boolean {
  const length = request.headers['content-length'];
  if (length === undefined) return request.headers['transfer-encoding'] !== undefined;
  return Number(length) > LARGE_BODY_BYTES;
}

/** A route's hooks for the gate, applied to the requests `gated` picks. */
export function uploadGate(ctx: ApiContext, gated: (request: FastifyRequest) => boolean) {
  return {
    // Before the body is read, and after the key is checked (the access hook runs first).
    onRequest: async (request: FastifyRequest, reply: FastifyReply) => {
      if (gated(request)) await takeUploadSlot(ctx, request.tenant, reply);
    },
    // A trickling upload would hold its slot for as long as the request timeout allows: it is cut instead.
    preParsing: async (request: FastifyRequest, reply: FastifyReply, payload: NodeJS.ReadableStream) =>
      gated(request) ? atLeast(ctx.config.api.batchUploads.minBytesPerSecond, payload, reply.raw) : payload,
  };
}

async function takeUploadSlot(ctx: ApiContext, tenant: string, reply: FastifyReply): Promise<void> {
  const gone = new AbortController();
  const onGone = () => gone.abort(new Error('the client went away while waiting for an upload slot'));
  reply.raw.once('close', onGone);
  let release: () => void;
  try {
    release = await ctx.uploadSlots.acquire(tenant, gone.signal);
  } catch (error) {
    if (error instanceof TenantUploadsBusyError) {
      ctx.metrics.requestsRefused.inc({ reason: 'upload_slots_per_tenant' });
      throw new RetryLaterProblem(
        'too_many_requests',
        `${error.message} (BATCH_UPLOAD_CONCURRENCY_PER_TENANT), and none finished within the wait; send the next upload when one of them is answered`,
        1,
      );
    }
    if (!(error instanceof UploadSlotsBusyError)) throw error;
    ctx.metrics.requestsRefused.inc({ reason: 'upload_slots' });
    throw new RetryLaterProblem(
      'service_unavailable',
      `${error.concurrency} uploads are already being read by this API process (BATCH_UPLOAD_CONCURRENCY); retry shortly`,
      1,
    );
  } finally {
    reply.raw.off('close', onGone);
  }
  ctx.metrics.batchUploadsInProgress.inc();
  const done = () => {
    release();
    ctx.metrics.batchUploadsInProgress.dec();
  };
  // 'close' comes once the answer is sent or the connection dropped: every way a request can end.
  if (reply.raw.closed) done();
  else reply.raw.once('close', done);
}
