/**
 * The span processor for OTLP/protobuf: batches spans as the SDK's BatchSpanProcessor does (the
 * OTEL_BSP_* delay, queue and batch sizes; one export at a time), but writes each span into its
 * batch's request the moment it ends, so that no span outlives its step. Kept until their batch
 * left, spans outlived the young generation of the heap and cost a job more in garbage collection
 * than in their encoding (docs/benchmarks.md).
 */
import { type Context, TraceFlags } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace';
import { OtlpSpanEncoder } from './otlp-span-encoding.js';

type Resource = ReadableSpan['resource'];
type Scope = ReadableSpan['instrumentationScope'];

/** An OTLP/protobuf request, and how many spans it holds. */
export interface EncodedRequest {
  readonly bytes: Uint8Array;
  readonly spans: number;
}

/** What sends a request: OpenTelemetry's OTLP exporter, given requests already encoded. */
export interface RequestExporter {
  export(request: EncodedRequest, done: (result: { code: number; error?: Error }) => void): void;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

export interface EncodingSpanProcessorOptions {
  readonly exporter: RequestExporter;
  /** Every span this process makes has this resource and scope (LeanTracer's). */
  readonly resource: Resource;
  readonly scope: Scope;
  readonly delayMs: number;
  readonly maxQueueSize: number;
  readonly maxBatchSize: number;
}

export class EncodingSpanProcessor implements SpanProcessor {
  readonly #options: EncodingSpanProcessorOptions;
  readonly #encoder = new OtlpSpanEncoder();
  /** Spans in the request being gathered. */
  #gathering = 0;
  /** Requests complete and waiting their turn, with their span counts. */
  readonly #ready: EncodedRequest[] = [];
  #readySpans = 0;
  #exporting: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(options: EncodingSpanProcessorOptions) {
    this.#options = { ...options, maxBatchSize: Math.max(1, Math.min(options.maxBatchSize, options.maxQueueSize)) };
  }

  onStart(_span: Span, _context: Context): void {}

  onEnd(span: ReadableSpan): void {
    if (this.#stopped || (span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return;
    // A full queue (a collector away or slow) drops the newest spans, as the SDK's processor does.
    if (this.#gathering + this.#readySpans >= this.#options.maxQueueSize) return;
    try {
      this.#encoder.append(span);
    } catch {
      return;
    }
    this.#gathering += 1;
    if (this.#gathering >= this.#options.maxBatchSize) this.#close();
    this.#next();
  }

  async forceFlush(): Promise<void> {
    this.#close();
    while (this.#exporting || this.#ready.length > 0) {
      this.#next();
      await this.#exporting;
    }
    await this.#options.exporter.forceFlush();
  }

  async shutdown(): Promise<void> {
    if (this.#stopped) return;
    await this.forceFlush();
    this.#stopped = true;
    await this.#options.exporter.shutdown();
  }

  /** The request being gathered, made ready to send. */
  #close(): void {
    this.#clearTimer();
    if (this.#gathering === 0) return;
    const bytes = this.#encoder.takeRequest(this.#options.resource, this.#options.scope);
    this.#ready.push({ bytes, spans: this.#gathering });
    this.#readySpans += this.#gathering;
    this.#gathering = 0;
  }

  /** Sends the next ready request unless one is on its way; else waits the delay for a batch to fill. */
  #next(): void {
    if (this.#exporting) return;
    const next = this.#ready.shift();
    if (next) {
      this.#clearTimer();
      this.#readySpans -= next.spans;
      this.#exporting = new Promise<void>((resolve) => {
        // A failed export loses its spans (the exporter has retried): tracing never holds up a job.
        this.#options.exporter.export(next, () => resolve());
      }).finally(() => {
        this.#exporting = undefined;
        this.#next();
      });
      return;
    }
    if (this.#gathering > 0 && this.#timer === undefined) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#close();
        this.#next();
      }, this.#options.delayMs);
      this.#timer.unref();
    }
  }

  #clearTimer(): void {
    if (this.#timer === undefined) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
