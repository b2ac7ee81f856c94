/**
 * renderq's spans (docs/observability.md). A job's trace context travels with its record as a
 * W3C `traceparent`, so each step, in whichever process runs it, adds its span under the request
 * that created the job. Spans for time that has already passed (a wait in a queue) are made
 * afterwards with their true start. Spans are passed explicitly, never through an active context
 * (tracing.ts says why); the span of a job's step in progress is found by the job's id, for an
 * error found deep inside the step and for its log lines. Without a tracer (tracing off), or for a
 * job that carries no trace context, nothing is made and the work runs as it is.
 */
import {
  type Attributes,
  type Context,
  defaultTextMapGetter,
  defaultTextMapSetter,
  INVALID_SPAN_CONTEXT,
  isSpanContextValid,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { kept } from './kept-values.js';

const TRACE_PARENT = /^[\da-f]{2}-([\da-f]{32})-[\da-f]{16}-[\da-f]{2}$/;
const STORED_PARENT = /^00-([\da-f]{32})-([\da-f]{16})-([\da-f]{2})$/;
const NOT_RECORDING = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);
const MAX_PARENTS = 1_024;

/** The trace id of a `traceparent`, or null. */
export function traceIdOf(traceParent: string | null | undefined): string | null {
  return traceParent ? (TRACE_PARENT.exec(traceParent)?.[1] ?? null) : null;
}

/** What a renderq step records on its span when a job fails there: its error code, not only a message. */
export function markFailed(span: Span | undefined, code: string, message: string): void {
  if (!span?.isRecording()) return;
  span.setAttribute('renderq.error_code', code);
  span.setStatus({ code: SpanStatusCode.ERROR, message: `${code}: ${message}` });
}

/** The ids a log line carries to join it to its trace (the span may have ended); none without a trace. */
export function traceLogFields(span: Span | undefined): { trace_id?: string; span_id?: string } {
  const context = span?.spanContext();
  if (!context || !isSpanContextValid(context)) return {};
  return { trace_id: context.traceId, span_id: context.spanId };
}

/** The `traceparent` that makes a span the parent of what comes after it (another process's steps). */
export function traceParentOf(span: Span | undefined): string | null {
  if (!span?.isRecording()) return null;
  const carrier: Record<string, string> = {};
  propagation.inject(trace.setSpan(ROOT_CONTEXT, span), carrier, defaultTextMapSetter);
  return carrier.traceparent ?? null;
}

export interface SpanTimes {
  readonly startMs: number;
  readonly endMs: number;
}

export interface RunOptions {
  /** When the span began, if before the call (the previous look, the event's recording). @defaultValue now */
  readonly startMs?: number;
  readonly kind?: SpanKind;
  /** The job whose step this is: `spanOf(jobId)` finds the span while it runs. */
  readonly jobId?: string;
}

export class Traces {
  readonly #tracer: Tracer | undefined;
  readonly #ofJob = new Map<string, Span>();
  /** The contexts of stored `traceparent`s: a job's steps, and a batch's jobs, share one. */
  readonly #parents = new Map<string, Context>();

  constructor(tracer: Tracer | undefined) {
    this.#tracer = tracer;
  }

  get on(): boolean {
    return this.#tracer !== undefined;
  }

  /** A span for a request (the API's server span), under the caller's context taken from `headers`. */
  startRequest(name: string, headers: Record<string, unknown>, attributes: Attributes): Span | undefined {
    if (!this.#tracer) return undefined;
    const parent = propagation.extract(ROOT_CONTEXT, headers, defaultTextMapGetter);
    return this.#tracer.startSpan(name, { kind: SpanKind.SERVER, attributes }, parent);
  }

  /** The `traceparent` header of a span, for an outbound request made on its behalf. */
  headerOf(span: Span): Record<string, string> {
    const traceParent = traceParentOf(span);
    return traceParent ? { traceparent: traceParent } : {};
  }

  /** The span of the job's step running in this process, if it is traced. */
  spanOf(jobId: string): Span | undefined {
    return this.#ofJob.get(jobId);
  }

  /** A span for time already passed, under `parent`. Nothing when off or `parent` is null. */
  past(
    parent: string | null,
    name: string,
    times: SpanTimes,
    attributes: Attributes,
    failure?: { readonly code: string; readonly message: string },
  ): void {
    if (!this.#tracer || !parent) return;
    try {
      const span = this.#tracer.startSpan(
        name,
        { kind: SpanKind.INTERNAL, startTime: times.startMs, attributes },
        this.#contextOf(parent),
      );
      if (failure) markFailed(span, failure.code, failure.message);
      span.end(Math.max(times.startMs, times.endMs));
    } catch {
      // A span is never worth a job: whatever went wrong here, the step goes on.
    }
  }

  /**
   * Runs `work` with a span under `parent`, ended when it settles; a throw is recorded on it and
   * passed on. Without a tracer or a parent, `work` gets a span that records nothing.
   */
  async run<T>(
    parent: string | null,
    name: string,
    attributes: Attributes,
    work: (span: Span) => Promise<T>,
    options: RunOptions = {},
  ): Promise<T> {
    if (!this.#tracer || !parent) return work(NOT_RECORDING);
    const span = this.#tracer.startSpan(
      name,
      { kind: options.kind ?? SpanKind.INTERNAL, attributes, startTime: options.startMs },
      this.#contextOf(parent),
    );
    if (options.jobId !== undefined) this.#ofJob.set(options.jobId, span);
    try {
      return await work(span);
    } catch (error) {
      // A step that hands a job back to BullMQ (delayed, rate-limited) throws on purpose: not a failure.
      if (!isHandBack(error)) {
        span.recordException(error instanceof Error ? error : String(error));
        span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
      }
      throw error;
    } finally {
      if (options.jobId !== undefined && this.#ofJob.get(options.jobId) === span) this.#ofJob.delete(options.jobId);
      span.end();
    }
  }

  #contextOf(traceParent: string): Context {
    return kept(this.#parents, traceParent, MAX_PARENTS, contextOf);
  }
}

/** BullMQ's errors that move a job (DelayedError, RateLimitError, Waiting…), by name. */
function isHandBack(error: unknown): boolean {
  const name = (error as Error | undefined)?.name ?? '';
  return (
    name === 'DelayedError' || name === 'RateLimitError' || name === 'WaitingChildrenError' || name === 'WaitingError'
  );
}

/**
 * The context of a stored `traceparent` (written by renderq, so always well formed; anything else
 * is no parent). Read directly rather than through the propagator: a job's every span starts here.
 */
function contextOf(traceParent: string): Context {
  const fields = STORED_PARENT.exec(traceParent);
  if (!fields) return ROOT_CONTEXT;
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: fields[1] as string,
    spanId: fields[2] as string,
    traceFlags: Number.parseInt(fields[3] as string, 16),
    isRemote: true,
  });
}
