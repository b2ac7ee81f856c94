/**
 * Segmind's submit limit as the emulator applies it: which window a submit falls in, whether
 * the window (with another client's share) is full, and the reset a refusal's 429 names. The
 * clock and the draw of a late reset are passed in, so every rule is tested without waiting.
 */
import type { FaultSettings } from './settings.js';

type SubmitRateLimit = NonNullable<FaultSettings['submitRateLimit']>;

export class SubmitWindows {
  #window = { startedAt: 0, count: 0 };

  /** Forgets the current window (the limit was changed). */
  reset(): void {
    this.#window = { startedAt: 0, count: 0 };
  }

  /** Counts a submit at `now`; a refused one gets the reset its 429 names, an accepted one undefined. */
  take(limit: SubmitRateLimit, now: number, random: () => number = Math.random): Date | undefined {
    if (limit.windows === 'clock') {
      const startedAt = now - (now % limit.windowMs);
      if (startedAt !== this.#window.startedAt) this.#window = { startedAt, count: 0 };
    } else if (now - this.#window.startedAt >= limit.windowMs) {
      this.#window = { startedAt: now, count: 0 };
    }
    // The other client's submits so far in this window, spread evenly over it.
    const other = Math.floor(limit.otherClientShare * limit.max * ((now - this.#window.startedAt) / limit.windowMs));
    if (this.#window.count + other >= limit.max) {
      const { min, max } = limit.resetLateMs;
      const late = min + Math.round(random() * (max - min));
      return new Date(this.#window.startedAt + limit.windowMs + late);
    }
    this.#window.count++;
    return undefined;
  }
}
