import { describe, expect, it } from 'vitest';
import { isRenderqError, isRetryable } from '../src/errors.js';
import { FailJobError, RetryLaterError, StopTakingJobsError } from '../src/index.js';

describe('errors named for what happens next', () => {
  it('say whether retrying can help', () => {
    expect(isRetryable(new FailJobError('segmind_rejected', 'bad model'))).toBe(false);
    expect(isRetryable(new RetryLaterError('502'))).toBe(true);
    expect(isRetryable(new StopTakingJobsError('out_of_credits', 'balance 0'))).toBe(true);
    // Unknown errors are assumed passing until attempts run out.
    expect(isRetryable(new TypeError('x'))).toBe(true);
  });

  it('keep their cause and data', () => {
    const cause = new Error('ECONNRESET');
    const error = new RetryLaterError('submit failed', 'segmind_unavailable', { cause });
    expect(error.cause).toBe(cause);
    expect(error.code).toBe('segmind_unavailable');
    const pause = new StopTakingJobsError('rate_limited', 'slow down', new Date(5000));
    expect(pause.resumeAt?.getTime()).toBe(5000);
  });

  it('are recognised by name across copies and serialisation', () => {
    const copy = Object.assign(new Error('x'), { name: 'FailJobError' });
    expect(isRenderqError(copy)).toBe(true);
    expect(isRenderqError(new Error('x'))).toBe(false);
    expect(new FailJobError('timeout', 'late').name).toBe('FailJobError');
  });
});
