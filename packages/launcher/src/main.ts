/**
 * `pnpm start`: all of renderq on one machine — the API and a worker as child
 * processes, a private Redis when none answers, and the Segmind emulator (its requests
 * kept under ./data/emulator) when SEGMIND_API_KEY is unset. It says which Redis it uses
 * and "running" once every process answers, with the addresses. Ctrl-C stops them in the
 * order that loses nothing: the API (no new jobs), the worker (its steps in hand
 * finished), the emulator (its requests saved), then the private Redis they all used.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { emulatorOptionsFrom } from '@renderq/segmind-emulator';
import { createLogger, loadConfigOrExit, logFormatFor } from '@renderq/shared';
import { Children } from './children.js';
import { devWebhookSecret } from './dev-webhook-secret.js';
import { busyPort, type PortSetting } from './free-ports.js';
import { PrivateRedis, redisAddress, redisAnswers } from './private-redis.js';

const config = loadConfigOrExit(process.env);
const format = logFormatFor(config.logFormat, process.stdout.isTTY === true);
const logger = createLogger({ level: config.logLevel, name: 'renderq', secrets: config.secrets, format });
const packagesDir = path.resolve(fileURLToPath(import.meta.url), '../../..');
const dataDir = path.resolve('data');
const useEmulator = !config.segmind.apiKey;
const API = 'API';
const WORKER = 'worker';
const EMULATOR = 'Segmind emulator';
/** Each stops once those before it have: nothing is left talking to a process that is gone. */
const STOP_ORDER = [API, WORKER, EMULATOR];
let emulatorPort: PortSetting | undefined;
/** Where the emulator keeps its requests: ./data/emulator unless EMULATOR_DATA_DIR says otherwise. */
let emulatorDataDir = path.join(dataDir, 'emulator');
if (useEmulator) {
  try {
    const options = emulatorOptionsFrom(process.env);
    emulatorPort = { setting: 'EMULATOR_PORT', host: options.host ?? '127.0.0.1', port: options.port ?? 8790 };
    emulatorDataDir = path.resolve(options.dataDir ?? emulatorDataDir);
  } catch (error) {
    logger.fatal(`the Segmind emulator's settings: ${(error as Error).message}`);
    process.exit(1);
  }
}

const children = new Children(logger);
let privateRedis: PrivateRedis | undefined;
/** Set when this run signs webhooks with the secret it keeps under ./data. */
let devSecretFile: string | undefined;
let stopping = false;

async function stopAll(exitCode: number): Promise<never> {
  stopping = true;
  await children.stopAll(STOP_ORDER);
  // Last: everything that used it has stopped.
  if (privateRedis) {
    await privateRedis.stop();
    logger.info(`the private Redis stopped (its data stays in ${path.relative('.', privateRedis.dir) || '.'})`);
  }
  logger.info('renderq stopped');
  process.exit(exitCode);
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    logger.info(
      `${signal === 'SIGINT' ? 'Ctrl-C' : signal}: stopping renderq — the API, the worker once its steps in hand finish, ` +
        `${useEmulator ? 'the emulator, ' : ''}${privateRedis ? 'then Redis' : 'leaving Redis running'}`,
    );
    void stopAll(0);
  });
}
children.onUnexpectedExit = (name, code) => {
  if (stopping) return;
  logger.error(`${name} stopped (exit code ${code ?? 'none'}): stopping the rest`);
  void stopAll(1);
};

