/**
 * Every output a Segmind result carries, in order: `output` (a URL, several URLs,
 * base64 or a data: URI) and `images[].url`, each once.
 */
import type { ResultAnswer } from '../segmind/answers.js';

export function outputSources(result: ResultAnswer): string[] {
  const found: string[] = [];
  const add = (value: unknown) => {
    if (typeof value === 'string' && value.length > 0 && !found.includes(value)) found.push(value);
    else if (Array.isArray(value)) for (const item of value) add(item);
    else if (value && typeof value === 'object') {
      // Some models wrap outputs: {"image": …} or {"url": …}.
      const inner = value as Record<string, unknown>;
      add(inner.url ?? inner.image ?? inner.images);
    }
  };
  add(result.output);
  for (const image of result.images ?? []) add(image.url);
  return found;
}
