// One job followed as one OpenTelemetry trace: a caller's `traceparent` on POST /v1/jobs, the API
// (in this process) and a worker (a child process) exporting OTLP/JSON to a receiver in this test,
// the Segmind emulator, and a webhook receiver. Every span of the job is in the caller's trace, none
// is an orphan, the webhook carries a `traceparent` of the same trace, and the job's step spans add
// up to its wall time.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Emulator, startEmulator } from '@renderq/segmind-emulator';
import { type RedisHandle, startRedis, uniqueName } from '@renderq/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type System, startSystem } from './system.js';

const API_KEY = 'e2e-trace-key-0123456789';
const WEBHOOK_SECRET = `whsec_${Buffer.from('renderq trace test webhook secret!').toString('base64')}`;
/**
 * segmind-vega at Segmind's own pace, 4 s: the steps' hand-overs (a Redis round trip or two each) stay a
 * small part of the whole on a loaded machine.
 */
const LATENCY_SCALE = 1;

interface ExportedSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string;
  readonly name: string;
  readonly service: string;
  readonly startMs: number;
  readonly endMs: number;
  readonly attributes: Record<string, unknown>;
  readonly status: { code?: number; message?: string };
}

let redisServer: RedisHandle;
let emulator: Emulator;
let system: System | undefined;
let dir: string;
let collector: Server;
let receiver: Server;
const spans: ExportedSpan[] = [];
const deliveries: { headers: IncomingHttpHeaders; body: { type: string }; at: number }[] = [];

/** An OTLP/HTTP receiver for JSON exports: keeps every span it is sent. */
function startCollector(): Promise<Server> {
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as OtlpExport;
      for (const resource of body.resourceSpans ?? []) {
        const service = String(otlpValue(resource.resource?.attributes?.find((a) => a.key === 'service.name')?.value));
        for (const scope of resource.scopeSpans ?? []) {
          for (const span of scope.spans ?? []) {
            spans.push({
              traceId: span.traceId,
              spanId: span.spanId,
              parentSpanId: span.parentSpanId ?? '',
              name: span.name,
              service,
              startMs: Number(BigInt(span.startTimeUnixNano) / 1000n) / 1000,
              endMs: Number(BigInt(span.endTimeUnixNano) / 1000n) / 1000,
              attributes: Object.fromEntries((span.attributes ?? []).map((a) => [a.key, otlpValue(a.value)])),
              status: span.status ?? {},
            });
          }
        }
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  return listen(server);
}

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
  arrayValue?: { values?: OtlpValue[] };
}
interface OtlpExport {
  resourceSpans?: {
    resource?: { attributes?: { key: string; value: OtlpValue }[] };
    scopeSpans?: {
      spans?: {
        traceId: string;
        spanId: string;
        parentSpanId?: string;
        name: string;
        startTimeUnixNano: string;
        endTimeUnixNano: string;
        attributes?: { key: string; value: OtlpValue }[];
        status?: { code?: number; message?: string };
      }[];
    }[];
  }[];
}

function otlpValue(value: OtlpValue | undefined): unknown {
  if (!value) return undefined;
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return value.doubleValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.arrayValue) return (value.arrayValue.values ?? []).map(otlpValue);
  return undefined;
}

