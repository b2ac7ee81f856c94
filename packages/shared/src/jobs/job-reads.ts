/**
 * Reading job records: one, many, one a tenant owns (another tenant's answers as none, in the
 * same time), a page of a tenant's jobs, and the dashboard's summaries of many.
 */

import { jobKey } from '../redis/keys.js';
import type { JobRecord } from './job-record.js';
import { recordFromHash } from './record-hash.js';
import type { StoreContext } from './store-context.js';

export interface JobSummary {
  readonly tenant: string;
  readonly model: string;
  readonly stage: string;
}

export async function readJob(ctx: StoreContext, id: string): Promise<JobRecord | undefined> {
  const hash = await ctx.redis.hgetall(jobKey(ctx.prefix, id));
  return hash.id ? recordFromHash(hash) : undefined;
}

/** The records of many jobs, in one round trip: those that still exist, by id. */
export async function readJobs(ctx: StoreContext, ids: readonly string[]): Promise<Map<string, JobRecord>> {
  const found = new Map<string, JobRecord>();
  if (ids.length === 0) return found;
  const pipeline = ctx.redis.pipeline();
  for (const id of ids) pipeline.hgetall(jobKey(ctx.prefix, id));
  for (const [index, [error, hash]] of ((await pipeline.exec()) ?? []).entries()) {
    if (error) throw error;
    const fields = hash as Record<string, string>;
    if (fields.id) found.set(ids[index] as string, recordFromHash(fields));
  }
  return found;
}

/**
 * A tenant's own job, or undefined — for another tenant's job as for none at all, and in the
 * same time: the record is read only when its tenant matches, so timing tells nothing either.
 */
export async function readOwnedJob(ctx: StoreContext, tenant: string, id: string): Promise<JobRecord | undefined> {
  const hash = await readOwnedHash(ctx, jobKey(ctx.prefix, id), tenant);
  return hash ? recordFromHash(hash) : undefined;
}

/** A job or batch hash, only when it is `tenant`'s (get-owned-1.lua). */
export async function readOwnedHash(
  ctx: StoreContext,
  key: string,
  tenant: string,
): Promise<Record<string, string> | undefined> {
  const flat = await ctx.redis.renderqGetOwned(key, tenant);
  if (!flat || flat.length === 0) return undefined;
  const hash: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) hash[flat[i] as string] = flat[i + 1] as string;
  return hash;
}

/** Tenant, model and stage of each job that still has a record, in one round trip (the dashboard's cards). */
export async function jobSummaries(ctx: StoreContext, ids: readonly string[]): Promise<Map<string, JobSummary>> {
  const found = new Map<string, JobSummary>();
  if (ids.length === 0) return found;
  const pipeline = ctx.redis.pipeline();
  for (const id of ids) pipeline.hmget(jobKey(ctx.prefix, id), 'tenant', 'model', 'stage');
  const results = (await pipeline.exec()) ?? [];
  for (const [index, [error, fields]] of results.entries()) {
    const [tenant, model, stage] = (fields ?? []) as (string | null)[];
    if (!error && tenant && model && stage) found.set(ids[index] as string, { tenant, model, stage });
  }
  return found;
}
