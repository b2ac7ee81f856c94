// No Docker engine runs where the tests do, so the compose deployment is checked by reading it
// with only infra/.env.example given, as `docker compose config` would: its renderq services get
// an environment renderq's own settings schema accepts (and nothing it does not know), every
// dependency waits for health, published ports and scrape targets agree with the settings, renderq
// creates the bucket it writes to, and the emulator profile is wired end to end.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { DEFAULT_SHUTDOWN_GRACE_MS, loadConfig, SETTING_NAMES } from '@renderq/shared';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { infra, interpolateAll, onPath, parseEnvFile, read, readYaml, root } from './support.js';

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[] | string;
  entrypoint?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  depends_on?: Record<string, { condition: string; required?: boolean }> | string[];
  healthcheck?: { test: string[] };
  profiles?: string[];
  stop_grace_period?: string;
  volumes?: string[];
}
type Compose = { services: Record<string, Service> };

const example = parseEnvFile(read('.env.example'));
const raw = readYaml<Compose>('docker-compose.yml');
const compose = interpolateAll(raw, example);
const services = compose.services;
const renderq = ['api', 'worker'] as const;
const configOf = (name: string) => loadConfig(services[name]?.environment ?? {});

/** The container port a `[host:]hostPort[-range]:containerPort` mapping publishes. */
const containerPort = (mapping: string) => Number(mapping.split(':').at(-1));
const seconds = (duration: string) => {
  const match = /^(\d+)(s|m)$/.exec(duration);
  if (!match) throw new Error(`unreadable duration ${duration}`);
  return Number(match[1]) * (match[2] === 'm' ? 60 : 1);
};

