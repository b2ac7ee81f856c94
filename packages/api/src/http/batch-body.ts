/**
 * Reads a batch from its request, whichever way it was sent: JSON (json-batch.ts), all of
 * it in the body, or NDJSON (ndjson-batch.ts), the jobs in the body and the rest in the query.
 */

import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { readJsonBatch } from './json-batch.js';
import { type BatchEntry, readNdjsonBatch } from './ndjson-batch.js';
import { Problem } from './problems.js';
import type { BatchQuery, BatchRequest } from './schemas.js';

/** A batch as read, its jobs not yet checked against their models. */
export interface BatchBody extends Omit<BatchRequest, 'jobs'> {
  /** Where a job's errors say it is: JSON by its index in `jobs`, NDJSON by its line. */
  readonly format: 'json' | 'ndjson';
  readonly jobs: readonly BatchEntry[];
  /** What a retry under the same Idempotency-Key must match: the JSON body; an NDJSON batch's lines as read and its query. */
  readonly asSent: unknown;
}

export interface BatchUpload {
  readonly headers: IncomingHttpHeaders;
  readonly query: BatchQuery;
  /** Parsed JSON, or the request stream for NDJSON (the route's content type parser passes it on). */
  readonly body: unknown;
}

export async function readBatchBody(request: BatchUpload): Promise<BatchBody> {
  const ndjson = String(request.headers['content-type'] ?? '').startsWith('application/x-ndjson');
  const query = Object.keys(request.query ?? {});
  if (!ndjson && query.length > 0) {
    // They would be dropped in silence: a JSON batch says all of it in its body.
    throw new Problem(
      'validation_failed',
      'query parameters are for NDJSON batches; a JSON batch gives webhook_url, webhook_events and priority in its body',
      query.map((name) => ({ path: `query.${name}`, message: 'not taken with a JSON body' })),
    );
  }
  if (!ndjson) return { ...readJsonBatch(request.body), format: 'json', asSent: request.body };
  const jobs = await readNdjsonBatch(request.body as Readable, request.headers['content-length']);
  return {
    format: 'ndjson',
    jobs,
    webhook_url: request.query.webhook_url,
    webhook_events: request.query.webhook_events,
    metadata: undefined,
    priority: request.query.priority,
    start_by: request.query.start_by,
    ttl_seconds: request.query.ttl_seconds,
    asSent: { lines: jobs, query: request.query },
  };
}
