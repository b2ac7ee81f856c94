/**
 * A job record as the Redis hash it is kept in, and back: every field a string, JSON
 * where it is structured, '' for null. Records written before a field existed read
 * it as its empty value.
 */
import { JobRecord } from './job-record.js';

export function hashFromRecord(record: JobRecord): Record<string, string> {
  return {
    id: record.id,
    tenant: record.tenant,
    model: record.model,
    input: JSON.stringify(record.input),
    inputs: JSON.stringify(record.inputs),
    metadata: JSON.stringify(record.metadata),
    batch_id: record.batch_id ?? '',
    webhook_url: record.webhook_url ?? '',
    webhook_events: record.webhook_events?.join(',') ?? '',
    priority: String(record.priority),
    stage: record.stage.name,
    stage_data: JSON.stringify(record.stage),
    segmind_request_id: record.segmind_request_id ?? '',
    outputs: JSON.stringify(record.outputs),
    error: record.error ? JSON.stringify(record.error) : '',
    cost: record.cost === null ? '' : String(record.cost),
    cancelled_request: record.cancelled_request ? JSON.stringify(record.cancelled_request) : '',
    created_at: record.created_at,
    started_at: record.started_at ?? '',
    finished_at: record.finished_at ?? '',
    updated_at: record.created_at,
  };
}

export function recordFromHash(hash: Record<string, string>): JobRecord {
  return JobRecord.parse({
    id: hash.id,
    tenant: hash.tenant,
    model: hash.model,
    input: JSON.parse(hash.input ?? '{}'),
    inputs: JSON.parse(hash.inputs || '[]'),
    metadata: JSON.parse(hash.metadata ?? 'null'),
    batch_id: hash.batch_id || null,
    webhook_url: hash.webhook_url || null,
    webhook_events: hash.webhook_events ? hash.webhook_events.split(',') : null,
    priority: Number(hash.priority),
    stage: JSON.parse(hash.stage_data ?? '{}'),
    segmind_request_id: hash.segmind_request_id || null,
    outputs: JSON.parse(hash.outputs || '[]'),
    error: hash.error ? JSON.parse(hash.error) : null,
    cost: hash.cost ? Number(hash.cost) : null,
    cancelled_request: hash.cancelled_request ? JSON.parse(hash.cancelled_request) : null,
    created_at: hash.created_at,
    started_at: hash.started_at || null,
    finished_at: hash.finished_at || null,
  });
}