async function main(): Promise<void> {
  const redisUp = await redisAnswers(config.redis.url);
  if (redisUp) {
    logger.info(
      `using the Redis already at ${redisAddress(config.redis.url)} (not started by renderq: the jobs live where that server keeps its data, and it keeps running after Ctrl-C)`,
    );
  } else {
    privateRedis = PrivateRedis.for(config.redis.url, dataDir);
    if (!privateRedis) {
      logger.fatal(`REDIS_URL=${config.redis.url}: no Redis answers there, and it is not on this machine`);
      process.exit(1);
    }
  }
  const busy = await busyPort([
    { setting: 'PORT', host: config.api.host, port: config.api.port },
    { setting: 'WORKER_METRICS_PORT', host: config.api.host, port: config.worker.metricsPort },
    ...(emulatorPort ? [emulatorPort] : []),
    ...(privateRedis ? [{ setting: 'REDIS_URL', host: '127.0.0.1', port: privateRedis.port }] : []),
  ]);
  if (busy) {
    logger.fatal(busy);
    process.exit(1);
  }
  if (privateRedis) {
    try {
      await privateRedis.start();
    } catch (error) {
      logger.fatal(
        `REDIS_URL=${config.redis.url}: nothing answers, and a private Redis could not start: ${(error as Error).message}`,
      );
      await stopAll(1);
    }
    logger.info(
      `started a private Redis at ${redisAddress(config.redis.url)} (data in ${path.relative('.', privateRedis.dir) || '.'}; it stops last on Ctrl-C)`,
    );
  }

  const env: NodeJS.ProcessEnv = { ...process.env };
  let segmind = config.segmind.baseUrl;
  if (useEmulator) {
    // Its requests outlive a restart, as Segmind's do: a job in flight at Ctrl-C finishes after the next start.
    const emulatorEnv = { ...env, EMULATOR_DATA_DIR: emulatorDataDir };
    const emulator = await children.startEmulator(path.join(packagesDir, 'segmind-emulator/dist/main.js'), emulatorEnv);
    segmind = emulator.url;
    Object.assign(env, { SEGMIND_BASE_URL: emulator.url, SEGMIND_API_KEY: emulator.apiKey });
    logger.info({ segmind }, 'SEGMIND_API_KEY is unset: using the bundled Segmind emulator');
  }

  // On one machine, webhooks are signed even without WEBHOOK_SECRET.
  if (!config.webhooks.secret && config.nodeEnv !== 'production') {
    const { secret, file, tightened } = await devWebhookSecret(dataDir);
    env.WEBHOOK_SECRET = secret;
    devSecretFile = file;
    if (tightened) logger.warn({ file }, 'the webhook secret file was readable by others: its mode is now 0600');
    logger.info({ file }, 'WEBHOOK_SECRET is unset: webhooks are signed with the secret kept in this file');
  }
  // The emulator's image URLs are local, and so are a developer's receivers; an API that others
  // can reach keeps refusing private addresses unless the operator says otherwise.
  if (useEmulator && process.env.WEBHOOK_ALLOW_PRIVATE === undefined && isLoopback(config.api.host)) {
    env.WEBHOOK_ALLOW_PRIVATE = 'true';
    logger.info(
      'with the emulator on 127.0.0.1, webhook and input-image URLs may be local (WEBHOOK_ALLOW_PRIVATE=true)',
    );
  }

  const local = `http://${urlHost(config.api.host)}`;
  await Promise.all([
    children.start(API, path.join(packagesDir, 'api/dist/main.js'), env, `${local}:${config.api.port}/healthz`),
    children.start(
      WORKER,
      path.join(packagesDir, 'worker/dist/main.js'),
      env,
      `${local}:${config.worker.metricsPort}/healthz`,
    ),
  ]);
  const api = config.api.publicBaseUrl;
  const where = {
    api,
    docs: `${api}/docs`,
    dashboard: `${api}/admin/queues`,
    metrics: `${api}/metrics`,
    worker_metrics: `${local}:${config.worker.metricsPort}/metrics`,
    segmind,
    redis: `${redisAddress(config.redis.url)}, ${privateRedis ? 'started by renderq' : 'already running (not started by renderq)'}`,
    data: `${dataDir} (${dataKept().join(', ') || 'nothing: all of it is kept elsewhere'})`,
  };
  if (format === 'json') logger.info(where, 'renderq is running; Ctrl-C stops it');
  else process.stdout.write(runningBanner(where));
  // The API's public /readyz names only the cause; the worker's, on its own port, names a storage problem.
  type NotReady = { reason?: string; storage?: string; pause?: { reason: string } | null };
  const notReady = (url: string) =>
    fetch(url).then(
      async (response) => {
        const body = (await response.json()) as NotReady;
        // Ready while paused (a pause kept in Redis from the last run, say): say so, since no job will run.
        if (response.ok && body.pause)
          logger.warn(`taking jobs is paused (${body.pause.reason}): renderq admin resume`);
        return response.ok ? undefined : body;
      },
      (error: unknown): NotReady => ({ reason: String(error) }),
    );
  const ready = await notReady(`${local}:${config.api.port}/readyz`);
  if (!ready) return;
  const detail =
    ready.reason === 'storage' ? (await notReady(`${local}:${config.worker.metricsPort}/readyz`))?.storage : undefined;
  logger.warn(`not ready yet: ${detail ?? ready.reason} (see ${api}/readyz)`);
}

/** What a person at a terminal needs next: where everything is. */
function runningBanner(where: Record<string, string>): string {
  const rows = [
    ['API', where.api],
    ['API docs', where.docs],
    ['dashboard', where.dashboard],
    ['metrics', `${where.metrics}, worker ${where.worker_metrics}`],
    ['Segmind', where.segmind],
    ['Redis', where.redis],
    ['data', where.data],
  ];
  const lines = rows.map(([name, value]) => `  ${(name as string).padEnd(10)} ${value}`);
  return `\nrenderq is running — Ctrl-C stops it\n${lines.join('\n')}\n\n`;
}

/** What this run keeps under ./data, so the banner names only what is there. */
function dataKept(): string[] {
  const inData = (dir: string) => !path.relative(dataDir, dir).startsWith('..');
  return [
    ...(privateRedis ? ['Redis'] : []),
    ...(useEmulator && inData(emulatorDataDir) ? ['emulator requests'] : []),
    ...(config.storage.kind === 'file' && inData(config.storage.dir) ? ['outputs'] : []),
    ...(devSecretFile ? ['webhook secret'] : []),
  ];
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

main().catch(async (error: unknown) => {
  if (stopping) return;
  logger.fatal((error as Error).message);
  await stopAll(1);
});
