/**
 * renderq's client for Segmind's v2 API on undici: pooled keep-alive connections,
 * connect/headers/body timeouts, answers parsed with zod, every failure turned
 * into an error that says what to do next (classify.ts), every call counted.
 */
import type { Metrics, SegmindOperation } from '@renderq/shared';
import { Agent, type Dispatcher, request } from 'undici';
import type { z } from 'zod';
import { CreditsAnswer, ResultAnswer, StatusAnswer, SubmitAnswer } from './answers.js';
import { AmbiguousSubmitError, classifyNetworkError, classifyStatus, type SegmindCall } from './classify.js';

export interface SegmindClientOptions {
  readonly baseUrl: string;
  readonly apiKey: string;
  /** Each of connect, headers and body. @defaultValue 30_000 */
  readonly timeoutMs?: number;
  /** Connections per Segmind host. @defaultValue 128 */
  readonly connections?: number;
  readonly metrics: Metrics;
}

const MAX_ERROR_BODY = 4096;

export class SegmindClient {
  readonly #baseUrl: string;
  readonly #apiKey: string;
  readonly #timeoutMs: number;
  readonly #agent: Agent;
  readonly #metrics: Metrics;

  constructor(options: SegmindClientOptions) {
    this.#baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.#apiKey = options.apiKey;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#metrics = options.metrics;
    this.#agent = new Agent({
      connections: options.connections ?? 128,
      keepAliveTimeout: 30_000,
      connect: { timeout: this.#timeoutMs },
    });
  }

  /** The dispatcher, shared with output downloads. */
  get dispatcher(): Dispatcher {
    return this.#agent;
  }

  /** POST /v2/{model}: a new, billable request. */
  submit(model: string, input: Record<string, unknown>): Promise<SubmitAnswer> {
    return this.#call('submit', `${this.#baseUrl}/v2/${encodeURIComponent(model)}`, SubmitAnswer, 'POST', input);
  }

  /** GET status_url. A FAILED request comes back as a StatusAnswer (Segmind serves it as 422). */
  status(statusUrl: string): Promise<StatusAnswer> {
    return this.#call('status', statusUrl, StatusAnswer, 'GET');
  }

  result(responseUrl: string): Promise<ResultAnswer> {
    return this.#call('result', responseUrl, ResultAnswer, 'GET');
  }

  async credits(): Promise<number> {
    return (await this.#call('credits', `${this.#baseUrl}/v1/get-user-credits`, CreditsAnswer, 'GET')).credits;
  }

  close(): Promise<void> {
    return this.#agent.close();
  }

  async #call<T extends z.ZodType>(
    call: SegmindCall,
    url: string,
    schema: T,
    method: 'GET' | 'POST',
    body?: unknown,
  ): Promise<z.infer<T>> {
    let answer: Dispatcher.ResponseData;
    try {
      answer = await request(url, {
        dispatcher: this.#agent,
        method,
        headers: { 'x-api-key': this.#apiKey, ...(body ? { 'content-type': 'application/json' } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
        headersTimeout: this.#timeoutMs,
        bodyTimeout: this.#timeoutMs,
      });
    } catch (error) {
      this.#count(call, 'error');
      throw classifyNetworkError(call, error);
    }
    this.#count(call, String(answer.statusCode));
    let text: string;
    try {
      text = await answer.body.text();
    } catch (error) {
      throw classifyNetworkError(call, error);
    }
    const parsed = parseJson(text);
    // A FAILED status is terminal whatever the HTTP code that carries it (Segmind uses 422).
    const terminal = schema.safeParse(parsed);
    if (answer.statusCode === 200 || (terminal.success && (parsed as { status?: unknown }).status === 'FAILED')) {
      if (terminal.success) return terminal.data;
      const unexpected = `Segmind answered ${answer.statusCode} to ${call} without the fields renderq needs: ${text.slice(0, 200)}`;
      // A submit that succeeded without an id may still have started a billable request.
      if (call === 'submit') throw new AmbiguousSubmitError(unexpected);
      throw classifyStatus(call, 502, unexpected, answer.headers);
    }
    const message = typeof parsed === 'object' && parsed && 'error' in parsed ? String(parsed.error) : text;
    throw classifyStatus(call, answer.statusCode, message.slice(0, MAX_ERROR_BODY), answer.headers);
  }

  #count(call: SegmindOperation, statusCode: string): void {
    this.#metrics.segmindRequests.inc({ operation: call, status_code: statusCode });
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    // 405 answers with HTML, for one.
    return undefined;
  }
}
