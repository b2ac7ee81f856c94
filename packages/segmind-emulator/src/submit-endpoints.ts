/**
 * Submitting to a model: POST /v2/{model} queues a request and answers its URLs at once;
 * POST /v1/{model} (the synchronous API) answers with the image when it is made. Both
 * refuse as Segmind does, with its status codes and messages.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EmulatedRequest } from './emulated-request.js';
import { type HttpOptions, secondsOf, sendError, sendJson } from './http-answers.js';
import { readJson } from './json-body.js';

export async function serveSubmit(
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
