/**
 * OpenTelemetry tracing for one process, from the OTEL_* settings (docs/observability.md): renderq's
 * tracer (lean-tracer.ts) with the SDK's samplers, a batching span processor and an OTLP exporter,
 * and W3C trace context. No context manager: spans are passed to the code that adds to them, since
 * Node 20's AsyncLocalStorage slows every promise of the process once used (measured: +8 % CPU a
 * job). When tracing is off nothing of the SDK is loaded and renderq makes no spans at all.
 */
import { propagation, type Tracer } from '@opentelemetry/api';
import type { ReadableSpan, SpanProcessor } from '@opentelemetry/sdk-trace';
import type { Sampling, TracingConfig } from '../config/otel-env.js';
import { type EncodedRequest, EncodingSpanProcessor } from './encoding-span-processor.js';
import { LeanTracer, type TracerSampling } from './lean-tracer.js';

export interface StartedTracing {
  /** renderq's tracer; undefined when tracing is off. */
  readonly tracer: Tracer | undefined;
  /** Sends the spans still held, then stops (a no-op when off). */
  shutdown(): Promise<void>;
}

/** The name spans are made under (the instrumentation scope). */
const SCOPE = 'renderq';

export async function startTracing(config: TracingConfig, defaultServiceName: string): Promise<StartedTracing> {
  if (!config.enabled) return { tracer: undefined, shutdown: async () => undefined };
  const [sdk, { W3CTraceContextPropagator }, { resourceFromAttributes }] = await Promise.all([
    import('@opentelemetry/sdk-trace'),
    import('@opentelemetry/core'),
    import('@opentelemetry/resources'),
  ]);
  const resource = resourceFromAttributes({
    ...config.resourceAttributes,
    'service.name': config.serviceName ?? config.resourceAttributes['service.name'] ?? defaultServiceName,
  });
  const scope = { name: SCOPE };
  const processor = await spanProcessor(sdk, config, resource, scope);
  const tracer = new LeanTracer({ resource, scope, sampling: sampling(sdk, config.sampling), processor });
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  return {
    tracer,
    async shutdown() {
      // A collector that is away costs the spans still held, never a clean stop.
      await processor.shutdown().catch(() => undefined);
      propagation.disable();
    },
  };
}

type Sdk = typeof import('@opentelemetry/sdk-trace');
type Enabled = Extract<TracingConfig, { enabled: true }>;

/**
 * OTLP over HTTP as protobuf (the default): renderq's encoding of each span as it ends
 * (encoding-span-processor.ts), at half the cost of OpenTelemetry's serializer, sent by
 * OpenTelemetry's exporter (its transport, retries and timeouts). JSON and the console: the SDK's
 * own exporters behind its batching processor.
 */
async function spanProcessor(
  sdk: Sdk,
  config: Enabled,
  resource: ReadableSpan['resource'],
  scope: ReadableSpan['instrumentationScope'],
): Promise<SpanProcessor> {
  const { exporter, batch } = config;
  if (exporter.kind === 'otlp' && exporter.protocol === 'http/protobuf') {
    return new EncodingSpanProcessor({
      exporter: await protobufExporter(otlpOptions(exporter)),
      resource,
      scope,
      delayMs: batch.delayMs,
      maxQueueSize: batch.maxQueueSize,
      maxBatchSize: batch.maxBatchSize,
    });
  }
  const spans =
    exporter.kind === 'console'
      ? new sdk.ConsoleSpanExporter()
      : new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter(otlpOptions(exporter));
  return new sdk.BatchSpanProcessor({
    exporter: spans,
    scheduledDelayMillis: batch.delayMs,
    maxQueueSize: batch.maxQueueSize,
    maxExportBatchSize: Math.min(batch.maxBatchSize, batch.maxQueueSize),
  });
}

function otlpOptions(exporter: Extract<Enabled['exporter'], { kind: 'otlp' }>) {
  return { url: exporter.url, headers: { ...exporter.headers }, timeoutMillis: exporter.timeoutMs };
}

/** OpenTelemetry's OTLP/HTTP exporter, posting requests already encoded as protobuf. */
async function protobufExporter(options: { url: string; headers: Record<string, string>; timeoutMillis: number }) {
  const [{ OTLPExporterBase }, http, { ProtobufTraceSerializer }] = await Promise.all([
    import('@opentelemetry/otlp-exporter-base'),
    import('@opentelemetry/otlp-exporter-base/node-http'),
    import('@opentelemetry/otlp-transformer'),
  ]);
  const serializer = {
    serializeRequest: (request: EncodedRequest) => request.bytes,
    deserializeResponse: ProtobufTraceSerializer.deserializeResponse,
  };
  const delegate = http.createOtlpHttpExportDelegate(
    http.convertLegacyHttpOptions(options, 'TRACES', 'v1/traces', { 'Content-Type': 'application/x-protobuf' }),
    serializer,
    'otlp_http_span_exporter',
    { name: 'span' as const, countItems: (request: EncodedRequest) => request.spans },
    undefined,
  );
  return new OTLPExporterBase<EncodedRequest>(delegate);
}

/** The sampler's part: a parent's decision followed (the parentbased_* samplers), the root's made by the SDK's sampler. */
function sampling(sdk: Sdk, setting: Sampling): TracerSampling {
  const ratio = () => new sdk.TraceIdRatioBasedSampler(setting.ratio);
  switch (setting.kind) {
    case 'always_on':
      return { followParent: false, root: new sdk.AlwaysOnSampler() };
    case 'always_off':
      return { followParent: false, root: new sdk.AlwaysOffSampler() };
    case 'traceidratio':
      return { followParent: false, root: ratio() };
    case 'parentbased_always_on':
      return { followParent: true, root: new sdk.AlwaysOnSampler() };
    case 'parentbased_always_off':
      return { followParent: true, root: new sdk.AlwaysOffSampler() };
    case 'parentbased_traceidratio':
      return { followParent: true, root: ratio() };
  }
}
