/**
 * The HTTP API as a fastify instance, built without listening so tests can use
 * `inject` or a port of their own. Routes are validated and documented by the
 * same zod schemas; every error is application/problem+json.
 */
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { Tracer } from '@opentelemetry/api';
import {
  type Config,
  JobStore,
  jobChangesChannel,
  type Logger,
  type Metrics,
  OutputLinks,
  oldestRequestAtSegmind,
  openStorage,
  openWebhookQueue,
  PauseControl,
  QUEUE_NAMES,
  queueOptions,
  type RedisConnection,
  readCredits,
  readQueueDepths,
  readSegmindOutage,
  type Storage,
  Traces,
  watchStorage,
  weightsOf,
} from '@renderq/shared';
import { Queue } from 'bullmq';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, LogController } from 'fastify';
import type { ApiContext } from './api-context.js';
import { declareAccess, installAccessControl, Keyring } from './http/access.js';
import { limitedHttpServer } from './http/http-server.js';
import { jsonDepth, MAX_JSON_DEPTH } from './http/json-depth.js';
import { openapiTransform } from './http/openapi.js';
import { installProblemHandling, sendProblem } from './http/problem-handler.js';
import { Problem } from './http/problems.js';
import { logRequests } from './http/request-log.js';
import { traceRequests } from './http/request-tracing.js';
import { validatorCompiler } from './http/request-validation.js';
import { UploadSlots } from './http/upload-slots.js';
import { batchRoutes } from './routes/batches.js';
import { bulkActionRoutes } from './routes/bulk-actions.js';
import { jobEventRoutes } from './routes/job-events.js';
import { jobRoutes } from './routes/jobs.js';
import { operationRoutes } from './routes/operations.js';
import { queueDashboard } from './routes/queue-dashboard.js';
import { tenantRoutes } from './routes/tenants.js';
import { webhookDeliveryRoutes } from './routes/webhook-deliveries.js';
import { BulkOperations } from './services/bulk/bulk-operations.js';
import { EnqueueRate } from './services/enqueue-rate.js';
import { fairShareReading } from './services/fair-share-reading.js';
import { IdempotencyStore } from './services/idempotency.js';
import { JobChanges } from './services/job-changes.js';
import { JobEstimates } from './services/job-estimates.js';
import { RedisMemoryGuard } from './services/memory-guard.js';
import { ChangeViews, StreamCounts } from './services/stream-state.js';
import { budgetUse } from './services/tenant-spend.js';
import { UrlGuard } from './services/url-guard.js';

export interface AppDependencies {
  readonly config: Config;
  readonly logger: Logger;
  readonly redis: RedisConnection;
  readonly metrics: Metrics;
  /** @defaultValue the store STORAGE_URL names */
  readonly storage?: Storage;
  /** The process's tracer (startTracing); undefined: tracing is off. */
  readonly tracer?: Tracer;
}

/** Bodies of single jobs may carry a base64 input image. */
const BODY_LIMIT_BYTES = 32 * 1024 * 1024;
/** Longest path parameter routed; ids are about 30 characters. */
const MAX_PARAM_LENGTH = 128;

