// The Grafana dashboard as Grafana reads it: a dashboard of the schema version it declares (ids,
// grid positions within 24 columns and not overlapping, typed panels whose targets have a
// refId and an expression), a data source that provisioning gives it, and only metrics the code
// exports (or Prometheus makes) in its queries.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { exportedMetricNames, infra, metricNamesIn, PROMETHEUS_SERIES, read, readYaml } from './support.js';

interface Target {
  refId: string;
  expr: string;
  datasource?: { type: string; uid: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { type: string; uid: string };
  targets?: Target[];
  panels?: Panel[];
}
interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: string; current?: { value: string } }[] };
}

const files = readdirSync(path.join(infra, 'grafana/dashboards')).filter((f) => f.endsWith('.json'));
const dashboards = files.map((file) => [file, JSON.parse(read(`grafana/dashboards/${file}`)) as Dashboard] as const);
const datasources = readYaml<{ datasources: { uid: string; type: string; url: string }[] }>(
  'grafana/provisioning/datasources/prometheus.yml',
).datasources;
const providers = readYaml<{ providers: { options: { path: string } }[] }>(
  'grafana/provisioning/dashboards/renderq.yml',
).providers;
const PANEL_TYPES = new Set(['row', 'timeseries', 'stat', 'gauge', 'bargauge', 'table', 'heatmap', 'text']);

describe.each(dashboards)('infra/grafana/dashboards/%s', (_file, dashboard) => {
  const panels = dashboard.panels.flatMap((panel) => [panel, ...(panel.panels ?? [])]);
  const queries = panels.filter((panel) => panel.type !== 'row');

  it('is a dashboard of the schema version it declares', () => {
    // 36 moved every panel's datasource to an object reference ({type, uid}), as used here; 41 is Grafana 12's.
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dashboard.schemaVersion).toBeLessThanOrEqual(41);
    expect(dashboard.uid).toMatch(/^[\w-]{1,40}$/);
    expect(dashboard.title).toBeTruthy();
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    for (const panel of panels) {
      expect(PANEL_TYPES.has(panel.type), `${panel.title}: ${panel.type}`).toBe(true);
      const { x, y, w, h } = panel.gridPos;
      expect(x >= 0 && y >= 0 && w > 0 && h > 0 && x + w <= 24, panel.title).toBe(true);
    }
  });

  it('lays out panels without overlaps', () => {
    const overlaps = (a: Panel['gridPos'], b: Panel['gridPos']) =>
      a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
    const clashes = panels.flatMap((a, i) =>
      panels
        .slice(i + 1)
        .filter((b) => overlaps(a.gridPos, b.gridPos))
        .map((b) => `${a.title} / ${b.title}`),
    );
    expect(clashes).toEqual([]);
  });

  it('queries through the provisioned Prometheus data source', () => {
    const variable = dashboard.templating.list.find((v) => v.type === 'datasource');
    expect(variable?.query).toBe('prometheus');
    expect(datasources.map((d) => d.uid)).toContain(variable?.current?.value);
    for (const panel of queries) {
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      for (const source of [panel.datasource, ...(panel.targets ?? []).map((t) => t.datasource)]) {
        expect(source, panel.title).toEqual({ type: 'prometheus', uid: `\${${variable?.name}}` });
      }
      const refIds = (panel.targets ?? []).map((t) => t.refId);
      expect(new Set(refIds).size, panel.title).toBe(refIds.length);
      for (const target of panel.targets ?? []) expect(target.expr.trim(), panel.title).not.toBe('');
    }
  });

  it('reads only metrics the code exports (or Prometheus makes)', async () => {
    const exported = await exportedMetricNames();
    const used = queries.flatMap((panel) => (panel.targets ?? []).flatMap((t) => metricNamesIn(t.expr)));
    expect(used.filter((name) => !exported.has(name) && !PROMETHEUS_SERIES.has(name))).toEqual([]);
    // The panels the operators asked for, by what they read.
    for (const metric of [
      'renderq_jobs_finished_total',
      'renderq_job_duration_seconds_bucket',
      'renderq_queue_jobs',
      'renderq_queue_ready_jobs',
      'renderq_segmind_inflight_requests',
      'renderq_segmind_polls_per_job_bucket',
      'renderq_queue_paused',
      'renderq_segmind_credits_remaining',
      'renderq_webhook_deliveries_total',
      'up',
    ]) {
      expect(used).toContain(metric);
    }
  });
});

describe('infra/grafana/provisioning', () => {
  it('points Grafana at the Prometheus compose runs, and at the dashboards compose mounts', () => {
    expect(datasources).toEqual([expect.objectContaining({ type: 'prometheus', url: 'http://prometheus:9090' })]);
    const compose = readYaml<{ services: { grafana: { volumes: string[] } } }>('docker-compose.yml');
    const mounted = compose.services.grafana.volumes.map((v) => v.split(':')[1]);
    expect(mounted).toContain(providers[0]?.options.path);
  });
});
