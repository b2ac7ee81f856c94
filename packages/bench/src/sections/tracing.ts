/**
 * What OpenTelemetry tracing costs: the end-to-end batch (as the e2e section runs it, on fresh
 * processes) with tracing on — exporting OTLP (http/protobuf, the default) to a receiver in this
 * process, which is not counted — against the same batch with no OTEL_* set, and with tracing
 * disabled by OTEL_SDK_DISABLED. CPU per job of API + worker + Redis.
 *
 * Each run first takes a long warm-up. A fresh process spends its first thousands of jobs compiling
 * (V8 still optimizes tens of functions a second after the e2e section's 200-job warm-up), and
 * tracing's code is compiled then too: a cost each process pays once, not each job. So the per-job
 * figure is read where a worker spends its day, after the compiler has settled, and what the start
 * and the warm-up cost is shown beside it.
 *
 * On a shared machine the CPU a job costs drifts by tens of per cent from one minute to the next,
 * more than tracing costs, so runs one after another cannot be compared. Here each measured run
 * goes at the same time as a run with no OTEL_*, on a second renderq (its own Redis, API and
 * worker; the emulator is shared), so both see the same machine: their measured batches start
 * together, and the one done first keeps its renderq busy until the other is (RunPair). The
 * measured run takes the first renderq and the second in turn, so a difference between the two
 * weighs on both sides alike. The figure is the median of many such pairs' ratios; pairs of two
 * runs with no OTEL_* show the noise left, which a ratio is read against.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Stack, startBenchRedis } from '../processes.js';
import type { Row } from '../table.js';
import { type RenderqRun, RunPair, renderqRun } from './end-to-end.js';

const SECTION = 'tracing';

/** `again`: a second run with no OTEL_*, for the noise. */
type Setting = 'none' | 'on' | 'disabled' | 'again';

/** The pairs a round makes, each against a run with no OTEL_* at the same time: four with tracing on, one disabled, one again. */
const ROUND: readonly Setting[] = ['on', 'on', 'disabled', 'on', 'on', 'again'];

/**
 * The pairs of `rounds` rounds, each with the renderq its measured run takes: the first and the second
 * in turn, starting one later each round, so that the disabled and again pairs take both too.
 */
function plan(rounds: number): { setting: Setting; onFirst: boolean }[] {
  return Array.from({ length: rounds }, (_, round) =>
    ROUND.map((setting, i) => ({ setting, onFirst: (i + round) % 2 === 0 })),
  ).flat();
}

export async function tracing(stack: Stack, jobs: number, rounds: number, warmUpJobs: number): Promise<Row[]> {
  await stack.emulator.configure({ latencyScale: 0, latencyJitter: 0 });
  const sink = await startOtlpSink();
  const second: Stack = { ...stack, redis: await startBenchRedis() };
  const stacks = [stack, second] as const;
  try {
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url };
    const envOf: Record<Setting, Record<string, string>> = {
      none: {},
      on: endpoint,
      disabled: { ...endpoint, OTEL_SDK_DISABLED: 'true' },
      again: {},
    };
    const cpu: Record<Setting, number[]> = { none: [], on: [], disabled: [], again: [] };
    const ratios: Record<Setting, number[]> = { none: [], on: [], disabled: [], again: [] };
    const startRatios: number[] = [];
    let exported = 0;
    let exportedJobs = 0;
    let sentWhileOff = 0;
    for (const { setting, onFirst } of plan(rounds)) {
      const before = sink.bytes;
      const [measuredOn, baselineOn] = onFirst ? stacks : ([second, stack] as const);
      const pair = new RunPair();
      const [measuredRun, baselineRun] = await Promise.all([
        renderqRun(measuredOn, jobs, envOf[setting], warmUpJobs, pair),
        renderqRun(baselineOn, jobs, envOf.none, warmUpJobs, pair),
      ]);
      const [measured, baseline] = [perJob(measuredRun, jobs), perJob(baselineRun, jobs)];
      // Only the measured run may export: the baseline has no OTEL_*.
      if (setting === 'on') {
        exported += sink.bytes - before;
        exportedJobs += measuredRun.allJobs;
        startRatios.push(measuredRun.startCpuMs / baselineRun.startCpuMs);
      } else sentWhileOff += sink.bytes - before;
      cpu[setting].push(measured);
      cpu.none.push(baseline);
      ratios[setting].push(measured / baseline);
    }
    const ratio = (setting: Setting) => median(ratios[setting]);
    const range = (setting: Setting) =>
      `${Math.min(...ratios[setting]).toFixed(3)} to ${Math.max(...ratios[setting]).toFixed(3)}`;
    // The noise the disabled ratio is read against: what two runs of the same code differ by, and what
    // a median of so few pairs is good to (two standard errors, the spread read from the traced pairs).
    const noise = Math.max(
      ...ratios.again.map((r) => Math.abs(r - 1)),
      2 * medianStandardError(ratios.on, ratios.disabled.length),
      0.02,
    );
    const noiseNote = `pairs of two runs with no OTEL_*: ${ratios.again.map((r) => r.toFixed(3)).join(', ')}`;
    const baselineName = `no OTEL_*, median of ${cpu.none.length} runs`;
    return [
      {
        section: SECTION,
        metric: 'CPU ms/job, API + worker + Redis, tracing on',
        renderq: median(cpu.on),
        baseline: median(cpu.none),
        baselineName,
        target: '≤ 1.05× baseline',
        met: ratio('on') <= 1.05,
        note: `median of ${ratios.on.length} pairs of ${jobs}-job runs, each after a ${warmUpJobs}-job warm-up: ${ratio('on').toFixed(3)}× the run with no OTEL_* (pairs ${range('on')}); the start and the warm-up (API + worker) ${median(startRatios).toFixed(3)}×; ${(exported / 1024 / exportedJobs).toFixed(2)} KiB of OTLP a job; ${noiseNote}`,
      },
      {
        section: SECTION,
        metric: 'CPU ms/job, API + worker + Redis, OTEL_SDK_DISABLED=true',
        renderq: median(cpu.disabled),
        baseline: median(cpu.none),
        baselineName,
        target: '= baseline, within the noise',
        met: Math.abs(ratio('disabled') - 1) <= noise,
        note: `median of ${ratios.disabled.length} pairs: ${ratio('disabled').toFixed(3)}× (pairs ${range('disabled')}), read against ±${noise.toFixed(3)}; ${sentWhileOff} bytes of OTLP sent with tracing off; ${noiseNote}`,
      },
    ];
  } finally {
    await Promise.all([sink.close(), second.redis.stop()]);
  }
}

function perJob(run: RenderqRun, jobs: number): number {
  return ((run.cpu.api ?? 0) + (run.cpu.worker ?? 0) + (run.cpu.redis ?? 0)) / jobs;
}

/**
 * The standard error of a median of `n` pairs, from the spread of `pairs` (their median absolute
 * deviation, scaled as for a normal spread): here a median of three pairs is good to a few per cent.
 */
function medianStandardError(pairs: readonly number[], n: number): number {
  if (pairs.length === 0 || n === 0) return 0;
  const middle = median(pairs);
  const deviation = 1.4826 * median(pairs.map((r) => Math.abs(r - middle)));
  return (1.2533 * deviation) / Math.sqrt(n);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** An OTLP/HTTP receiver that answers every export 200 and counts its bytes. */
async function startOtlpSink(): Promise<{ url: string; readonly bytes: number; close(): Promise<void> }> {
  let bytes = 0;
  const server: Server = createServer((request, response) => {
    request.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    request.on('end', () => response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get bytes() {
      return bytes;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
