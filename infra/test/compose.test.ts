// No Docker engine runs where the tests do, so the deployment files are checked by reading them:
// the compose file parses, its environment passes renderq's own configuration schema, and what
// it runs exists in the build.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '@renderq/shared';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const infra = path.resolve(fileURLToPath(import.meta.url), '../..');
const root = path.dirname(infra);

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, string>;
}
const compose = parse(readFileSync(path.join(infra, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
};

/** Compose's ${VAR:?message} / ${VAR:-default} with the values an operator would give. */
function interpolate(env: Record<string, string>, given: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).map(([key, value]) => [
      key,
      String(value).replace(/\$\{(\w+)(?::[?-][^}]*)?\}/g, (_m, name: string) => given[name] ?? ''),
    ]),
  );
}

describe('infra/docker-compose.yml', () => {
  it('runs Redis so that it keeps jobs (AOF on, no eviction)', () => {
    const command = compose.services.redis?.command?.join(' ') ?? '';
    expect(command).toContain('--appendonly yes');
    expect(command).toContain('--maxmemory-policy noeviction');
  });

  it.each(['api', 'worker'])("gives the %s an environment renderq's configuration accepts", (name) => {
    const service = compose.services[name];
    const env = interpolate(service?.environment ?? {}, {
      RENDERQ_API_KEYS: 'ops:ops-key-0123456789',
      SEGMIND_API_KEY: 'sg_test',
    });
    const config = loadConfig(env);
    expect(config.nodeEnv).toBe('production');
    expect(config.storage).toMatchObject({ kind: 's3', endpoint: 'http://minio:9000', forcePathStyle: true });
  });

  it.each(['api', 'worker'])('runs the %s from a script the build produces', (name) => {
    const service = compose.services[name];
    expect(service?.build?.dockerfile).toBe('infra/Dockerfile');
    const script = service?.command?.find((part) => part.endsWith('.js')) ?? '';
    expect(existsSync(path.join(root, 'packages', script))).toBe(true);
  });
});
