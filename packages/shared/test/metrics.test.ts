import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../src/index.js';

const CONTRACT_METRICS = [
  'renderq_jobs_enqueued_total',
  'renderq_jobs_finished_total',
  'renderq_job_duration_seconds',
  'renderq_segmind_requests_total',
  'renderq_segmind_credits_remaining',
  'renderq_queue_jobs',
  'renderq_webhook_deliveries_total',
];

describe('metrics', () => {
  it('defines every metric of the contract on one registry', async () => {
    const metrics = createMetrics({ processMetrics: false });
    metrics.jobsEnqueued.inc({ model: 'segmind-vega' });
    metrics.jobsFinished.inc({ model: 'segmind-vega', status: 'completed' });
    metrics.jobDuration.observe({ model: 'segmind-vega' }, 12);
    metrics.segmindRequests.inc({ operation: 'submit', status_code: '200' });
    metrics.segmindRequests.inc({ operation: 'status', status_code: 'error' });
    metrics.segmindCreditsRemaining.set(42.5);
    metrics.webhookDeliveries.inc({ outcome: 'delivered' });
    const text = await metrics.registry.metrics();
    for (const name of CONTRACT_METRICS) expect(text).toContain(`# TYPE ${name} `);
    expect(text).toContain('renderq_segmind_requests_total{operation="status",status_code="error"} 1');
    expect(text).toContain('renderq_job_duration_seconds_bucket{le="20",model="segmind-vega"} 1');
  });

  it('reads queue depths when scraped', async () => {
    let scrapes = 0;
    const metrics = createMetrics({
      processMetrics: false,
      queueCounts: async () => {
        scrapes++;
        return [{ queue: 'render', counts: { waiting: 3, delayed: 5 } }];
      },
    });
    const text = await metrics.registry.metrics();
    expect(scrapes).toBe(1);
    expect(text).toContain('renderq_queue_jobs{queue="render",state="waiting"} 3');
    expect(text).toContain('renderq_queue_jobs{queue="render",state="delayed"} 5');
  });

  it('keeps registries apart, so two processes in one test do not collide', () => {
    expect(() => {
      createMetrics({ processMetrics: false });
      createMetrics({ processMetrics: false });
    }).not.toThrow();
  });
});

describe('docs/metrics.md', () => {
  it('lists every metric the code registers', async () => {
    const docs = readFileSync(new URL('../../../docs/metrics.md', import.meta.url), 'utf8');
    const names = (await createMetrics({ processMetrics: false }).registry.getMetricsAsJSON()).map((m) => m.name);
    expect(names.length).toBeGreaterThan(10);
    expect(names.filter((name) => !docs.includes(`\`${name}\``))).toEqual([]);
  });
});
