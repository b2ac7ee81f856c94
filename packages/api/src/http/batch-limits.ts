/**
 * What one batch upload may cost. A JSON body is buffered and parsed whole, so it is
 * capped low (large batches go as NDJSON); NDJSON is read a line at a time, each line
 * capped and refused the moment it passes the cap; and only BATCH_UPLOAD_CONCURRENCY
 * uploads per process are read at once (upload-slots.ts).
 */

const MIB = 1024 * 1024;

/** A JSON batch is held as text and as parsed objects at once; this times BATCH_UPLOAD_CONCURRENCY must fit in memory. */
export const MAX_JSON_BATCH_BYTES = 16 * MIB;

/**
 * An NDJSON batch is never held as text, but its parsed jobs are, until the last line is checked (about the
 * body's size again); large inline images belong at URLs. (Inline images are stored beside the outputs once
 * the batch is accepted, not kept in Redis.)
 */
export const MAX_NDJSON_BATCH_BYTES = 64 * MIB;

/** One NDJSON line (one job, an inline base64 image included). */
export const MAX_NDJSON_LINE_BYTES = 1 * MIB;
