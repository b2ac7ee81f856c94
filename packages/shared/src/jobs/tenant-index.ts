/**
 * Each tenant's jobs, listed newest first a page at a time from the tenant's index
 * (tenantJobsKey): members `CREATED_MS:JOB_ID`, all scored 0, read newest first by
 * member (ZRANGE … BYLEX REV), so a page starts exactly where the last one stopped
 * and a time range is a range of members. Filters on status, model and batch are
 * applied while scanning, and one call scans at most `maxScanned` entries: a page
 * may come back short, or empty, with a position to go on from. Entries whose record
 * has expired are dropped from the index as they are met.
 */

import type { JobStatus } from '@renderq/contract';
import type { RedisConnection } from '../redis/create-redis.js';
import { jobKey, tenantJobsKey } from '../redis/keys.js';
import type { JobRecord } from './job-record.js';
import { recordFromHash } from './record-hash.js';
import { STATUS_OF_STAGE, type StageName } from './stage.js';

const MS_DIGITS = 13;
const MAX_MS = 10 ** MS_DIGITS - 1;
/** Entries read per round trip while filtering. */
const FILTERED_CHUNK = 500;

/** What an index entry looks like; anything else given as a position is refused. */
export const TENANT_INDEX_ENTRY = /^\d{13}:job_[0-9a-hjkmnp-tv-z]{26}$/;

/** The index entry of a job created at `createdAtMs`. */
export function tenantIndexEntry(createdAtMs: number, id: string): string {
  return `${String(Math.max(0, Math.min(MAX_MS, Math.floor(createdAtMs)))).padStart(MS_DIGITS, '0')}:${id}`;
}

export interface JobListFilters {
  readonly status?: JobStatus;
  readonly model?: string;
  readonly batchId?: string;
  /** Jobs created strictly after this time (ms since the epoch). */
  readonly createdAfterMs?: number;
  /** Jobs created strictly before this time (ms since the epoch). */
  readonly createdBeforeMs?: number;
}

export interface JobListRequest {
  readonly tenant: string;
  readonly filters: JobListFilters;
  /** The most jobs to return. */
  readonly limit: number;
  /** The entry the previous page stopped at (exclusive); unset: from the newest. */
  readonly after?: string;
  /** The most index entries one call reads. @defaultValue 5,000 */
  readonly maxScanned?: number;
}

export interface JobListPage {
  readonly records: JobRecord[];
  /** The last entry this call consumed, to go on from; null when the list is exhausted. */
  readonly next: string | null;
  /** Index entries read (for tests and logs). */
  readonly scanned: number;
}

export async function listTenantJobs(
  redis: RedisConnection,
  prefix: string,
  request: JobListRequest,
): Promise<JobListPage> {
  const { tenant, filters, limit } = request;
  const maxScanned = request.maxScanned ?? 5_000;
  const key = tenantJobsKey(prefix, tenant);
  const range = memberRange(filters, request.after);
  if (!range) return { records: [], next: null, scanned: 0 };
  const filtered = filters.status !== undefined || filters.model !== undefined || filters.batchId !== undefined;
  const records: JobRecord[] = [];
  let position = range.max;
  let last: string | undefined;
  let scanned = 0;
  let exhausted = false;

  while (records.length < limit && scanned < maxScanned && !exhausted) {
    const want = Math.min(filtered ? FILTERED_CHUNK : limit - records.length, maxScanned - scanned);
    const entries = await redis.zrange(key, position, range.min, 'BYLEX', 'REV', 'LIMIT', 0, want);
    scanned += entries.length;
    exhausted = entries.length < want;
    const gone: string[] = [];
    // Entries whose records may be listed, in order; the scan stops at the one that fills the page.
    let candidates: string[] = entries;
    if (filtered) {
      const heads = await readHeads(redis, prefix, entries);
      candidates = [];
      for (const [i, entry] of entries.entries()) {
        const head = heads[i] as Head;
        if (!head.stage) gone.push(entry);
        else if (head.tenant === tenant && matches(head, filters)) candidates.push(entry);
        if (records.length + candidates.length === limit) {
          // Entries after this one were read but not consumed: the next page reads them again.
          exhausted = exhausted && i === entries.length - 1;
          last = entry;
          break;
        }
        last = entry;
      }
    } else if (entries.length > 0) {
      last = entries[entries.length - 1];
    }
    const pipeline = redis.pipeline();
    for (const entry of candidates) pipeline.hgetall(jobKey(prefix, idOf(entry)));
    const hashes = candidates.length > 0 ? ((await pipeline.exec()) ?? []) : [];
    for (const [i, [error, hash]] of hashes.entries()) {
      if (error) throw error;
      const fields = hash as Record<string, string>;
      if (!fields.id) gone.push(candidates[i] as string);
      else if (fields.tenant === tenant) records.push(recordFromHash(fields));
    }
    if (gone.length > 0) await redis.zrem(key, ...gone);
    if (last !== undefined) position = `(${last}`;
  }
  let next = exhausted || last === undefined ? null : last;
  // A page that ends at the tenant's oldest entry must not offer a cursor to an empty page.
  if (next !== null && (await redis.zrange(key, `(${next}`, range.min, 'BYLEX', 'REV', 'LIMIT', 0, 1)).length === 0) {
    next = null;
  }
  return { records, next, scanned };
}

interface Head {
  readonly tenant: string | null;
  readonly stage: string | null;
  readonly model: string | null;
  readonly batchId: string | null;
}

async function readHeads(redis: RedisConnection, prefix: string, entries: readonly string[]): Promise<Head[]> {
  if (entries.length === 0) return [];
  const pipeline = redis.pipeline();
  for (const entry of entries) pipeline.hmget(jobKey(prefix, idOf(entry)), 'tenant', 'stage', 'model', 'batch_id');
  const answers = (await pipeline.exec()) ?? [];
  return answers.map(([error, fields]) => {
    if (error) throw error;
    const [tenant, stage, model, batchId] = fields as (string | null)[];
    return { tenant: tenant ?? null, stage: stage ?? null, model: model ?? null, batchId: batchId || null };
  });
}

function matches(head: Head, filters: JobListFilters): boolean {
  if (filters.model !== undefined && head.model !== filters.model) return false;
  if (filters.batchId !== undefined && head.batchId !== filters.batchId) return false;
  if (filters.status !== undefined && STATUS_OF_STAGE[head.stage as StageName] !== filters.status) return false;
  return true;
}

/** The members to read, newest first: below `after` (or the end of the time range), down to its start. */
function memberRange(filters: JobListFilters, after: string | undefined): { max: string; min: string } | undefined {
  const { createdAfterMs: from, createdBeforeMs: to } = filters;
  if (to !== undefined && to <= 0) return undefined;
  if (from !== undefined && from >= MAX_MS) return undefined;
  let max = '+';
  if (after !== undefined) max = `(${after}`;
  else if (to !== undefined && to <= MAX_MS) max = `(${pad(to)}`;
  // Every member of a later millisecond sorts after that millisecond's bare prefix.
  const min = from !== undefined && from >= 0 ? `[${pad(from + 1)}` : '-';
  return { max, min };
}

function pad(ms: number): string {
  return String(Math.floor(ms)).padStart(MS_DIGITS, '0');
}

function idOf(entry: string): string {
  return entry.slice(MS_DIGITS + 1);
}
