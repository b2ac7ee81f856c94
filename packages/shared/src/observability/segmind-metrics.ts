/**
 * The metrics of renderq's calls to Segmind: requests by operation and answer, the
 * credits left, the requests in flight, the shared submit budget, polls per job, and
 * the submits whose answer never came.
 */
import { Counter, Histogram, type Registry } from 'prom-client';
import type { ClosedCounter, LabelsOf } from './metric-labels.js';
import type { MetricReadings } from './metric-sources.js';
import { ObservedGauge } from './observed-gauge.js';

export const segmindRequests = (registers: Registry[]) =>
  new Counter({
    name: 'renderq_segmind_requests_total',
    help: 'Requests to Segmind by operation and HTTP status code ("error" when no answer came).',
    labelNames: ['operation', 'status_code'] as const,
    registers,
  }) as ClosedCounter<LabelsOf<'renderq_segmind_requests_total', 'status_code'>>;

export const segmindCreditsRemaining = (registers: Registry[], readings: MetricReadings) =>
  new ObservedGauge({
    name: 'renderq_segmind_credits_remaining',
    help: 'Segmind credits left, as last reported to any worker by Segmind (no sample until one has been).',
    registers,
    async collect() {
      const { sources } = readings;
      if (!sources.credits) return;
      // Redis not answering: the last balance read stays the last one observed.
      const balance = await sources.credits().catch(() => undefined);
      if (balance !== undefined) this.set(balance);
    },
  });

export const segmindInflight = (registers: Registry[], readings: MetricReadings) =>
  new ObservedGauge({
    name: 'renderq_segmind_inflight_requests',
    help: 'Segmind requests submitted and not yet finished, across all workers (the poll queue’s jobs).',
    registers,
    async collect() {
      const reading = readings.queueCounts();
      if (!reading) return;
      const poll = (await reading).find((queue) => queue.queue === 'poll')?.counts ?? {};
      const { active = 0, waiting = 0, delayed = 0, prioritized = 0 } = poll;
      this.set(active + waiting + delayed + prioritized);
    },
  });

export const segmindSubmitRate = (registers: Registry[], readings: MetricReadings) =>
  new ObservedGauge({
    name: 'renderq_segmind_submit_rate',
    help: 'Submits per second the rate budget shared by every worker on the key allows now (learned from 429s).',
    registers,
    async collect() {
      const budget = await readings.sources.submitBudget?.().catch(() => undefined);
      if (budget) this.set(budget.perSecond);
    },
  });

export const segmindSubmitsHeld = (registers: Registry[], readings: MetricReadings) =>
  new ObservedGauge({
    name: 'renderq_segmind_submits_held_seconds',
    help: 'How long a 429 still holds every submit (0: none).',
    registers,
    async collect() {
      const budget = await readings.sources.submitBudget?.().catch(() => undefined);
      if (budget) this.set(budget.heldForMs / 1000);
    },
  });

export const segmindOutage = (registers: Registry[], readings: MetricReadings) =>
  new ObservedGauge({
    name: 'renderq_segmind_outage',
    help: "1 while Segmind's outage breaker holds every submit (most submits answered 5xx or not at connect), else 0.",
    registers,
    async collect() {
      const read = readings.sources.segmindOutage;
      if (!read) return;
      const outage = await read().catch(() => undefined);
      if (outage !== undefined) this.set(outage ? 1 : 0);
    },
  });

export const segmindOldestRequestAge = (registers: Registry[], readings: MetricReadings) =>
  new ObservedGauge({
    name: 'renderq_segmind_oldest_request_age_seconds',
    help: 'Age of the oldest request at Segmind whose result renderq does not have yet (0: none). Segmind forgets a request an hour after it finishes.',
    registers,
    async collect() {
      const read = readings.sources.oldestRequestAtSegmind;
      if (!read) return;
      const submittedAt = await read().catch(() => null);
      if (submittedAt !== null)
        this.set(submittedAt === undefined ? 0 : Math.max(0, (Date.now() - submittedAt) / 1000));
    },
  });

export const pollsPerJob = (registers: Registry[]) =>
  new Histogram({
    name: 'renderq_segmind_polls_per_job',
    help: 'Status polls made for one job.',
    labelNames: ['model'] as const,
    buckets: [1, 2, 3, 4, 5, 8, 12, 20, 50, 100],
    registers,
  });

export const segmindAmbiguousSubmits = (registers: Registry[]) =>
  new Counter({
    name: 'renderq_segmind_ambiguous_submits_total',
    help: 'Submits whose answer never arrived, by the policy applied.',
    labelNames: ['policy'] as const,
    registers,
  }) as ClosedCounter<LabelsOf<'renderq_segmind_ambiguous_submits_total'>>;
