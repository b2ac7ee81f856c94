/**
 * Loads an img2img model's input image as Segmind takes it: an http(s) URL
 * (fetched while the request is processed), a data: URI, or bare base64.
 */
import { request } from 'undici';

const MAX_BYTES = 20 * 1024 * 1024;

export class InputImageError extends Error {
  override readonly name = 'InputImageError';
}

export async function loadInputImage(value: string): Promise<Buffer> {
  if (/^https?:\/\//i.test(value)) return fetchImage(value);
  const base64 = value.startsWith('data:') ? value.slice(value.indexOf(',') + 1) : value;
  const bytes = Buffer.from(base64, 'base64');
  if (bytes.length === 0) throw new InputImageError('the input image is empty');
  return bytes;
}

async function fetchImage(url: string): Promise<Buffer> {
  let response: Awaited<ReturnType<typeof request>>;
  try {
    response = await request(url, { method: 'GET', headersTimeout: 10_000, bodyTimeout: 10_000 });
  } catch (error) {
    throw new InputImageError(`could not fetch the input image: ${(error as Error).message}`);
  }
  if (response.statusCode !== 200) {
    await response.body.dump();
    throw new InputImageError(`could not fetch the input image: HTTP ${response.statusCode}`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response.body) {
    size += (chunk as Buffer).length;
    if (size > MAX_BYTES) {
      response.body.destroy();
      throw new InputImageError('the input image is larger than 20 MB');
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
