/**
 * renderq's OTLP encoding of spans against OpenTelemetry's own serializer: the same bytes for every
 * kind of span content a collector may be sent (attributes of each type, events, links, statuses,
 * trace state, long and non-ASCII strings, batches past the first buffer), and for the same encoder
 * used again and again.
 */

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { type Attributes, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOnSampler,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/config.js';
import { LeanTracer } from '../src/observability/lean-tracer.js';
import { OtlpSpanEncoder } from '../src/observability/otlp-span-encoding.js';
import { Traces } from '../src/observability/traces.js';
import { startTracing } from '../src/observability/tracing.js';

function recorder(serviceName: string, resource: Attributes = {}) {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': serviceName, ...resource }),
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
  });
  return {
    provider,
    async spans() {
      await provider.forceFlush();
      return exporter.getFinishedSpans();
    },
  };
}

const remoteParent = {
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
  spanId: '00f067aa0ba902b7',
  traceFlags: 1,
  isRemote: true,
  traceState: new TraceState('vendor=abc,other=x-y'),
};
const REMOTE_PARENT = trace.setSpanContext(ROOT_CONTEXT, remoteParent);

/** renderq's tracer, handing each span it ends to `onEnd`. */
function leanTracer(onEnd: (span: ReadableSpan) => void): LeanTracer {
  return new LeanTracer({
    resource: resourceFromAttributes({ 'service.name': 'renderq-worker' }),
    scope: { name: 'renderq' },
    sampling: { followParent: true, root: new AlwaysOnSampler() },
    processor: {
      onStart: () => undefined,
      onEnd,
      forceFlush: async () => undefined,
      shutdown: async () => undefined,
    },
  });
}

/** The request renderq's encoder makes of `spans` (all of one resource and scope, as a process's are). */
function encoded(spans: readonly ReadableSpan[], encoder: OtlpSpanEncoder): Uint8Array {
  for (const span of spans) encoder.append(span);
  const [first] = spans as [ReadableSpan];
  return encoder.takeRequest(first.resource, first.instrumentationScope);
}

function sameBytes(spans: ReadableSpan[], encoder = new OtlpSpanEncoder()): void {
  const ours = encoded(spans, encoder);
  const theirs = ProtobufTraceSerializer.serializeRequest(spans) as Uint8Array;
  expect(Buffer.from(ours).toString('hex')).toBe(Buffer.from(theirs).toString('hex'));
}

