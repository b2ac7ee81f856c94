/**
 * `pnpm bench` (API): jobs per second for single POST /v1/jobs at 50 concurrent
 * connections, and seconds to accept one 10,000-job batch. The API runs as
 * `pnpm start:api` does, in a process of its own, against its own Redis (AOF on);
 * this process drives it.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort, startRedis, uniqueName } from '@renderq/testing';
import { Pool } from 'undici';

const print = (line: string) => process.stdout.write(`${line}\n`);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = 50;
const KEY = 'bench-key-0123456789';

const redis = await startRedis({ own: true });
const port = await freePort();
const api = spawn(process.execPath, [fileURLToPath(new URL('../main.js', import.meta.url))], {
  env: {
    PATH: process.env.PATH ?? '',
    REDIS_URL: redis.url,
    RENDERQ_PREFIX: uniqueName('bench'),
    RENDERQ_API_KEYS: `bench:${KEY}`,
    PORT: String(port),
    LOG_LEVEL: 'warn',
    // The enqueue rate is charged on every request (its cost is measured) but never reached.
    TENANT_ENQUEUE_RATE: '10000000',
    TENANT_ENQUEUE_BURST: '100000000',
  },
  stdio: ['ignore', 'inherit', 'inherit'],
});
const url = `http://127.0.0.1:${port}`;
while (
  !(await fetch(`${url}/healthz`).then(
    (r) => r.ok,
    () => false,
  ))
)
  await new Promise((r) => setTimeout(r, 100));

const pool = new Pool(url, { connections: CONNECTIONS, pipelining: 1 });
const headers = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };
const job = JSON.stringify({ model: 'segmind-vega', input: { prompt: 'a lighthouse at dusk', seed: 42 } });
let accepted = 0;
let refused = 0;

async function client(deadline: number): Promise<void> {
  while (Date.now() < deadline) {
    const response = await pool.request({ method: 'POST', path: '/v1/jobs', headers, body: job });
    await response.body.dump();
    if (response.statusCode === 202) accepted++;
    else refused++;
  }
}

// Warm up, then measure.
await Promise.all(Array.from({ length: CONNECTIONS }, () => client(Date.now() + 2_000)));
accepted = 0;
const started = performance.now();
await Promise.all(Array.from({ length: CONNECTIONS }, () => client(Date.now() + SECONDS * 1000)));
const elapsed = (performance.now() - started) / 1000;

const batch = JSON.stringify({
  jobs: Array.from({ length: 10_000 }, (_, i) => ({ model: 'segmind-vega', input: { prompt: `frame ${i}` } })),
});
const times: number[] = [];
for (let run = 0; run < 3; run++) {
  const t = performance.now();
  const response = await pool.request({ method: 'POST', path: '/v1/batches', headers, body: batch });
  const body = (await response.body.json()) as { counts?: { total: number } };
  times.push((performance.now() - t) / 1000);
  if (response.statusCode !== 202 || body.counts?.total !== 10_000)
    throw new Error(`batch answered ${response.statusCode}`);
}

print('Enqueue API (one process, its own Redis)');
print(
  `  single POST /v1/jobs, ${CONNECTIONS} connections, ${elapsed.toFixed(1)} s: ${Math.round(accepted / elapsed)} jobs/s (${refused} refused)`,
);
print(
  `  one 10,000-job batch accepted in ${times.map((t) => t.toFixed(2)).join(' s, ')} s (best ${Math.min(...times).toFixed(2)} s)`,
);

await pool.close();
api.kill('SIGTERM');
await new Promise((resolve) => api.once('exit', resolve));
await redis.stop();
