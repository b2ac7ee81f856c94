/**
 * A typed client for the renderq API: jobs (created, listed a page at a time or
 * all of them, read, cancelled), batches (JSON or streamed NDJSON), waiting with
 * progress, output downloads, webhook delivery records. It uses the
 * platform's fetch and nothing else. Creating a job or a JSON batch sends an
 * Idempotency-Key (one is made up when the caller gives none), so a retry after a
 * lost answer never creates a second one. A streamed batch cannot be sent again by
 * the client: it is not retried, and takes the caller's key for the caller's retries.
 */
import { randomUUID } from 'node:crypto';
import type {
  Batch,
  BulkEstimate,
  BulkOperation,
  BulkRequest,
  CreatedBatch,
  Job,
  JobPage,
  Model,
  WebhookEvent,
} from './contract.js';
import { RenderqApiError } from './errors.js';
import { isFinishedStatus } from './statuses.js';
import type { JobFilters, ListJobsOptions, NewBatch, NewBatchJob, NewJob } from './types.js';

export interface RenderqClientOptions {
  /** e.g. http://127.0.0.1:8080 */
  readonly baseUrl: string;
  /** Sent as `Authorization: Bearer …`; leave out for a server without keys. */
  readonly apiKey?: string;
  /** How often a request that found no answer, a 429 or a 5xx is tried again. @defaultValue 3 */
  readonly retries?: number;
  /** @defaultValue globalThis.fetch */
  readonly fetch?: typeof fetch;
}

/** One event of a job's or a batch's event stream (docs/api.md, "Following a job"). */
export interface StreamEvent {
  /** Increasing; what the stream resumes after. */
  readonly id: string;
  /** `snapshot`; a job's new stage (`polling`, `completed`, …); a batch's `job.completed`, …, `batch.completed`. */
  readonly event: string;
  /** `{stage, status, job}` for a job; `{job_id, status, batch}` or `{batch}` for a batch. */
  readonly data: Record<string, unknown>;
}

export interface WaitOptions<T> {
  /** Called with each reading while waiting. */
  readonly onProgress?: (current: T) => void;
  /** @defaultValue 1000 */
  readonly intervalMs?: number;
  /** Give up (with an error) after this long. @defaultValue no limit */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/** What a create may carry besides its body. */
export interface CreateOptions {
  /** A retry with the same key and body returns the same job or batch (24 h). @defaultValue a fresh UUID */
  readonly idempotencyKey?: string;
  /** Your span's W3C `traceparent`: the job's steps are traced under it (when renderq traces). */
  readonly traceparent?: string;
  readonly tracestate?: string;
}

function traceHeaders(options: CreateOptions): Record<string, string> {
  return {
    ...(options.traceparent ? { traceparent: options.traceparent } : {}),
    ...(options.tracestate ? { tracestate: options.tracestate } : {}),
  };
}

function creationHeaders(options: CreateOptions): Record<string, string> {
  return { 'idempotency-key': options.idempotencyKey ?? randomUUID(), ...traceHeaders(options) };
}

interface RequestOptions {
  readonly signal?: AbortSignal;
  /** Sent as JSON. */
  readonly body?: unknown;
  /** Sent as it is (NDJSON streams). */
  readonly raw?: string | ReadableStream<Uint8Array>;
  readonly headers?: Record<string, string>;
  /** false: never sent twice (a batch without a key). @defaultValue true */
  readonly retry?: boolean;
}

export class RenderqClient {
  readonly #baseUrl: string;
  readonly #apiKey: string | undefined;
  readonly #retries: number;
  readonly #fetch: typeof fetch;

  constructor(options: RenderqClientOptions) {
    this.#baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.#apiKey = options.apiKey;
    this.#retries = options.retries ?? 3;
    this.#fetch = options.fetch ?? globalThis.fetch;
  }

  createJob(job: NewJob, options: CreateOptions = {}): Promise<Job> {
    return this.#json('POST', '/v1/jobs', { body: job, headers: creationHeaders(options) });
  }

  getJob(id: string): Promise<Job> {
    return this.#json('GET', `/v1/jobs/${encodeURIComponent(id)}`);
  }

  cancelJob(id: string): Promise<Job> {
    return this.#json('POST', `/v1/jobs/${encodeURIComponent(id)}/cancel`);
  }

