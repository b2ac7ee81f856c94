/**
 * The cursor of `GET /v1/jobs`: opaque to callers, it says where the previous page
 * stopped and which filters it was listing with, so a page is never continued with
 * other filters. A request with a cursor may repeat those filters or leave them out;
 * different ones, or a cursor that is not one this API gave out, are a 400 naming it.
 */
import { JobStatus } from '@renderq/contract';
import { type JobListFilters, TENANT_INDEX_ENTRY } from '@renderq/shared';
import { z } from 'zod';
import { Problem } from '../http/problems.js';
import type { JobListQuery } from '../http/schemas.js';

const CursorFilters = z.strictObject({
  status: JobStatus.optional(),
  model: z.string().max(128).optional(),
  batchId: z.string().max(64).optional(),
  createdAfterMs: z.number().int().optional(),
  createdBeforeMs: z.number().int().optional(),
});

const Cursor = z.strictObject({
  v: z.literal(1),
  after: z.string().regex(TENANT_INDEX_ENTRY),
  filters: CursorFilters,
});

/** The filters a query asks for, times in milliseconds. */
export function filtersOf(query: JobListQuery): JobListFilters {
  return {
    ...(query.status !== undefined ? { status: query.status } : {}),
    ...(query.model !== undefined ? { model: query.model } : {}),
    ...(query.batch_id !== undefined ? { batchId: query.batch_id } : {}),
    ...(query.created_after !== undefined ? { createdAfterMs: Date.parse(query.created_after) } : {}),
    ...(query.created_before !== undefined ? { createdBeforeMs: Date.parse(query.created_before) } : {}),
  };
}

export function writeCursor(after: string, filters: JobListFilters): string {
  return Buffer.from(JSON.stringify({ v: 1, after, filters })).toString('base64url');
}

/** Where to go on from, and the filters to list with: the cursor's, which the query's must equal if given. */
export function readCursor(cursor: string, asked: JobListFilters): { after: string; filters: JobListFilters } {
  let decoded: unknown;
  try {
    decoded = /^[A-Za-z0-9_-]+$/.test(cursor) ? JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) : null;
  } catch {
    decoded = null;
  }
  const parsed = Cursor.safeParse(decoded);
  if (!parsed.success) {
    throw new Problem('validation_failed', 'the cursor is not one this API gave out', [
      { path: 'query.cursor', message: 'is not a next_cursor of GET /v1/jobs' },
    ]);
  }
  const { after, filters } = parsed.data;
  if (Object.keys(asked).length > 0 && !sameFilters(asked, filters)) {
    throw new Problem('validation_failed', 'the cursor continues a listing with other filters', [
      {
        path: 'query.cursor',
        message: 'was made for other filters: send the same filters as the first page, or none',
      },
    ]);
  }
  return { after, filters };
}

function sameFilters(a: JobListFilters, b: JobListFilters): boolean {
  const keys = ['status', 'model', 'batchId', 'createdAfterMs', 'createdBeforeMs'] as const;
  return keys.every((key) => a[key] === b[key]);
}
