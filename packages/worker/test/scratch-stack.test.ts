import { it } from 'vitest';
import { jobFor, startStack } from './stack.js';

it('debug', async () => {
  const s = await startStack({ latencyScale: 0, submitRateLimit: { max: 40, windowMs: 1_000, windows: 'clock', resetLateMs: { min: 1000, max: 2000 } } });
  await Promise.all([s.startWorker({ WORKER_CONCURRENCY: '50' }), s.startWorker({ WORKER_CONCURRENCY: '50' })]);
  const t0 = Date.now();
  const ids = await s.createJobs(Array.from({ length: 500 }, (_, i) => jobFor('segmind-vega-rt-v1', `limited-${i}`)));
  let last = '';
  let switched = false;
  const timer = setInterval(async () => {
    if (!switched && Date.now() - t0 > 10_000) { switched = true; s.emulator.configure({ submitRateLimit: { max: 5, windowMs: 1_000, windows: 'clock', resetLateMs: { min: 1000, max: 2000 } } }); console.log(Date.now() - t0, 'SWITCH', s.emulator.stats().submits.accepted); }
    const keys = await s.redis.keys(`${s.prefix}:segmind-budget:*`);
    if (!keys[0]) return;
    const h = await s.redis.hgetall(keys[0]);
    const st = s.emulator.stats();
    const line = `rate=${Number(h.rate).toFixed(2)} ceil=${Number(h.ceil).toFixed(2)} win=${h.win} blocked=${Number(h.blocked ?? 0) - Date.now()} acc=${st.submits.accepted} 429=${st.errors['429'] ?? 0}`;
    if (switched && line.replace(/blocked=\S+/, '') !== last) console.log(Date.now() - t0, line, `busy=${Math.round(Number(h.busy))}`);
    last = line.replace(/blocked=\S+/, '');
  }, 50);
  await new Promise((r) => setTimeout(r, 28_000));
  clearInterval(timer);
  await s.close();
}, 120_000);
