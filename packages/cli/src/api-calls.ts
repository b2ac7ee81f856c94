/**
 * The few API routes the CLI calls that @renderq/client has no method for (the
 * operator's admin routes, and the job list until the client has it): one
 * request each, same key and error type (RenderqApiError) as the client's.
 */
import { RenderqApiError } from '@renderq/client';

export interface ApiTarget {
  readonly baseUrl: string;
  readonly apiKey: string | undefined;
}

export async function callApi<T>(target: ApiTarget, method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (target.apiKey) headers.authorization = `Bearer ${target.apiKey}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${target.baseUrl.replace(/\/+$/, '')}${path}`, {
    method,
    headers,
    body: body === undefined ? null : JSON.stringify(body),
  });
  if (!response.ok) throw await RenderqApiError.from(response, method, path);
  return (await response.json()) as T;
}
