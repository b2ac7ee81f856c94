/**
 * Reading a request back: its status, its result (output URLs, or the images inline
 * for base64), and the output images at their public URLs. A FAILED request answers 422
 * on status and result alike, as Segmind's does.
 */
import type { ServerResponse } from 'node:http';
import type { EmulatedRequest } from './emulated-request.js';
import { type HttpOptions, secondsOf, sendError, sendJson } from './http-answers.js';

export function serveStatus(options: HttpOptions, response: ServerResponse, id: string): void {
  const { service } = options;
  service.stats.polls++;
  const injected = service.injectServerError('status');
  const found = injected ? undefined : service.find(id);
  if (injected) sendError(options, response, injected, 'Server had some issue with processing');
  else if (!found) sendError(options, response, 404, `Request ${id} not found`);
  else if (found.status === 'FAILED') sendFailed(options, response, found);
  else sendJson(response, 200, { status: found.status });
}

export async function serveResult(options: HttpOptions, response: ServerResponse, id: string): Promise<void> {
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

export async function serveOutput(
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
