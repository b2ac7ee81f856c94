/**
 * `pnpm bench [--quick] [--json] [--only=section,…] [--cpu-prof=DIR]`: renderq measured beside its
 * baselines in one run — its own Redis, Segmind emulator (benchmark mode) and file
 * storage — printed as one table: renderq's figure, the baseline's, their ratio, the
 * target. `--quick` runs every section shorter, for development; its figures are rougher.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  killStartedChildren,
  profileRenderqInto,
  type Stack,
  startBenchEmulator,
  startBenchRedis,
} from './processes.js';
import { endToEnd } from './sections/end-to-end.js';
import { enqueue } from './sections/enqueue.js';
import { fairness } from './sections/fairness.js';
import { inflight } from './sections/inflight.js';
import { polls } from './sections/polls.js';
import { rateLimits } from './sections/rate-limits.js';
import { recovery } from './sections/recovery.js';
import { streams } from './sections/streams.js';
import { tracing } from './sections/tracing.js';
import { webhooks } from './sections/webhooks.js';
import { type Row, renderJson, renderTable } from './table.js';

const args = new Set(process.argv.slice(2));
const quick = args.has('--quick');
const json = args.has('--json');
const only = [...args]
  .find((a) => a.startsWith('--only='))
  ?.slice('--only='.length)
  .split(',');
const cpuProfileDir = [...args].find((a) => a.startsWith('--cpu-prof='))?.slice('--cpu-prof='.length);
if (cpuProfileDir) profileRenderqInto(path.resolve(cpuProfileDir));

type Section = { name: string; run: (stack: Stack) => Promise<Row[]> };
const sections: Section[] = [
  { name: 'e2e', run: (stack) => endToEnd(stack, quick ? 600 : 3_000) },
  { name: 'enqueue', run: (stack) => enqueue(stack, quick ? 3 : 8) },
  { name: 'polls', run: async () => polls(quick ? 2_000 : 20_000) },
  {
    name: 'inflight',
    run: (stack) => (quick ? inflight(stack, [500, 2_000], 10_000) : inflight(stack, [1_000, 10_000], 30_000)),
  },
  {
    name: 'rate',
    run: (stack) =>
      rateLimits(
        stack,
        quick
          ? { phaseMs: 16_000, idleMs: 15_000, minuteWindowMs: 6_000, minuteWindows: 5 }
          : { phaseMs: 30_000, idleMs: 60_000, minuteWindowMs: 60_000, minuteWindows: 4 },
      ),
  },
  {
    name: 'fairness',
    run: (stack) =>
      fairness(
        stack,
        quick
          ? { windowMs: 15_000, heavy: 300, each: 100, trickleSeconds: 10, offCapMs: 40_000 }
          : { windowMs: 60_000, heavy: 1_500, each: 300, trickleSeconds: 30, offCapMs: 120_000 },
      ),
  },
  { name: 'recovery', run: (stack) => recovery(stack) },
  { name: 'streams', run: (stack) => streams(stack, quick ? 200 : 1_000, quick ? 2_000 : 10_000) },
  { name: 'webhooks', run: (stack) => webhooks(stack, quick ? 1_000 : 5_000, quick ? 3 : 10) },
  { name: 'tracing', run: (stack) => tracing(stack, quick ? 600 : 1_500, quick ? 1 : 3, quick ? 1_000 : 3_000) },
];

const log = (line: string) => process.stderr.write(`${line}\n`);
const started = Date.now();
const stack: Stack = {
  redis: await startBenchRedis(),
  emulator: await startBenchEmulator(),
  storageDir: await mkdtemp(path.join(os.tmpdir(), 'renderq-bench-files-')),
};
const rows: Row[] = [];
try {
  for (const section of sections) {
    if (only && !only.includes(section.name)) continue;
    const t = Date.now();
    log(`bench: ${section.name}…`);
    rows.push(...(await section.run(stack)));
    log(`bench: ${section.name} done in ${((Date.now() - t) / 1000).toFixed(0)} s`);
  }
} finally {
  killStartedChildren();
  await stack.emulator.stop();
  await stack.redis.stop();
  await rm(stack.storageDir, { recursive: true, force: true });
}
const meta = {
  mode: quick ? 'quick' : 'full',
  seconds: Math.round((Date.now() - started) / 1000),
  machine: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
  date: new Date().toISOString(),
};
if (json) process.stdout.write(`${renderJson(rows, meta)}\n`);
else
  process.stdout.write(
    `renderq benchmark (${meta.mode}, ${meta.seconds} s; ${meta.machine}; ${meta.date})\n\n${renderTable(rows)}\n`,
  );
