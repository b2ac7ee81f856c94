// A stream of random bytes made on demand (never held whole in memory) that knows its digest.
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';

export function byteSource(totalBytes: number, chunkBytes = 64 * 1024) {
  const hash = createHash('sha256');
  let sent = 0;
  const stream = new Readable({
    read() {
      if (sent >= totalBytes) {
        this.push(null);
        return;
      }
      const chunk = randomBytes(Math.min(chunkBytes, totalBytes - sent));
      sent += chunk.length;
      hash.update(chunk);
      this.push(chunk);
    },
  });
  return { stream, sha256: () => hash.digest('hex') };
}

export async function sha256Of(stream: AsyncIterable<Uint8Array>): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of stream) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { sha256: hash.digest('hex'), size };
}

/** Peak retained memory (heap + buffers, after a full collection) while `work` runs, above its start. */
export async function peakRetainedBytes(work: () => Promise<unknown>): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc');
  const sample = () => {
    gc();
    const usage = process.memoryUsage();
    return usage.heapUsed + usage.arrayBuffers;
  };
  const baseline = sample();
  let peak = baseline;
  // A full collection of a large test heap takes a while: sampling back to back would leave `work`
  // no time to run on a loaded machine, so the pause between samples grows with what one costs.
  let timer: NodeJS.Timeout | undefined;
  let done = false;
  const next = (delayMs: number) => {
    timer = setTimeout(() => {
      if (done) return;
      const started = performance.now();
      peak = Math.max(peak, sample());
      next(Math.max(25, 4 * (performance.now() - started)));
    }, delayMs);
  };
  next(25);
  try {
    await work();
  } finally {
    done = true;
    clearTimeout(timer);
  }
  return peak - baseline;
}
