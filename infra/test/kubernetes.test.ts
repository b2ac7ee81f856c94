// The Kubernetes manifests read as Kubernetes and kustomize would: every file parses, the
// settings in the ConfigMap and Secret are ones renderq knows and together pass its schema,
// container ports and probes agree with PORT and WORKER_METRICS_PORT, a stopping worker gets
// longer than its own shutdown bound, selectors select, and the autoscaler reads a metric the
// code exports for the Deployment it scales. `kubectl kustomize` renders them where kubectl exists.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_SHUTDOWN_GRACE_MS, loadConfig, SETTING_NAMES } from '@renderq/shared';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { exportedMetricNames, infra, metricNamesIn, onPath, yamlDocuments } from './support.js';

interface Probe {
  httpGet?: { path: string; port: string | number };
  exec?: { command: string[] };
}
interface Container {
  name: string;
  command: string[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  ports: { name: string; containerPort: number }[];
  readinessProbe: Probe;
  livenessProbe: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: Record<string, unknown>;
}
interface Workload {
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec: Record<string, unknown> & {
    selector?: { matchLabels?: Record<string, string> } & Record<string, string>;
    template?: {
      metadata: { labels: Record<string, string> };
      spec: {
        containers: Container[];
        terminationGracePeriodSeconds?: number;
        securityContext?: Record<string, unknown>;
      };
    };
  };
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

const docs = yamlDocuments('k8s');
const base = docs
  .filter(({ file }) => file.startsWith(path.join('k8s', 'base')))
  .map(({ doc }) => doc as unknown as Workload);
const find = (kind: string, name: string) => {
  const found = base.find((doc) => doc.kind === kind && doc.metadata?.name === name);
  if (!found) throw new Error(`no ${kind} ${name} in k8s/base`);
  return found;
};
const configMap = find('ConfigMap', 'renderq-config');
const secret = find('Secret', 'renderq-secrets');
const settings = { ...configMap.data, ...secret.stringData };
const config = loadConfig(settings);
const api = find('Deployment', 'renderq-api');
const worker = find('Deployment', 'renderq-worker');
const container = (deployment: Workload) => deployment.spec.template?.spec.containers[0] as Container;
/** A probe's port: a number, or the name of one of the container's ports. */
const portOf = (c: Container, port: string | number) =>
  typeof port === 'number' ? port : c.ports.find((p) => p.name === port)?.containerPort;

describe('infra/k8s', () => {
  it('parses: every manifest is YAML with a kind, and every kustomization lists files that exist', () => {
    expect(docs.length).toBeGreaterThan(10);
    for (const { file, doc } of docs) {
      expect(doc.kind, file).toBeTruthy();
      if (doc.kind !== 'Kustomization' && doc.kind !== 'Component') continue;
      for (const entry of [
        ...((doc.resources as string[]) ?? []),
        ...((doc.components as string[]) ?? []),
        ...((doc.patches as { path?: string }[]) ?? []).map((p) => p.path),
      ]) {
        if (entry) expect(existsSync(path.join(infra, path.dirname(file), entry)), `${file}: ${entry}`).toBe(true);
      }
    }
  });

  it('sets only settings renderq knows, and together they pass its schema', () => {
    expect(Object.keys(settings).filter((key) => !SETTING_NAMES.includes(key))).toEqual([]);
    expect(config.nodeEnv).toBe('production');
    expect(config.api.host).toBe('0.0.0.0');
    expect(config.api.publicBaseUrl).toMatch(/^https:\/\//);
    // The example overlay's settings too.
    const overlay = docs.find(({ file, doc }) => file.includes('overlays') && doc.kind === 'ConfigMap')
      ?.doc as unknown as Workload;
    expect(Object.keys(overlay.data ?? {}).filter((key) => !SETTING_NAMES.includes(key))).toEqual([]);
    expect(loadConfig({ ...settings, ...overlay.data }).redis.prefix).toBe('{renderq}');
  });

  it.each([
    ['API', api],
    ['worker', worker],
  ])('gives the %s its settings from the ConfigMap and the Secret', (_name, deployment) => {
    expect(container(deployment).envFrom).toEqual([
      { configMapRef: { name: 'renderq-config' } },
      { secretRef: { name: 'renderq-secrets' } },
    ]);
  });

  it('opens the API on PORT, ready on /readyz and live on /healthz', () => {
    const c = container(api);
    expect(c.command.join(' ')).toContain('api/dist/main.js');
    expect(c.ports.map((p) => p.containerPort)).toEqual([config.api.port]);
    // The image's check asks /readyz on PORT, a pause read as ready (infra/test/image.test.ts runs it).
    expect(c.readinessProbe.exec?.command).toEqual(['node', '/app/healthcheck.mjs', 'api']);
    expect(c.livenessProbe.httpGet?.path).toBe('/healthz');
    expect(portOf(c, c.livenessProbe.httpGet?.port ?? '')).toBe(config.api.port);
  });

  it('opens the worker on WORKER_METRICS_PORT, ready on /readyz and live on /healthz', () => {
    const c = container(worker);
    expect(c.command.join(' ')).toContain('worker/dist/main.js');
    expect(c.ports.map((p) => p.containerPort)).toEqual([config.worker.metricsPort]);
    expect(c.readinessProbe.httpGet?.path).toBe('/readyz');
    expect(c.livenessProbe.httpGet?.path).toBe('/healthz');
    for (const probe of [c.readinessProbe, c.livenessProbe]) {
      expect(portOf(c, probe.httpGet?.port ?? '')).toBe(config.worker.metricsPort);
    }
  });

  it('gives a stopping worker longer than its own shutdown bound', () => {
    const grace = worker.spec.template?.spec.terminationGracePeriodSeconds ?? 30;
    expect(grace * 1000).toBeGreaterThan(DEFAULT_SHUTDOWN_GRACE_MS);
  });

  it.each([
    ['API', api],
    ['worker', worker],
  ])('runs the %s as non-root with resources set', (_name, deployment) => {
    const c = container(deployment);
    expect(deployment.spec.template?.spec.securityContext).toMatchObject({ runAsNonRoot: true });
    expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true });
    expect(c.resources?.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
    expect(c.resources?.limits?.memory).toBeDefined();
  });

  it('selects: Services and PDBs select the pods of their Deployment', () => {
    const labelsOf = (d: Workload) => d.spec.template?.metadata.labels ?? {};
    for (const doc of base) {
      if (doc.kind !== 'Service' && doc.kind !== 'PodDisruptionBudget') continue;
      const selector = (doc.kind === 'Service' ? doc.spec.selector : doc.spec.selector?.matchLabels) ?? {};
      const target = doc.metadata.name === 'renderq-api' ? api : worker;
      expect(labelsOf(target), `${doc.kind} ${doc.metadata.name}`).toMatchObject(selector);
    }
    for (const deployment of [api, worker]) {
      expect(deployment.spec.template?.metadata.labels).toMatchObject(deployment.spec.selector?.matchLabels ?? {});
    }
    const service = find('Service', 'renderq-worker').spec.ports as { targetPort: string }[];
    expect(portOf(container(worker), service[0]?.targetPort ?? '')).toBe(config.worker.metricsPort);
  });

  it('scales the worker Deployment on a metric the code exports', async () => {
    const scaled = find('ScaledObject', 'renderq-worker').spec as {
      scaleTargetRef: { name: string };
      minReplicaCount: number;
      triggers: { type: string; metadata: { query: string; threshold: string } }[];
    };
    expect(scaled.scaleTargetRef.name).toBe(worker.metadata.name);
    expect(scaled.minReplicaCount).toBeGreaterThanOrEqual(1);
    const [trigger] = scaled.triggers;
    expect(trigger?.type).toBe('prometheus');
    const names = metricNamesIn(trigger?.metadata.query ?? '');
    expect(names).toEqual(['renderq_queue_ready_jobs']);
    const exported = await exportedMetricNames();
    expect(names.every((name) => exported.has(name))).toBe(true);
    // Every process reports the same shared value: read once per queue, not summed over processes.
    expect(trigger?.metadata.query).toMatch(/max by \(queue\)/);
    expect(Number(trigger?.metadata.threshold)).toBeGreaterThan(0);
  });

  it('has the ServiceMonitors scrape the API and worker Services under the job names the rules use', () => {
    const monitors = docs
      .filter(({ file, doc }) => file.includes('servicemonitors') && doc.kind === 'ServiceMonitor')
      .map(({ doc }) => doc as unknown as Workload & { spec: { endpoints: { port: string; path: string }[] } });
    expect(monitors.map((m) => m.metadata.name).sort()).toEqual(['renderq-api', 'renderq-worker']);
    for (const monitor of monitors) {
      // The Prometheus Operator names the job after the Service: renderq-api, renderq-worker.
      const service = find('Service', monitor.metadata.name);
      expect(service.metadata.labels).toMatchObject(monitor.spec.selector?.matchLabels ?? { none: 'given' });
      const ports = (service.spec.ports as { name: string }[]).map((p) => p.name);
      for (const endpoint of monitor.spec.endpoints) {
        expect(ports).toContain(endpoint.port);
        expect(endpoint.path).toBe('/metrics');
      }
    }
  });

  it.skipIf(!onPath('kubectl', ['version', '--client']))(
    'renders the example overlay with kubectl kustomize (skipped: kubectl not on PATH)',
    () => {
      const output = execFileSync('kubectl', ['kustomize', path.join(infra, 'k8s/overlays/example')], {
        encoding: 'utf8',
      });
      const rendered = parseAllDocuments(output).map(
        (d) => d.toJS() as Workload & { metadata: { namespace?: string } },
      );
      const kinds = rendered.map((d) => `${d.kind}/${d.metadata.name}`);
      expect(kinds).toEqual(
        expect.arrayContaining(['Deployment/renderq-api', 'Deployment/renderq-worker', 'ScaledObject/renderq-worker']),
      );
      const apiRendered = rendered.find((d) => d.kind === 'Deployment' && d.metadata.name === 'renderq-api');
      expect(apiRendered?.metadata.namespace).toBe('renderq');
      expect(container(apiRendered as Workload).command).toBeDefined();
      expect(JSON.stringify(apiRendered)).toContain('registry.example.com/renderq:0.1.0');
    },
  );
});
