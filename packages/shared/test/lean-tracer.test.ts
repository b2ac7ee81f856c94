/**
 * renderq's tracer against the SDK's: for the same calls, spans a processor reads the same (ids and
 * clock readings aside), sampling decided as the SDK's samplers decide, and the SDK's rules for
 * status, limits, exceptions and ended spans kept.
 */
import {
  type Context,
  ROOT_CONTEXT,
  SamplingDecision,
  type Span,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  InMemorySpanExporter,
  ParentBasedSampler,
  type ReadableSpan,
  type Sampler,
  SimpleSpanProcessor,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { describe, expect, it } from 'vitest';
import { LeanTracer } from '../src/observability/lean-tracer.js';

const resource = resourceFromAttributes({ 'service.name': 'renderq-test' });
const scope = { name: 'renderq' };

function lean(root: Sampler = new AlwaysOnSampler(), followParent = true) {
  const exporter = new InMemorySpanExporter();
  const tracer = new LeanTracer({
    resource,
    scope,
    sampling: { followParent, root },
    processor: new SimpleSpanProcessor({ exporter }),
  });
  return { tracer, spans: () => exporter.getFinishedSpans() };
}

function sdk(sampler: Sampler = new ParentBasedSampler({ root: new AlwaysOnSampler() })) {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ resource, sampler, spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  return { tracer: provider.getTracer('renderq'), spans: () => exporter.getFinishedSpans() };
}

const parentOf = (traceFlags: number, isRemote = true): Context =>
  trace.setSpanContext(ROOT_CONTEXT, {
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
    spanId: '00f067aa0ba902b7',
    traceFlags,
    isRemote,
    traceState: new TraceState('vendor=abc'),
  });

/** What a processor reads of a span, without what differs from run to run (its ids and times). */
function readable(span: ReadableSpan) {
  return {
    name: span.name,
    kind: span.kind,
    traceId: span.parentSpanContext ? span.spanContext().traceId : 'new',
    traceFlags: span.spanContext().traceFlags,
    traceState: span.spanContext().traceState?.serialize(),
    parent: span.parentSpanContext,
    attributes: span.attributes,
    events: span.events.map(({ name, attributes, droppedAttributesCount }) => ({
      name,
      attributes: { ...attributes },
      droppedAttributesCount: droppedAttributesCount ?? 0,
    })),
    links: span.links,
    status: span.status,
    ended: span.ended,
    dropped: [span.droppedAttributesCount, span.droppedEventsCount, span.droppedLinksCount],
    resource: span.resource.attributes,
    scope: span.instrumentationScope.name,
  };
}

/** The calls renderq's steps make on a span, and a few that they do not. */
function exercise(tracer: Tracer): void {
  const request = tracer.startSpan(
    'POST /v1/jobs',
    { kind: SpanKind.SERVER, attributes: { 'http.request.method': 'POST', skipped: undefined } },
    parentOf(TraceFlags.SAMPLED),
  );
  const child = trace.setSpan(ROOT_CONTEXT, request);
  const step = tracer.startSpan(
    'renderq.store',
    {
      attributes: { 'renderq.job_id': 'job_a' },
      links: [{ context: request.spanContext(), attributes: { why: 'x' } }],
    },
    child,
  );
  const bytes = [1, 2];
  step.setAttribute('renderq.output.bytes', bytes);
  step.setAttribute('renderq.output.sizes', bytes);
  step.setAttribute('renderq.output.bytes', [3, null]);
  // Changed after it was set: the span keeps the value it was given.
  bytes.push(99);
  // What an attribute may not hold: left out.
  step.setAttribute('renderq.object', { a: 1 } as never);
  step.setAttribute('renderq.mixed', ['a', 1] as never);
  step.setAttribute('renderq.null', null as never);
  step.setAttribute('', 'no key');
  step.setAttributes({ 'renderq.cost': 0.25, 'renderq.none': undefined });
  step.addEvent('segmind.poll', { 'segmind.status': 'PROCESSING' });
  step.addEvent('timed', Date.now());
  step.recordException(Object.assign(new Error('the bucket said 403'), { code: 'storage_failed' }));
  step.recordException('a plain message');
  step.recordException(Object.assign(new Error('an empty code'), { code: '' }));
  step.setStatus({ code: SpanStatusCode.ERROR, message: 'storage_failed: denied' });
  step.updateName('renderq.store');
  step.end();
  step.setAttribute('after', 'end');
  step.end();
  const ok = tracer.startSpan('renderq.poll', { kind: SpanKind.CLIENT, startTime: Date.now() - 1_500 }, child);
  ok.setStatus({ code: SpanStatusCode.OK });
  ok.setStatus({ code: SpanStatusCode.ERROR, message: 'too late: OK is final' });
  ok.end();
  tracer.startSpan('root', { root: true }, child).end();
  request.end();
}

describe('LeanTracer', () => {
  it('makes the spans the SDK makes for the same calls', () => {
    const ours = lean();
    const theirs = sdk();
    exercise(ours.tracer);
    exercise(theirs.tracer);
    const strip = (spans: ReadableSpan[]) =>
      spans.map((span) => {
        const view = readable(span);
        // The exception event's stack trace names the tracer it passed through.
        for (const event of view.events) delete event.attributes['exception.stacktrace'];
        // A link to the request's span: its id differs from one run to the other.
        return { ...view, links: view.links.map((link) => ({ attributes: link.attributes })), parent: !!view.parent };
      });
    expect(ours.spans()).toHaveLength(4);
    const store = ours.spans().find((span) => span.name === 'renderq.store') as ReadableSpan;
    expect(store.events.find((event) => event.name === 'exception')?.attributes?.['exception.stacktrace']).toMatch(
      /the bucket said 403/,
    );
    expect(store.parentSpanContext?.spanId).toBe(ours.spans().at(-1)?.spanContext().spanId);
    expect(strip(ours.spans())).toEqual(strip(theirs.spans()));
  });

  it('keeps times: a given start, an end after it, and never an end before the start', () => {
    const { tracer, spans } = lean();
    const startMs = Date.UTC(2026, 11, 7, 4, 0, 0, 123) + 0.5;
    const span = tracer.startSpan('renderq.queue_wait', { startTime: startMs }, parentOf(1));
    span.end(startMs + 2_250.25);
    const backwards = tracer.startSpan('backwards', { startTime: startMs }, parentOf(1));
    backwards.end(startMs - 1_000);
    const now = tracer.startSpan('now', {}, parentOf(1));
    now.end();
    const [wait, back, current] = spans() as [ReadableSpan, ReadableSpan, ReadableSpan];
    expect(wait.startTime).toEqual([Math.floor(startMs / 1e3), 123_500_000]);
    expect(wait.endTime).toEqual([Math.floor(startMs / 1e3) + 2, 373_750_000]);
    expect(wait.duration).toEqual([2, 250_250_000]);
    expect(back.duration).toEqual([0, 0]);
    expect(back.endTime).toEqual(back.startTime);
    const [seconds] = current.startTime;
    expect(Math.abs(seconds * 1e3 - Date.now())).toBeLessThan(5_000);
    expect(current.duration[0]).toBe(0);
  });

  it('follows the parent when parent-based, and asks the root sampler otherwise', () => {
    const on = lean(new AlwaysOffSampler(), true);
    expect(on.tracer.startSpan('sampled parent', {}, parentOf(TraceFlags.SAMPLED)).isRecording()).toBe(true);
    const unsampled = on.tracer.startSpan('unsampled parent', {}, parentOf(TraceFlags.NONE));
    expect(unsampled.isRecording()).toBe(false);
    // Not recorded, but still in the caller's trace, so that what follows it stays there.
    expect(unsampled.spanContext().traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(on.tracer.startSpan('root, sampler off').isRecording()).toBe(false);
    const off = lean(new AlwaysOffSampler(), false);
    expect(off.tracer.startSpan('sampled parent, not followed', {}, parentOf(1)).isRecording()).toBe(false);
    const half = lean(new TraceIdRatioBasedSampler(0.5), true);
    const roots = Array.from({ length: 400 }, () => half.tracer.startSpan('root', { root: true }) as Span);
    const recorded = roots.filter((span) => span.isRecording()).length;
    expect(recorded).toBeGreaterThan(120);
    expect(recorded).toBeLessThan(280);
    for (const span of roots) {
      // The decision the SDK's own sampler makes for the same trace id.
      const theirs = new TraceIdRatioBasedSampler(0.5).shouldSample(ROOT_CONTEXT, span.spanContext().traceId);
      expect(span.isRecording()).toBe(theirs.decision === SamplingDecision.RECORD_AND_SAMPLED);
    }
  });

  it('runs a function with an active span, as the Tracer interface asks', () => {
    const { tracer, spans } = lean();
    const answer = tracer.startActiveSpan('active', { attributes: { a: 1 } }, parentOf(1), (span: Span) => {
      span.end();
      return 42;
    });
    expect(answer).toBe(42);
    expect(spans().map((span) => [span.name, span.attributes.a, span.spanContext().traceId])).toEqual([
      ['active', 1, '4bf92f3577b34da6a3ce929d0e0e4736'],
    ]);
  });

  it('gives each span an id of its own, and a new trace a new trace id', () => {
    const { tracer } = lean();
    const ids = new Set<string>();
    const traces = new Set<string>();
    for (let i = 0; i < 2_000; i += 1) {
      const context = tracer.startSpan('root', { root: true }).spanContext();
      expect(context.spanId).toMatch(/^[\da-f]{16}$/);
      expect(context.traceId).toMatch(/^[\da-f]{32}$/);
      ids.add(context.spanId);
      traces.add(context.traceId);
    }
    expect(ids.size).toBe(2_000);
    expect(traces.size).toBe(2_000);
  });

  it('keeps the first 128 of the attributes a span starts with, as the SDK does', () => {
    const many = Object.fromEntries(Array.from({ length: 130 }, (_, i) => [`a${i}`, i]));
    const ours = lean();
    const theirs = sdk();
    for (const { tracer } of [ours, theirs]) tracer.startSpan('many', { attributes: many }, parentOf(1)).end();
    const [mine, sdks] = [ours.spans()[0], theirs.spans()[0]] as [ReadableSpan, ReadableSpan];
    expect(Object.keys(mine.attributes)).toHaveLength(128);
    expect(mine.attributes).toEqual(sdks.attributes);
    expect(mine.droppedAttributesCount).toBe(sdks.droppedAttributesCount);
    expect(mine.droppedAttributesCount).toBe(2);
  });

  it('keeps at most 128 attributes and 128 events, as the SDK does by default', () => {
    const { tracer, spans } = lean();
    const span = tracer.startSpan('many', {}, parentOf(1));
    for (let i = 0; i < 130; i += 1) span.setAttribute(`a${i}`, i);
    span.setAttribute('a0', 'replaced');
    for (let i = 0; i < 130; i += 1) span.addEvent(`e${i}`);
    span.end();
    const [ended] = spans() as [ReadableSpan];
    expect(Object.keys(ended.attributes)).toHaveLength(128);
    expect(ended.attributes.a0).toBe('replaced');
    expect(ended.droppedAttributesCount).toBe(2);
    expect(ended.events).toHaveLength(128);
    expect(ended.events[0]?.name).toBe('e2');
    expect(ended.droppedEventsCount).toBe(2);
  });
});
