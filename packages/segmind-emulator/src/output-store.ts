/**
 * The output images served at public URLs, by request id and file name. They stay 7 days
 * after their request completed, however short the result TTL, as Segmind keeps them; at
 * most MAX_OUTPUTS stay, the oldest dropped first, so that a long benchmark cannot grow
 * the emulator without bound.
 */
import type { OutputImage } from './emulated-request.js';

const RETENTION_MS = 7 * 24 * 3600 * 1000;
const MAX_OUTPUTS = 200_000;

export interface KeptOutput {
  readonly image: OutputImage;
  readonly expiresAt: number;
}

export class OutputStore {
  readonly #kept = new Map<string, KeptOutput>();

  keep(requestId: string, images: readonly OutputImage[]): void {
    for (const image of images) {
      this.#kept.set(pathOf(requestId, image.file), { image, expiresAt: Date.now() + RETENTION_MS });
    }
    while (this.#kept.size > MAX_OUTPUTS) this.#kept.delete(this.#kept.keys().next().value as string);
  }

  /** The image at this path, unless it has expired. */
  find(requestId: string, file: string): OutputImage | undefined {
    const kept = this.#kept.get(pathOf(requestId, file));
    if (!kept || kept.expiresAt < Date.now()) return undefined;
    return kept.image;
  }

  /** The kept copy of a restored request's image, so that the two share one (with an img2img input image in it). */
  keptCopy(requestId: string, image: OutputImage): OutputImage {
    return this.#kept.get(pathOf(requestId, image.file))?.image ?? image;
  }

  entries(): [string, KeptOutput][] {
    return [...this.#kept.entries()];
  }

  restore(entries: readonly (readonly [string, KeptOutput])[]): void {
    for (const [path, kept] of entries) this.#kept.set(path, kept);
  }

  /** Drops the expired outputs; answers how many went. */
  sweep(now: number): number {
    const before = this.#kept.size;
    for (const [path, kept] of this.#kept) if (kept.expiresAt < now) this.#kept.delete(path);
    return before - this.#kept.size;
  }
}

function pathOf(requestId: string, file: string): string {
  return `${requestId}/${file}`;
}
