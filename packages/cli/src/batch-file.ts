/**
 * A batch read from a file: JSON (an array of jobs, or `{jobs, webhook_url?,
 * webhook_events?, metadata?, priority?}` as `POST /v1/batches` takes it) read
 * whole, or NDJSON (one `{model, input, metadata?}` per line, `-` for stdin)
 * read a line at a time while it is sent, so a 10,000-job file is never held in
 * memory. Blank lines are skipped; the file line of every job sent is kept so
 * the API's refusals can name lines as they are in the file.
 */
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { NewBatch, NewBatchJob } from '@renderq/client';
import { UsageError } from './errors.js';

export type BatchFormat = 'json' | 'ndjson';

export type BatchSource =
  | { readonly format: 'json'; readonly batch: NewBatch }
  | {
      readonly format: 'ndjson';
      /** The jobs, read as they are consumed; throws UsageError at a line that is not a JSON object. */
      readonly jobs: AsyncIterable<NewBatchJob>;
      /** The file line of the Nth job read (1-based). */
      readonly fileLineOf: (jobNumber: number) => number;
      /** The error that stopped reading, if any (fetch reports a failed body stream as its own error). */
      readonly readError: () => UsageError | undefined;
    };

export function formatOf(file: string, given: string | undefined): BatchFormat {
  if (given !== undefined) {
    if (given === 'json' || given === 'ndjson') return given;
    throw new UsageError(`--format must be json or ndjson, not "${given}"`);
  }
  if (file === '-' || /\.(ndjson|jsonl)$/i.test(file)) return 'ndjson';
  if (/\.json$/i.test(file)) return 'json';
  throw new UsageError(`cannot tell whether ${file} is JSON or NDJSON: name it .json or .ndjson, or pass --format`);
}

export async function readBatchFile(file: string, format: BatchFormat): Promise<BatchSource> {
  if (file !== '-') await mustBeReadable(file);
  return format === 'json' ? { format, batch: await readJsonBatch(file) } : ndjsonSource(file);
}

async function mustBeReadable(file: string): Promise<void> {
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new UsageError(`${file} is not a file`);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

async function readJsonBatch(file: string): Promise<NewBatch> {
  let value: unknown;
  try {
    value = JSON.parse(file === '-' ? await readStdin() : await readFile(file, 'utf8'));
  } catch (error) {
    throw new UsageError(`${file} is not valid JSON: ${(error as Error).message}`);
  }
  if (Array.isArray(value)) return { jobs: value as NewBatchJob[] };
  if (value !== null && typeof value === 'object' && Array.isArray((value as { jobs?: unknown }).jobs)) {
    return value as NewBatch;
  }
  throw new UsageError(
    `${file} must hold an array of jobs or an object with "jobs" (one job: renderq submit --model … --input-json @${file})`,
  );
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function ndjsonSource(file: string): BatchSource {
  const fileLines: number[] = [];
  let failure: UsageError | undefined;
  const jobs = async function* (): AsyncGenerator<NewBatchJob> {
    const input = file === '-' ? process.stdin : createReadStream(file);
    const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
    let number = 0;
    try {
      for await (const line of lines) {
        number++;
        if (line.trim() === '') continue;
        let job: unknown;
        try {
          job = JSON.parse(line);
        } catch (error) {
          throw new UsageError(`${file} line ${number} is not valid JSON: ${(error as Error).message}`);
        }
        if (job === null || typeof job !== 'object' || Array.isArray(job)) {
          throw new UsageError(`${file} line ${number} is not a job ({"model": …, "input": {…}})`);
        }
        fileLines.push(number);
        yield job as NewBatchJob;
      }
      if (fileLines.length === 0) throw new UsageError(`${file} holds no jobs`);
    } catch (error) {
      failure =
        error instanceof UsageError ? error : new UsageError(`cannot read ${file}: ${(error as Error).message}`);
      throw failure;
    } finally {
      lines.close();
      if (input !== process.stdin) input.destroy();
    }
  };
  return {
    format: 'ndjson',
    jobs: jobs(),
    fileLineOf: (jobNumber) => fileLines[jobNumber - 1] ?? jobNumber,
    readError: () => failure,
  };
}
