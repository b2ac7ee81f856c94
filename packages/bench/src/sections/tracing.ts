/**
 * What OpenTelemetry tracing costs: the end-to-end batch (as the e2e section runs it) with no
 * OTEL_* set, with tracing disabled by OTEL_SDK_DISABLED, and with it on — exporting OTLP
 * (http/protobuf, the default) to a receiver in this process, which is not counted. CPU per job of
 * API + worker + Redis for each, as the median of a few rounds after one run that warms the machine
 * up; the spread of the runs without OTEL_* shows the noise that the other two are read against.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Stack } from '../processes.js';
import type { Row } from '../table.js';
import { type RenderqRun, renderqRun } from './end-to-end.js';

const SECTION = 'tracing';

type Setting = 'none' | 'disabled' | 'on';

export async function tracing(stack: Stack, jobs: number, rounds: number): Promise<Row[]> {
  await stack.emulator.configure({ latencyScale: 0, latencyJitter: 0 });
  const sink = await startOtlpSink();
  try {
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url };
    const envOf: Record<Setting, Record<string, string>> = {
      none: {},
      disabled: { ...endpoint, OTEL_SDK_DISABLED: 'true' },
      on: endpoint,
    };
    const cpu: Record<Setting, number[]> = { none: [], disabled: [], on: [] };
    let sentWhileOff = 0;
    let exported = 0;
    const order: Setting[] = ['none', 'disabled', 'on'];
    // The first run on a fresh Redis and a cold machine costs more than any after it: not counted.
    await renderqRun(stack, jobs, envOf.on);
    // Each round in another order, so that a machine growing busier or quieter weighs on all three alike.
    for (let round = 0; round < rounds; round += 1) {
      for (const setting of [...order.slice(round % 3), ...order.slice(0, round % 3)]) {
        const before = sink.bytes;
        cpu[setting].push(perJob(await renderqRun(stack, jobs, envOf[setting]), jobs));
        if (setting === 'on') exported += sink.bytes - before;
        else sentWhileOff += sink.bytes - before;
      }
    }
    // Each round's runs against that round's run without OTEL_*: the drift between rounds cancels out.
    const ratio = (setting: Setting) => median(cpu[setting].map((ms, round) => ms / (cpu.none[round] as number)));
    const spread = Math.max(...cpu.none) / Math.min(...cpu.none) - 1;
    const baselineName = `no OTEL_* (median of ${rounds} rounds)`;
    const runs = (setting: Setting) => cpu[setting].map((ms) => ms.toFixed(2)).join(', ');
    const noiseNote = `without OTEL_*: ${runs('none')} ms (spread ${(100 * spread).toFixed(1)} %)`;
    const paired = (setting: Setting) => {
      const each = cpu[setting].map((ms, round) => (ms / (cpu.none[round] as number)).toFixed(3));
      return `${ratio(setting).toFixed(3)}× the same round's run without OTEL_* (median of ${each.join(', ')})`;
    };
    return [
      {
        section: SECTION,
        metric: 'CPU ms/job, API + worker + Redis, tracing on',
        renderq: median(cpu.on),
        baseline: median(cpu.none),
        baselineName,
        target: '≤ 1.05× baseline, round by round',
        met: ratio('on') <= 1.05,
        note: `${paired('on')}; runs ${runs('on')} ms; ${(exported / 1024 / jobs / rounds).toFixed(2)} KiB of OTLP a job; ${noiseNote}`,
      },
      {
        section: SECTION,
        metric: 'CPU ms/job, API + worker + Redis, OTEL_SDK_DISABLED=true',
        renderq: median(cpu.disabled),
        baseline: median(cpu.none),
        baselineName,
        target: '= baseline, within the noise',
        met: Math.abs(ratio('disabled') - 1) <= Math.max(spread, 0.02),
        note: `${paired('disabled')}; runs ${runs('disabled')} ms; ${sentWhileOff} bytes of OTLP sent with tracing off; ${noiseNote}`,
      },
    ];
  } finally {
    await sink.close();
  }
}

function perJob(run: RenderqRun, jobs: number): number {
  return ((run.cpu.api ?? 0) + (run.cpu.worker ?? 0) + (run.cpu.redis ?? 0)) / jobs;
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
