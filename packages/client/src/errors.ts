/** An error answer from the API, carrying its problem+json and whether trying again can help. */
import type { Problem } from './contract.js';

export class RenderqApiError extends Error {
  override readonly name = 'RenderqApiError';

  constructor(
    readonly status: number,
    readonly problem: Problem,
    /** From Retry-After, when the server sent one. */
    readonly retryAfterMs: number | undefined,
  ) {
    super(`${problem.title} (${status}): ${problem.detail}`);
  }

  /** 429, 5xx, and 409 "still being handled" can succeed later; anything else will not. */
  get retryable(): boolean {
    return this.status === 429 || this.status >= 500 || this.problem.type.endsWith('/idempotency-in-progress');
  }

  static async from(response: Response, method: string, path: string): Promise<RenderqApiError> {
    const text = await response.text().catch(() => '');
    let problem: Problem;
    try {
      problem = JSON.parse(text) as Problem;
      if (typeof problem.detail !== 'string') throw new Error('not a problem');
    } catch {
      problem = {
        type: 'about:blank',
        title: response.statusText || 'Error',
        status: response.status,
        detail: `${method} ${path}: ${text.slice(0, 200)}`,
      };
    }
    const retryAfter = Number(response.headers.get('retry-after'));
    return new RenderqApiError(
      response.status,
      problem,
      Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined,
    );
  }
}
