/**
 * The job list (`GET /v1/jobs`, newest first, a page at a time with a cursor).
 * Uses the client's `listJobs` when the installed @renderq/client has it, and
 * the same request made here otherwise, so the CLI works with either.
 */
import type { Job, RenderqClient } from '@renderq/client';
import { type ApiTarget, callApi } from './api-calls.js';

/** The API's filters, under its own query parameter names. */
export interface JobFilters {
  readonly status?: string;
  readonly model?: string;
  readonly batch_id?: string;
  /** ISO 8601. */
  readonly created_after?: string;
  readonly created_before?: string;
  readonly limit?: number;
  readonly cursor?: string;
}

export interface JobPage {
  readonly jobs: readonly Job[];
  /** null on the last page. */
  readonly next_cursor: string | null;
}

interface ListingClient {
  listJobs(filters: JobFilters): Promise<JobPage>;
}

export function listJobs(client: RenderqClient, target: ApiTarget, filters: JobFilters): Promise<JobPage> {
  const listing = client as unknown as Partial<ListingClient>;
  if (typeof listing.listJobs === 'function') return listing.listJobs.call(client, filters);
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(filters)) {
    if (value !== undefined) query.set(name, String(value));
  }
  return callApi<JobPage>(target, 'GET', `/v1/jobs${query.size > 0 ? `?${query}` : ''}`);
}
