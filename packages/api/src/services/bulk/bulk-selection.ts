/**
 * Which jobs a bulk action chooses, and what acting on them would reserve: the jobs a filter
 * matches in each tenant's index (or the ids named), narrowed to those the action can act on.
 * The dry run answers from this; the real run acts on exactly the jobs it chose here.
 */
import { type BulkAction, type BulkRequest, MAX_BULK_JOBS } from '@renderq/contract';
import { isFinal, type JobListFilters, type JobRecord, reservationOf } from '@renderq/shared';
import type { ApiContext } from '../../api-context.js';
import { Problem } from '../../http/problems.js';

/** Who acts: a tenant on its own jobs, or an operator on anyone's. */
export type BulkActor = { readonly kind: 'tenant'; readonly tenant: string } | { readonly kind: 'operator' };

export interface BulkSkips {
  not_found: number;
  not_eligible: number;
  already_replayed: number;
}

export interface BulkSelection {
  /** The jobs to act on: by tenant, each tenant's oldest first. */
  readonly targets: string[];
  readonly skipped: BulkSkips;
  /** Replay: what the new jobs would reserve, in millionths of a USD. */
  readonly estimatedMicros: number;
}

/** Index entries one selection may read: a filter that matches little of a huge history must be narrowed. */
const MAX_SCANNED = 1_000_000;
/** Jobs read a page at a time. */
const PAGE = 1_000;

/** Why the action leaves a job alone, or undefined when it acts on it. */
export function skipReason(action: BulkAction, record: JobRecord): keyof BulkSkips | undefined {
  if (action === 'cancel') return isFinal(record.stage.name) ? 'not_eligible' : undefined;
  const name = record.stage.name;
  if (name !== 'failed' && name !== 'cancelled' && name !== 'expired') return 'not_eligible';
  return record.replayed_by !== null ? 'already_replayed' : undefined;
}

/** What replaying `record` reserves (its model's price per image times its images; 0 without a price). */
function replayReservation(ctx: ApiContext, record: JobRecord): number {
  return reservationOf(record.model, record.input, ctx.config.models.pricesUsd) ?? 0;
}

export async function selectJobs(
  ctx: ApiContext,
  actor: BulkActor,
  action: BulkAction,
  request: Pick<BulkRequest, 'filter' | 'ids'>,
): Promise<BulkSelection> {
  const skipped: BulkSkips = { not_found: 0, not_eligible: 0, already_replayed: 0 };
  // Only what the answer needs of each job: a selection holds up to MAX_BULK_JOBS of them.
  const chosen: { id: string; tenant: string; createdAt: string; micros: number }[] = [];
  const consider = (record: JobRecord) => {
    const reason = skipReason(action, record);
    if (reason) skipped[reason] += 1;
    else {
      const micros = action === 'replay' ? replayReservation(ctx, record) : 0;
      chosen.push({ id: record.id, tenant: record.tenant, createdAt: record.created_at, micros });
    }
    if (chosen.length > MAX_BULK_JOBS) {
      throw new Problem(
        'validation_failed',
        `more than ${MAX_BULK_JOBS.toLocaleString('en-US')} jobs match: narrow the filter (created_after, ` +
          'created_before, model, batch_id) and act in parts',
      );
    }
  };
  if (request.ids !== undefined) {
    const ids = [...new Set(request.ids)];
    for (let start = 0; start < ids.length; start += PAGE) {
      const page = ids.slice(start, start + PAGE);
      const records = await ctx.store.getMany(page);
      for (const id of page) {
        const record = records.get(id);
        if (!record || (actor.kind === 'tenant' && record.tenant !== actor.tenant)) skipped.not_found += 1;
        else consider(record);
      }
    }
  } else {
    const filter = request.filter ?? {};
    const filters: JobListFilters = {
      ...(filter.status !== undefined ? { status: filter.status } : {}),
      ...(filter.model !== undefined ? { model: filter.model } : {}),
      ...(filter.batch_id !== undefined ? { batchId: filter.batch_id } : {}),
      ...(filter.created_after !== undefined ? { createdAfterMs: Date.parse(filter.created_after) } : {}),
      ...(filter.created_before !== undefined ? { createdBeforeMs: Date.parse(filter.created_before) } : {}),
    };
    let scanned = 0;
    for (const tenant of await tenantsOf(ctx, actor, filter.tenant)) {
      let after: string | undefined;
      do {
        const page = await ctx.store.listJobs({ tenant, filters, limit: PAGE, ...(after ? { after } : {}) });
        scanned += page.scanned;
        for (const record of page.records) {
          if (filter.error_code === undefined || record.error?.code === filter.error_code) consider(record);
        }
        if (scanned > MAX_SCANNED) {
          throw new Problem(
            'validation_failed',
            `the filter had to read more than ${MAX_SCANNED.toLocaleString('en-US')} jobs: narrow it by ` +
              'created_after and created_before',
          );
        }
        after = page.next ?? undefined;
      } while (after !== undefined);
    }
  }
  // A tenant's jobs together (a step acts on one tenant's), each tenant's oldest first.
  chosen.sort(
    (a, b) => a.tenant.localeCompare(b.tenant) || a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id),
  );
  const estimatedMicros = chosen.reduce((sum, job) => sum + job.micros, 0);
  return { targets: chosen.map((job) => job.id), skipped, estimatedMicros };
}

/** The tenants whose jobs a filter searches: the tenant's own; for an operator, one or every tenant with jobs. */
async function tenantsOf(ctx: ApiContext, actor: BulkActor, named: string | undefined): Promise<string[]> {
  if (actor.kind === 'tenant') {
    if (named !== undefined && named !== actor.tenant) {
      throw new Problem('validation_failed', 'the filter names a tenant: only an operator key acts on other tenants', [
        {
          path: 'body.filter.tenant',
          message: 'is for operator keys; a tenant key acts on its own jobs: leave it out',
        },
      ]);
    }
    return [actor.tenant];
  }
  if (named !== undefined) return [named];
  return [...(await ctx.store.unfinishedJobsByTenant()).keys()].sort();
}
