/**
 * A webhook receiver for tests: a real HTTP server that records every delivery
 * (headers, raw body, when) and answers as the test says — a status code, a
 * redirect, or never (the request is held open until the receiver closes).
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedWebhook {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly at: number;
}

/** How to answer a delivery: a status code, or 'hang' to never answer. */
export type ReceiverAnswer = number | 'hang';

export interface WebhookReceiver {
  /** Base URL, e.g. http://127.0.0.1:PORT */
  readonly url: string;
  readonly received: ReceivedWebhook[];
  /** Requests being held unanswered now, and the most ever held at once. */
  readonly open: () => number;
  readonly maxOpen: () => number;
  /** Resolves once `count` deliveries matching `filter` have arrived. */
  waitFor(count: number, filter?: (hook: ReceivedWebhook) => boolean, timeoutMs?: number): Promise<ReceivedWebhook[]>;
  close(): Promise<void>;
}

export async function startWebhookReceiver(
  answer: (hook: ReceivedWebhook, index: number) => ReceiverAnswer = () => 200,
): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  let open = 0;
  let maxOpen = 0;
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const hook = {
        path: request.url ?? '/',
        headers: request.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        at: Date.now(),
      };
      received.push(hook);
      const decision = answer(hook, received.length - 1);
      if (decision === 'hang') {
        open += 1;
        maxOpen = Math.max(maxOpen, open);
        response.on('close', () => {
          open -= 1;
        });
        return;
      }
      if (decision >= 300 && decision < 400) response.setHeader('location', '/elsewhere');
      response.writeHead(decision, { 'content-type': 'text/plain' }).end(`answer ${decision}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    open: () => open,
    maxOpen: () => maxOpen,
    async waitFor(count, filter = () => true, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const matching = received.filter(filter);
        if (matching.length >= count) return matching;
        if (Date.now() > deadline) {
          throw new Error(`expected ${count} webhooks, got ${matching.length} after ${timeoutMs} ms`);
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
