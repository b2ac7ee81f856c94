import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, logFormatFor, REDACTED } from '../src/index.js';

function capture(secrets: string[] = []) {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(JSON.parse(String(chunk)));
      callback();
    },
  });
  const logger = createLogger({ level: 'info', name: 'test', secrets, destination });
  return { logger, lines, text: () => JSON.stringify(lines) };
}

describe('logger', () => {
  it('writes JSON lines with the service name and an ISO time', () => {
    const { logger, lines } = capture();
    logger.info({ job_id: 'job_1', request_id: 'r1', model: 'segmind-vega' }, 'submitted');
    expect(lines[0]).toMatchObject({ service: 'test', msg: 'submitted', job_id: 'job_1', level: 30 });
    expect(String(lines[0]?.time)).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it('redacts credential headers and keys at any depth', () => {
    const { logger, text } = capture();
    logger.info(
      {
        request: { headers: { 'x-api-key': 'sg-abc', Authorization: 'Bearer tok', accept: 'json' } },
        env: { SEGMIND_API_KEY: 'sg-abc', WEBHOOK_SECRET: 'whsec_x', RENDERQ_API_KEYS: 'a:b' },
        deeper: [{ api_key: 'k1' }],
      },
      'request made',
    );
    const out = text();
    for (const secret of ['sg-abc', 'Bearer tok', 'whsec_x', 'a:b', 'k1']) expect(out).not.toContain(secret);
    expect(out).toContain(REDACTED);
    expect(out).toContain('"accept":"json"');
  });

  it('cuts known secret values out of messages, URLs and errors', () => {
    const secret = 'sg_live_0123456789';
    const { logger, text } = capture([secret]);
    logger.error(new Error(`Segmind refused key ${secret}`), `calling https://x/?key=${secret}`);
    logger.warn({ url: `https://api/${secret}/x` }, 'Authorization: Bearer abc.def.ghi');
    const out = text();
    expect(out).not.toContain(secret);
    expect(out).not.toContain('abc.def.ghi');
    expect(out).toContain('Segmind refused key');
  });

  it('leaves requests to pino serializers, and still cuts secret values from what they produce', () => {
    const secret = 'renderq_key_abcdef123';
    const { logger, lines, text } = capture([secret]);
    class Request {
      method = 'GET';
      url = `/v1/jobs?api_key=${secret}`;
    }
    logger.info({ req: new Request() }, 'incoming request');
    expect(lines[0]?.req).toMatchObject({ method: 'GET' });
    expect(text()).not.toContain(secret);
  });

  it('keeps a leading error under err with its stack', () => {
    const { logger, lines } = capture();
    logger.error(new Error('boom'), 'failed');
    expect(lines[0]).toMatchObject({ msg: 'failed', err: { type: 'Error', message: 'boom' } });
    const err = lines[0]?.err as { stack?: string } | undefined;
    expect(String(err?.stack)).toContain('logger.test');
  });
});

describe('pretty logs', () => {
  it('are lines for a person, one per entry, with secrets still cut out', () => {
    let out = '';
    const destination = new Writable({
      write(chunk, _encoding, callback) {
        out += String(chunk);
        callback();
      },
    });
    const secret = 'sg-very-secret-key';
    const logger = createLogger({
      level: 'info',
      name: 'renderq-api',
      secrets: [secret],
      destination,
      format: 'pretty',
    });
    logger.info({ url: `http://x/?signature=abc&key=${secret}`, job_id: 'job_1' }, 'renderq API listening');
    expect(out).toMatch(/^\S*\[?\d\d:\d\d:\d\d\.\d{3}\]?\S* \S*INFO\S* \S*\(renderq-api\)/);
    expect(out).toContain('renderq API listening');
    expect(out).toContain('"job_id":"job_1"');
    expect(out.trimEnd().split('\n')).toHaveLength(1);
    expect(out).not.toContain(secret);
    expect(out).not.toContain('signature=abc');
    expect(() => JSON.parse(out)).toThrow();
  });

  it('are chosen by LOG_FORMAT, auto meaning pretty only on a terminal', () => {
    expect(logFormatFor('auto', true)).toBe('pretty');
    expect(logFormatFor('auto', false)).toBe('json');
    expect(logFormatFor('json', true)).toBe('json');
    expect(logFormatFor('pretty', false)).toBe('pretty');
  });
});