export async function buildApp(deps: AppDependencies): Promise<FastifyInstance> {
  const { config, logger, redis, metrics } = deps;
  const prefix = config.redis.prefix;
  const renderQueue = new Queue(QUEUE_NAMES.render, queueOptions(redis, prefix));
  const pollQueue = new Queue(QUEUE_NAMES.poll, queueOptions(redis, prefix));
  const storage = deps.storage ?? openStorage(config.storage);
  const storageWatch = await watchStorage({ storage, intervalMs: config.storageCheckIntervalMs, logger });
  const webhooks = config.webhooks.secret ? openWebhookQueue(redis, prefix) : undefined;
  if (!webhooks) logger.warn('WEBHOOK_SECRET is unset: webhook_url is accepted but no webhooks are sent');
  const store = new JobStore({
    redis,
    queue: renderQueue,
    prefix,
    retentionMs: config.jobs.retentionMs,
    fairShare: config.fairShare.on,
    ...(webhooks ? { events: webhooks.events } : {}),
  });
  const weightOf = weightsOf(config.fairShare.weights);
  const fairShareNow = fairShareReading(store, weightOf);
  const links = await OutputLinks.fromConfig(redis, config, storage);
  const pause = new PauseControl(redis, prefix, renderQueue);
  const ctx: ApiContext = {
    config,
    logger,
    redis,
    metrics,
    storage,
    storageStatus: () => storageWatch.status(),
    store,
    weightOf,
    fairShareNow,
    webhooks,
    urlGuard: new UrlGuard({ allowPrivate: config.webhooks.allowPrivate }),
    renderQueue,
    pollQueue,
    pause: pause,
    links,
    // A request makes at most a handful of Redis calls, each bounded by the command timeout.
    idempotency: new IdempotencyStore(redis, prefix, 4 * config.redis.commandTimeoutMs + 5_000),
    keys: new Keyring(config.api.tenants, config.api.operatorKeys),
    enqueueRate: new EnqueueRate(redis, prefix, {
      ...config.api.enqueueRate,
      onRefused: () => metrics.requestsRefused.inc({ reason: 'enqueue_rate' }),
    }),
    memoryGuard: new RedisMemoryGuard(redis, {
      percent: config.api.memoryGuardPercent,
      logger,
      onRefused: () => metrics.requestsRefused.inc({ reason: 'redis_memory' }),
    }),
    uploadSlots: new UploadSlots({
      concurrency: config.api.batchUploads.concurrency,
      perTenant: config.api.batchUploads.perTenant,
      waitMs: config.api.batchUploads.waitMs,
    }),
    jobChanges: new JobChanges(redis, jobChangesChannel(prefix), logger),
    changeViews: new ChangeViews(store, links),
    streamCounts: new StreamCounts(config.api.eventStreamsPerTenant),
    estimates: new JobEstimates({
      redis,
      prefix,
      fairShare: config.fairShare.on,
      // A reading of its own: a burst of creations must not leave the tenant views a second behind.
      fairShareNow: fairShareReading(store, weightOf),
      weightOf,
      pause: pause,
    }),
    traces: new Traces(deps.tracer),
    background: new Set(),
  };

  await ctx.memoryGuard.start();

  // What every process shares is read from Redis when scraped, so the API's /metrics tells what the workers' do.
  metrics.readFrom({
    credits: async () => (await readCredits(redis, prefix))?.balance,
    pause: () => ctx.pause.state(),
    segmindOutage: () => readSegmindOutage(redis, prefix),
    oldestRequestAtSegmind: () => oldestRequestAtSegmind(redis, prefix),
    queueCounts: () =>
      readQueueDepths([renderQueue, pollQueue, ...(webhooks ? [webhooks.queue] : [])], async () =>
        [...(await fairShareNow()).waiting.values()].reduce((sum, n) => sum + n, 0),
      ),
    tenantBacklogs: () => store.unfinishedJobsByTenant(),
    fairShare: async () => (await fairShareNow()).tenants,
    tenantBudgets: () => budgetUse(ctx),
  });

  const server = limitedHttpServer(config.api.http, (reason) => metrics.requestsRefused.inc({ reason }));
  const app = Fastify({
    serverFactory: server.serverFactory,
    loggerInstance: logger as FastifyBaseLogger,
    // One line per request, written by logRequests with secrets taken out of the URL.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT_BYTES,
    trustProxy: false,
    // Ids are ~30 characters: a longer path parameter is answered 414 by frameworkErrors, not routed.
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // A malformed URL (bad percent-encoding) or an over-long parameter still gets problem+json.
    frameworkErrors: (error, _request, reply) => {
      const problem =
        error.code === 'FST_ERR_MAX_PARAM_LENGTH'
          ? new Problem('uri_too_long', `a path segment is longer than ${MAX_PARAM_LENGTH} characters`)
          : new Problem('validation_failed', `the request URL could not be read: ${error.message}`);
      return sendProblem(reply as FastifyReply, problem);
    },
    // Requests the HTTP parser refuses (absurd headers, broken framing) or that arrive too slowly still get problem+json.
    clientErrorHandler: server.onClientError,
  });
  installAccessControl(app, ctx.keys);
  // After the key check: a request without a valid key makes no span (nor fills anyone's trace).
  traceRequests(app, ctx.traces);
  logRequests(app);
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

  // At the root, so it sees every route; it registers none of its own.
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
    transform: openapiTransform,
  });
  await app.register(async (scope) => {
    declareAccess(scope, 'public');
    await scope.register(fastifySwaggerUi, { routePrefix: '/docs' });
    scope.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  });

  await app.register(async (scope) => jobRoutes(scope, ctx));
  await app.register(async (scope) => jobEventRoutes(scope, ctx));
  await app.register(async (scope) => batchRoutes(scope, ctx));
  await app.register(async (scope) => webhookDeliveryRoutes(scope, ctx));
  await app.register(async (scope) => operationRoutes(scope, ctx));
  await app.register(async (scope) => tenantRoutes(scope, ctx));
  await app.register(async (scope) => queueDashboard(scope, ctx));
  const bulk = new BulkOperations(ctx);
  await app.register(async (scope) => bulkActionRoutes(scope, ctx, bulk));
  // Operations another API process was running when it stopped are taken over.
  app.addHook('onReady', async () => bulk.startSweeping());

  // Event streams and waiting requests end first: the server's close waits for their connections.
  app.addHook('preClose', async () => {
    await ctx.jobChanges.close();
    // Bulk operations stop after their step under way, for another process to go on with.
    await bulk.close();
  });
  app.addHook('onClose', async () => {
    // Batches accepted but still being enqueued finish before their connection closes.
    await Promise.allSettled([...ctx.background]);
    storageWatch.stop();
    ctx.memoryGuard.stop();
    await Promise.all([renderQueue.close(), pollQueue.close(), webhooks?.queue.close()]);
    if (!deps.storage) await storage.close();
  });
  return app;
}