describe('OtlpSpanEncoder', () => {
  it('writes the bytes OpenTelemetry writes, for every kind of attribute, event, link and status', async () => {
    const { provider, spans } = recorder('renderq-worker', { 'deployment.environment': 'test', 'host.cpus': 2 });
    const tracer = provider.getTracer('renderq', '1.2.3');
    const request = tracer.startSpan(
      'POST /v1/jobs',
      { kind: SpanKind.SERVER, attributes: { 'http.request.method': 'POST', 'http.response.status_code': 202 } },
      REMOTE_PARENT,
    );
    const child = trace.setSpan(ROOT_CONTEXT, request);
    const step = tracer.startSpan(
      'renderq.store',
      {
        attributes: {
          'renderq.job_id': 'job_01JF0000000000000000000001',
          'renderq.output.bytes': [181_234, 0, 7],
          'renderq.output.sha256': ['4b1a'.repeat(16), 'e3b0'.repeat(16)],
          'renderq.cost': 0.0023,
          'renderq.negative': -42,
          'renderq.huge': 2 ** 40 + 3,
          'renderq.fraction': -1.5,
          'renderq.flag': true,
          'renderq.off': false,
          'renderq.flags': [true, false],
          'renderq.ratios': [0.5, 1.25],
          'renderq.unicode': 'prénom — 名前 🎨',
          'renderq.long': 'x'.repeat(300),
          'renderq.empty': '',
        },
        links: [{ context: request.spanContext() }, { context: remoteParent, attributes: { 'link.why': 'batch' } }],
      },
      child,
    );
    step.addEvent('segmind.poll', { 'segmind.status': 'PROCESSING', 'renderq.poll': 2 });
    step.addEvent('bare');
    step.setStatus({ code: SpanStatusCode.ERROR, message: 'storage_failed: the bucket said 403 — denied' });
    step.end();
    const ok = tracer.startSpan('renderq.poll', { kind: SpanKind.CLIENT, startTime: Date.now() - 1_500 }, child);
    ok.setStatus({ code: SpanStatusCode.OK });
    ok.end();
    tracer.startSpan('root span, no parent', { root: true }).end();
    request.end();
    const finished = await spans();
    expect(finished.map((span) => span.name).sort()).toEqual(
      ['POST /v1/jobs', 'renderq.poll', 'renderq.store', 'root span, no parent'].sort(),
    );
    // The SDK keeps every kind of value above, so each is compared. Bytes and maps (and a null inside
    // an array), which OTLP carries but this SDK drops from a span, are put on the finished span.
    const stored = finished.find((span) => span.name === 'renderq.store')?.attributes ?? {};
    expect(Object.keys(stored)).toHaveLength(14);
    Object.assign(stored, { 'renderq.bytes': new Uint8Array([1, 2, 255]), 'renderq.map': { a: 1, b: ['x', null] } });
    sameBytes(finished);
  });

  it('writes batches larger than its first buffer the same, again and again with one encoder', async () => {
    const { provider, spans } = recorder('renderq-worker');
    const tracer = provider.getTracer('renderq');
    for (let i = 0; i < 600; i += 1) {
      tracer
        .startSpan(
          `renderq.step.${i % 5}`,
          {
            attributes: {
              'renderq.job_id': `job_${String(i % 150).padStart(26, '0')}`,
              'renderq.tenant': i % 2 === 0 ? 'bench' : 'other',
              'renderq.n': i,
            },
          },
          REMOTE_PARENT,
        )
        .end();
    }
    const encoder = new OtlpSpanEncoder();
    const all = await spans();
    expect(all).toHaveLength(600);
    // Past 64 KiB, and again with the same encoder (its kept strings, ids and values, its grown buffer).
    expect(encoded(all, encoder).length).toBeGreaterThan(64 * 1024);
    sameBytes(all, encoder);
    sameBytes(all.slice(0, 7), encoder);
    sameBytes(all.slice(300), encoder);
  });

  it("writes renderq's own spans, whose times it reads in milliseconds, the same", () => {
    const ended: ReadableSpan[] = [];
    const tracer = leanTracer((span) => ended.push(span));
    const startMs = Date.UTC(2026, 11, 7, 4, 0, 0, 999) + 0.9999996;
    for (let i = 0; i < 40; i += 1) {
      const span = tracer.startSpan(
        i % 4 === 0 ? 'renderq.queue_wait' : 'renderq.poll',
        { startTime: startMs + i * 1.25, attributes: { 'renderq.job_id': `job_${i % 10}`, 'renderq.tenant': 'bench' } },
        REMOTE_PARENT,
      );
      span.setAttributes({ 'segmind.status': 'COMPLETED', 'renderq.cost': 0.0023, 'renderq.long': 'y'.repeat(300) });
      if (i % 5 === 0) span.addEvent('segmind.poll', { 'segmind.status': 'PROCESSING' });
      span.end(startMs + i * 1.25 + 0.333);
    }
    expect(ended).toHaveLength(40);
    const encoder = new OtlpSpanEncoder();
    sameBytes(ended, encoder);
    sameBytes(ended.slice(10, 30), encoder);
  });

  it('keeps values by key: one value under two keys, past its bounds, and a schema URL, all the same', async () => {
    const { provider, spans } = recorder('renderq-worker');
    const tracer = provider.getTracer('renderq', '1.0.0', { schemaUrl: 'https://opentelemetry.io/schemas/1.30.0' });
    for (let i = 0; i < 1_200; i += 1) {
      // 70 keys (past the 64 kept) and 1,200 values of one key (past the 1,024 kept), some repeated.
      const attributes: Attributes = { 'renderq.job_id': `job_${i % 1_100}`, 'renderq.same': 'x', 'renderq.also': 'x' };
      attributes[`renderq.key_${i % 70}`] = `value_${i % 3}`;
      tracer.startSpan('renderq.step', { attributes }, REMOTE_PARENT).end();
    }
    const all = await spans();
    const encoder = new OtlpSpanEncoder();
    sameBytes(all.slice(0, 600), encoder);
    sameBytes(all.slice(600), encoder);
    sameBytes(all, encoder);
  });

  it('keeps a value it repeats without the larger string the value was cut from', () => {
    setFlagsFromString('--expose-gc');
    const collect = runInNewContext('gc') as () => void;
    const encoder = new OtlpSpanEncoder();
    const tracer = leanTracer((span) => encoder.append(span));
    collect();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 64; i += 1) {
      // A job's id as a parser may hand it over: a slice of the whole answer it came in (256 KiB here).
      const answer = `{"id":"job_${String(i).padStart(32, '0')}","pad":"${'x'.repeat(256 * 1024)}${i}"}`;
      const id = answer.slice(7, 43);
      tracer.startSpan('renderq.store', { attributes: { 'renderq.job_id': id } }, REMOTE_PARENT).end();
    }
    encoder.takeRequest(resourceFromAttributes({}), { name: 'renderq' });
    collect();
    // Kept with their answers, the 64 values would hold 16 MiB.
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(4 * 1024 * 1024);
  });

  it('leaves out a span it cannot encode, and what it wrote of it', async () => {
    const { provider, spans } = recorder('renderq-worker');
    const tracer = provider.getTracer('renderq');
    for (let i = 0; i < 3; i += 1) tracer.startSpan(`renderq.step.${i}`, {}, REMOTE_PARENT).end();
    const [first, broken, last] = (await spans()) as [ReadableSpan, ReadableSpan, ReadableSpan];
    // A map that holds itself: encoding it recurses until the stack runs out.
    const loop: Record<string, unknown> = {};
    loop.self = loop;
    Object.assign(broken.attributes, { 'renderq.loop': loop });
    const encoder = new OtlpSpanEncoder();
    encoder.append(first);
    expect(() => encoder.append(broken)).toThrow();
    encoder.append(last);
    const theirs = ProtobufTraceSerializer.serializeRequest([first, last]) as Uint8Array;
    expect(Buffer.from(encoder.takeRequest(first.resource, first.instrumentationScope)).toString('hex')).toBe(
      Buffer.from(theirs).toString('hex'),
    );
    // And the next request starts empty.
    sameBytes([last], encoder);
  });

  it('is what a process sends its collector: protobuf posted to /v1/traces with the configured headers', async () => {
    const received: { path: string; headers: Record<string, unknown>; body: Buffer }[] = [];
    const collector = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        received.push({ path: request.url ?? '', headers: request.headers, body: Buffer.concat(chunks) });
        response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = collector.address() as AddressInfo;
      const config = loadConfig({
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
        OTEL_EXPORTER_OTLP_HEADERS: 'x-team=render',
      }).tracing;
      const tracing = await startTracing(config, 'renderq-test');
      const traces = new Traces(tracing.tracer);
      const parent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
      traces.past(
        parent,
        'renderq.queue_wait',
        { startMs: Date.now() - 50, endMs: Date.now() },
        { 'renderq.job_id': 'job_a' },
      );
      await traces.run(parent, 'renderq.submit', { 'renderq.job_id': 'job_a' }, async () => undefined);
      await tracing.shutdown();
      expect(received).toHaveLength(1);
      const [request] = received as [(typeof received)[number]];
      expect(request.path).toBe('/v1/traces');
      expect(request.headers['content-type']).toBe('application/x-protobuf');
      expect(request.headers['x-team']).toBe('render');
      for (const text of ['renderq.queue_wait', 'renderq.submit', 'job_a', 'renderq-test']) {
        expect(request.body.includes(text)).toBe(true);
      }
      expect(request.body.includes(Buffer.from('4bf92f3577b34da6a3ce929d0e0e4736', 'hex'))).toBe(true);
    } finally {
      await new Promise((resolve) => collector.close(resolve));
    }
  });
});