  /**
   * Replays the finished jobs a filter or ids choose (failed, cancelled or expired, each at most
   * once): with `dry_run: true`, what it would do; else the operation doing it.
   */
  replayJobs(request: BulkRequest & { readonly dry_run: true }): Promise<BulkEstimate>;
  replayJobs(request: BulkRequest): Promise<BulkOperation>;
  replayJobs(request: BulkRequest): Promise<BulkEstimate | BulkOperation> {
    // Safe to send again: a job is replayed at most once, whichever operation gets there.
    return this.#json('POST', '/v1/jobs/replay', { body: request });
  }

  /** Cancels the unfinished jobs a filter or ids choose: with `dry_run: true`, how many it would. */
  cancelJobs(request: BulkRequest & { readonly dry_run: true }): Promise<BulkEstimate>;
  cancelJobs(request: BulkRequest): Promise<BulkOperation>;
  cancelJobs(request: BulkRequest): Promise<BulkEstimate | BulkOperation> {
    return this.#json('POST', '/v1/jobs/cancel', { body: request });
  }

  /** A bulk operation's status and progress. */
  getOperation(id: string): Promise<BulkOperation> {
    return this.#json('GET', `/v1/operations/${encodeURIComponent(id)}`);
  }

  /** Asks a bulk operation to stop after its step under way; `aborting` until it has. */
  abortOperation(id: string): Promise<BulkOperation> {
    return this.#json('POST', `/v1/operations/${encodeURIComponent(id)}/abort`, { retry: false });
  }

  /**
   * One page of the tenant's jobs, newest first. Pass the page's `next_cursor` as `cursor` for the
   * next one (with the same filters, or none); a page may be short, even empty, and still have one.
   */
  listJobs(options: ListJobsOptions = {}): Promise<JobPage> {
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(options)) {
      if (value !== undefined) query.set(name, String(value));
    }
    const suffix = query.size > 0 ? `?${query}` : '';
    return this.#json('GET', `/v1/jobs${suffix}`);
  }

