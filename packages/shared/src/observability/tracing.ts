/**
 * OpenTelemetry tracing for one process, from the OTEL_* settings (docs/observability.md):
 * a tracer provider with a batching exporter and W3C trace context. No context manager: spans are
 * passed to the code that adds to them, since Node 20's AsyncLocalStorage slows every promise of
 * the process once used (measured: +8 % CPU a job). When tracing is off nothing of the SDK is
 * loaded and renderq makes no spans at all.
 */
import { propagation, type Tracer, trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import type { Sampling, TracingConfig } from '../config/otel-env.js';
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
  const exporter = await spanExporter(config.exporter, sdk.ConsoleSpanExporter);
  const provider = new sdk.TracerProvider({
    resource: resourceFromAttributes({
      ...config.resourceAttributes,
      'service.name': config.serviceName ?? config.resourceAttributes['service.name'] ?? defaultServiceName,
    }),
    sampler: sampler(sdk, config.sampling),
    spanProcessors: [
      new sdk.BatchSpanProcessor({
        exporter,
        scheduledDelayMillis: config.batch.delayMs,
        maxQueueSize: config.batch.maxQueueSize,
        maxExportBatchSize: Math.min(config.batch.maxBatchSize, config.batch.maxQueueSize),
      }),
    ],
  });
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  return {
    tracer: provider.getTracer(SCOPE),
    async shutdown() {
      // A collector that is away costs the spans still held, never a clean stop.
      await provider.shutdown().catch(() => undefined);
      trace.disable();
      propagation.disable();
    },
  };
}

type Sdk = typeof import('@opentelemetry/sdk-trace');

async function spanExporter(
  exporter: Extract<TracingConfig, { enabled: true }>['exporter'],
  Console: Sdk['ConsoleSpanExporter'],
) {
  if (exporter.kind === 'console') return new Console();
  const options = { url: exporter.url, headers: { ...exporter.headers }, timeoutMillis: exporter.timeoutMs };
  if (exporter.protocol === 'http/json') {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
    return new OTLPTraceExporter(options);
  }
  return protobufExporter(options);
}

/**
 * OTLP over HTTP as protobuf: OpenTelemetry's exporter (its transport, retries and timeouts), with
 * renderq's encoding of the spans, which costs half the library's (otlp-span-encoding.ts).
 */
async function protobufExporter(options: { url: string; headers: Record<string, string>; timeoutMillis: number }) {
  const [{ OTLPExporterBase }, http, { ProtobufTraceSerializer, TraceExporterMetricsHelper }] = await Promise.all([
    import('@opentelemetry/otlp-exporter-base'),
    import('@opentelemetry/otlp-exporter-base/node-http'),
    import('@opentelemetry/otlp-transformer'),
  ]);
  const encoder = new OtlpSpanEncoder();
  const serializer = {
    serializeRequest: (spans: ReadableSpan[]) => encoder.encode(spans),
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

function sampler(sdk: Sdk, sampling: Sampling) {
  const ratio = () => new sdk.TraceIdRatioBasedSampler(sampling.ratio);
  switch (sampling.kind) {
    case 'always_on':
      return new sdk.AlwaysOnSampler();
    case 'always_off':
      return new sdk.AlwaysOffSampler();
    case 'traceidratio':
      return ratio();
    case 'parentbased_always_on':
      return new sdk.ParentBasedSampler({ root: new sdk.AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new sdk.ParentBasedSampler({ root: new sdk.AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new sdk.ParentBasedSampler({ root: ratio() });
  }
}
