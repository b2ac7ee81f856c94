/**
 * Segmind's HTTP surface over the emulated service: the v2 async protocol, the v1
 * synchronous API, credits, public output URLs, and an admin API under
 * /_emulator. Plain node:http rather than a framework: the point is to answer
 * exactly as Segmind does (JSON `{"error"}` bodies, an HTML 405, connections
 * dropped on purpose), which frameworks smooth over.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { roundCredits } from './credits.js';
import type { EmulatedRequest } from './emulated-request.js';
import { type HttpOptions, secondsOf, sendError, sendJson, sendMethodNotAllowed } from './http-answers.js';
import { ALLOWED_METHODS, route } from './http-routes.js';
import { readJson } from './json-body.js';
import { SettingsPatch } from './settings.js';

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
  switch (target.name) {
    case 'output':
      return serveOutput(options, response, target.id, target.file, request.method === 'HEAD');
    case 'admin-stats':
      return sendJson(response, 200, service.statsSnapshot());
    case 'admin-config':
      return adminConfig(options, request, response);
    case 'admin-reset':
      service.stats.reset();
      return sendJson(response, 200, service.statsSnapshot());
  }
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
      return status(options, response, target.id);
    case 'result':
      return result(options, response, target.id);
    case 'submit':
    case 'sync':
      return submit(options, request, response, target.model, target.name === 'sync');
  }
}

async function submit(
  options: HttpOptions,
  request: IncomingMessage,
  response: ServerResponse,
  model: string,
  sync: boolean,
): Promise<void> {
  const { service } = options;
  const injected = sync ? undefined : service.injectServerError('submit');
  if (injected) {
    request.resume();
    return sendError(options, response, injected, 'Server had some issue with processing');
  }
  if (!service.knowsModel(model)) {
    request.resume();
    return sendError(options, response, 404, `Model ${model} not found`);
  }
  if (!String(request.headers['content-type'] ?? '').includes('application/json')) {
    request.resume();
    return sendError(options, response, 406, 'Content-Type must be application/json');
  }
  const body = await readJson(request);
  if (body.kind === 'too_large') return sendError(options, response, 400, 'Request body is too large');
  if (body.kind === 'malformed' || typeof body.value !== 'object' || body.value === null || Array.isArray(body.value)) {
    return sendError(options, response, 400, 'Malformed request body: expected a JSON object of model parameters');
  }
  const outcome = service.submit(model, body.value);
  switch (outcome.kind) {
    case 'unknown_model':
      return sendError(options, response, 404, `Model ${model} not found`);
    case 'invalid':
      return sendError(options, response, 400, outcome.message);
    case 'forbidden':
      return sendError(options, response, 403, outcome.message);
    case 'retired':
      return sendError(options, response, 410, outcome.message);
    case 'insufficient_credits':
      return sendError(options, response, 406, outcome.message);
    case 'rate_limited':
      service.stats.countError(429);
      response.writeHead(429, {
        'content-type': 'application/json',
        'x-rate-limit-reset-at-utc': outcome.resetAt.toISOString(),
      });
      response.end(JSON.stringify({ error: 'Rate limit exceeded. Try again after the reset time.' }));
      return;
    case 'accepted':
      return sync ? answerSync(options, response, outcome.request) : answerSubmit(options, response, outcome.request);
  }
}

async function answerSubmit(options: HttpOptions, response: ServerResponse, accepted: EmulatedRequest): Promise<void> {
  const { service } = options;
  const { submitDelayMs, dropAfterSubmitRate } = service.settings;
  if (submitDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, submitDelayMs));
  if (Math.random() < dropAfterSubmitRate) {
    // The request exists and will be billed; the caller never learns its id.
    service.stats.countError('dropped');
    response.socket?.destroy();
    return;
  }
  const base = options.publicUrl();
  const statusUrl = `${base}/v2/requests/${accepted.id}/status`;
  sendJson(response, 200, {
    request_id: accepted.id,
    status: 'QUEUED',
    status_url: statusUrl,
    response_url: `${base}/v2/requests/${accepted.id}`,
    poll_url: statusUrl,
  });
}

async function answerSync(options: HttpOptions, response: ServerResponse, accepted: EmulatedRequest): Promise<void> {
  const done = await options.service.runNow(accepted);
  const image = done.outputs?.[0];
  if (done.status === 'FAILED' || !image) return sendError(options, response, 500, done.error ?? 'Inference failed');
  const bytes = await options.service.render(image);
  const headers = {
    'x-cost': String(done.cost),
    'x-remaining-credits': String(done.remainingCredits ?? options.service.settings.credits),
    'x-generation-time': String(secondsOf((done.finishedAt ?? 0) - (done.startedAt ?? 0))),
    'x-seed-value': String(done.seed),
    'x-request-id': done.id,
  };
  if (done.wantsBase64) {
    response.writeHead(200, { ...headers, 'content-type': 'application/json' });
    response.end(JSON.stringify({ image: bytes.toString('base64') }));
    return;
  }
  response.writeHead(200, { ...headers, 'content-type': image.contentType, 'content-length': bytes.length });
  response.end(bytes);
}

function status(options: HttpOptions, response: ServerResponse, id: string): void {
  const { service } = options;
  service.stats.polls++;
  const injected = service.injectServerError('status');
  const found = injected ? undefined : service.find(id);
  if (injected) sendError(options, response, injected, 'Server had some issue with processing');
  else if (!found) sendError(options, response, 404, `Request ${id} not found`);
  else if (found.status === 'FAILED') sendFailed(options, response, found);
  else sendJson(response, 200, { status: found.status });
}

async function result(options: HttpOptions, response: ServerResponse, id: string): Promise<void> {
  const { service } = options;
  service.stats.results++;
  const injected = service.injectServerError('result');
  if (injected) return sendError(options, response, injected, 'Server had some issue with processing');
  const found = service.find(id);
  if (!found) return sendError(options, response, 404, `Request ${id} not found`);
  if (found.status === 'FAILED') return sendFailed(options, response, found);
  if (found.status !== 'COMPLETED') return sendJson(response, 200, { status: found.status });
  const outputs = found.outputs ?? [];
  const urls = outputs.map((image) => `${options.publicUrl()}/outputs/${found.id}/${image.file}`);
  const body: Record<string, unknown> = { status: 'COMPLETED', seed: found.seed, metrics: metrics(found) };
  if (found.wantsBase64) {
    const inline = await Promise.all(
      outputs.map(
        async (image) => `data:${image.contentType};base64,${(await service.render(image)).toString('base64')}`,
      ),
    );
    body.output = inline.length === 1 ? inline[0] : inline;
  } else {
    body.output = urls.length === 1 ? urls[0] : urls;
  }
  // Some Segmind models also list their images with type and size.
  if (found.model === 'stable-diffusion-3.5-turbo-txt2img' && !found.wantsBase64) {
    body.images = await Promise.all(
      outputs.map(async (image, index) => ({
        url: urls[index],
        content_type: image.contentType,
        file_name: image.file,
        file_size: (await service.render(image)).length,
      })),
    );
  }
  sendJson(response, 200, body);
}

async function serveOutput(
  options: HttpOptions,
  response: ServerResponse,
  id: string,
  file: string,
  headOnly: boolean,
): Promise<void> {
  options.service.stats.outputs++;
  const output = await options.service.output(id, file);
  if (!output) return sendError(options, response, 404, 'Not found');
  response.writeHead(200, {
    'content-type': output.contentType,
    'content-length': output.bytes.length,
    'cache-control': 'public, max-age=604800, immutable',
  });
  response.end(headOnly ? undefined : output.bytes);
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

function metrics(request: EmulatedRequest): Record<string, number> {
  const queue = (request.startedAt ?? request.createdAt) - request.createdAt;
  const inference = (request.finishedAt ?? Date.now()) - (request.startedAt ?? request.createdAt);
  const timings = {
    inference_time: secondsOf(inference),
    queue_time: secondsOf(queue),
    total_time: secondsOf(queue + inference),
  };
  // Failed requests carry timings but no cost: nothing was charged.
  if (request.status !== 'COMPLETED') return timings;
  return { cost: request.cost, remaining_credits: request.remainingCredits ?? 0, ...timings };
}

function sendFailed(options: HttpOptions, response: ServerResponse, failed: EmulatedRequest): void {
  options.service.stats.countError(422);
  sendJson(response, 422, { status: 'FAILED', error: failed.error ?? 'Inference failed', metrics: metrics(failed) });
}

function authorised(options: HttpOptions, request: IncomingMessage): boolean {
  const key = request.headers['x-api-key'];
  return typeof key === 'string' && options.apiKeys.includes(key);
}
