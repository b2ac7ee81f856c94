/**
 * A job's or a batch's outputs into a folder. Each file is streamed to a
 * `.part` file while its sha256 is computed, and kept under its name only when
 * hash and size match the job's record; a file already there with the right
 * sha256 is left as it is (a second run fetches only what is missing). Names
 * say whose output a file is: `JOB-N.ext` for a job, `INDEX-JOB-N.ext` for the
 * INDEXth job of a batch.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Job, JobOutput, RenderqClient } from '@renderq/client';
import { ChecksumMismatchError } from './errors.js';

export interface SavedFile {
  readonly job_id: string;
  /** The job's place in its batch (0-based); absent for a single job. */
  readonly batch_index?: number;
  readonly output_index: number;
  readonly path: string;
  readonly content_type: string;
  readonly size: number;
  readonly sha256: string;
  /** It was already in the folder with this sha256, so it was not fetched again. */
  readonly already_there: boolean;
}

const EXTENSIONS: Record<string, string> = {
  'image/jpeg': 'jpg',
  'image/png': 'png',
  'image/webp': 'webp',
  'image/gif': 'gif',
};

/** `JOB-N.ext`, or `INDEX-JOB-N.ext` for a batch's job (INDEX zero-padded to the batch's width). */
function outputFileName(job: Job, outputIndex: number, place?: { index: number; width: number }): string {
  const output = job.outputs[outputIndex] as JobOutput;
  const extension =
    EXTENSIONS[output.content_type.split(';')[0]?.trim() ?? ''] ?? path.extname(output.storage_key).slice(1) ?? 'bin';
  const prefix = place ? `${String(place.index).padStart(place.width, '0')}-` : '';
  return `${prefix}${job.id}-${outputIndex}.${extension || 'bin'}`;
}

export async function saveJobOutputs(
  client: RenderqClient,
  job: Job,
  dir: string,
  place?: { index: number; width: number },
): Promise<SavedFile[]> {
  await mkdir(dir, { recursive: true });
  const saved: SavedFile[] = [];
  for (const [outputIndex, output] of job.outputs.entries()) {
    const file = path.join(dir, outputFileName(job, outputIndex, place));
    const already = await sha256IfSize(file, output.size);
    if (already !== output.sha256) await fetchVerified(client, job, outputIndex, file);
    saved.push({
      job_id: job.id,
      ...(place ? { batch_index: place.index } : {}),
      output_index: outputIndex,
      path: file,
      content_type: output.content_type,
      size: output.size,
      sha256: output.sha256,
      already_there: already === output.sha256,
    });
  }
  return saved;
}

async function fetchVerified(client: RenderqClient, job: Job, outputIndex: number, file: string): Promise<void> {
  const output = job.outputs[outputIndex] as JobOutput;
  const response = await client.outputStream(job, outputIndex);
  const part = `${file}.part`;
  const hash = createHash('sha256');
  let size = 0;
  try {
    await pipeline(
      Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>),
      async function* (chunks: AsyncIterable<Buffer>) {
        for await (const chunk of chunks) {
          hash.update(chunk);
          size += chunk.length;
          yield chunk;
        }
      },
      createWriteStream(part),
    );
    const sha256 = hash.digest('hex');
    if (sha256 !== output.sha256 || size !== output.size) {
      throw new ChecksumMismatchError(
        `output ${outputIndex} of ${job.id} arrived with sha256 ${sha256} (${size} bytes) but its record says ` +
          `${output.sha256} (${output.size} bytes); ${path.basename(file)} was not kept`,
        {
          job_id: job.id,
          output_index: outputIndex,
          expected: { sha256: output.sha256, size: output.size },
          received: { sha256, size },
        },
      );
    }
    await rename(part, file);
  } finally {
    await rm(part, { force: true });
  }
}

/** The sha256 of a file already there, when it has the expected size (else it will be fetched anyway). */
async function sha256IfSize(file: string, size: number): Promise<string | undefined> {
  const info = await stat(file).catch(() => undefined);
  if (!info?.isFile() || info.size !== size) return undefined;
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
