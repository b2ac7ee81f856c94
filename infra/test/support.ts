// What the infra tests share: the deployment files read as their tools would read them (compose
// with its variable interpolation, multi-document YAML, PromQL's metric names), and renderq's own
// truth to hold them against — the settings schema's variables and the metrics registry's names.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createMetrics } from '@renderq/shared';
import { parse, parseAllDocuments } from 'yaml';

export const infra = path.resolve(fileURLToPath(import.meta.url), '../..');
export const root = path.dirname(infra);

export const read = (file: string): string => readFileSync(path.join(infra, file), 'utf8');
export const readYaml = <T = unknown>(file: string): T => parse(read(file), { merge: true }) as T;

/** Every document of every YAML file under `dir` (relative to infra/), with its file. */
export function yamlDocuments(dir: string): { file: string; doc: Record<string, unknown> }[] {
  const files: string[] = [];
  const walk = (at: string) => {
    for (const name of readdirSync(path.join(infra, at))) {
      const rel = path.join(at, name);
      if (statSync(path.join(infra, rel)).isDirectory()) walk(rel);
      else if (/\.ya?ml$/.test(name)) files.push(rel);
    }
  };
  walk(dir);
  return files.flatMap((file) =>
    parseAllDocuments(read(file)).map((document) => {
      if (document.errors.length > 0) throw new Error(`${file}: ${document.errors[0]?.message}`);
      return { file, doc: document.toJS() as Record<string, unknown> };
    }),
  );
}

/** KEY=VALUE lines of an env file (comments and blank lines skipped). */
export function parseEnvFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (match) env[match[1] as string] = (match[2] as string).trim();
  }
  return env;
}

/**
 * Compose's interpolation of one value: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error},
 * ${VAR?error}, and $$ for a literal $. A required variable left unset throws, as compose does.
 */
function interpolate(value: string, vars: Readonly<Record<string, string | undefined>>): string {
  return value.replace(
    /\$\$|\$\{(\w+)(?:(:?)([-?])([^}]*))?\}|\$(\w+)/g,
    (whole, name?: string, colon?: string, op?: string, arg?: string, bare?: string) => {
      if (whole === '$$') return '$';
      if (bare) return vars[bare] ?? '';
      const given = vars[name as string];
      const missing = colon ? given === undefined || given === '' : given === undefined;
      if (op === '?' && missing) throw new Error(`required variable ${name} is unset: ${arg}`);
      if (op === '-' && missing) return arg ?? '';
      return given ?? '';
    },
  );
}

/** Interpolates every string in a parsed compose document. */
export function interpolateAll<T>(value: T, vars: Readonly<Record<string, string | undefined>>): T {
  if (typeof value === 'string') return interpolate(value, vars) as T;
  if (Array.isArray(value)) return value.map((item) => interpolateAll(item, vars)) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolateAll(v, vars)])) as T;
  }
  return value;
}

/** Every metric name a process exposes, histograms with their _bucket, _sum and _count series. */
export async function exportedMetricNames(): Promise<Set<string>> {
  const metrics = await createMetrics().registry.getMetricsAsJSON();
  const names = new Set<string>();
  for (const metric of metrics) {
    names.add(metric.name);
    if (String(metric.type) === 'histogram') {
      for (const suffix of ['_bucket', '_sum', '_count']) names.add(metric.name + suffix);
    }
  }
  return names;
}

/** Series Prometheus makes itself for every target. */
export const PROMETHEUS_SERIES = new Set(['up', 'scrape_duration_seconds', 'scrape_samples_scraped']);
/** redis_exporter's series that the rules read (docker-compose.yml runs it; docs/operations.md asks for it). */
export const REDIS_EXPORTER_SERIES = new Set(['redis_up', 'redis_memory_used_bytes', 'redis_memory_max_bytes']);

const PROMQL_WORDS = new Set([
  'and',
  'or',
  'unless',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'offset',
  'inf',
  'nan',
]);

/** The metric names a PromQL expression reads (functions, keywords, labels and strings left out). */
export function metricNamesIn(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""')
    .replace(/\$\{?\w+\}?/g, '1')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  for (const match of bare.matchAll(/(?<![\w.])[a-zA-Z_:][\w:]*/g)) {
    const name = match[0];
    const isCall = /^\s*\(/.test(bare.slice((match.index ?? 0) + name.length));
    if (!isCall && !PROMQL_WORDS.has(name.toLowerCase())) names.add(name);
  }
  return [...names];
}

/** Whether a command is on PATH (for tests that need a tool this machine may not have). */
export function onPath(command: string, args: string[] = ['--version']): boolean {
  try {
    execFileSync(command, args, { stdio: 'ignore', timeout: 30_000 });
    return true;
  } catch {
    return false;
  }
}
