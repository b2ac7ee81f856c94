/**
 * Whether a Docker engine may answer. Testcontainers is imported only then: without
 * a runtime its strategies probe for a while before failing.
 */
import { existsSync } from 'node:fs';

export function dockerAvailable(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.RENDERQ_TEST_NO_DOCKER === 'true') return false;
  return Boolean(env.DOCKER_HOST) || existsSync('/var/run/docker.sock');
}
