/** A request's JSON body, read whole, up to a limit on its size. */
import type { IncomingMessage } from 'node:http';

const MAX_BODY_BYTES = 30 * 1024 * 1024;

type JsonBody =
  | { kind: 'ok'; value: unknown }
  | { kind: 'malformed'; value?: undefined }
  | { kind: 'too_large'; value?: undefined };

export async function readJson(request: IncomingMessage): Promise<JsonBody> {
  const chunks: Buffer[] = [];
  let size = 0;
  // Read to the end even past the limit: leaving the loop early would destroy the socket before the answer.
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size <= MAX_BODY_BYTES) chunks.push(chunk as Buffer);
  }
  if (size > MAX_BODY_BYTES) return { kind: 'too_large' };
  try {
    return { kind: 'ok', value: JSON.parse(Buffer.concat(chunks).toString('utf8')) };
  } catch {
    return { kind: 'malformed' };
  }
}
