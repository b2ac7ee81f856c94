/**
 * A job's and a batch's events as Server-Sent Events: a snapshot, then each change — a job's change of
 * stage, a batch's job finishing — until the final one (event-streams.ts). With the tenant's key, or
 * with the signed link the job or batch gives as `events_url` (a browser's EventSource sends no key).
 */
import { PassThrough } from 'node:stream';
import { Problem as ProblemSchema } from '@renderq/contract';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ApiContext } from '../api-context.js';
import { Problem } from '../http/problems.js';
import { BatchIdParams, JobIdParams, OutputQuery } from '../http/schemas.js';
import { batchSubject, EVENT_ID, jobSubject, type Subject, streamEvents } from '../services/event-streams.js';
import { linkedBatch, linkedJob } from '../services/ownership.js';

const RESUME_HEADERS = z.object({
  'last-event-id': z
    .string()
    .optional()
    .describe('The id of the last event seen: resume after it (ids look like `1733480012345-0`).'),
});

const STREAM_RESPONSES = {
  200: {
    description: 'An event stream (text/event-stream).',
    content: { 'text/event-stream': { schema: z.string().describe('Server-Sent Events.') } },
  },
  400: ProblemSchema,
  401: ProblemSchema,
  404: ProblemSchema,
  429: ProblemSchema,
};

const LINK_NOTE =
  ' With a tenant key, or with the signed link the job or batch gives as `events_url` (for an EventSource, ' +
  'which cannot send a key); a link that expires while its stream is open does not end it.';

export async function jobEventRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const routes = app.withTypeProvider<ZodTypeProvider>();

  routes.get(
    '/v1/jobs/:id/events',
    {
      config: { access: 'tenant_or_link' },
      // A stream has no end to measure: no HEAD.
      exposeHeadRoute: false,
      schema: {
        summary: "Follow a job's changes as they happen (Server-Sent Events)",
        description:
          'First a `snapshot` event with the job, then one event per change of its stage (`queued`, `submitting`, ' +
          '`polling`, `storing`, then `completed`, `failed` or `cancelled`), each `{stage, status, job}`; the stream ' +
          'ends after the final one. Each event has an increasing `id`: reconnect with `Last-Event-ID` to get exactly ' +
          'the events after it (no snapshot). A comment line every 15 s keeps the connection open. 429 past ' +
          'EVENT_STREAMS_PER_TENANT open streams on one API process.' +
          LINK_NOTE,
        tags: ['jobs'],
        params: JobIdParams,
        querystring: OutputQuery,
        headers: RESUME_HEADERS,
        response: STREAM_RESPONSES,
      },
    },
    async (request, reply) => {
      await answerStream(ctx, request, reply, async (signed) => {
        const record = await linkedJob(ctx, request, request.params.id, signed);
        return { tenant: record.tenant, subject: jobSubject(ctx, record) };
      });
      return reply;
    },
  );

  routes.get(
    '/v1/batches/:id/events',
    {
      config: { access: 'tenant_or_link' },
      exposeHeadRoute: false,
      schema: {
        summary: "Follow a batch's jobs as they finish (Server-Sent Events)",
        description:
          'First a `snapshot` event with the batch, then one event per job as it finishes (`job.completed`, ' +
          '`job.failed` or `job.cancelled`, each `{job_id, status, batch}`), then `batch.completed` with the batch, ' +
          'and the end. Resume with `Last-Event-ID` as for a job: each job finishing is one event, once.' +
          LINK_NOTE,
        tags: ['batches'],
        params: BatchIdParams,
        querystring: OutputQuery,
        headers: RESUME_HEADERS,
        response: STREAM_RESPONSES,
      },
    },
    async (request, reply) => {
      await answerStream(ctx, request, reply, async (signed) => {
        const batch = await linkedBatch(ctx, request, request.params.id, signed);
        return { tenant: batch.tenant, subject: batchSubject(ctx, batch) };
      });
      return reply;
    },
  );
}

function resumeAfter(header: string | undefined): string | undefined {
  // An empty header is no header.
  const lastEventId = header?.trim() === '' ? undefined : header?.trim();
  if (lastEventId !== undefined && !EVENT_ID.test(lastEventId)) {
    throw new Problem(
      'validation_failed',
      'Last-Event-ID must be an event id this stream gave, such as 1733480012345-0',
    );
  }
  return lastEventId;
}

/** A request to either stream route: the id in the path, a signed link's query if no key. */
type StreamRequest = FastifyRequest & {
  readonly params: { readonly id: string };
  readonly query: { readonly expires?: string | undefined; readonly signature?: string | undefined };
};

/**
 * Answers with the event stream of the job or batch that the key or its signed link names (`find`,
 * given whether the link's signature holds), counted against its tenant's streams while it is open;
 * 204 when a resumed stream has nothing more to send (an EventSource then stops reconnecting).
 * Redis failing before the first event is an error answer, not an empty stream.
 */
async function answerStream(
  ctx: ApiContext,
  request: StreamRequest,
  reply: FastifyReply,
  find: (signed: () => boolean) => Promise<{ readonly tenant: string; readonly subject: Subject }>,
): Promise<void> {
  // One string at most: the route's schema has checked the header.
  const lastEventId = resumeAfter(request.headers['last-event-id'] as string | undefined);
  const { id } = request.params;
  const { expires, signature } = request.query;
  const { tenant, subject } = await find(() => ctx.links.verifyEvents(id, expires, signature));
  const viaLink = !request.tenant;
  // Streams opened with links count apart: whoever holds a leaked link cannot take the tenant's own.
  const close = ctx.streamCounts.open(viaLink ? `${tenant} (links)` : tenant);
  const out = new PassThrough();
  // The caller going away ends the stream (and what it listens to).
  reply.raw.once('close', () => out.destroy());
  const heartbeatMs = Math.min(15_000, Math.floor(ctx.config.api.http.idleTimeoutMs / 2));
  const answerBuffered = () => reply.raw.writableLength;
  const started = await streamEvents({ ctx, subject, out, lastEventId, heartbeatMs, answerBuffered, onEnd: close });
  if (started === 'nothing more') {
    reply.code(204).send();
    return;
  }
  // A browser's EventSource on another origin reads a stream opened with its link (the link is the
  // credential, no cookie is involved): any origin may. A stream opened with a key says nothing.
  if (viaLink) reply.header('access-control-allow-origin', '*');
  reply
    .header('content-type', 'text/event-stream; charset=utf-8')
    .header('cache-control', 'no-cache')
    .header('x-accel-buffering', 'no')
    // A stream holds its connection to the end: closed with it, so that a closing server waits for none.
    .header('connection', 'close')
    .send(out);
}
