// @renderq/client as npm users get it: `pnpm pack` in packages/client, the tarball
// installed with npm (offline: it has no dependencies) into an empty project, and used
// from plain Node ESM against a running renderq (the API in this process, a worker, the
// Segmind emulator); its types checked by TypeScript as a consumer's compiler sees them.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { buildApp } from '@renderq/api';
import { type Emulator, startEmulator } from '@renderq/segmind-emulator';
import { closeRedis, createLogger, createMetrics, createRedis, loadConfig } from '@renderq/shared';
import { freePort, type RedisHandle, startRedis, uniqueName } from '@renderq/testing';
import { spawnWorker, type WorkerChild } from '@renderq/worker/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../../..', import.meta.url));
const CLIENT = path.join(REPO, 'packages/client');
const API_KEY = 'packed-client-key-0123456789';

let redisServer: RedisHandle;
let emulator: Emulator;
let redis: ReturnType<typeof createRedis>;
let app: Awaited<ReturnType<typeof buildApp>>;
let worker: WorkerChild;
let dir: string;
let project: string;
let tarball: string;
let baseUrl: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'renderq-packed-'));
  project = path.join(dir, 'project');
  [redisServer, emulator] = await Promise.all([
    startRedis(),
    startEmulator({ latencyScale: 0.02, latencyJitter: 0, gpusPerModel: 100 }),
    // Packed as built (`pnpm test` builds first): its prepack script's clean rebuild would take dist/ away
    // from the processes of other test files that import the client meanwhile.
    run('pnpm', ['pack', '--ignore-scripts', '--pack-destination', dir], { cwd: CLIENT }),
  ]);
  tarball = path.join(dir, (await readdir(dir)).find((name) => name.endsWith('.tgz')) as string);
  const port = await freePort();
  const env = {
    REDIS_URL: redisServer.url,
    RENDERQ_PREFIX: uniqueName('packed'),
    RENDERQ_API_KEYS: `packed:${API_KEY}`,
    STORAGE_URL: `file://${path.join(dir, 'storage')}`,
    PORT: String(port),
    SEGMIND_BASE_URL: emulator.url,
    SEGMIND_API_KEY: emulator.apiKey,
    OUTPUT_LINK_SECRET: 'packed client output link secret 0123456789',
    LOG_LEVEL: 'warn',
  };
  const config = loadConfig(env);
  redis = createRedis(redisServer.url, 'client');
  app = await buildApp({
    config,
    logger: createLogger({ level: 'silent', name: 'renderq-api', secrets: config.secrets }),
    redis,
    metrics: createMetrics({ processMetrics: false }),
  });
  await app.listen({ host: '127.0.0.1', port });
  worker = await spawnWorker({ env: { ...env, WORKER_METRICS_PORT: String(await freePort()) }, captureOutput: true });
  baseUrl = `http://127.0.0.1:${port}`;
}, 120_000);

