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
import { LeanTracer, type TracerSampling } from './lean-tracer.js';
import { OtlpSpanEncoder } from './otlp-span-encoding.js';

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

/** The SDK's batching processor, sending to the configured exporter. */
async function spanProcessor(
  sdk: Sdk,
  config: Enabled,
  resource: ReadableSpan['resource'],
  scope: ReadableSpan['instrumentationScope'],
): Promise<SpanProcessor> {
  const { exporter, batch } = config;
  return new sdk.BatchSpanProcessor({
    exporter:
      exporter.kind === 'console'
        ? new sdk.ConsoleSpanExporter()
        : exporter.protocol === 'http/protobuf'
          ? await protobufExporter(otlpOptions(exporter), resource, scope)
          : new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter(otlpOptions(exporter)),
    scheduledDelayMillis: batch.delayMs,
    maxQueueSize: batch.maxQueueSize,
    maxExportBatchSize: Math.min(batch.maxBatchSize, batch.maxQueueSize),
  });
}

function otlpOptions(exporter: Extract<Enabled['exporter'], { kind: 'otlp' }>) {
  return { url: exporter.url, headers: { ...exporter.headers }, timeoutMillis: exporter.timeoutMs };
}

/**
 * OTLP over HTTP as protobuf (the default): OpenTelemetry's exporter (its transport, retries and
 * timeouts), with renderq's encoding of the spans (otlp-span-encoding.ts), at a fraction of the
 * library's cost. Every span of the process has its resource and scope.
 */
async function protobufExporter(
  options: { url: string; headers: Record<string, string>; timeoutMillis: number },
  resource: ReadableSpan['resource'],
  scope: ReadableSpan['instrumentationScope'],
) {
  const [{ OTLPExporterBase }, http, { ProtobufTraceSerializer, TraceExporterMetricsHelper }] = await Promise.all([
    import('@opentelemetry/otlp-exporter-base'),
    import('@opentelemetry/otlp-exporter-base/node-http'),
    import('@opentelemetry/otlp-transformer'),
  ]);
  const encoder = new OtlpSpanEncoder();
  const serializer = {
    serializeRequest: (spans: ReadableSpan[]) => {
      for (const span of spans) {
        try {
          encoder.append(span);
        } catch {
          // A span that cannot be encoded is left out whole; the rest of its batch goes.
        }
      }
      return encoder.takeRequest(resource, scope);
    },
    deserializeResponse: ProtobufTraceSerializer.deserializeResponse,
  };
  const delegate = http.createOtlpHttpExportDelegate(
    http.convertLegacyHttpOptions(options, 'TRACES', 'v1/traces', { 'Content-Type': 'application/x-protobuf' }),
    serializer,
    'otlp_http_span_exporter',
    TraceExporterMetricsHelper,
    undefined,
  );
  return new OTLPExporterBase<ReadableSpan[]>(delegate);
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
