/**
 * The queue dashboard (Bull Board) at /admin/queues: for operators only, and read-only.
 * Its actions (empty, clean, retry, remove, pause) would act on BullMQ's copies behind
 * renderq's own job records — pause and resume go through the admin routes, which
 * record why — so the board shows and never changes. Each job card carries what an
 * operator needs: the renderq job id, tenant, model and stage (BullMQ's own data is
 * only the id), and each webhook card its event, tenant and delivery status.
 */
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { Job, Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../api-context.js';
import { declareAccess } from '../http/access.js';
import { sendProblem } from '../http/problem-handler.js';
import { Problem } from '../http/problems.js';

type Describe = (jobs: readonly Job[]) => Promise<void>;

/** A `<link>` of the board's page that loads a stylesheet (its fonts) from another origin. */
const OUTSIDE_STYLESHEET = /<link\b[^>]*\bhref="https?:\/\/[^"]*"[^>]*>\s*/gi;

/** The board's own scripts, styles and images; its inline styles; nothing from another origin. */
const DASHBOARD_CSP = [
  "default-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "object-src 'none'",
  "base-uri 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** A read-only adapter that fills each job's card with renderq's view of it. */
class DescribedQueueAdapter extends BullMQAdapter {
  readonly #describe: Describe;

  constructor(queue: Queue, description: string, describe: Describe) {
    super(queue, { readOnlyMode: true, description });
    this.#describe = describe;
  }

  override async getJobs(...args: Parameters<BullMQAdapter['getJobs']>): Promise<Job[]> {
    const jobs = await super.getJobs(...args);
    await this.#describe(jobs);
    return jobs;
  }

  override async getJob(id: string): Promise<Job | undefined> {
    const job = await super.getJob(id);
    if (job) await this.#describe([job]);
    return job;
  }
}

export async function queueDashboard(scope: FastifyInstance, ctx: ApiContext): Promise<void> {
  declareAccess(scope, 'operator', { basicAuth: true });
  // Read-only by method, not only by the board's own flag: its pause-all and resume-all skip
  // read-only queues yet answer 200, which reads as done. Everything that changes state is refused.
  scope.addHook('onRequest', async (request, reply) => {
    if (request.method === 'GET' || request.method === 'HEAD') return;
    return sendProblem(
      reply,
      new Problem(
        'method_not_allowed',
        'the queue dashboard is read-only: pause and resume with POST /v1/admin/pause and /v1/admin/resume',
      ),
    );
  });
  // The board's page asks a public font service for its fonts: an operator's browser would call out even
  // where renderq runs offline. The page loses that link (the board falls back to the system's sans-serif),
  // and its CSP lets it load nothing from anywhere but this API.
  scope.addHook('onSend', async (_request, reply, payload) => {
    if (!String(reply.getHeader('content-type') ?? '').startsWith('text/html')) return payload;
    reply.header('content-security-policy', DASHBOARD_CSP);
    return typeof payload === 'string' ? payload.replace(OUTSIDE_STYLESHEET, '') : payload;
  });
  const describeRenderJobs: Describe = async (jobs) => {
    const summaries = await ctx.store.summaries(jobs.map((job) => String(job.data?.jobId ?? job.id)));
    for (const job of jobs) {
      const id = String(job.data?.jobId ?? job.id);
      const summary = summaries.get(id);
      job.data = summary ? { job_id: id, ...summary } : { job_id: id, record: 'gone (expired or never written)' };
      if (summary) job.name = `${summary.model} · ${summary.tenant} · ${summary.stage}`;
    }
  };
  const webhooks = ctx.webhooks;
  const describeDeliveries: Describe = async (jobs) => {
    if (!webhooks) return;
    await Promise.all(
      jobs.map(async (job) => {
        const id = String(job.data?.eventId ?? job.id);
        const event = await webhooks.events.get(id);
        job.data = event
          ? {
              event_id: id,
              type: event.type,
              tenant: event.tenant,
              subject: `${event.subject.kind} ${event.subject.id}`,
              status: event.status,
              attempts: event.attempts,
              host: new URL(event.url).host,
            }
          : { event_id: id, record: 'gone (expired)' };
        if (event) job.name = `${event.type} · ${event.tenant} · ${event.status}`;
      }),
    );
  };
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath('/admin/queues');
  createBullBoard({
    queues: [
      new DescribedQueueAdapter(ctx.renderQueue, 'Jobs waiting to be submitted to Segmind', describeRenderJobs),
      new DescribedQueueAdapter(ctx.pollQueue, 'Jobs at Segmind: polled, then stored', describeRenderJobs),
      ...(webhooks
        ? [new DescribedQueueAdapter(webhooks.queue, 'Webhook events being delivered', describeDeliveries)]
        : []),
    ],
    serverAdapter,
    options: { uiConfig: { boardTitle: 'renderq queues' } },
  });
  await scope.register(serverAdapter.registerPlugin(), { prefix: '/admin/queues' });
}
