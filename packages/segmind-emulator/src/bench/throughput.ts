/**
 * `pnpm bench` (emulator): sustained requests per second for a submit → status →
 * result mix. The emulator runs in a process of its own, as it does for renderq,
 * and this process drives it over keep-alive connections, so the two cores are
 * split between server and load. Requests complete at once (latency scale 0):
 * what is measured is the protocol, which must never be a benchmark's bottleneck.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';

const DURATION_MS = Number(process.env.BENCH_SECONDS ?? 10) * 1000;
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64);
const KEY = 'emulator-key';

const main = fileURLToPath(new URL('../main.js', import.meta.url));
const child = spawn(
  process.execPath,
  [main, '--port=0', '--latency-scale=0', '--gpus=100000', '--credits=1000000000'],
  {
    stdio: ['ignore', 'pipe', 'inherit'],
  },
);
const url = await new Promise<string>((resolve, reject) => {
  createInterface({ input: child.stdout }).once('line', (line) => {
    const match = /listening on (\S+)/.exec(line);
    if (match) resolve(match[1] as string);
    else reject(new Error(`unexpected emulator output: ${line}`));
  });
  child.once('exit', (code) => reject(new Error(`emulator exited with ${code}`)));
});

const pool = new Pool(url, { connections: CONCURRENCY, pipelining: 1 });
const body = JSON.stringify({ prompt: 'benchmark', seed: 1 });
const counts = { submit: 0, status: 0, result: 0, errors: 0 };

async function call(method: 'GET' | 'POST', path: string, payload?: string): Promise<Record<string, unknown>> {
  const response = await pool.request({
    method,
    path,
    headers: { 'x-api-key': KEY, 'content-type': 'application/json' },
    ...(payload ? { body: payload } : {}),
  });
  const parsed = (await response.body.json()) as Record<string, unknown>;
  if (response.statusCode !== 200) counts.errors++;
  return parsed;
}

async function loop(deadline: number): Promise<void> {
  while (Date.now() < deadline) {
    const submitted = await call('POST', '/v2/segmind-vega-rt-v1', body);
    counts.submit++;
    const id = String(submitted.request_id);
    let status = '';
    while (status !== 'COMPLETED' && Date.now() < deadline) {
      status = String((await call('GET', `/v2/requests/${id}/status`)).status);
      counts.status++;
    }
    await call('GET', `/v2/requests/${id}`);
    counts.result++;
  }
}

// Warm up, then measure.
await Promise.all(Array.from({ length: CONCURRENCY }, () => loop(Date.now() + 1_000)));
Object.assign(counts, { submit: 0, status: 0, result: 0, errors: 0 });
const started = performance.now();
await Promise.all(Array.from({ length: CONCURRENCY }, () => loop(Date.now() + DURATION_MS)));
const seconds = (performance.now() - started) / 1000;
const total = counts.submit + counts.status + counts.result;

await pool.close();
child.kill('SIGTERM');

const print = (line: string) => process.stdout.write(`${line}\n`);
print('Segmind emulator throughput (submit → status → result, segmind-vega-rt-v1)');
print(`  ${CONCURRENCY} concurrent clients for ${seconds.toFixed(1)} s, emulator in its own process`);
print(`  submits ${counts.submit}, status polls ${counts.status}, results ${counts.result}, errors ${counts.errors}`);
print(`  sustained: ${Math.round(total / seconds)} requests/s (${Math.round(counts.submit / seconds)} jobs/s)`);