describe('infra/docker-compose.yml with only .env.example', () => {
  it('interpolates: every required variable is given by .env.example', () => {
    // interpolateAll throws on ${VAR:?…} left unset; make sure the example really is what satisfies them.
    const required = [...readFileSync(path.join(infra, 'docker-compose.yml'), 'utf8').matchAll(/\$\{(\w+):\?/g)].map(
      (m) => m[1] as string,
    );
    expect(required.length).toBeGreaterThan(0);
    for (const name of new Set(required)) expect(example[name], name).toBeTruthy();
    expect(() => interpolateAll(raw, {})).toThrow(/required variable/);
  });

  it('names in .env.example only variables the compose file reads', () => {
    const text = read('docker-compose.yml');
    const unused = Object.keys(example).filter((name) => !text.includes(`\${${name}`));
    expect(unused).toEqual([]);
  });

  it('runs Redis so that it keeps jobs (AOF on, no eviction)', () => {
    const command = [services.redis?.command ?? []].flat().join(' ');
    expect(command).toContain('--appendonly yes');
    expect(command).toContain('--maxmemory-policy noeviction');
  });

  it.each(renderq)("gives the %s an environment renderq's configuration accepts, and only known settings", (name) => {
    const env = services[name]?.environment ?? {};
    expect(Object.keys(env).filter((key) => !SETTING_NAMES.includes(key))).toEqual([]);
    const config = configOf(name);
    expect(config.nodeEnv).toBe('production');
    expect(config.storage).toMatchObject({ kind: 's3', endpoint: 'http://minio:9000', forcePathStyle: true });
    // Output links must point where clients reach the API, never at the listen address.
    expect(config.api.publicBaseUrl).not.toMatch(/0\.0\.0\.0/);
    expect(config.api.publicBaseUrl).toBe('http://localhost:8080');
  });

  it('gives the API and the workers the same settings', () => {
    expect(services.api?.environment).toEqual(services.worker?.environment);
  });

  it.each(['api', 'worker', 'emulator'])('runs the %s from a script the image holds', (name) => {
    // The image holds each runnable package deployed under /app/<dir> (infra/Dockerfile's pnpm deploy lines).
    const deployed = Object.fromEntries(
      [...read('Dockerfile').matchAll(/pnpm deploy .*?--filter (@renderq\/[\w-]+) --prod \/out\/(\w+)/g)].map((m) => [
        m[2],
        (m[1] as string).replace('@renderq/', ''),
      ]),
    );
    const service = services[name];
    expect(service?.build?.dockerfile).toBe('infra/Dockerfile');
    const script = [service?.command ?? []].flat().find((part) => part.endsWith('.js')) ?? '';
    const [dir, ...rest] = script.split('/');
    const pkg = deployed[dir as string];
    expect(pkg, `${dir} is deployed by the Dockerfile`).toBeDefined();
    expect(existsSync(path.join(root, 'packages', pkg as string, ...rest))).toBe(true);
  });

  it('publishes the ports the settings say the processes listen on', () => {
    expect(services.api?.ports?.map(containerPort)).toEqual([configOf('api').api.port]);
    expect(services.worker?.ports?.map(containerPort)).toEqual([configOf('worker').worker.metricsPort]);
    // The workers' metrics stay on the host's loopback; a range lets every replica publish one.
    expect(services.worker?.ports?.[0]).toMatch(/^127\.0\.0\.1:\d+-\d+:\d+$/);
  });

  it('pins every image to a version (MinIO to a dated release)', () => {
    for (const [name, service] of Object.entries(services)) {
      if (service.build) continue;
      expect(service.image, name).toMatch(/:[\w.-]+$/);
      expect(service.image, name).not.toMatch(/:latest$/);
    }
    expect(services.minio?.image).toMatch(/^minio\/minio:RELEASE\.\d{4}-\d\d-\d\dT/);
  });

  it('waits on every dependency for health', () => {
    for (const [name, service] of Object.entries(services)) {
      if (!service.depends_on) continue;
      expect(Array.isArray(service.depends_on), `${name} depends_on has conditions`).toBe(false);
      for (const [target, { condition }] of Object.entries(service.depends_on)) {
        const dependency = services[target];
        expect(dependency, `${name} → ${target}`).toBeDefined();
        expect(condition, `${name} → ${target}`).toBe('service_healthy');
        expect(dependency?.healthcheck, `${target} has a healthcheck`).toBeDefined();
      }
    }
    for (const name of renderq) {
      expect(services[name]?.depends_on).toMatchObject({
        redis: { condition: 'service_healthy' },
        minio: { condition: 'service_healthy' },
      });
    }
  });

  it("checks each renderq service's health with the image's check for its role", () => {
    for (const name of [...renderq, 'emulator']) {
      expect(services[name]?.healthcheck?.test).toEqual(['CMD', 'node', '/app/healthcheck.mjs', name]);
    }
  });

  it('has renderq create the bucket its outputs go to, on the MinIO it waits for', () => {
    const storage = configOf('api').storage;
    expect(storage).toMatchObject({ kind: 's3', bucket: example.S3_BUCKET, createBucket: true });
    // The store's key pair is MinIO's root user.
    expect(services.api?.environment?.AWS_ACCESS_KEY_ID).toBe(services.minio?.environment?.MINIO_ROOT_USER);
    expect(services.api?.environment?.AWS_SECRET_ACCESS_KEY).toBe(services.minio?.environment?.MINIO_ROOT_PASSWORD);
  });

  it('runs the emulator behind its profile, reachable at the Segmind URL .env.example gives the workers', () => {
    const emulator = services.emulator;
    expect(emulator?.profiles).toEqual(['emulator']);
    const env = emulator?.environment ?? {};
    expect(Object.keys(env).every((key) => key.startsWith('EMULATOR_'))).toBe(true);
    const config = configOf('worker');
    const base = new URL(config.segmind.baseUrl);
    expect(base.hostname).toBe('emulator');
    expect(Number(base.port)).toBe(Number(env.EMULATOR_PORT));
    expect(new URL(env.EMULATOR_PUBLIC_URL ?? '').host).toBe(base.host);
    expect(env.EMULATOR_API_KEYS?.split(',')).toContain(config.segmind.apiKey);
    // Without the profile, renderq does not need the emulator service to exist.
    expect(services.worker?.depends_on).toMatchObject({ emulator: { required: false } });
  });

  it("accepts the emulator's settings as the emulator reads them", async () => {
    // The emulator's own parser (it refuses an EMULATOR_* variable it does not know); not a dependency of infra.
    const parser = pathToFileURL(path.join(root, 'packages/segmind-emulator/src/emulator-env.ts')).href;
    const { emulatorOptionsFrom } = (await import(parser)) as {
      emulatorOptionsFrom: (env: Record<string, string>) => Record<string, unknown>;
    };
    const options = emulatorOptionsFrom(services.emulator?.environment ?? {});
    expect(options).toMatchObject({ port: 8790, host: '0.0.0.0', publicUrl: 'http://emulator:8790' });
  });

  it('gives a stopping worker longer than its own shutdown bound', () => {
    expect(seconds(services.worker?.stop_grace_period ?? '10s') * 1000).toBeGreaterThan(DEFAULT_SHUTDOWN_GRACE_MS);
  });

  it('mounts the Prometheus and Grafana files that exist', () => {
    for (const name of ['prometheus', 'grafana']) {
      for (const volume of services[name]?.volumes ?? []) {
        const [source] = volume.split(':');
        if (source?.startsWith('.')) expect(existsSync(path.join(infra, source)), volume).toBe(true);
      }
    }
  });

  it.skipIf(!onPath('docker', ['compose', 'version']))(
    'renders with `docker compose config` and only .env.example (skipped: no docker compose CLI here)',
    () => {
      const output = execFileSync(
        'docker',
        [
          'compose',
          '--env-file',
          path.join(infra, '.env.example'),
          '-f',
          path.join(infra, 'docker-compose.yml'),
          '--profile',
          'emulator',
          'config',
        ],
        { encoding: 'utf8' },
      );
      expect(Object.keys((parse(output) as Compose).services)).toContain('emulator');
    },
  );
});