afterAll(async () => {
  if (worker?.child.exitCode === null) {
    worker.child.kill('SIGTERM');
    await worker.exited;
  }
  await app?.close();
  if (redis) await closeRedis(redis);
  await Promise.all([emulator?.close(), redisServer?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the packed @renderq/client', () => {
  it('holds only the built code, its types, the README and the licence, and declares what npm needs', async () => {
    const { stdout } = await run('tar', ['-tzf', tarball]);
    const files = stdout.trim().split('\n').sort();
    expect(files).toContain('package/README.md');
    expect(files).toContain('package/dist/index.js');
    expect(files).toContain('package/dist/index.d.ts');
    expect(
      files.filter((file) => !/^package\/(dist\/[\w-]+\.(js|d\.ts)|README\.md|LICENSE|package\.json)$/.test(file)),
    ).toEqual([]);
    expect(files).toContain('package/LICENSE');

    const { stdout: manifest } = await run('tar', ['-xzOf', tarball, 'package/package.json']);
    const packed = JSON.parse(manifest) as Record<string, unknown>;
    expect(packed).toMatchObject({
      name: '@renderq/client',
      license: 'MIT',
      type: 'module',
      types: './dist/index.d.ts',
      engines: { node: expect.stringMatching(/^>=20\.18/) },
      // The monorepo's `source` condition (TypeScript sources) is not in the published package.
      exports: { '.': { types: './dist/index.d.ts', default: './dist/index.js' } },
    });
    expect(packed.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(packed.private).toBeUndefined();
    expect(packed.dependencies ?? {}).toEqual({});
    expect(manifest).not.toContain('workspace:');
  });

  it('installs offline with npm into an empty project and works from plain Node ESM against renderq', async () => {
    await mkdir(project);
    await writeFile(
      path.join(project, 'package.json'),
      JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
    );
    await run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--loglevel=error', tarball], {
      cwd: project,
      env: { ...process.env, npm_config_cache: path.join(dir, 'npm-cache') },
    });
    // Nothing but the client itself was installed.
    expect((await readdir(path.join(project, 'node_modules'))).filter((name) => !name.startsWith('.'))).toEqual([
      '@renderq',
    ]);

    await writeFile(
      path.join(project, 'app.mjs'),
      `import { createHash } from 'node:crypto';
import { RenderqApiError, RenderqClient, signWebhook, verifyWebhook, WebhookVerificationError } from '@renderq/client';

const client = new RenderqClient({ baseUrl: process.env.RENDERQ_URL, apiKey: process.env.RENDERQ_API_KEY });
const models = (await client.models()).map((model) => model.name);
const created = await client.createJob({ model: 'segmind-vega', input: { prompt: 'a lighthouse', seed: 7 } }, { idempotencyKey: 'packed-1' });
const job = await client.waitForJob(created.id, { intervalMs: 50, timeoutMs: 30000 });
const bytes = await client.downloadOutput(job, 0);
const batch = await client.createBatchStream([1, 2].map((i) => ({ model: 'segmind-vega-rt-v1', input: { prompt: 'harbour ' + i } })));
const finished = await client.waitForBatch(batch.id, { intervalMs: 50, timeoutMs: 30000 });
const batchJobs = [];
for await (const each of client.batchJobs(batch.id)) batchJobs.push(each.status);
const refused = await client.createJob({ model: 'segmind-vega', input: { samples: 9 } }).catch((error) => error);
const secret = 'whsec_' + Buffer.from('a packed client test secret, 32 bytes').toString('base64');
const body = JSON.stringify({ type: 'job.completed', timestamp: new Date().toISOString(), data: job });
const verified = verifyWebhook(secret, signWebhook(secret, 'evt_1', body), body);
const forged = (() => { try { verifyWebhook(secret, signWebhook(secret, 'evt_1', body), body + ' '); } catch (error) { return error; } })();
console.log(JSON.stringify({
  models,
  status: job.status,
  sha256Matches: createHash('sha256').update(bytes).digest('hex') === job.outputs[0].sha256,
  batch: { status: finished.status, counts: finished.counts, jobs: batchJobs },
  refused: { isApiError: refused instanceof RenderqApiError, status: refused.status, paths: refused.problem.errors.map((e) => e.path) },
  webhook: { id: verified.data.id, forgedReason: forged instanceof WebhookVerificationError ? forged.reason : null },
}));
`,
    );
    const { stdout } = await run(process.execPath, ['app.mjs'], {
      cwd: project,
      env: { PATH: process.env.PATH ?? '', RENDERQ_URL: baseUrl, RENDERQ_API_KEY: API_KEY },
    });
    const result = JSON.parse(stdout);
    expect(result).toMatchObject({
      status: 'completed',
      sha256Matches: true,
      batch: { status: 'completed', counts: { total: 2, completed: 2 }, jobs: ['completed', 'completed'] },
      refused: { isApiError: true, status: 400, paths: ['input.prompt', 'input.samples'] },
      webhook: { forgedReason: 'bad_signature' },
    });
    expect(result.models).toContain('segmind-vega');

    // The types resolve through `exports` as a consumer's TypeScript sees them, and hold.
    await writeFile(
      path.join(project, 'check.ts'),
      `import { type Job, RenderqApiError, RenderqClient, verifyWebhook, type WebhookPayload } from '@renderq/client';
const client = new RenderqClient({ baseUrl: 'http://127.0.0.1:8080' });
export async function outputsOf(id: string): Promise<readonly string[]> {
  const job: Job = await client.getJob(id);
  return job.outputs.map((output) => output.sha256);
}
export const payload: (body: string) => WebhookPayload = (body) => verifyWebhook('whsec_x', {}, body);
export const status = (error: RenderqApiError): number => error.status;
// @ts-expect-error a job needs its model
void client.createJob({ input: {} });
`,
    );
    await writeFile(
      path.join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2022',
          strict: true,
          noEmit: true,
          // As most consumers compile (checking all of @types/node costs seconds); the @ts-expect-error line
          // fails if the client's types do not resolve, since its import would then be an error or `any`.
          skipLibCheck: true,
          types: [],
        },
        files: ['check.ts'],
      }),
    );
    const tsc = path.join(REPO, 'node_modules/typescript/bin/tsc');
    const checked = await run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: project }).catch(
      (error: { stdout: string }) => error,
    );
    expect(checked.stdout).toBe('');
  }, 90_000);
});
