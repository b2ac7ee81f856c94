/**
 * Segmind's HTTP surface over the emulated service: the v2 async protocol, the v1
 * synchronous API, credits, public output URLs, and an admin API under
 * /_emulator. Plain node:http rather than a framework: the point is to answer
 * exactly as Segmind does (JSON `{"error"}` bodies, an HTML 405, connections
 * dropped on purpose), which frameworks smooth over. This file takes a request to
 * its endpoint; the endpoints are in submit-, request- and admin-endpoints.ts.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { serveAdmin } from './admin-endpoints.js';
import { roundCredits } from './credits.js';
import { type HttpOptions, sendError, sendJson, sendMethodNotAllowed } from './http-answers.js';
import { ALLOWED_METHODS, route } from './http-routes.js';
import { serveOutput, serveResult, serveStatus } from './request-endpoints.js';
import { serveSubmit } from './submit-endpoints.js';

export function createEmulatorServer(options: HttpOptions): Server {
  const server = createServer((request, response) => {
    handle(options, request, response).catch((error: unknown) => {
      if (!response.headersSent)
        sendError(options, response, 500, `Internal server error: ${(error as Error).message}`);
      else response.destroy();
    });
  });
  server.keepAliveTimeout = 65_000;
  return server;
}

async function handle(options: HttpOptions, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const { service } = options;
  const path = new URL(request.url ?? '/', 'http://emulator').pathname;
  const target = route(path);
  if (!target) return sendError(options, response, 404, `Not found: ${path}`);
  if (!ALLOWED_METHODS[target.name].includes(request.method ?? '')) {
    sendMethodNotAllowed(options, response, ALLOWED_METHODS[target.name]);
    request.resume();
    return;
  }
  // Output URLs are public, as Segmind's are; the admin API is the emulator's own.
  switch (target.name) {
    case 'output':
      return serveOutput(options, response, target.id, target.file, request.method === 'HEAD');
    case 'admin-stats':
    case 'admin-config':
    case 'admin-reset':
      return serveAdmin(options, target.name, request, response);
  }
  // Counted before the key is checked: a refused submit is still an attempt.
  if (target.name === 'submit') service.stats.submitAttempts++;
  if (target.name === 'sync') service.stats.syncRequests++;
  if (!authorised(options, request)) {
    request.resume();
    return sendError(options, response, 401, 'Unauthorized. API key is invalid or missing.');
  }
  switch (target.name) {
    case 'credits':
      return sendJson(response, 200, { credits: roundCredits(service.settings.credits), 'free-credits': 0 });
    case 'status':
      return serveStatus(options, response, target.id);
    case 'result':
      return serveResult(options, response, target.id);
    case 'submit':
    case 'sync':
      return serveSubmit(options, request, response, target.model, target.name === 'sync');
  }
}

function authorised(options: HttpOptions, request: IncomingMessage): boolean {
  const key = request.headers['x-api-key'];
  return typeof key === 'string' && options.apiKeys.includes(key);
}
