// Prometheus as compose runs it: the scrape configuration finds the API and every worker on the
// ports the settings give them, and the alert rules hold — `promtool check rules` accepts them,
// `promtool test rules` runs their unit tests (alerts.test.yml), every metric they read is one the
// code exports (or Prometheus and redis_exporter make), and docs/operations.md explains each alert.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '@renderq/shared';
import { describe, expect, it } from 'vitest';
import {
  exportedMetricNames,
  infra,
  interpolateAll,
  metricNamesIn,
  onPath,
  PROMETHEUS_SERIES,
  parseEnvFile,
  REDIS_EXPORTER_SERIES,
  read,
  readYaml,
  root,
} from './support.js';

interface Rule {
  alert: string;
  expr: string;
  labels: { severity: string };
  annotations: { summary: string; description: string };
}
interface ScrapeConfig {
  job_name: string;
  metrics_path?: string;
  dns_sd_configs?: { names: string[]; port: number }[];
  static_configs?: { targets: string[] }[];
}

const rules = readYaml<{ groups: { rules: Rule[] }[] }>('prometheus/alerts.yml').groups.flatMap((g) => g.rules);
const prometheus = readYaml<{ rule_files: string[]; scrape_configs: ScrapeConfig[] }>('prometheus/prometheus.yml');
const compose = interpolateAll(
  readYaml<{ services: Record<string, { environment?: Record<string, string> }> }>('docker-compose.yml'),
  parseEnvFile(read('.env.example')),
);
const promtool = onPath('promtool');
const run = (args: string[]) =>
  execFileSync('promtool', args, { cwd: path.join(infra, 'prometheus'), encoding: 'utf8', stdio: 'pipe' });

describe('infra/prometheus', () => {
  it('scrapes the API and every worker replica on the ports their settings give', () => {
    const job = (name: string) => prometheus.scrape_configs.find((c) => c.job_name === name);
    const apiConfig = loadConfig(compose.services.api?.environment ?? {});
    const workerConfig = loadConfig(compose.services.worker?.environment ?? {});
    // DNS discovery of the compose service name finds each replica (--scale worker=N).
    expect(job('renderq-api')?.dns_sd_configs).toEqual([
      expect.objectContaining({ names: ['api'], port: apiConfig.api.port }),
    ]);
    expect(job('renderq-worker')?.dns_sd_configs).toEqual([
      expect.objectContaining({ names: ['worker'], port: workerConfig.worker.metricsPort }),
    ]);
    for (const name of ['renderq-api', 'renderq-worker'])
      expect(job(name)?.metrics_path ?? '/metrics').toBe('/metrics');
    expect(job('redis')?.static_configs?.[0]?.targets).toEqual(['redis-exporter:9121']);
    expect(Object.keys(compose.services)).toEqual(expect.arrayContaining(['api', 'worker', 'redis-exporter']));
    expect(prometheus.rule_files).toEqual(['alerts.yml']);
  });

  it('reads in its rules only metrics the code exports (or Prometheus and redis_exporter make)', async () => {
    const exported = await exportedMetricNames();
    const unknown = rules.flatMap((rule) =>
      metricNamesIn(rule.expr)
        .filter((name) => !exported.has(name) && !PROMETHEUS_SERIES.has(name) && !REDIS_EXPORTER_SERIES.has(name))
        .map((name) => `${rule.alert}: ${name}`),
    );
    expect(unknown).toEqual([]);
    expect(rules.some((rule) => metricNamesIn(rule.expr).includes('renderq_queue_ready_jobs'))).toBe(true);
  });

  it('covers what the operators asked to be told', () => {
    const names = rules.map((rule) => rule.alert);
    for (const wanted of [
      'RenderqQueuePaused',
      'RenderqCreditsLow',
      'RenderqSpendRateHigh',
      'RenderqJobFailureRatioHigh',
      'RenderqJobsStuck',
      'RenderqWebhookBacklog',
      'RenderqWebhookHostsFailing',
      'RenderqNoWorkerUp',
      'RenderqRedisNotReady',
    ]) {
      expect(names).toContain(wanted);
    }
    for (const rule of rules) {
      expect(['warning', 'critical']).toContain(rule.labels.severity);
      expect(rule.annotations.summary && rule.annotations.description, rule.alert).toBeTruthy();
    }
  });

  it('has each alert explained in docs/operations.md', () => {
    const docs = readFileSync(path.join(root, 'docs/operations.md'), 'utf8');
    expect(rules.map((rule) => rule.alert).filter((name) => !docs.includes(`\`${name}\``))).toEqual([]);
  });

  it.skipIf(!promtool)('passes promtool check rules and check config (skipped: promtool not on PATH)', () => {
    expect(run(['check', 'rules', 'alerts.yml'])).toMatch(new RegExp(`SUCCESS: ${rules.length} rules found`));
    expect(run(['check', 'config', 'prometheus.yml'])).toContain('SUCCESS');
  });

  it.skipIf(!promtool)(
    'passes its unit tests, promtool test rules alerts.test.yml (skipped: promtool not on PATH)',
    () => {
      expect(run(['test', 'rules', 'alerts.test.yml'])).toContain('SUCCESS');
    },
  );

  it('unit-tests every alert firing', () => {
    const tests = readYaml<{ tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[] }>(
      'prometheus/alerts.test.yml',
    ).tests;
    const fired = new Set(
      tests.flatMap((t) => t.alert_rule_test.filter((c) => c.exp_alerts.length > 0).map((c) => c.alertname)),
    );
    expect(rules.map((rule) => rule.alert).filter((name) => !fired.has(name))).toEqual([]);
  });
});
