/**
 * Polls per job and detection lag (Segmind finished → renderq's poll sees it), in
 * virtual time: the worker's own poll plan (learned from 256 earlier latencies, as the
 * worker keeps them) against a fixed 1 s poll (the Segmind SDK's), for lognormal
 * latencies with medians 2, 10 and 60 s and spreads σ 0.25 and 0.5. A simulation
 * rather than a run, so that 60 s latencies take no minutes; the timing of real polls
 * adds the poll's own round trip (milliseconds) to the lag.
 */
import { latencyQuantiles, nextPollInMs } from '@renderq/worker';
import type { Row } from '../table.js';

const SECTION = 'polls (simulated)';
const LAG_SHARE = 0.1;
const MAX_INTERVAL_MS = 15_000;

export function polls(jobs: number): Row[] {
  const rows: Row[] = [];
  const random = seeded(14);
  for (const medianS of [2, 10, 60]) {
    for (const sigma of [0.25, 0.5]) {
      const draw = () => medianS * 1000 * Math.exp(sigma * normal(random));
      const learned = latencyQuantiles(Array.from({ length: 256 }, draw));
      if (!learned) throw new Error('no quantiles from 256 samples');
      const ours = { polls: [] as number[], lag: [] as number[] };
      const fixed = { polls: [] as number[], lag: [] as number[] };
      for (let i = 0; i < jobs; i++) {
        const latency = draw();
        let t = 0;
        let n = 0;
        while (t < latency) {
          t += nextPollInMs(learned, t, { lagShare: LAG_SHARE, maxIntervalMs: MAX_INTERVAL_MS });
          n++;
        }
        ours.polls.push(n);
        ours.lag.push(t - latency);
        const fixedPolls = Math.max(1, Math.ceil(latency / 1000));
        fixed.polls.push(fixedPolls);
        fixed.lag.push(fixedPolls * 1000 - latency);
      }
      const label = `median ${medianS} s, σ ${sigma}`;
      const pollTarget = medianS === 60 ? 0.3 : medianS === 10 ? 0.5 : undefined;
      const oursPolls = quantile(ours.polls, 0.5);
      const fixedPollsMedian = quantile(fixed.polls, 0.5);
      const lagBound = LAG_SHARE * medianS * 1000;
      rows.push(
        {
          section: SECTION,
          metric: `${label}: polls/job, median`,
          renderq: oursPolls,
          baseline: fixedPollsMedian,
          baselineName: 'fixed 1 s poll',
          target: pollTarget ? `≤ ${pollTarget}× baseline` : undefined,
          met: pollTarget ? oursPolls <= pollTarget * fixedPollsMedian : undefined,
        },
        {
          section: SECTION,
          metric: `${label}: polls/job, p99`,
          renderq: quantile(ours.polls, 0.99),
          baseline: quantile(fixed.polls, 0.99),
          baselineName: 'fixed 1 s poll',
        },
        {
          section: SECTION,
          metric: `${label}: detection lag p50, ms`,
          renderq: quantile(ours.lag, 0.5),
          baseline: quantile(fixed.lag, 0.5),
          baselineName: 'fixed 1 s poll',
          target: `≤ ${lagBound.toLocaleString('en-US')} ms (10 % of median)`,
          met: quantile(ours.lag, 0.5) <= lagBound,
        },
        {
          section: SECTION,
          metric: `${label}: detection lag p99, ms`,
          renderq: quantile(ours.lag, 0.99),
          baseline: quantile(fixed.lag, 0.99),
          baselineName: 'fixed 1 s poll',
        },
      );
    }
  }
  return rows;
}

export function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

/** A small seeded generator (mulberry32), so that every run simulates the same latencies. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function normal(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}
