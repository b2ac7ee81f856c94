/**
 * `renderq download ID DIR`: a job's outputs, or those of every completed job of
 * a batch, into DIR, each checked against its sha256 (downloads.ts). Jobs that
 * did not complete are listed and make the exit code 1; a file that does not
 * match its record makes it 5, after the others have been fetched.
 */
import type { Job } from '@renderq/client';
import type { Action, CommandContext, WaitFlags } from '../context.js';
import { type SavedFile, saveJobOutputs } from '../downloads.js';
import { ChecksumMismatchError } from '../errors.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { bytes } from '../format.js';
import { progressBar } from '../progress-bar.js';
import { exitCodeOf, followRecord, type JobOrBatch, readRecord } from './records.js';

/** Jobs of a batch fetched at once. */
const PARALLEL_JOBS = 4;

interface NotDownloaded {
  readonly job_id: string;
  readonly batch_index?: number;
  readonly status: string;
}

export interface DownloadResult {
  readonly files: SavedFile[];
  readonly not_downloaded: NotDownloaded[];
  readonly mismatches: ChecksumMismatchError[];
}

export function downloadCommand(id: string, dir: string, flags: WaitFlags & { readonly wait?: boolean }): Action {
  return async (context) => {
    const record = flags.wait ? await followRecord(context, id, flags) : await readRecord(context, id);
    const result = await downloadRecord(context, record, dir);
    context.output.result(downloadJson(record, result), () => downloadLines(context, result, dir));
    return downloadExitCode(record, result);
  };
}

export async function downloadRecord(
  context: CommandContext,
  record: JobOrBatch,
  dir: string,
): Promise<DownloadResult> {
  const result: DownloadResult = { files: [], not_downloaded: [], mismatches: [] };
  const save = async (job: Job, place?: { index: number; width: number }) => {
    if (job.status !== 'completed') {
      result.not_downloaded.push({
        job_id: job.id,
        ...(place ? { batch_index: place.index } : {}),
        status: job.status,
      });
      return;
    }
    try {
      result.files.push(...(await saveJobOutputs(context.client, job, dir, place)));
    } catch (error) {
      if (!(error instanceof ChecksumMismatchError)) throw error;
      result.mismatches.push(error);
      context.output.error(error.message);
    }
  };
  if ('job' in record) {
    await save(record.job);
  } else {
    const width = Math.max(2, String(record.batch.counts.total - 1).length);
    // On a terminal, a bar of the batch's jobs done (a large batch takes a while to fetch).
    const bar = context.output.interactive
      ? progressBar(context.output, 'downloading {bar} {value}/{total} jobs | {files} files | {duration_formatted}')
      : undefined;
    bar?.start(record.batch.counts.total, 0, { files: 0 });
    const running = new Set<Promise<void>>();
    // The first failure stops taking new jobs; the ones under way finish before it is thrown.
    let failure: { error: unknown } | undefined;
    let index = 0;
    try {
      for await (const job of context.client.batchJobs(record.batch.id)) {
        const task: Promise<void> = save(job, { index: index++, width })
          .catch((error: unknown) => {
            failure ??= { error };
          })
          .finally(() => {
            running.delete(task);
            bar?.increment({ files: result.files.length });
          });
        running.add(task);
        if (running.size >= PARALLEL_JOBS) await Promise.race(running);
        if (failure) break;
      }
    } finally {
      await Promise.all(running);
      bar?.stop();
    }
    if (failure) throw failure.error;
    result.files.sort((a, b) => (a.batch_index ?? 0) - (b.batch_index ?? 0) || a.output_index - b.output_index);
    result.not_downloaded.sort((a, b) => (a.batch_index ?? 0) - (b.batch_index ?? 0));
  }
  return result;
}

/** What `--json` prints: the record, the files saved, the jobs without outputs, and files that did not match. */
export function downloadJson(record: JobOrBatch, result: DownloadResult): Record<string, unknown> {
  return {
    ...record,
    files: result.files,
    not_downloaded: result.not_downloaded,
    mismatched: result.mismatches.map((mismatch) => mismatch.details),
  };
}

/** 5 when a file did not match its record; else 1 when a job had nothing to fetch; else how the record ended. */
export function downloadExitCode(record: JobOrBatch, result: DownloadResult): ExitCode {
  if (result.mismatches.length > 0) return EXIT.checksum;
  if (result.not_downloaded.length > 0) return EXIT.notCompleted;
  return exitCodeOf(record);
}

export function downloadLines(context: CommandContext, result: DownloadResult, dir: string): string[] {
  const lines = result.files.map(
    (file) =>
      `${file.already_there ? 'kept ' : 'saved'} ${file.path}  ${file.content_type}, ${bytes(file.size)}, sha256 ${context.output.paint('green', 'ok')}`,
  );
  for (const skipped of result.not_downloaded) {
    const where = skipped.batch_index !== undefined ? ` (job ${skipped.batch_index})` : '';
    lines.push(`${context.output.paint('yellow', 'skipped')} ${skipped.job_id}${where}: ${skipped.status}, no outputs`);
  }
  if (result.files.length === 0 && result.not_downloaded.length === 0) lines.push(`nothing to download into ${dir}`);
  return lines;
}
