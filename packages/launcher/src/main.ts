/**
 * `pnpm start`: all of renderq on one machine — the API and a worker as child
 * processes, a private Redis when none answers, and the Segmind emulator when
 * SEGMIND_API_KEY is unset. Ctrl-C stops everything it started.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createLogger, loadConfigOrExit } from '@renderq/shared';
import type { RedisServerProcess } from '@renderq/testing';
import { devWebhookSecret } from './dev-webhook-secret.js';
import { privateRedisFor, redisAnswers } from './private-redis.js';

const config = loadConfigOrExit(process.env);
const logger = createLogger({ level: config.logLevel, name: 'renderq', secrets: config.secrets });
const packagesDir = path.resolve(fileURLToPath(import.meta.url), '../../..');
const dataDir = path.resolve('data');

let redisServer: RedisServerProcess | undefined;
if (!(await redisAnswers(config.redis.url))) {
  redisServer = privateRedisFor(config.redis.url, dataDir);
  if (!redisServer) {
    logger.fatal({ redis: config.redis.url }, 'no Redis answers at REDIS_URL, and it is not on this machine');
    process.exit(1);
  }
  try {
    await redisServer.start();
  } catch (error) {
    logger.fatal({ err: error }, `no Redis answers at ${config.redis.url} and a private one could not start`);
    process.exit(1);
  }
  logger.info({ redis: config.redis.url, dir: path.join(dataDir, 'redis') }, 'started a private Redis');
}
const children = new Map<string, ChildProcess>();
let stopping = false;

function startChild(name: string, script: string, env: NodeJS.ProcessEnv, readStdout = false): ChildProcess {
  // A process group of its own: a terminal's Ctrl-C reaches only the launcher, which sends each
  // child exactly one SIGTERM (a second signal would cut its graceful shutdown short). The IPC
  // channel tells a child when the launcher is gone, however it died.
  const child = spawn(process.execPath, ['--enable-source-maps', script], {
    stdio: ['ignore', readStdout ? 'pipe' : 'inherit', 'inherit', 'ipc'],
    env,
    detached: true,
  });
  child.stdout?.pipe(process.stdout);
  children.set(name, child);
  child.once('exit', (code, signal) => {
    children.delete(name);
    if (!stopping) {
      logger.error({ child: name, code, signal }, 'a renderq process stopped: stopping the others');
      void stopAll(1);
    }
  });
  return child;
}

/** Starts the emulator and waits for the line that says where it listens. */
async function startEmulator(): Promise<{ url: string; apiKey: string }> {
  const child = startChild(
    'segmind-emulator',
    path.join(packagesDir, 'segmind-emulator/dist/main.js'),
    process.env,
    true,
  );
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).once('line', resolve);
    child.once('exit', () => reject(new Error('the Segmind emulator did not start (is EMULATOR_PORT free?)')));
  });
  const match = /listening on (\S+) \(x-api-key: ([^;]+);/.exec(line);
  if (!match) throw new Error(`unexpected emulator output: ${line}`);
  return { url: match[1] as string, apiKey: match[2] as string };
}

let segmindEnv: NodeJS.ProcessEnv = {};
if (!config.segmind.apiKey) {
  try {
    const emulator = await startEmulator();
    segmindEnv = { SEGMIND_BASE_URL: emulator.url, SEGMIND_API_KEY: emulator.apiKey };
    logger.info({ segmind: emulator.url }, 'SEGMIND_API_KEY is unset: using the bundled Segmind emulator');
  } catch (error) {
    logger.fatal({ err: error }, 'could not start the Segmind emulator');
    await stopAll(1);
  }
}

// On one machine, webhooks are signed even without WEBHOOK_SECRET, and (with the emulator, whose
// image URLs are local) local receivers and input images are allowed unless the operator says otherwise.
const webhookEnv: NodeJS.ProcessEnv = {};
if (!config.webhooks.secret && config.nodeEnv !== 'production') {
  const { secret, file, tightened } = await devWebhookSecret(dataDir);
  webhookEnv.WEBHOOK_SECRET = secret;
  if (tightened) logger.warn({ file }, 'the webhook secret file was readable by others: its mode is now 0600');
  logger.info({ file }, 'WEBHOOK_SECRET is unset: webhooks are signed with the secret kept in this file');
}
if (!config.segmind.apiKey && process.env.WEBHOOK_ALLOW_PRIVATE === undefined) {
  webhookEnv.WEBHOOK_ALLOW_PRIVATE = 'true';
  logger.info('with the emulator, webhook and input-image URLs may be local (WEBHOOK_ALLOW_PRIVATE=true)');
}

async function stopAll(exitCode: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  await Promise.all(
    [...children.values()].map(
      (child) =>
        new Promise<void>((resolve) => {
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
        }),
    ),
  );
  await redisServer?.stop();
  logger.info('renderq stopped');
  process.exit(exitCode);
}

const childEnv = { ...process.env, ...segmindEnv, ...webhookEnv };
startChild('api', path.join(packagesDir, 'api/dist/main.js'), childEnv);
startChild('worker', path.join(packagesDir, 'worker/dist/main.js'), childEnv);
logger.info({ api: config.api.publicBaseUrl }, 'renderq is running; Ctrl-C stops it');

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(1);
    void stopAll(0);
  });
}
