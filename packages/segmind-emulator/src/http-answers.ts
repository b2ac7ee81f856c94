/**
 * What every endpoint is given, and how it answers as Segmind does: JSON with its length,
 * errors as `{"error"}` bodies (each counted in the stats by status), a wrong method as
 * an HTML page, durations in seconds to the millisecond.
 */
import type { ServerResponse } from 'node:http';
import type { EmulatedService } from './emulated-service.js';

export interface HttpOptions {
  readonly service: EmulatedService;
  /** Keys accepted as x-api-key. */
  readonly apiKeys: readonly string[];
  /** Base of the absolute URLs handed out (status, result, outputs). */
  readonly publicUrl: () => string;
}

const METHOD_NOT_ALLOWED_HTML = `<!DOCTYPE html>
<html><head><title>405 Method Not Allowed</title></head>
<body><h1>Method Not Allowed</h1><p>The method is not allowed for the requested URL.</p></body></html>
`;

export function sendJson(response: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  response.end(text);
}

export function sendError(options: HttpOptions, response: ServerResponse, code: number, message: string): void {
  options.service.stats.countError(code);
  sendJson(response, code, { error: message });
}

/** Segmind answers a wrong method with an HTML page, not with its JSON error body. */
export function sendMethodNotAllowed(options: HttpOptions, response: ServerResponse, allowed: readonly string[]): void {
  options.service.stats.countError(405);
  response.writeHead(405, { 'content-type': 'text/html; charset=utf-8', allow: allowed.join(', ') });
  response.end(METHOD_NOT_ALLOWED_HTML);
}

export function secondsOf(ms: number): number {
  return Math.round(ms) / 1000;
}
