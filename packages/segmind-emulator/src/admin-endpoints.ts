/**
 * The emulator's own API under /_emulator, for tests and benchmarks: its stats, a reset
 * of them, and its settings, read and changed at run time. Open to any caller: it is
 * no part of Segmind's surface and needs no API key.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type HttpOptions, sendJson } from './http-answers.js';
import type { AdminEndpoint } from './http-routes.js';
import { readJson } from './json-body.js';
import { SettingsPatch } from './settings.js';

export async function serveAdmin(
  options: HttpOptions,
  endpoint: AdminEndpoint,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const { service } = options;
  switch (endpoint) {
    case 'admin-stats':
      return sendJson(response, 200, service.statsSnapshot());
    case 'admin-config':
      return adminConfig(options, request, response);
    case 'admin-reset':
      service.stats.reset();
      return sendJson(response, 200, service.statsSnapshot());
  }
}

async function adminConfig(options: HttpOptions, request: IncomingMessage, response: ServerResponse): Promise<void> {
  if (request.method === 'GET') return sendJson(response, 200, options.service.settings);
  const body = await readJson(request);
  const patch = body.kind === 'ok' ? SettingsPatch.safeParse(body.value) : undefined;
  if (!patch?.success) {
    const detail = patch?.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') ?? 'malformed JSON';
    return sendJson(response, 400, { error: `Invalid settings: ${detail}` });
  }
  sendJson(response, 200, options.service.configure(patch.data));
}
