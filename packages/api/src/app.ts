/**
 * The HTTP API as a fastify instance, built without listening so tests can use
 * `inject` or a port of their own. Routes are validated and documented by the
 * same zod schemas; every error is application/problem+json.
 */
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import {
  type Config,
  JobStore,
  type Logger,
  type Metrics,
  OutputLinks,
  openStorage,
  openWebhookQueue,
  PauseControl,
  QUEUE_NAMES,
  queueOptions,
  type Storage,
} from '@renderq/shared';
import { Queue } from 'bullmq';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { jsonSchemaTransform, validatorCompiler } from 'fastify-type-provider-zod';
import type { Redis } from 'ioredis';
import type { ApiContext } from './api-context.js';
import { limitedHttpServer } from './http/http-server.js';
import { jsonDepth, MAX_JSON_DEPTH } from './http/json-depth.js';
import { installProblemHandling } from './http/problem-handler.js';
import { Problem } from './http/problems.js';
import { TenantKeys } from './http/tenants.js';
import { UploadSlots } from './http/upload-slots.js';
import { batchRoutes } from './routes/batches.js';
import { jobRoutes } from './routes/jobs.js';
import { operationRoutes } from './routes/operations.js';
import { webhookDeliveryRoutes } from './routes/webhook-deliveries.js';
import { EnqueueRate } from './services/enqueue-rate.js';
import { IdempotencyStore } from './services/idempotency.js';
import { UrlGuard } from './services/url-guard.js';

export interface AppDependencies {
  readonly config: Config;
  readonly logger: Logger;
  readonly redis: Redis;
  readonly metrics: Metrics;
  /** @defaultValue the store STORAGE_URL names */
  readonly storage?: Storage;
}

/** Bodies of single jobs may carry a base64 input image. */
const BODY_LIMIT_BYTES = 32 * 1024 * 1024;

export async function buildApp(deps: AppDependencies): Promise<FastifyInstance> {
  const { config, logger, redis, metrics } = deps;
  const prefix = config.redis.prefix;
  const renderQueue = new Queue(QUEUE_NAMES.render, queueOptions(redis, prefix));
  const pollQueue = new Queue(QUEUE_NAMES.poll, queueOptions(redis, prefix));
  const storage = deps.storage ?? openStorage(config.storage);
  const webhooks = config.webhooks.secret ? openWebhookQueue(redis, prefix) : undefined;
  if (!webhooks) logger.warn('WEBHOOK_SECRET is unset: webhook_url is accepted but no webhooks are sent');
  const ctx: ApiContext = {
    config,
    logger,
    redis,
    metrics,
    storage,
    store: new JobStore({
      redis,
      queue: renderQueue,
      prefix,
      retentionMs: config.jobs.retentionMs,
      ...(webhooks ? { events: webhooks.events } : {}),
    }),
    webhooks,
    urlGuard: new UrlGuard({ allowPrivate: config.webhooks.allowPrivate }),
    renderQueue,
    pollQueue,
    pause: new PauseControl(redis, prefix, renderQueue),
    links: await OutputLinks.fromConfig(redis, config, storage),
    idempotency: new IdempotencyStore(redis, prefix),
    keys: new TenantKeys(config.api.tenants),
    enqueueRate: new EnqueueRate(redis, prefix, {
      ...config.api.enqueueRate,
      onRefused: () => metrics.requestsRefused.inc({ reason: 'enqueue_rate' }),
    }),
    uploadSlots: new UploadSlots(config.api.batchUploads),
    background: new Set(),
  };

  const server = limitedHttpServer(config.api.http, (reason) => metrics.requestsRefused.inc({ reason }));
  const app = Fastify({
    serverFactory: server.serverFactory,
    loggerInstance: logger as FastifyBaseLogger,
    bodyLimit: BODY_LIMIT_BYTES,
    trustProxy: false,
    // Ids are short; a long one is answered by the route's own validation (400), not a bare 414.
    routerOptions: { maxParamLength: 8_192 },
    // Requests the HTTP parser refuses (absurd headers, broken framing) or that arrive too slowly still get problem+json.
    clientErrorHandler: server.onClientError,
  });
  // Only JSON (and NDJSON for batches): anything else is a 415, not a string body.
  app.removeContentTypeParser(['text/plain', 'application/json']);
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (jsonDepth(body as string) > MAX_JSON_DEPTH) {
      done(new Problem('validation_failed', `the JSON body is nested deeper than ${MAX_JSON_DEPTH} levels`), undefined);
      return;
    }
    parseJson(request, body as string, done);
  });
  app.setValidatorCompiler(validatorCompiler);
  // Answers are built from validated records by our own code: serialising them is JSON.stringify. The
  // response schemas document them (OpenAPI); checking each answer again would cost a third of the throughput.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  installProblemHandling(app);

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'renderq',
        version: '1.0.0',
        description: 'A durable job queue for Segmind image generation. Errors are application/problem+json.',
      },
      components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer' } } },
      security: [{ apiKey: [] }],
    },
    transform: jsonSchemaTransform,
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  app.decorateRequest('tenant', '');
  app.addHook('onRequest', async (request) => {
    if (!request.url.startsWith('/v1/')) return;
    const tenant = ctx.keys.tenantFor(request.headers.authorization);
    if (tenant) {
      request.tenant = tenant;
      return;
    }
    const query = request.query as Record<string, unknown> | undefined;
    if (request.routeOptions.config.signedLinks && query?.signature) return;
    throw new Problem('unauthorized', 'send Authorization: Bearer <API key>');
  });

  await app.register(async (scope) => jobRoutes(scope, ctx));
  await app.register(async (scope) => batchRoutes(scope, ctx));
  await app.register(async (scope) => webhookDeliveryRoutes(scope, ctx));
  await app.register(async (scope) => operationRoutes(scope, ctx));
  await app.register(async (scope) => queueDashboard(scope, ctx));

  app.addHook('onClose', async () => {
    // Batches accepted but still being enqueued finish before their connection closes.
    await Promise.allSettled([...ctx.background]);
    await Promise.all([renderQueue.close(), pollQueue.close(), webhooks?.queue.close()]);
    if (!deps.storage) await storage.close();
  });
  return app;
}

/** Bull Board at /admin/queues, behind an API key (Bearer, or Basic with the key as password for browsers). */
async function queueDashboard(scope: FastifyInstance, ctx: ApiContext): Promise<void> {
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath('/admin/queues');
  createBullBoard({
    queues: [
      new BullMQAdapter(ctx.renderQueue),
      new BullMQAdapter(ctx.pollQueue),
      ...(ctx.webhooks ? [new BullMQAdapter(ctx.webhooks.queue)] : []),
    ],
    serverAdapter,
  });
  scope.addHook('onRequest', async (request, reply) => {
    const header = request.headers.authorization ?? '';
    const basic = /^Basic\s+(\S+)$/i.exec(header);
    const key = basic
      ? Buffer.from(basic[1] as string, 'base64')
          .toString('utf8')
          .split(':')
          .slice(1)
          .join(':')
      : undefined;
    const tenant = ctx.keys.tenantFor(key !== undefined ? `Bearer ${key}` : header);
    if (!tenant) {
      // Answered here: the dashboard plugin has error handling of its own.
      const problem = new Problem('unauthorized', 'the queue dashboard needs an API key');
      return reply
        .code(problem.status)
        .header('www-authenticate', 'Basic realm="renderq"')
        .type('application/problem+json')
        .send(problem.body());
    }
  });
  await scope.register(serverAdapter.registerPlugin() as never, { prefix: '/admin/queues' });
}
