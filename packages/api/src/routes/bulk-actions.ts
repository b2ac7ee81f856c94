/**
 * Bulk actions: replay or cancel every job a filter or a list of ids chooses — a tenant its own
 * jobs, an operator anyone's — with a dry run that changes nothing, and the operations that carry
 * them out, whose progress can be read and which can be aborted.
 */
import {
  type BulkAction,
  BulkEstimate,
  BulkOperation,
  BulkRequest,
  MAX_BULK_IDS,
  MAX_BULK_JOBS,
  Problem as ProblemSchema,
} from '@renderq/contract';
import { ID_PATTERNS, microsToUsd } from '@renderq/shared';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ApiContext } from '../api-context.js';
import { Problem } from '../http/problems.js';
import { type BulkOperations, MAX_RUNNING_OPERATIONS } from '../services/bulk/bulk-operations.js';
import { type BulkActor, selectJobs } from '../services/bulk/bulk-selection.js';

const OperationParams = z.object({
  id: z.string().regex(ID_PATTERNS.operation, 'is not an operation id').describe('An operation id, op_…'),
});

const DESCRIPTIONS: Record<BulkAction, string> = {
  replay:
    'Creates a new job for each chosen job that failed, was cancelled or expired and has not been replayed ' +
    'yet: same model, input (stored input images are shared), metadata, webhook and priority, linked both ' +
    'ways (`replay_of`, `replayed_by`). A job is replayed at most once, however often it is asked. The new jobs ' +
    'pass the same backlog quota, spend budgets and enqueue rate as any: when one is full the operation waits ' +
    '(`waiting` says why) rather than failing.',
  cancel:
    'Cancels each chosen job not yet finished, as `POST /v1/jobs/{id}/cancel` does (a request already at ' +
    'Segmind is still charged what Segmind charges).',
};

export async function bulkActionRoutes(app: FastifyInstance, ctx: ApiContext, operations: BulkOperations) {
  const routes = app.withTypeProvider<ZodTypeProvider>();

  for (const action of ['replay', 'cancel'] as const) {
    routes.post(
      `/v1/jobs/${action}`,
      {
        config: { access: 'tenant_or_operator' },
        schema: {
          summary: action === 'replay' ? 'Replay many finished jobs' : 'Cancel many jobs',
          description:
            `${DESCRIPTIONS[action]} Jobs are chosen by \`filter\` (every job matching all its fields) or by \`ids\` ` +
            `(at most ${MAX_BULK_IDS.toLocaleString('en-US')}); at most ${MAX_BULK_JOBS.toLocaleString('en-US')} jobs ` +
            'one request. With `dry_run: true` the answer says what would be done and nothing changes; otherwise ' +
            'a 202 with the operation, to follow at `GET /v1/operations/{id}`. A tenant key acts on its own jobs; ' +
            'an operator key on any tenant’s (`filter.tenant` narrows to one). At most ' +
            `${MAX_RUNNING_OPERATIONS} operations run at once per tenant (and for the operators): a 429 beyond.`,
          tags: ['bulk actions'],
          body: BulkRequest,
          response: {
            200: BulkEstimate,
            202: BulkOperation,
            400: ProblemSchema,
            401: ProblemSchema,
            429: ProblemSchema,
          },
        },
      },
      async (request, reply) => {
        const { filter, ids, dry_run: dryRun } = request.body;
        if ((filter === undefined) === (ids === undefined)) {
          throw new Problem('validation_failed', 'send exactly one of filter and ids', [
            { path: 'body', message: 'needs either filter or ids, not both and not neither' },
          ]);
        }
        const malformed = (ids ?? []).findIndex((id) => !ID_PATTERNS.job.test(id));
        if (malformed >= 0) {
          throw new Problem('validation_failed', 'the ids must be job ids', [
            { path: `body.ids.${malformed}`, message: 'is not a job id (job_…)' },
          ]);
        }
        const actor = actorOf(request);
        const selection = await selectJobs(ctx, actor, action, { filter, ids });
        if (dryRun) {
          return reply.code(200).send({
            dry_run: true as const,
            action,
            count: selection.targets.length,
            estimated_cost: microsToUsd(selection.estimatedMicros),
            skipped: selection.skipped,
          });
        }
        const operation = await operations.start(actor, action, selection);
        ctx.logger.info(
          {
            operation_id: operation.id,
            action,
            actor: actor.kind === 'tenant' ? actor.tenant : 'operator',
            jobs: selection.targets.length,
          },
          'bulk operation started',
        );
        return reply.code(202).header('location', `/v1/operations/${operation.id}`).send(operation);
      },
    );
  }

  routes.get(
    '/v1/operations/:id',
    {
      config: { access: 'tenant_or_operator' },
      schema: {
        summary: 'Read a bulk operation: its status and progress',
        description: 'A tenant reads the operations it started; an operator any. Ended ones stay readable for 7 days.',
        tags: ['bulk actions'],
        params: OperationParams,
        response: { 200: BulkOperation, 404: ProblemSchema },
      },
    },
    async (request) => {
      const operation = await operations.read(actorOf(request), request.params.id);
      if (!operation) throw new Problem('not_found', `no operation ${request.params.id}`);
      return operation;
    },
  );

  routes.post(
    '/v1/operations/:id/abort',
    {
      config: { access: 'tenant_or_operator' },
      schema: {
        summary: 'Abort a bulk operation',
        description:
          'It stops after the step under way (at most 100 jobs): every chosen job is then either acted on once or ' +
          'untouched. Answers the operation, `aborting` until it has stopped; 409 once it has ended.',
        tags: ['bulk actions'],
        params: OperationParams,
        response: { 202: BulkOperation, 404: ProblemSchema, 409: ProblemSchema },
      },
    },
    async (request, reply) => {
      const operation = await operations.abort(actorOf(request), request.params.id);
      if (!operation) throw new Problem('not_found', `no operation ${request.params.id}`);
      return reply.code(202).send(operation);
    },
  );
}

/** A tenant's key acts as that tenant; an operator's as an operator (access control let only these in). */
function actorOf(request: FastifyRequest): BulkActor {
  return request.tenant !== '' ? { kind: 'tenant', tenant: request.tenant } : { kind: 'operator' };
}
