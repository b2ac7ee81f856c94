import { FailJobError, RetryLaterError, StopTakingJobsError } from '@renderq/shared';
import { describe, expect, it } from 'vitest';
import { outputSources } from '../src/pipeline/output-sources.js';
import type { ResultAnswer } from '../src/segmind/answers.js';
import {
  AmbiguousSubmitError,
  classifyNetworkError,
  classifyStatus,
  parseResetHeader,
} from '../src/segmind/classify.js';

describe('classifying Segmind answers (docs/segmind.md, Errors)', () => {
  it.each([
    [400, 'submit', FailJobError, 'segmind_rejected'],
    [403, 'submit', FailJobError, 'segmind_rejected'],
    [404, 'submit', FailJobError, 'segmind_rejected'],
    [405, 'submit', FailJobError, 'segmind_rejected'],
    [410, 'submit', FailJobError, 'segmind_rejected'],
    [404, 'status', FailJobError, 'segmind_expired'],
    [404, 'result', FailJobError, 'segmind_expired'],
    [500, 'submit', RetryLaterError, 'segmind_unavailable'],
    [502, 'status', RetryLaterError, 'segmind_unavailable'],
    [504, 'result', RetryLaterError, 'segmind_unavailable'],
  ] as const)('%i on %s: %o', (code, call, kind, errorCode) => {
    const error = classifyStatus(call, code, 'message', {});
    expect(error).toBeInstanceOf(kind);
    expect((error as FailJobError).code).toBe(errorCode);
  });

  it('stops taking jobs on 401, 406 and 429, with the reset time for 429', () => {
    expect(classifyStatus('submit', 401, 'x', {})).toMatchObject({ reason: 'unauthorized' });
    expect(classifyStatus('submit', 406, 'x', {})).toMatchObject({ reason: 'out_of_credits' });
    const limited = classifyStatus('submit', 429, 'x', { 'x-rate-limit-reset-at-utc': '2026-11-21T12:00:30Z' });
    expect(limited).toBeInstanceOf(StopTakingJobsError);
    expect((limited as StopTakingJobsError).resumeAt?.toISOString()).toBe('2026-11-21T12:00:30.000Z');
  });

  it('calls a submit with no answer ambiguous, unless it never left this machine', () => {
    expect(
      classifyNetworkError('submit', Object.assign(new Error('x'), { code: 'UND_ERR_HEADERS_TIMEOUT' })),
    ).toBeInstanceOf(AmbiguousSubmitError);
    expect(classifyNetworkError('submit', Object.assign(new Error('x'), { code: 'UND_ERR_SOCKET' }))).toBeInstanceOf(
      AmbiguousSubmitError,
    );
    const refused = new Error('fetch failed', { cause: Object.assign(new Error('x'), { code: 'ECONNREFUSED' }) });
    expect(classifyNetworkError('submit', refused)).toBeInstanceOf(RetryLaterError);
    // Polls are always safe to repeat.
    expect(classifyNetworkError('status', new Error('reset'))).toBeInstanceOf(RetryLaterError);
  });

  it('reads the reset header as ISO time, epoch seconds or epoch milliseconds', () => {
    expect(parseResetHeader('2026-11-21T12:00:00Z').getTime()).toBe(Date.parse('2026-11-21T12:00:00Z'));
    expect(parseResetHeader('1795000000').getTime()).toBe(1_795_000_000_000);
    expect(parseResetHeader('1795000000123').getTime()).toBe(1_795_000_000_123);
    expect(parseResetHeader(undefined, 1_000).getTime()).toBe(61_000);
    expect(parseResetHeader('soon', 1_000).getTime()).toBe(61_000);
  });
});

describe('output sources', () => {
  const result = (fields: Partial<ResultAnswer>): ResultAnswer => ({ status: 'COMPLETED', ...fields }) as ResultAnswer;

  it('takes every output once, in order, whatever its form', () => {
    expect(outputSources(result({ output: 'https://cdn/a.jpg' }))).toEqual(['https://cdn/a.jpg']);
    expect(
      outputSources(
        result({
          output: ['https://cdn/a.jpg', 'https://cdn/b.jpg'],
          images: [{ url: 'https://cdn/a.jpg' }, { url: 'https://cdn/c.jpg' }],
        }),
      ),
    ).toEqual(['https://cdn/a.jpg', 'https://cdn/b.jpg', 'https://cdn/c.jpg']);
    expect(outputSources(result({ output: 'data:image/png;base64,AAAA' }))).toEqual(['data:image/png;base64,AAAA']);
    expect(outputSources(result({ output: { image: 'QUJD' } }))).toEqual(['QUJD']);
    expect(outputSources(result({}))).toEqual([]);
  });
});
