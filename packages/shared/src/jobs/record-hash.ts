/**
 * A job record as the Redis hash it is kept in, and back: every field a string, JSON
 * where it is structured. Empty values (null, [], '') are left out. Records written
 * before a field existed, or by an earlier layout (every field present, long values
 * whole), read the same.
 *
 * Long values are kept in pieces. Redis keeps a small hash as one compact listpack only
 * while every value is at most `hash-max-listpack-value` bytes (64 by default); one longer
 * value — a prompt, a stage with Segmind's URLs — turns the whole hash into a table that
 * costs about twice as much. So a value of a field in PIECED_FIELDS longer than PIECE_BYTES
 * and at most MAX_PIECED_BYTES is stored as `FIELD:1`, `FIELD:2`, … (each at most
 * PIECE_BYTES, cut between UTF-8 characters) and no `FIELD`; any other as `FIELD`. Past
 * MAX_PIECED_BYTES the record is too big for a listpack anyway (`hash-max-listpack-entries`,
 * 128), and each piece would cost a table entry of its own: about twice the value's bytes.
 * The Lua scripts keep the same rule (redis/lua/prelude/long-values.lua, with these
 * constants generated ahead of it).
 */
import { JobRecord } from './job-record.js';

/** The longest value stored whole: Redis's default `hash-max-listpack-value`. */
const PIECE_BYTES = 64;

/** The longest value kept in pieces (16 of them); longer ones are stored whole. */
const MAX_PIECED_BYTES = 1_024;

/** The fields whose values can be long (JSON, URLs), kept in pieces when they are. */
const PIECED_FIELDS = [
  'input',
  'inputs',
  'metadata',
  'webhook_url',
  'stage_data',
  'outputs',
  'error',
  'cancelled_request',
] as const;

/** The name of a long value's `n`th piece (from 1). */
export function pieceField(field: string, n: number): string {
  return `${field}:${n}`;
}

/**
 * `value` cut into pieces of at most PIECE_BYTES bytes, never inside a UTF-8 character; whole
 * when it is short, or longer than MAX_PIECED_BYTES.
 */
export function toPieces(value: string): string[] {
  if (value.length * 3 <= PIECE_BYTES || value.length > MAX_PIECED_BYTES) return [value];
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length <= PIECE_BYTES || bytes.length > MAX_PIECED_BYTES) return [value];
  const pieces: string[] = [];
  for (let start = 0; start < bytes.length; ) {
    let end = Math.min(start + PIECE_BYTES, bytes.length);
    // 10xxxxxx continues a character: end before it.
    while (end < bytes.length && ((bytes[end] as number) & 0xc0) === 0x80) end--;
    pieces.push(bytes.toString('utf8', start, end));
    start = end;
  }
  return pieces;
}

/** A long value as it is read: whole under `field`, else joined from its pieces; undefined when absent. */
function readLong(hash: Record<string, string>, field: string): string | undefined {
  const whole = hash[field];
  if (whole !== undefined) return whole;
  let joined: string | undefined;
  for (let n = 1; ; n++) {
    const piece = hash[pieceField(field, n)];
    if (piece === undefined) return joined;
    joined = (joined ?? '') + piece;
  }
}

const pieced: ReadonlySet<string> = new Set(PIECED_FIELDS);

/** The hash's fields for a value: none when empty, pieces when a long value of a PIECED_FIELDS field. */
function put(hash: Record<string, string>, field: string, value: string): void {
  if (value === '') return;
  const pieces = pieced.has(field) ? toPieces(value) : [value];
  if (pieces.length === 1) hash[field] = value;
  else for (const [i, piece] of pieces.entries()) hash[pieceField(field, i + 1)] = piece;
}

export function hashFromRecord(record: JobRecord): Record<string, string> {
  const hash: Record<string, string> = {};
  put(hash, 'id', record.id);
  put(hash, 'tenant', record.tenant);
  put(hash, 'model', record.model);
  put(hash, 'input', JSON.stringify(record.input));
  if (record.inputs.length > 0) put(hash, 'inputs', JSON.stringify(record.inputs));
  if (record.metadata !== null) put(hash, 'metadata', JSON.stringify(record.metadata));
  put(hash, 'batch_id', record.batch_id ?? '');
  put(hash, 'webhook_url', record.webhook_url ?? '');
  put(hash, 'webhook_events', record.webhook_events?.join(',') ?? '');
  put(hash, 'priority', String(record.priority));
  put(hash, 'stage', record.stage.name);
  put(hash, 'stage_data', JSON.stringify(record.stage));
  put(hash, 'segmind_request_id', record.segmind_request_id ?? '');
  if (record.outputs.length > 0) put(hash, 'outputs', JSON.stringify(record.outputs));
  put(hash, 'error', record.error ? JSON.stringify(record.error) : '');
  put(hash, 'cost', record.cost === null ? '' : String(record.cost));
  put(hash, 'cancelled_request', record.cancelled_request ? JSON.stringify(record.cancelled_request) : '');
  put(hash, 'created_at', record.created_at);
  put(hash, 'started_at', record.started_at ?? '');
  put(hash, 'finished_at', record.finished_at ?? '');
  if (record.trace_parent !== null) put(hash, 'trace_parent', record.trace_parent);
  if (record.start_by !== null) put(hash, 'start_by', record.start_by);
  if (record.replay_of !== null) put(hash, 'replay_of', record.replay_of);
  if (record.replayed_by !== null) put(hash, 'replayed_by', record.replayed_by);
  return hash;
}

export function recordFromHash(hash: Record<string, string>): JobRecord {
  const long = (field: (typeof PIECED_FIELDS)[number]) => readLong(hash, field);
  const error = long('error');
  const cancelled = long('cancelled_request');
  return JobRecord.parse({
    id: hash.id,
    tenant: hash.tenant,
    model: hash.model,
    input: JSON.parse(long('input') ?? '{}'),
    inputs: JSON.parse(long('inputs') || '[]'),
    metadata: JSON.parse(long('metadata') ?? 'null'),
    batch_id: hash.batch_id || null,
    webhook_url: long('webhook_url') || null,
    webhook_events: hash.webhook_events ? hash.webhook_events.split(',') : null,
    priority: Number(hash.priority),
    stage: JSON.parse(long('stage_data') ?? '{}'),
    segmind_request_id: hash.segmind_request_id || null,
    outputs: JSON.parse(long('outputs') || '[]'),
    error: error ? JSON.parse(error) : null,
    cost: hash.cost ? Number(hash.cost) : null,
    cancelled_request: cancelled ? JSON.parse(cancelled) : null,
    created_at: hash.created_at,
    started_at: hash.started_at || null,
    finished_at: hash.finished_at || null,
    trace_parent: hash.trace_parent || null,
    start_by: hash.start_by || null,
    replay_of: hash.replay_of || null,
    replayed_by: hash.replayed_by || null,
  });
}

/** PIECE_BYTES and PIECED (the fields kept in pieces) in Lua, put ahead of redis/lua/prelude/long-values.lua. */
export function recordLayoutLua(): string {
  const pieced = PIECED_FIELDS.map((field) => `['${field}'] = true`).join(', ');
  return [
    '-- Generated from packages/shared/src/jobs/record-hash.ts: do not edit here.',
    `local PIECE_BYTES = ${PIECE_BYTES}`,
    `local MAX_PIECED_BYTES = ${MAX_PIECED_BYTES}`,
    `local PIECED = { ${pieced} }`,
    '',
  ].join('\n');
}
