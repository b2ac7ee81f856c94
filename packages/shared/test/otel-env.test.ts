// The OTEL_* variables: when tracing is on, where it sends, and what it refuses.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/config.js';

describe('tracing configuration (OTEL_*)', () => {
  it('is off with no exporter and no endpoint, and when OTEL_SDK_DISABLED is true', () => {
    expect(loadConfig({}).tracing).toEqual({ enabled: false });
    expect(loadConfig({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }).tracing).toEqual({
      enabled: false,
    });
    expect(
      loadConfig({ OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }).tracing,
    ).toEqual({ enabled: false });
  });

  it('sends OTLP over HTTP once an endpoint is set, with the signal path, protocol, headers and sampler', () => {
    const tracing = loadConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/',
      OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=s3cr%3Dt-value,team=render',
      OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'team=traces',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.25',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=prod',
    }).tracing;
    expect(tracing).toMatchObject({
      enabled: true,
      exporter: {
        kind: 'otlp',
        url: 'http://collector:4318/v1/traces',
        protocol: 'http/protobuf',
        headers: { 'x-api-key': 's3cr=t-value', team: 'traces' },
        timeoutMs: 10_000,
      },
      serviceName: undefined,
      resourceAttributes: { 'deployment.environment': 'prod' },
      sampling: { kind: 'parentbased_traceidratio', ratio: 0.25 },
      batch: { delayMs: 5000, maxQueueSize: 2048, maxBatchSize: 512 },
    });
    const traces = loadConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://traces.example/otlp',
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
    }).tracing;
    expect(traces).toMatchObject({ exporter: { url: 'https://traces.example/otlp', protocol: 'http/json' } });
    expect(loadConfig({ OTEL_TRACES_EXPORTER: 'console' }).tracing).toMatchObject({ exporter: { kind: 'console' } });
  });

  it("keeps the collector's credentials out of logs, and only those", () => {
    const config = loadConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318',
      OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=abcdef123,authorization=Basic%20Zm9vOmJhcg==,x-scope-orgid=model',
    });
    expect(config.secrets).toEqual(expect.arrayContaining(['abcdef123', 'Basic Zm9vOmJhcg==']));
    // A plain value is no secret: cut from every line, it would mangle the logs (a `model` field).
    expect(config.secrets).not.toContain('model');
  });

  it('refuses what it cannot do, naming the variable', () => {
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toThrow(/OTEL_EXPORTER_OTLP_PROTOCOL.*grpc/);
    expect(() => loadConfig({ OTEL_TRACES_SAMPLER_ARG: '2' })).toThrow(/OTEL_TRACES_SAMPLER_ARG/);
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_HEADERS: 'novalue' })).toThrow(
      /OTEL_EXPORTER_OTLP_HEADERS.*key=value/,
    );
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'grpc://c:4317' })).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT/);
    expect(() => loadConfig({ OTEL_BSP_SCHEDULE_DELAY: 'soon' })).toThrow(/OTEL_BSP_SCHEDULE_DELAY/);
  });
});
