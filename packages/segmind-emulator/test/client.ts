// A plain HTTP client for the tests, as any Segmind client would talk to the emulator.
import type { Emulator } from '../src/index.js';

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: () => Record<string, unknown>;
}

export async function call(url: string, init: RequestInit = {}): Promise<Answer> {
  const response = await fetch(url, init);
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, json: () => JSON.parse(text) };
}

export function client(emulator: Emulator, key = emulator.apiKey) {
  const headers = { 'x-api-key': key, 'content-type': 'application/json' };
  return {
    submit: (model: string, body: unknown) =>
      call(`${emulator.url}/v2/${model}`, { method: 'POST', headers, body: JSON.stringify(body) }),
    get: (url: string) => call(url, { headers: { 'x-api-key': key } }),
    /** Polls until COMPLETED or FAILED; returns the final status answer. */
    async wait(statusUrl: string, timeoutMs = 10_000): Promise<Answer> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const answer = await call(statusUrl, { headers: { 'x-api-key': key } });
        const status = answer.status === 200 || answer.status === 422 ? answer.json().status : undefined;
        if (status === 'COMPLETED' || status === 'FAILED') return answer;
        if (Date.now() > deadline) throw new Error(`still ${String(status)} after ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
  };
}

/** Submits, waits, and fetches the result body. */
export async function run(emulator: Emulator, model: string, body: unknown): Promise<Record<string, unknown>> {
  const segmind = client(emulator);
  const submitted = await segmind.submit(model, body);
  if (submitted.status !== 200) throw new Error(`submit answered ${submitted.status}: ${submitted.text}`);
  const { status_url, response_url } = submitted.json() as { status_url: string; response_url: string };
  await segmind.wait(status_url);
  return (await segmind.get(response_url)).json();
}

export async function download(url: string): Promise<{ bytes: Buffer; contentType: string }> {
  const response = await fetch(url);
  if (response.status !== 200) throw new Error(`GET ${url} answered ${response.status}`);
  return { bytes: Buffer.from(await response.arrayBuffer()), contentType: response.headers.get('content-type') ?? '' };
}
