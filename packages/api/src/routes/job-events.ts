/** A job's events as Server-Sent Events: a snapshot, then each change of its stage (event-streams.ts). */
import { PassThrough } from 'node:stream';
import { Problem as ProblemSchema } from '@renderq/contract';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ApiContext } from '../api-context.js';
import { Problem } from '../http/problems.js';
import { JobIdParams } from '../http/schemas.js';
import { EVENT_ID, streamJobEvents } from '../services/event-streams.js';
import { ownJob } from '../services/ownership.js';

export async function jobEventRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const routes = app.withTypeProvider<ZodTypeProvider>();

  routes.get(
    '/v1/jobs/:id/events',
    {
      config: { access: 'tenant' },
      schema: {
        summary: "Follow a job's changes as they happen (Server-Sent Events)",
        description:
          'First a `snapshot` event with the job, then one event per change of its stage (`queued`, `submitting`, ' +
          '`polling`, `storing`, then `completed`, `failed` or `cancelled`), each `{stage, status, job}`; the stream ' +
          'ends after the final one. Each event has an increasing `id`: reconnect with `Last-Event-ID` to get exactly ' +
          'the events after it (no snapshot). A comment line every 15 s keeps the connection open. 429 past ' +
          'EVENT_STREAMS_PER_TENANT open streams on one API process.',
        tags: ['jobs'],
        params: JobIdParams,
        headers: z.object({
          'last-event-id': z
            .string()
            .optional()
            .describe('The id of the last event seen: resume after it (ids look like `1733480012345-0`).'),
        }),
        response: {
          200: {
            description: 'An event stream (text/event-stream).',
            content: { 'text/event-stream': { schema: z.string().describe('Server-Sent Events.') } },
          },
          400: ProblemSchema,
          404: ProblemSchema,
          429: ProblemSchema,
        },
      },
    },
    async (request, reply) => {
      const lastEventId = request.headers['last-event-id'];
      if (lastEventId !== undefined && !EVENT_ID.test(lastEventId)) {
        throw new Problem(
          'validation_failed',
          'Last-Event-ID must be an event id this stream gave, such as 1733480012345-0',
        );
      }
      const record = await ownJob(ctx, request.tenant, request.params.id);
      const close = ctx.streamCounts.open(request.tenant);
      const out = new PassThrough();
      // The caller going away ends the stream (and what it listens to).
      reply.raw.once('close', () => out.destroy());
      void streamJobEvents({ ctx, record, out, lastEventId, onEnd: close });
      return sendEventStream(reply, out);
    },
  );
}

/** Sends `out` as the answer: an event stream, not a body the route's schema describes. */
function sendEventStream(reply: FastifyReply, out: PassThrough): FastifyReply {
  return reply
    .header('content-type', 'text/event-stream; charset=utf-8')
    .header('cache-control', 'no-cache')
    .header('x-accel-buffering', 'no')
    .send(out);
}
