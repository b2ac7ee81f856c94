/**
 * The processor that encodes spans as they end: its requests hold the bytes OpenTelemetry's
 * serializer writes for the same spans, batched as the SDK's BatchSpanProcessor batches (the size,
 * the delay, the queue's bound, one export at a time), and nothing is lost at a flush or a stop.
 */
import { ROOT_CONTEXT, TraceFlags, trace } from '@opentelemetry/api';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AlwaysOnSampler, type ReadableSpan, type SpanProcessor } from '@opentelemetry/sdk-trace';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  type EncodedRequest,
  EncodingSpanProcessor,
  type RequestExporter,
} from '../src/observability/encoding-span-processor.js';
import { LeanTracer } from '../src/observability/lean-tracer.js';

const resource = resourceFromAttributes({ 'service.name': 'renderq-test', 'deployment.environment': 'test' });
const scope = { name: 'renderq' };
const parent = (traceFlags: number) =>
  trace.setSpanContext(ROOT_CONTEXT, {
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
    spanId: '00f067aa0ba902b7',
    traceFlags,
    isRemote: true,
  });

/** An exporter that keeps what it is sent and answers when told to (or at once). */
function exporter(answerAtOnce = true) {
  const sent: EncodedRequest[] = [];
  const waiting: (() => void)[] = [];
  const fake: RequestExporter = {
    export(request, done) {
      sent.push(request);
      if (answerAtOnce) done({ code: 0 });
      else waiting.push(() => done({ code: 0 }));
    },
    forceFlush: async () => undefined,
    shutdown: async () => undefined,
  };
  return { fake, sent, answer: () => waiting.shift()?.() };
}

/** Spans made by renderq's tracer, ended into `processor` and also kept, for the serializer to compare with. */
function tracerInto(processor: SpanProcessor) {
  const ended: ReadableSpan[] = [];
  const keeping: SpanProcessor = {
    onStart: () => undefined,
    onEnd: (span) => {
      ended.push(span);
      processor.onEnd(span);
    },
    forceFlush: async () => undefined,
    shutdown: async () => undefined,
  };
  const tracer = new LeanTracer({
    resource,
    scope,
    sampling: { followParent: true, root: new AlwaysOnSampler() },
    processor: keeping,
  });
  const make = (count: number, traceFlags = TraceFlags.SAMPLED) => {
    for (let i = 0; i < count; i += 1) {
      const span = tracer.startSpan(
        `renderq.step.${i % 3}`,
        { attributes: { 'renderq.job_id': `job_${i}`, 'renderq.n': i } },
        parent(traceFlags),
      );
      span.addEvent('segmind.poll', { 'segmind.status': 'COMPLETED' });
      span.end();
    }
  };
  return { make, ended };
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

afterEach(() => {
  vi.useRealTimers();
});

describe('EncodingSpanProcessor', () => {
  it('sends full batches at once, in the bytes OpenTelemetry writes for them', async () => {
    const { fake, sent } = exporter();
    const processor = new EncodingSpanProcessor({
      exporter: fake,
      resource,
      scope,
      delayMs: 60_000,
      maxQueueSize: 2_048,
      maxBatchSize: 100,
    });
    const { make, ended } = tracerInto(processor);
    make(250);
    // The first full batch leaves at once; the next waits for it to be answered.
    expect(sent.map((request) => request.spans)).toEqual([100]);
    await processor.forceFlush();
    expect(sent.map((request) => request.spans)).toEqual([100, 100, 50]);
    for (const [i, request] of sent.entries()) {
      const spans = ended.slice(i * 100, i * 100 + request.spans);
      expect(hex(request.bytes)).toBe(hex(ProtobufTraceSerializer.serializeRequest(spans) as Uint8Array));
    }
  });

  it('sends what it has after the delay, and spans not sampled never', async () => {
    vi.useFakeTimers();
    const { fake, sent } = exporter();
    const processor = new EncodingSpanProcessor({
      exporter: fake,
      resource,
      scope,
      delayMs: 5_000,
      maxQueueSize: 2_048,
      maxBatchSize: 512,
    });
    const { make } = tracerInto(processor);
    make(3);
    make(5, TraceFlags.NONE);
    await vi.advanceTimersByTimeAsync(4_999);
    expect(sent).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(sent.map((request) => request.spans)).toEqual([3]);
  });

  it('sends one request at a time, and drops the newest spans past its queue while the collector is slow', async () => {
    const { fake, sent, answer } = exporter(false);
    const processor = new EncodingSpanProcessor({
      exporter: fake,
      resource,
      scope,
      delayMs: 60_000,
      maxQueueSize: 300,
      maxBatchSize: 100,
    });
    const { make } = tracerInto(processor);
    make(500);
    // One on its way (100); three batches held (300, the queue's bound); the last 100 dropped.
    expect(sent.map((request) => request.spans)).toEqual([100]);
    const flushed = processor.forceFlush();
    for (let i = 0; i < 4; i += 1) {
      answer();
      await new Promise((resolve) => setImmediate(resolve));
    }
    await flushed;
    expect(sent.map((request) => request.spans)).toEqual([100, 100, 100, 100]);
    const ids = sent.flatMap((request) => [
      ...Buffer.from(request.bytes)
        .toString('latin1')
        .matchAll(/job_(\d+)/g),
    ]);
    expect(ids.map((match) => Number(match[1]))).toEqual(Array.from({ length: 400 }, (_, i) => i));
  });

  it('sends what it holds when it stops, and nothing after', async () => {
    const { fake, sent } = exporter();
    const shutdown = vi.spyOn(fake, 'shutdown');
    const processor = new EncodingSpanProcessor({
      exporter: fake,
      resource,
      scope,
      delayMs: 60_000,
      maxQueueSize: 2_048,
      maxBatchSize: 512,
    });
    const { make } = tracerInto(processor);
    make(7);
    await processor.shutdown();
    expect(sent.map((request) => request.spans)).toEqual([7]);
    expect(shutdown).toHaveBeenCalledTimes(1);
    make(3);
    await processor.forceFlush();
    expect(sent).toHaveLength(1);
  });
});
