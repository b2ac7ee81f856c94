// docs/cli.md against what `renderq` prints: its sample of `renderq models` as the built CLI prints it from a
// running API, and the commands, options, variables and exit codes as `--help` gives them, both ways.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { buildApp } from '@renderq/api';
import { closeRedis, createLogger, createMetrics, createRedis, loadConfig } from '@renderq/shared';
import { freePort, type RedisHandle, startRedis, uniqueName } from '@renderq/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../src/exit-codes.js';
import { REPO_ROOT, renderq } from './system.js';

const docs = readFileSync(path.join(REPO_ROOT, 'docs/cli.md'), 'utf8');
const CLI = path.join(REPO_ROOT, 'packages/cli/dist/main.js');

/** `renderq ARGS` needing no API (help texts), stdout only. */
async function help(...args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, [CLI, ...args, '--help'], {
    env: { PATH: process.env.PATH ?? '' },
  });
  return stdout;
}

/** The rows of the first table after `heading`, as cells. */
function table(heading: string): string[][] {
  const start = docs.indexOf(`\n${heading}\n`);
  expect(start, `no heading "${heading}"`).toBeGreaterThan(-1);
  const lines = docs.slice(start + heading.length + 2).split('\n');
  const first = lines.findIndex((line) => line.startsWith('|'));
  const rows = lines.slice(first);
  return rows
    .slice(
      2,
      rows.findIndex((line) => !line.startsWith('|')),
    )
    .map((line) =>
      line
        .split(/(?<!\\)\|/)
        .slice(1, -1)
        .map((cell) => cell.trim()),
    );
}

describe('the sample of `renderq models` in docs/cli.md', () => {
  let redisServer: RedisHandle;
  let redis: ReturnType<typeof createRedis>;
  let app: Awaited<ReturnType<typeof buildApp>>;
  let dir: string;
  let url: string;

  beforeAll(async () => {
    [redisServer, dir] = await Promise.all([startRedis(), mkdtemp(path.join(tmpdir(), 'renderq-cli-docs-'))]);
    const port = await freePort();
    const config = loadConfig({
      REDIS_URL: redisServer.url,
      RENDERQ_PREFIX: uniqueName('cli-docs'),
      STORAGE_URL: `file://${path.join(dir, 'storage')}`,
      PORT: String(port),
      LOG_LEVEL: 'warn',
    });
    redis = createRedis(redisServer.url, 'client');
    app = await buildApp({
      config,
      logger: createLogger({ level: 'silent', name: 'renderq-api', secrets: config.secrets }),
      redis,
      metrics: createMetrics({ processMetrics: false }),
    });
    await app.listen({ host: '127.0.0.1', port });
    url = `http://127.0.0.1:${port}`;
  });

  afterAll(async () => {
    await app?.close();
    if (redis) await closeRedis(redis);
    await redisServer?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('is what the CLI prints, line for line, `…` standing for the lines left out', async () => {
    const heading = docs.indexOf('### `renderq models [NAME]`');
    const sample = docs.slice(
      docs.indexOf('```\n', heading) + 4,
      docs.indexOf('\n```', docs.indexOf('```\n', heading) + 4),
    );
    const name = sample.split(/\s/)[0] as string;
    const run = await renderq({ url }, ['models', name]);
    expect(run.code).toBe(0);
    const printed = run.stdout.trimEnd().split('\n');
    // Each sample line in order, each run of them together; `…` skips any number of printed lines.
    let at = 0;
    const missing: string[] = [];
    let skipping = false;
    for (const line of sample.split('\n')) {
      if (line.trim() === '…') {
        skipping = true;
        continue;
      }
      const found = skipping ? printed.indexOf(line, at) : printed[at] === line ? at : -1;
      if (found === -1) missing.push(line);
      else at = found + 1;
      skipping = false;
    }
    expect(missing, `printed:\n${run.stdout}`).toEqual([]);
  });
});

describe('docs/cli.md and `renderq --help`', () => {
  it('has a section for every command, and none for a command there is not', async () => {
    const commands = [...(await help()).split('Commands:\n')[1]!.matchAll(/^ {2}([a-z]+) /gm)]
      .map((match) => match[1] as string)
      .filter((command) => command !== 'help');
    const sections = [...docs.matchAll(/^### `renderq ([a-z]+)/gm)].map((match) => match[1] as string);
    expect(sections).toEqual(commands);
  });

  it("names every command's every option, and none the CLI does not take", async () => {
    const commands = [...docs.matchAll(/^### `renderq ([a-z]+)/gm)].map((match) => match[1] as string);
    const admin = ['status', 'pause', 'resume', 'tenants'].map((sub) => ['admin', sub]);
    const helps = await Promise.all(
      [[], ...commands.map((command) => [command]), ...admin].map((args) => help(...args)),
    );
    const options = new Set(helps.flatMap((text) => [...text.matchAll(/(?<=[\s,])--[a-z][a-z-]*/g)].map((m) => m[0])));
    options.delete('--help');
    options.delete('--version');
    const documented = new Set([...docs.matchAll(/(?<![\w-])--[a-z][a-z-]*/g)].map((match) => match[0]));
    expect([...options].filter((option) => !documented.has(option))).toEqual([]);
    expect([...documented].filter((option) => !options.has(option))).toEqual([]);
  });

  it('gives every exit code, as --help does', async () => {
    const documented = table('## Exit codes').map(([code]) => Number(code?.replaceAll('`', '')));
    expect(documented).toEqual(Object.values(EXIT));
    const helped = [...(await help()).split('Exit codes:\n')[1]!.matchAll(/^ {2}(\d+) /gm)].map((m) => Number(m[1]));
    expect(helped).toEqual(Object.values(EXIT));
  });

  it('gives every environment variable, as --help does', async () => {
    const documented = table('## Connecting').map(([variable]) => variable?.replaceAll('`', ''));
    const helped = [...(await help()).split('Environment:\n')[1]!.matchAll(/^ {2}([A-Z_]+) /gm)].map((m) => m[1]);
    expect(documented).toEqual(helped);
  });
});
