/**
 * `pnpm start`: all of renderq on one machine — the API and a worker as child
 * processes, a private Redis when none answers, and (with the emulator issue) the
 * Segmind emulator when SEGMIND_API_KEY is unset. Ctrl-C stops everything it started.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger, loadConfigOrExit } from '@renderq/shared';
import type { RedisServerProcess } from '@renderq/testing';
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
if (!config.segmind.apiKey) {
  logger.warn('SEGMIND_API_KEY is unset and the bundled emulator is not built yet: Segmind requests will be refused');
}

const children = new Map<string, ChildProcess>();
let stopping = false;

function startChild(name: string, script: string): void {
  // A process group of its own: a terminal's Ctrl-C reaches only the launcher, which sends each
  // child exactly one SIGTERM (a second signal would cut its graceful shutdown short). The IPC
  // channel tells a child when the launcher is gone, however it died.
  const child = spawn(process.execPath, ['--enable-source-maps', script], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: process.env,
    detached: true,
  });
  children.set(name, child);
  child.once('exit', (code, signal) => {
    children.delete(name);
    if (!stopping) {
      logger.error({ child: name, code, signal }, 'a renderq process stopped: stopping the others');
      void stopAll(1);
    }
  });
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

startChild('api', path.join(packagesDir, 'api/dist/main.js'));
startChild('worker', path.join(packagesDir, 'worker/dist/main.js'));
logger.info({ api: config.api.publicBaseUrl }, 'renderq is running; Ctrl-C stops it');

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(1);
    void stopAll(0);
  });
}
