/**
 * Downloads each output (URL, data: URI or base64) and streams it into storage
 * under the job's deterministic key, recording size, sha256 and content type. A
 * download larger than the cap or slower than the timeout is refused; an output
 * that is gone fails the job, an outage is retried. An output that says it is small
 * is read whole and stored in one write, which costs far less than a stream per image.
 */
import { pipeline, type Readable, Transform } from 'node:stream';
import {
  extensionFor,
  FailJobError,
  type Metrics,
  RetryLaterError,
  type Storage,
  type StoredOutput,
  sniffImageType,
} from '@renderq/shared';
import { type Dispatcher, request } from 'undici';

export interface OutputStoreOptions {
  readonly storage: Storage;
  readonly dispatcher: Dispatcher;
  readonly metrics: Metrics;
  readonly maxBytes: number;
  readonly timeoutMs: number;
}

/** Outputs up to this size (by their Content-Length) are read into memory rather than streamed. */
const READ_WHOLE_BYTES = 1 << 20;

type OutputBody = { readonly body: Readable | Uint8Array; readonly contentType: string };

export class OutputStore {
  constructor(private readonly options: OutputStoreOptions) {}

  async store(jobId: string, index: number, source: string): Promise<StoredOutput> {
    const { body, contentType } = /^https?:\/\//i.test(source)
      ? await this.#download(source)
      : inline(source, this.options.maxBytes);
    const key = this.options.storage.outputKey(jobId, index, extensionFor(contentType));
    try {
      const capped = body instanceof Uint8Array ? body : capStream(body, this.options.maxBytes);
      const stored = await this.options.storage.put(key, capped, contentType);
      return {
        index,
        storage_key: stored.key,
        content_type: stored.contentType,
        size: stored.size,
        sha256: stored.sha256,
      };
    } catch (error) {
      if (error instanceof FailJobError) throw error;
      throw new RetryLaterError(`could not store output ${index}: ${(error as Error).message}`, 'storage_failed', {
        cause: error,
      });
    }
  }

  async remove(key: string): Promise<void> {
    await this.options.storage.delete(key);
  }

  async #download(url: string): Promise<OutputBody> {
    let answer: Dispatcher.ResponseData;
    try {
      answer = await request(url, {
        dispatcher: this.options.dispatcher,
        method: 'GET',
        headersTimeout: this.options.timeoutMs,
        bodyTimeout: this.options.timeoutMs,
      });
    } catch (error) {
      this.options.metrics.segmindRequests.inc({ operation: 'download', status_code: 'error' });
      throw new RetryLaterError(`could not download ${url}: ${(error as Error).message}`, 'storage_failed', {
        cause: error,
      });
    }
    this.options.metrics.segmindRequests.inc({ operation: 'download', status_code: String(answer.statusCode) });
    if (answer.statusCode !== 200) {
      await answer.body.dump();
      const message = `downloading ${url} answered ${answer.statusCode}`;
      // Output media live for days: a 4xx means it is gone, anything else may pass.
      if (answer.statusCode >= 400 && answer.statusCode < 500) throw new FailJobError('storage_failed', message);
      throw new RetryLaterError(message, 'storage_failed');
    }
    const declared = Number(answer.headers['content-length'] ?? 0);
    if (declared > this.options.maxBytes) {
      answer.body.destroy();
      throw new FailJobError(
        'storage_failed',
        `output ${url} is ${declared} bytes, above the ${this.options.maxBytes} byte cap`,
      );
    }
    const type = String(answer.headers['content-type'] ?? 'application/octet-stream')
      .split(';')[0]
      ?.trim();
    const contentType = type || 'application/octet-stream';
    if (!(declared > 0 && declared <= READ_WHOLE_BYTES)) return { body: answer.body, contentType };
    try {
      // undici refuses a body longer than its Content-Length, so this stays within the cap.
      return { body: new Uint8Array(await answer.body.arrayBuffer()), contentType };
    } catch (error) {
      throw new RetryLaterError(`could not download ${url}: ${(error as Error).message}`, 'storage_failed', {
        cause: error,
      });
    }
  }
}

/** A data: URI or bare base64, with its type from the URI or the bytes' signature. */
function inline(source: string, maxBytes: number): OutputBody {
  const dataUri = /^data:([\w/+.-]+)?(;[^,]*)?,(.*)$/s.exec(source);
  const bytes = Buffer.from(dataUri ? (dataUri[3] as string) : source, 'base64');
  if (bytes.length === 0) throw new FailJobError('segmind_failed', 'Segmind returned an empty output');
  if (bytes.length > maxBytes) {
    throw new FailJobError('storage_failed', `output is larger than the ${maxBytes} byte cap`);
  }
  return { body: bytes, contentType: dataUri?.[1] ?? sniffImageType(bytes) };
}

/**
 * `body` through the size cap. Joined with pipeline, not pipe: an error on either side then
 * destroys both and is handled at once (storage's own pipeline reports it). With pipe, a refusal
 * that came before storage had started reading (while it made the job's directory) was raised
 * with nobody listening: an uncaught exception that stopped the worker.
 */
function capStream(body: Readable, maxBytes: number): Transform {
  const capped = sizeCap(maxBytes);
  pipeline(body, capped, () => {
    // Reported by the consumer of `capped`, whose pipeline sees the same error.
  });
  return capped;
}

function sizeCap(maxBytes: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length;
      if (seen > maxBytes)
        callback(new FailJobError('storage_failed', `output is larger than the ${maxBytes} byte cap`));
      else callback(null, chunk);
    },
  });
}
