/**
 * `renderq submit`: one job from flags (`--model`, `--input`…), or a JSON/NDJSON
 * FILE as one batch; `--wait` follows it to the end and `--download DIR` then
 * saves its outputs. Exits as `wait` and `download` would. `--trace` sends a fresh W3C
 * `traceparent`, so that the job's (or batch's) steps are traced under a trace id printed here.
 */
import { randomBytes } from 'node:crypto';
import { type Batch, type CreateOptions, type NewBatch, RenderqApiError } from '@renderq/client';
import { formatOf, readBatchFile } from '../batch-file.js';
import type { Action, CommandContext, WaitFlags } from '../context.js';
import { UsageError } from '../errors.js';
import { EXIT } from '../exit-codes.js';
import { BatchFileRefusedError } from '../failure.js';
import { jobInput, jsonObjectFlag } from '../input-flags.js';
import { batchEventsFlag, jobEventsFlag } from '../webhook-events-flag.js';
import { downloadExitCode, downloadJson, downloadLines, downloadRecord } from './download.js';
import { exitCodeOf, followRecord, type JobOrBatch, recordLines } from './records.js';

export interface SubmitFlags extends WaitFlags {
  readonly model?: string;
  readonly input?: readonly string[];
  readonly inputJson?: string;
  readonly metadata?: string;
  readonly webhookUrl?: string;
  readonly webhookEvents?: readonly string[];
  readonly priority?: number;
  readonly idempotencyKey?: string;
  readonly format?: string;
  readonly wait?: boolean;
  readonly download?: string;
  readonly trace?: boolean;
}

export function submitCommand(file: string | undefined, flags: SubmitFlags): Action {
  return async (context) => {
    const trace = flags.trace ? { traceId: randomBytes(16).toString('hex') } : undefined;
    const traceparent = trace ? { traceparent: `00-${trace.traceId}-${randomBytes(8).toString('hex')}-01` } : {};
    const created =
      file === undefined
        ? await createJob(context, flags, traceparent)
        : await createBatch(context, file, flags, traceparent);
    const id = 'job' in created ? created.job.id : created.batch.id;
    if (trace) noteTrace(context, created, trace.traceId);
    if (!flags.wait && flags.download === undefined) {
      context.output.result(created, () => recordLines(context, created));
      return EXIT.ok;
    }
    context.output.note(
      'job' in created ? `${id} queued (${created.job.model})` : `${id} queued: ${created.batch.counts.total} jobs`,
    );
    const finished = await followRecord(context, id, flags);
    // The batch's answer at creation may carry more than a later read (its jobs' ids): keep both.
    const record: JobOrBatch =
      'batch' in finished && 'batch' in created ? { batch: { ...created.batch, ...finished.batch } } : finished;
    if (flags.download === undefined) {
      context.output.result(record, () => recordLines(context, record));
      return exitCodeOf(record);
    }
    const result = await downloadRecord(context, record, flags.download);
    context.output.result(downloadJson(record, result), () => [
      ...recordLines(context, record),
      ...downloadLines(context, result, flags.download as string),
    ]);
    return downloadExitCode(record, result);
  };
}

/**
 * The trace id to look for in the collector: a job's own (an Idempotency-Key replay answers the first
 * request's); a batch's jobs are in the trace sent, if renderq traces them (a batch cannot say).
 */
function noteTrace(context: CommandContext, created: JobOrBatch, traceId: string): void {
  if (!('job' in created)) context.output.note(`trace ${traceId} (if renderq traces: its OTEL_* settings)`);
  else if (created.job.trace_id === null) {
    context.output.note('no trace: renderq did not trace it (tracing off in its OTEL_* settings, or not sampled)');
  } else context.output.note(`trace ${created.job.trace_id}`);
}

async function createJob(context: CommandContext, flags: SubmitFlags, trace: CreateOptions): Promise<JobOrBatch> {
  if (flags.format !== undefined) throw new UsageError('--format applies to a FILE of jobs');
  if (!flags.model) throw new UsageError('give --model (and --input), or a FILE of jobs to send as a batch');
  const job = await context.client.createJob(
    {
      model: flags.model,
      input: jobInput(flags.inputJson, flags.input ?? []),
      ...(flags.webhookUrl !== undefined ? { webhook_url: flags.webhookUrl } : {}),
      ...(flags.webhookEvents !== undefined ? { webhook_events: jobEventsFlag(flags.webhookEvents) } : {}),
      ...(flags.metadata !== undefined ? { metadata: jsonObjectFlag('--metadata', flags.metadata) } : {}),
      ...(flags.priority !== undefined ? { priority: flags.priority } : {}),
    },
    { ...trace, ...(flags.idempotencyKey !== undefined ? { idempotencyKey: flags.idempotencyKey } : {}) },
  );
  return { job };
}

async function createBatch(
  context: CommandContext,
  file: string,
  flags: SubmitFlags,
  trace: CreateOptions,
): Promise<JobOrBatch> {
  const single = [
    flags.model !== undefined && '--model',
    (flags.input ?? []).length > 0 && '--input',
    flags.inputJson !== undefined && '--input-json',
  ].filter(Boolean);
  if (single.length > 0) throw new UsageError(`${single.join(', ')} make a single job: give them or a FILE, not both`);
  const options = {
    ...(flags.webhookUrl !== undefined ? { webhook_url: flags.webhookUrl } : {}),
    ...(flags.webhookEvents !== undefined ? { webhook_events: batchEventsFlag(flags.webhookEvents) } : {}),
    ...(flags.priority !== undefined ? { priority: flags.priority } : {}),
  };
  const format = formatOf(file, flags.format);
  if (format === 'ndjson' && flags.metadata !== undefined) {
    throw new UsageError(
      '--metadata: an NDJSON batch has no batch metadata (give each line its own "metadata", or use a JSON file with {"jobs", "metadata"})',
    );
  }
  const source = await readBatchFile(file, format);
  if (source.format === 'json') {
    const batch: NewBatch = {
      ...source.batch,
      ...options,
      ...(flags.metadata !== undefined ? { metadata: jsonObjectFlag('--metadata', flags.metadata) } : {}),
    };
    return {
      batch: await context.client.createBatch(batch, {
        ...trace,
        ...(flags.idempotencyKey !== undefined ? { idempotencyKey: flags.idempotencyKey } : {}),
      }),
    };
  }
  let created: Batch;
  try {
    created = await context.client.createBatchStream(source.jobs, {
      ...options,
      ...trace,
      ...(flags.idempotencyKey !== undefined ? { idempotencyKey: flags.idempotencyKey } : {}),
    });
  } catch (error) {
    // A line that could not be read stops the upload (nothing is enqueued); say which line, not "fetch failed".
    const unreadable = source.readError();
    if (unreadable) throw unreadable;
    if (error instanceof RenderqApiError) throw new BatchFileRefusedError(error, file, source.fileLineOf);
    throw error;
  }
  return { batch: created };
}
