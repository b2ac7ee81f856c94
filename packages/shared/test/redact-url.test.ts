import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/index.js';
import { redactUrl } from '../src/observability/redact-url.js';

describe('redactUrl', () => {
  it('keeps the names and drops the values of parameters that grant access', () => {
    expect(redactUrl('/v1/jobs/job_1/outputs/0?expires=1796000000&signature=abc_DEF-123')).toBe(
      '/v1/jobs/job_1/outputs/0?expires=1796000000&signature=REDACTED',
    );
    expect(
      redactUrl(
        'https://bucket.s3.amazonaws.com/k/0.png?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F2026&X-Amz-Signature=f00d&X-Amz-Security-Token=tok',
      ),
    ).toBe(
      'https://bucket.s3.amazonaws.com/k/0.png?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=REDACTED&X-Amz-Signature=REDACTED&X-Amz-Security-Token=REDACTED',
    );
    expect(redactUrl('https://hooks.example/x?token=t0k&id=7#frag')).toBe(
      'https://hooks.example/x?token=REDACTED&id=7#frag',
    );
    expect(redactUrl('https://user:pass@hooks.example/x')).toBe('https://hooks.example/x');
    expect(redactUrl('/v1/jobs?%73ignature=x')).toBe('/v1/jobs?%73ignature=REDACTED');
    expect(redactUrl('/healthz')).toBe('/healthz');
  });

  it('is applied by the logger to URLs anywhere in a line', () => {
    const lines: string[] = [];
    const logger = createLogger({
      level: 'info',
      name: 'test',
      secrets: [],
      destination: { write: (line: string) => lines.push(line) },
    });
    logger.warn({ err: new Error('GET https://x.example/a?signature=s3cr3t&b=1 failed') }, 'fetch failed ?token=abc');
    expect(lines.join('')).not.toMatch(/s3cr3t|token=abc/);
    expect(lines.join('')).toContain('signature=REDACTED&b=1');
  });
});
