#!/usr/bin/env node
// The container health check of renderq's image: `node /app/healthcheck.mjs [api|worker|emulator]`
// exits 0 when the process in this container answers, 1 otherwise. Without an argument it
// tells the role from the command the container runs (PID 1: `node … api/dist/main.js`), so the
// image's one HEALTHCHECK serves every role.
//
// It asks each process's readiness: the API's /readyz on PORT and the worker's on
// WORKER_METRICS_PORT (503 while Redis does not answer or storage takes no writes; a pause is
// still ready), the emulator's /_emulator/stats on EMULATOR_PORT. The defaults are renderq's own (infra/test checks them against its settings).
import { readFileSync } from 'node:fs';

/** @public — infra/test/image.test.ts compares these with renderq's settings. */
export const DEFAULT_PORTS = { api: 8080, worker: 9464, emulator: 8790 };
const TIMEOUT_MS = 4_000;

/**
 * The role of the process in this container, from its command line.
 * @public — infra/test/image.test.ts checks it against the images' commands.
 */
export function roleOf(commandLine) {
  const match = /(api|worker|emulator)\/dist\/main\.js/.exec(commandLine);
  return match ? match[1] : undefined;
}

/** Where to ask, and how to read the answer, for one role. */
function probeFor(role, env) {
  const port = (name, fallback) => Number(env[name] || fallback);
  switch (role) {
    case 'api':
      return { url: `http://127.0.0.1:${port('PORT', DEFAULT_PORTS.api)}/readyz` };
    case 'worker':
      return { url: `http://127.0.0.1:${port('WORKER_METRICS_PORT', DEFAULT_PORTS.worker)}/readyz` };
    case 'emulator':
      return { url: `http://127.0.0.1:${port('EMULATOR_PORT', DEFAULT_PORTS.emulator)}/_emulator/stats` };
    default:
      return undefined;
  }
}

async function check(role, env) {
  const probe = probeFor(role, env);
  if (!probe) return `cannot tell the role (${role ?? 'none'}): pass api, worker or emulator`;
  let response;
  try {
    response = await fetch(probe.url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (error) {
    return `${probe.url}: ${error.cause?.code ?? error.message}`;
  }
  const body = await response.text();
  if (response.ok) return undefined;
  return `${probe.url}: ${response.status} ${body.slice(0, 200)}`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  let role = process.argv[2];
  if (!role) {
    try {
      role = roleOf(readFileSync('/proc/1/cmdline', 'utf8').replaceAll('\0', ' '));
    } catch {
      role = undefined;
    }
  }
  const problem = await check(role, process.env);
  if (problem) {
    process.stderr.write(`unhealthy: ${problem}\n`);
    process.exit(1);
  }
}