function listen(server: Server): Promise<Server> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}
const urlOf = (server: Server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

beforeAll(async () => {
  [redisServer, emulator, collector, receiver] = await Promise.all([
    startRedis(),
    startEmulator({ latencyScale: LATENCY_SCALE, latencyJitter: 0, gpusPerModel: 100 }),
    startCollector(),
    listen(
      createServer((request, response) => {
        const chunks: Buffer[] = [];
        request.on('data', (chunk: Buffer) => chunks.push(chunk));
        request.on('end', () => {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { type: string };
          deliveries.push({ headers: request.headers, body, at: Date.now() });
          response.writeHead(200).end();
        });
      }),
    ),
  ]);
  dir = await mkdtemp(path.join(tmpdir(), 'renderq-trace-'));
  system = await startSystem({
    REDIS_URL: redisServer.url,
    RENDERQ_PREFIX: uniqueName('trace'),
    RENDERQ_API_KEYS: `e2e:${API_KEY}`,
    STORAGE_URL: `file://${dir}`,
    SEGMIND_BASE_URL: emulator.url,
    SEGMIND_API_KEY: emulator.apiKey,
    WEBHOOK_SECRET,
    WEBHOOK_ALLOW_PRIVATE: 'true',
    LOG_LEVEL: 'debug',
    OTEL_EXPORTER_OTLP_ENDPOINT: urlOf(collector),
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_BSP_SCHEDULE_DELAY: '200',
  });
}, 60_000);

afterAll(async () => {
  await system?.close();
  await Promise.all([emulator?.close(), redisServer?.stop()]);
  await Promise.all([collector, receiver].map((s) => new Promise((resolve) => s?.close(resolve))));
  await rm(dir, { recursive: true, force: true });
});

describe('one trace from the caller to its webhook', () => {
  it("puts every span of the job in the caller's trace, with no orphan, and its steps add up to its wall time", async () => {
    const running = system as System;
    const traceId = randomBytes(16).toString('hex');
    const callerSpanId = randomBytes(8).toString('hex');
    const started = Date.now();
    const created = await fetch(`${running.baseUrl}/v1/jobs`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${API_KEY}`,
        'content-type': 'application/json',
        traceparent: `00-${traceId}-${callerSpanId}-01`,
        tracestate: 'caller=yes',
      },
      body: JSON.stringify({
        model: 'segmind-vega',
        input: { prompt: 'a lighthouse at dusk', samples: 1 },
        webhook_url: `${urlOf(receiver)}/hook`,
        webhook_events: ['job.completed'],
      }),
    });
    expect(created.status).toBe(202);
    const { id, trace_id } = (await created.json()) as { id: string; trace_id: string | null };
    expect(trace_id).toBe(traceId);

    const deadline = Date.now() + 60_000;
    while (!deliveries.some((d) => d.body.type === 'job.completed') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const delivery = deliveries.find((d) => d.body.type === 'job.completed');
    expect(delivery).toBeDefined();
    const wallMs = (delivery?.at ?? 0) - started;
    const job = (await (
      await fetch(`${running.baseUrl}/v1/jobs/${id}`, { headers: { authorization: `Bearer ${API_KEY}` } })
    ).json()) as { segmind_request_id: string; outputs: { sha256: string; size: number }[] };

    // Both processes send what they hold as they stop.
    const output = running.worker.output;
    await running.close();
    system = undefined;

    const inTrace = spans.filter((s) => s.traceId === traceId);
    const ofJob = spans.filter((s) => s.attributes['renderq.job_id'] === id);
    expect(ofJob.length).toBeGreaterThanOrEqual(5);
    expect(ofJob.every((s) => s.traceId === traceId)).toBe(true);
    expect(new Set(inTrace.map((s) => s.service))).toEqual(new Set(['renderq-api', 'renderq-worker']));

    // No orphan: every span's parent is in the trace, or is the caller's own span.
    const ids = new Set(inTrace.map((s) => s.spanId));
    const orphans = inTrace.filter((s) => s.parentSpanId !== callerSpanId && !ids.has(s.parentSpanId));
    expect(orphans.map((s) => s.name)).toEqual([]);

    const named = (name: string) => inTrace.filter((s) => s.name === name);
    const [request] = named('POST /v1/jobs');
    expect(request?.parentSpanId).toBe(callerSpanId);
    expect(request?.attributes['http.response.status_code']).toBe(202);
    expect(named('renderq.enqueue')[0]?.parentSpanId).toBe(request?.spanId);
    expect(named('renderq.queue_wait')[0]?.attributes['renderq.tenant']).toBe('e2e');
    const [submit] = named('renderq.submit');
    expect(submit?.attributes['segmind.request_id']).toBe(job.segmind_request_id);
    const polls = named('renderq.poll');
    expect(polls.length).toBeGreaterThanOrEqual(1);
    expect(polls.at(-1)?.attributes['segmind.status']).toBe('COMPLETED');
    const [store] = named('renderq.store');
    expect(store?.attributes['renderq.output.sha256']).toEqual(job.outputs.map((o) => o.sha256));
    expect(store?.attributes['renderq.output.bytes']).toEqual(job.outputs.map((o) => o.size));
    const [webhook] = named('renderq.webhook');
    expect(webhook?.attributes['http.response.status_code']).toBe(200);
    expect(webhook?.attributes['renderq.webhook.attempt']).toBe(1);

    // The receiver got the webhook attempt's own context, beside the (unchanged) signature.
    expect(delivery?.headers.traceparent).toBe(`00-${traceId}-${webhook?.spanId}-01`);
    expect(delivery?.headers['webhook-signature']).toBeDefined();

    // The job's steps, one after another, add up to its wall time within 5 %.
    const steps = inTrace.filter(
      (s) => s === request || (s.parentSpanId === request?.spanId && s !== named('renderq.enqueue')[0]),
    );
    const stepNames = steps.sort((a, b) => a.startMs - b.startMs).map((s) => s.name);
    expect(stepNames).toEqual([
      'POST /v1/jobs',
      'renderq.queue_wait',
      'renderq.submit',
      ...polls.map(() => 'renderq.poll'),
      'renderq.store',
      'renderq.webhook',
    ]);
    // Where one step hands the job to the next, both may run for a moment (the request still answering
    // while the job waits; a step writing its last move while the next has begun), longer on a loaded
    // machine: that moment is counted once, for the step it began in.
    let counted = steps[0]?.startMs ?? 0;
    let summed = 0;
    for (const s of steps) {
      summed += Math.max(0, s.endMs - Math.max(s.startMs, counted));
      counted = Math.max(counted, s.endMs);
    }
    const overlap = steps.reduce((sum, s) => sum + (s.endMs - s.startMs), 0) - summed;
    // Counting a hand-over once must not hide a step that runs on over the next (a span ended late):
    // between the worker's steps that moment is a Redis round trip or two, far under 5 % of the wall
    // time even on a loaded machine.
    const workerSteps = steps.slice(1);
    const longestHandOver = Math.max(
      ...workerSteps.slice(1).map((next, i) => (workerSteps[i]?.endMs ?? 0) - next.startMs),
    );
    const shown = steps.map((s) => `${s.name} ${(s.endMs - s.startMs).toFixed(1)} ms`).join(', ');
    process.stdout.write(
      `job-trace figures: ${steps.length} step spans add up to ${summed.toFixed(1)} ms (${overlap.toFixed(1)} ms ` +
        `at hand-overs counted once; the longest between worker steps ${longestHandOver.toFixed(1)} ms); wall time ${wallMs} ms (${((100 * (summed - wallMs)) / wallMs).toFixed(2)} %): ${shown}\n`,
    );
    expect(Math.abs(summed - wallMs) / wallMs).toBeLessThanOrEqual(0.05);
    expect(longestHandOver).toBeLessThanOrEqual(0.05 * wallMs);

    // The lines about the job carry the ids of the span they were written in: the worker's about its
    // steps, the API's about the request that created it.
    expect(output()).toContain(`"trace_id":"${traceId}"`);
    const requestLine = running
      .apiOutput()
      .split('\n')
      .find((line) => line.includes('"url":"/v1/jobs"'));
    expect(requestLine).toContain(`"trace_id":"${traceId}","span_id":"${request?.spanId}"`);
  }, 90_000);
});