  /** Every job matching `filters`, newest first, read a page at a time (`pageSize` jobs per request). */
  async *jobs(filters: JobFilters = {}, { pageSize = 100 }: { readonly pageSize?: number } = {}): AsyncGenerator<Job> {
    let cursor: string | undefined;
    do {
      const page = await this.listJobs({ ...filters, limit: pageSize, ...(cursor ? { cursor } : {}) });
      yield* page.jobs;
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
  }

  /** Up to 10,000 jobs in one request, all or nothing; the answer names each job's id by its index. */
  createBatch(batch: NewBatch, options: CreateOptions = {}): Promise<CreatedBatch> {
    return this.#json('POST', '/v1/batches', { body: batch, headers: creationHeaders(options) });
  }

  /** A batch sent as NDJSON, one line per job, streamed from `jobs` rather than built in memory. */
  createBatchStream(
    jobs: Iterable<NewBatchJob> | AsyncIterable<NewBatchJob>,
    options: Omit<NewBatch, 'jobs' | 'metadata'> & CreateOptions = {},
  ): Promise<CreatedBatch> {
    const query = new URLSearchParams();
    if (options.webhook_url) query.set('webhook_url', options.webhook_url);
    if (options.webhook_events) query.set('webhook_events', options.webhook_events.join(','));
    if (options.priority) query.set('priority', String(options.priority));
    const encoder = new TextEncoder();
    const lines = async function* () {
      for await (const job of jobs) yield encoder.encode(`${JSON.stringify(job)}\n`);
    };
    const body = ReadableStream.from(lines());
    const suffix = query.size > 0 ? `?${query}` : '';
    return this.#json('POST', `/v1/batches${suffix}`, {
      raw: body,
      headers: {
        'content-type': 'application/x-ndjson',
        ...traceHeaders(options),
        ...(options.idempotencyKey ? { 'idempotency-key': options.idempotencyKey } : {}),
      },
      retry: false,
    });
  }

  /**
   * Creates a job and answers once it has finished, or once `waitSeconds` have passed (with the job
   * as it is then): `Prefer: wait` on the create, then on reads, so nothing polls.
   */
  async run(
    job: NewJob,
    { waitSeconds = 60, ...options }: CreateOptions & { readonly waitSeconds?: number } = {},
  ): Promise<Job> {
    const deadline = Date.now() + waitSeconds * 1_000;
    const prefer = () => ({ prefer: `wait=${Math.max(0, Math.min(60, Math.ceil((deadline - Date.now()) / 1_000)))}` });
    let current: Job = await this.#json('POST', '/v1/jobs', {
      body: job,
      headers: { ...creationHeaders(options), ...prefer() },
    });
    while (!isFinishedStatus(current.status) && Date.now() < deadline) {
      current = await this.#json('GET', `/v1/jobs/${encodeURIComponent(current.id)}`, { headers: prefer() });
    }
    return current;
  }

  /**
   * A job's or a batch's events as they happen: a snapshot, then each change, until its final
   * event. A dropped connection is resumed with `Last-Event-ID`, so no event is lost or repeated.
   */
  async *events(
    kind: 'job' | 'batch',
    id: string,
    { signal }: { readonly signal?: AbortSignal } = {},
  ): AsyncGenerator<StreamEvent> {
    const path = `/v1/${kind === 'job' ? 'jobs' : 'batches'}/${encodeURIComponent(id)}/events`;
    let lastId: string | undefined;
    for (let dropped = 0; ; ) {
      let response: Response;
      try {
        response = await this.#request('GET', path, {
          headers: { accept: 'text/event-stream', ...(lastId ? { 'last-event-id': lastId } : {}) },
          // This loop is the retry: a second one inside would multiply the attempts.
          retry: false,
          ...(signal ? { signal } : {}),
        });
      } catch (error) {
        if (error instanceof RenderqApiError || signal?.aborted || ++dropped > this.#retries) throw error;
        await sleep(backoffMs(dropped), signal);
        continue;
      }
      // 204: resumed after the final event, nothing more will come.
      if (response.status === 204) return;
      let finished = false;
      let gave = false;
      try {
        for await (const event of readEventStream(response)) {
          lastId = event.id;
          gave = true;
          finished = isFinalEvent(kind, event);
          yield event;
        }
      } catch (error) {
        if (signal?.aborted || ++dropped > this.#retries) throw error;
      }
      // The server ends a stream after its final event; one that ends sooner (a restart) is resumed,
      // and one that gave nothing counts as a failed attempt, so that no loop goes on for ever.
      if (finished) return;
      if (gave) dropped = 0;
      else if (++dropped > this.#retries)
        throw new Error(`the event stream of ${kind} ${id} keeps ending without events`);
      await sleep(backoffMs(Math.max(1, dropped)), signal);
    }
  }

  getBatch(id: string): Promise<Batch> {
    return this.#json('GET', `/v1/batches/${encodeURIComponent(id)}`);
  }

  cancelBatch(id: string): Promise<Batch> {
    return this.#json('POST', `/v1/batches/${encodeURIComponent(id)}/cancel`);
  }

  /** A batch's jobs in creation order, read from the API's NDJSON stream as they arrive. */
  async *batchJobs(id: string): AsyncGenerator<Job> {
    const response = await this.#request('GET', `/v1/batches/${encodeURIComponent(id)}/jobs`);
    if (!response.body) return;
    const decoder = new TextDecoder();
    let pending = '';
    for await (const chunk of response.body) {
      pending += decoder.decode(chunk, { stream: true });
      let newline = pending.indexOf('\n');
      while (newline >= 0) {
        const line = pending.slice(0, newline).trim();
        pending = pending.slice(newline + 1);
        if (line) yield JSON.parse(line) as Job;
        newline = pending.indexOf('\n');
      }
    }
    if (pending.trim()) yield JSON.parse(pending) as Job;
  }

  /** Polls the job until it is completed, failed or cancelled; returns it then. */
  waitForJob(id: string, options: WaitOptions<Job> = {}): Promise<Job> {
    return this.#waitFor(
      () => this.getJob(id),
      (job) => isFinishedStatus(job.status),
      options,
    );
  }

  /** Polls the batch until every one of its jobs has finished (cancelled ones included). */
  waitForBatch(id: string, options: WaitOptions<Batch> = {}): Promise<Batch> {
    return this.#waitFor(
      () => this.getBatch(id),
      (batch) => batch.finished_at !== null,
      options,
    );
  }

  /** One output's bytes, through its key-free link. */
  async downloadOutput(job: Job, index: number): Promise<Uint8Array> {
    const response = await this.outputStream(job, index);
    return new Uint8Array(await response.arrayBuffer());
  }

  /** One output as a streaming response (for large files: pipe `body` somewhere). */
  async outputStream(job: Job, index: number): Promise<Response> {
    const output = job.outputs[index];
    if (!output) throw new RangeError(`job ${job.id} has no output ${index} (it has ${job.outputs.length})`);
    const response = await this.#fetch(output.url);
    if (!response.ok) throw await RenderqApiError.from(response, 'GET', output.url.split('?')[0] ?? output.url);
    return response;
  }

  async webhookDeliveries(kind: 'job' | 'batch', id: string): Promise<WebhookEvent[]> {
    const answer = await this.#json<{ events: WebhookEvent[] }>(
      'GET',
      `/v1/${kind === 'job' ? 'jobs' : 'batches'}/${encodeURIComponent(id)}/webhook-deliveries`,
    );
    return answer.events;
  }

  /** Sends a job's or batch's webhook events again, under their own webhook-ids. */
  async redeliverWebhooks(kind: 'job' | 'batch', id: string): Promise<WebhookEvent[]> {
    const answer = await this.#json<{ events: WebhookEvent[] }>(
      'POST',
      `/v1/${kind === 'job' ? 'jobs' : 'batches'}/${encodeURIComponent(id)}/webhook-deliveries/redeliver`,
    );
    return answer.events;
  }

  async models(): Promise<Model[]> {
    return (await this.#json<{ models: Model[] }>('GET', '/v1/models')).models;
  }

  async #waitFor<T>(read: () => Promise<T>, done: (value: T) => boolean, options: WaitOptions<T>): Promise<T> {
    const interval = options.intervalMs ?? 1_000;
    const deadline = options.timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + options.timeoutMs;
    for (;;) {
      options.signal?.throwIfAborted();
      const value = await read();
      options.onProgress?.(value);
      if (done(value)) return value;
      if (Date.now() + interval > deadline) throw new Error(`still not finished after ${options.timeoutMs} ms`);
      await sleep(interval, options.signal);
    }
  }

  async #json<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const response = await this.#request(method, path, options);
    return (await response.json()) as T;
  }

  async #request(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json, application/x-ndjson', ...options.headers };
    if (this.#apiKey) headers.authorization = `Bearer ${this.#apiKey}`;
    let body = options.raw;
    if (options.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.body);
    }
    // GETs are safe to repeat, and POSTs here are idempotent (cancel, keyed creates) unless told otherwise.
    const attempts = options.retry === false ? 1 : this.#retries + 1;
    for (let attempt = 1; ; attempt++) {
      let response: Response;
      try {
        response = await this.#fetch(`${this.#baseUrl}${path}`, {
          method,
          headers,
          body: body ?? null,
          ...(options.signal ? { signal: options.signal } : {}),
          ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
        } as RequestInit);
      } catch (error) {
        if (attempt >= attempts) throw error;
        await sleep(backoffMs(attempt));
        continue;
      }
      if (response.ok) return response;
      const failure = await RenderqApiError.from(response, method, path);
      if (!failure.retryable || attempt >= attempts) throw failure;
      await sleep(failure.retryAfterMs ?? backoffMs(attempt));
    }
  }
}

/** The events of an event stream's body, as they arrive. */
async function* readEventStream(response: Response): AsyncGenerator<StreamEvent> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const fields = new Map<string, string>();
      for (const line of block.split('\n')) {
        const colon = line.indexOf(': ');
        if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 2));
      }
      // A comment (the keep-alive) has no fields.
      const data = fields.get('data');
      if (data !== undefined) {
        yield { id: fields.get('id') ?? '', event: fields.get('event') ?? 'message', data: JSON.parse(data) };
      }
    }
  }
}

/** Whether the server ends the stream after this event. */
function isFinalEvent(kind: 'job' | 'batch', event: StreamEvent): boolean {
  if (kind === 'batch') {
    const batch = event.data.batch as { finished_at?: string | null } | undefined;
    return event.event === 'batch.completed' || (event.event === 'snapshot' && !!batch?.finished_at);
  }
  const job = event.data.job as { status?: string } | undefined;
  return isFinishedStatus(event.event) || (event.event === 'snapshot' && !!job?.status && isFinishedStatus(job.status));
}

function backoffMs(attempt: number): number {
  return Math.min(10_000, 250 * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}
