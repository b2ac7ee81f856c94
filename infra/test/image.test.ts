// The image as infra/Dockerfile builds it: multi-stage, production dependencies only, the Node
// and pnpm of the repository, a non-root user and a health check. The health check itself runs
// here against stand-in servers: healthy on 200 (a paused API answers 200 too); unhealthy on any
// other answer or none. Its default ports are
// renderq's own.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadConfig } from '@renderq/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { infra, read, root } from './support.js';

const dockerfile = read('Dockerfile');
const stages = dockerfile.split(/^FROM /m).slice(1);
const runtime = stages.at(-1) ?? '';
const rootPackage = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  packageManager: string;
  engines: { node: string };
};
const script = path.join(infra, 'healthcheck.mjs');

describe('infra/Dockerfile', () => {
  it('builds in one stage and runs from another, on the Node the repository supports', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const majors = [...dockerfile.matchAll(/^FROM node:(\d+)-/gm)].map((m) => m[1]);
    expect(majors.length).toBe(stages.length);
    for (const major of majors) expect(rootPackage.engines.node).toContain(`^${major}.`);
    expect(new Set(majors).size).toBe(1);
  });

  it("installs the repository's pnpm", () => {
    const pinned = rootPackage.packageManager.replace(/^pnpm@/, '');
    expect(dockerfile).toContain(`npm install -g pnpm@${pinned} `);
  });

  it('deploys each runnable package with production dependencies only', () => {
    const deploys = [...dockerfile.matchAll(/&& pnpm deploy (.*)/g)].map((m) => m[1] as string);
    expect(deploys.map((d) => /--filter (\S+)/.exec(d)?.[1])).toEqual([
      '@renderq/api',
      '@renderq/worker',
      '@renderq/segmind-emulator',
    ]);
    for (const deploy of deploys) expect(deploy).toContain('--prod');
    expect(dockerfile).toContain('pnpm install --frozen-lockfile');
    // Only the deployed packages reach the runtime stage, not the build's node_modules.
    expect(runtime).toContain('COPY --from=build /out /app');
    expect(runtime).not.toMatch(/COPY \. /);
  });

  it('runs as a non-root user with a health check, the API by default', () => {
    expect(runtime).toMatch(/^USER node$/m);
    expect(runtime).toContain('COPY infra/healthcheck.mjs /app/healthcheck.mjs');
    expect(runtime).toMatch(/HEALTHCHECK [^\n]*\\\n\s+CMD \["node", "\/app\/healthcheck\.mjs"\]/);
    expect(runtime).toContain('CMD ["node", "--enable-source-maps", "api/dist/main.js"]');
  });

  it('leaves installed and built files and local secrets out of the build context', () => {
    const ignored = read('Dockerfile.dockerignore').split('\n');
    for (const entry of ['**/node_modules', '**/dist', '.git', '**/.env']) expect(ignored).toContain(entry);
  });
});

describe('infra/healthcheck.mjs', () => {
  let answer: { status: number; body: string } = { status: 200, body: '{}' };
  let server: Server;
  let port: number;
  const seen: string[] = [];

  beforeAll(async () => {
    server = createServer((request, response) => {
      seen.push(request.url ?? '');
      response.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  /** Runs the check as Docker would (asynchronously: the stand-in server answers from this process). */
  const check = (role: string, env: Record<string, string>) =>
    new Promise<{ status: number; stderr: string }>((resolve) => {
      execFile(process.execPath, [script, role], { env: { PATH: process.env.PATH, ...env } }, (error, _out, stderr) =>
        resolve({ status: error ? Number(error.code ?? 1) : 0, stderr }),
      );
    });

  it.each([
    ['api', 'PORT', '/readyz'],
    ['worker', 'WORKER_METRICS_PORT', '/readyz'],
    ['emulator', 'EMULATOR_PORT', '/_emulator/stats'],
  ])('finds the %s on %s and asks %s', async (role, variable, probe) => {
    answer = { status: 200, body: '{"status":"ready"}' };
    seen.length = 0;
    const result = await check(role, { [variable]: String(port) });
    expect(result.status, result.stderr).toBe(0);
    expect(seen).toEqual([probe]);
  });

  it('reads a paused API (200) as healthy, and anything that is not 200 as unhealthy', async () => {
    answer = { status: 200, body: '{"status":"ready","pause":{"reason":"out_of_credits"}}' };
    expect((await check('api', { PORT: String(port) })).status).toBe(0);
    answer = { status: 503, body: '{"status":"unavailable","reason":"Redis is not answering"}' };
    const result = await check('api', { PORT: String(port) });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('Redis is not answering');
    expect((await check('worker', { WORKER_METRICS_PORT: String(port) })).status).toBe(1);
  });

  it('is unhealthy when nothing answers, or the role is unknown', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const free = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const result = await check('api', { PORT: String(free) });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('ECONNREFUSED');
    expect((await check('nonsense', {})).status).toBe(1);
  });

  it("defaults to renderq's own ports, and tells the role from the container's command", async () => {
    const module = (await import(pathToFileURL(script).href)) as {
      DEFAULT_PORTS: Record<string, number>;
      roleOf: (commandLine: string) => string | undefined;
    };
    const defaults = loadConfig({});
    expect(module.DEFAULT_PORTS.api).toBe(defaults.api.port);
    expect(module.DEFAULT_PORTS.worker).toBe(defaults.worker.metricsPort);
    const emulatorEnv = readFileSync(path.join(root, 'packages/segmind-emulator/src/emulator-env.ts'), 'utf8');
    expect(emulatorEnv).toContain(`port: e.EMULATOR_PORT ?? ${module.DEFAULT_PORTS.emulator}`);
    expect(module.roleOf('node --enable-source-maps worker/dist/main.js ')).toBe('worker');
    expect(module.roleOf('node --enable-source-maps api/dist/main.js ')).toBe('api');
    expect(module.roleOf('node --enable-source-maps emulator/dist/main.js ')).toBe('emulator');
    expect(module.roleOf('/bin/sh')).toBeUndefined();
  });
});
