/**
 * A job's start-by deadline from its request: `start_by` (a time) or `ttl_seconds` (from now),
 * one or the other, in the future and within 30 days. Past it, a job not yet submitted ends
 * `expired` (the workers' submit step and reconciler see to it).
 */
import { Problem } from './problems.js';
import { MAX_START_BY_SECONDS } from './schemas.js';

export function startByOf(
  given: { start_by?: string | undefined; ttl_seconds?: number | undefined },
  now = Date.now(),
) {
  if (given.start_by !== undefined && given.ttl_seconds !== undefined) {
    throw new Problem('validation_failed', 'a start-by deadline is given twice', [
      { path: 'ttl_seconds', message: 'give start_by or ttl_seconds, not both' },
    ]);
  }
  if (given.ttl_seconds !== undefined) return new Date(now + given.ttl_seconds * 1000).toISOString();
  if (given.start_by === undefined) return undefined;
  const at = Date.parse(given.start_by);
  if (at <= now) {
    throw new Problem('validation_failed', 'the start-by deadline has passed', [
      { path: 'start_by', message: `is in the past (now ${new Date(now).toISOString()})` },
    ]);
  }
  if (at > now + MAX_START_BY_SECONDS * 1000) {
    throw new Problem('validation_failed', 'the start-by deadline is too far ahead', [
      { path: 'start_by', message: 'must be within 30 days' },
    ]);
  }
  return new Date(at).toISOString();
}
