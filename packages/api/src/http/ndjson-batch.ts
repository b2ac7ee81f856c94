/**
 * Reads a batch sent as NDJSON, one job per line, from the request stream (ndjson-lines.ts
 * splits it): each line is parsed and checked on its own, so that a line that holds no
 * valid job is reported with the others rather than ending the read. Sizes over the
 * limits (batch-limits.ts) and a body that breaks off end it at once, as problems.
 */
import type { Readable } from 'node:stream';
import { MAX_BATCH_JOBS } from '@renderq/contract';
import { issuesFromZod, parseWithMessages, type ValidationIssue } from '@renderq/shared';
import { MAX_NDJSON_BATCH_BYTES, MAX_NDJSON_LINE_BYTES } from './batch-limits.js';
import { jsonDepth, MAX_JSON_DEPTH } from './json-depth.js';
import { BodyAbortedError, BodyTooLargeError, LineTooLongError, ndjsonLines } from './ndjson-lines.js';
import { Problem } from './problems.js';
import { BatchJobRequest } from './schemas.js';

/** One job as read: the job, or (a line that holds none) what is wrong with the line. */
export type BatchEntry = BatchJobRequest | { readonly issues: readonly ValidationIssue[] };

/** The entries of the body's non-blank lines, in order; at least one. */
export async function readNdjsonBatch(body: Readable, contentLength: string | undefined): Promise<BatchEntry[]> {
  // A body announced too large is refused before a byte of it is read.
  if (contentLength !== undefined && Number(contentLength) > MAX_NDJSON_BATCH_BYTES) throw ndjsonTooLarge();
  const entries: BatchEntry[] = [];
  try {
    for await (const line of ndjsonLines(body, {
      maxLineBytes: MAX_NDJSON_LINE_BYTES,
      maxBodyBytes: MAX_NDJSON_BATCH_BYTES,
    })) {
      if (line.text.trim() === '') continue;
      if (entries.length === MAX_BATCH_JOBS) {
        throw new Problem(
          'payload_too_large',
          `a batch holds at most ${MAX_BATCH_JOBS} jobs (line ${line.number} is job ${MAX_BATCH_JOBS + 1})`,
        );
      }
      entries.push(parseLine(line.text));
    }
  } catch (error) {
    throw readingProblem(error);
  }
  if (entries.length === 0)
    throw new Problem('validation_failed', 'the batch holds no jobs', [
      { path: 'body', message: 'must hold at least one line' },
    ]);
  return entries;
}

/** The answer for a read that ended early; anything that is not about the body is passed on as it is. */
function readingProblem(error: unknown): unknown {
  if (error instanceof LineTooLongError) {
    return new Problem(
      'payload_too_large',
      `line ${error.line} is longer than ${error.maxLineBytes} bytes, the most one NDJSON line (one job) may hold; ` +
        'nothing was enqueued. Pass large images by URL',
      [{ line: error.line, path: '', message: `longer than ${error.maxLineBytes} bytes` }],
    );
  }
  if (error instanceof BodyTooLargeError) return ndjsonTooLarge();
  // Cut by us (too slow an upload): that is the answer.
  if (error instanceof BodyAbortedError && error.cause instanceof Problem) return error.cause;
  // Nobody is left to read the answer, but it keeps a client's disconnect out of the error log.
  if (error instanceof BodyAbortedError) return new Problem('validation_failed', error.message);
  return error;
}

function ndjsonTooLarge(): Problem {
  return new Problem(
    'payload_too_large',
    `an NDJSON batch is at most ${MAX_NDJSON_BATCH_BYTES} bytes; split it into several batches, or pass images by URL`,
  );
}

function parseLine(line: string): BatchEntry {
  if (jsonDepth(line) > MAX_JSON_DEPTH) {
    return { issues: [{ path: '', message: `nested deeper than ${MAX_JSON_DEPTH} levels` }] };
  }
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    return { issues: [{ path: '', message: `not valid JSON: ${(error as Error).message}` }] };
  }
  const parsed = parseWithMessages(BatchJobRequest, value);
  return parsed.success ? parsed.data : { issues: issuesFromZod(parsed.error) };
}
