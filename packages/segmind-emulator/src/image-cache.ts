/**
 * Output images' bytes, drawn when first asked for. The most recently used are kept,
 * since a completion is followed by fetches of the same images (result, then each URL).
 * In benchmark mode each size and format is drawn once and served from then on, so that
 * drawing stays out of a benchmark's figures.
 */
import { type ImageSpec, imageDigest, renderImage } from './images.js';

const IMAGE_CACHE_SIZE = 256;

export class ImageCache {
  readonly #recent = new Map<string, Promise<Buffer>>();
  readonly #fixed = new Map<string, Promise<Buffer>>();

  render(spec: ImageSpec, fixedImages: boolean): Promise<Buffer> {
    if (fixedImages) return this.#fixedImage(spec);
    const key = spec.digest + spec.format;
    let bytes = this.#recent.get(key);
    if (bytes) {
      // Inserted again below, as the most recently used.
      this.#recent.delete(key);
    } else {
      bytes = renderImage(spec);
      // A failed drawing is not kept: the next fetch tries again.
      bytes.catch(() => this.#recent.delete(key));
    }
    this.#recent.set(key, bytes);
    if (this.#recent.size > IMAGE_CACHE_SIZE) {
      this.#recent.delete(this.#recent.keys().next().value as string);
    }
    return bytes;
  }

  /** The one image of this size and format, drawn on first use and kept. */
  #fixedImage(spec: ImageSpec): Promise<Buffer> {
    const key = `${spec.width}x${spec.height}.${spec.format}`;
    let bytes = this.#fixed.get(key);
    if (!bytes) {
      const { source: _source, ...plain } = spec;
      bytes = renderImage({ ...plain, digest: imageDigest([key]), caption: { ...spec.caption, prompt: 'benchmark' } });
      bytes.catch(() => this.#fixed.delete(key));
      this.#fixed.set(key, bytes);
    }
    return bytes;
  }
}
