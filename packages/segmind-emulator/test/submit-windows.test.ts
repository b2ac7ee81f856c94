// The submit limit's windows as the emulator cuts them, on a fake clock: each way real windows
// behave (cut from the first request or on the clock, a late reset, another client's share).
import { describe, expect, it } from 'vitest';
import { FaultSettings } from '../src/settings.js';
import { SubmitWindows } from '../src/submit-windows.js';

const limitOf = (limit: object) => FaultSettings.shape.submitRateLimit.unwrap().parse(limit);
/** The answers to submits at `times`: 'ok', or the reset the 429 names, ms after 0. */
function answers(windows: SubmitWindows, limit: object, times: number[], random = () => 0.5) {
  return times.map((now) => windows.take(limitOf(limit), now, random)?.getTime() ?? 'ok');
}

describe('the emulator’s submit windows', () => {
  it('cut from the first request: a window starts at the first submit after the last one ended', () => {
    const limit = { max: 2, windowMs: 400 };
    expect(answers(new SubmitWindows(), limit, [1_000, 1_100, 1_200, 1_399, 1_400, 1_450, 1_500])).toEqual([
      'ok',
      'ok',
      1_400,
      1_400,
      'ok',
      'ok',
      1_800,
    ]);
  });

  it('cut on the clock: windows start on multiples of their length, whenever the first submit came', () => {
    const limit = { max: 3, windowMs: 2_000, windows: 'clock' };
    expect(answers(new SubmitWindows(), limit, [2_900, 3_000, 3_100, 3_200, 3_999, 4_000])).toEqual([
      'ok',
      'ok',
      'ok',
      4_000,
      4_000,
      'ok',
    ]);
  });

  it('names a late reset: the window’s end plus a delay drawn from the range', () => {
    const limit = { max: 1, windowMs: 1_000, windows: 'clock', resetLateMs: { min: 1_000, max: 1_500 } };
    const windows = new SubmitWindows();
    expect(answers(windows, limit, [5_100, 5_200], () => 0)).toEqual(['ok', 7_000]);
    expect(answers(windows, limit, [5_300], () => 1)).toEqual([7_500]);
    // The late reset says when, not how the windows are cut: the next window opens on the clock.
    expect(answers(windows, limit, [6_000])).toEqual(['ok']);
  });

  it('leaves room for another client: its share of the window is taken evenly over the window', () => {
    const limit = { max: 10, windowMs: 2_000, windows: 'clock', otherClientShare: 0.5 };
    // 0.9 s into the window the other client has used 2 of 10: renderq gets 8 of what is left.
    const times = Array.from({ length: 9 }, () => 10_900);
    expect(answers(new SubmitWindows(), limit, times)).toEqual([...Array(8).fill('ok'), 12_000]);
    // Near the window's end the other client has used 4: renderq gets 6.
    const late = Array.from({ length: 7 }, () => 15_990);
    expect(answers(new SubmitWindows(), limit, late)).toEqual([...Array(6).fill('ok'), 16_000]);
  });

  it('starts afresh when the limit is changed', () => {
    const windows = new SubmitWindows();
    expect(answers(windows, { max: 1, windowMs: 10_000 }, [0, 1])).toEqual(['ok', 10_000]);
    windows.reset();
    expect(answers(windows, { max: 1, windowMs: 10_000 }, [2])).toEqual(['ok']);
  });
});
