/**
 * A floor under the speed of an upload: a body that arrives, on average, slower than
 * `minBytesPerSecond` once its first GRACE_MS have passed is cut with a 408. Without
 * it, a client sending a byte every few seconds holds its upload slot for the
 * whole request timeout, and a few such clients hold them all.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { Problem } from './problems.js';

/** Time any upload gets before its average speed is judged (connection set-up, a slow start). */
const GRACE_MS = 10_000;

/**
 * `payload` as it arrives, cut if it arrives too slowly; the payload itself when there is no floor.
 * The watch ends with `answered` (the request's answer has gone, or its connection closed): a body the
 * API stopped reading because it has already answered is not the client's slowness.
 */
export function atLeast(
  minBytesPerSecond: number,
  payload: NodeJS.ReadableStream,
  answered: NodeJS.EventEmitter,
): NodeJS.ReadableStream {
  if (minBytesPerSecond <= 0) return payload;
  const started = Date.now();
  let received = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, done: TransformCallback) {
      received += chunk.length;
      // Fastify checks the bytes that came against Content-Length and the body limit by this count.
      Object.assign(meter, { receivedEncodedLength: received });
      done(null, chunk);
    },
    flush(done: TransformCallback) {
      clearInterval(check);
      done();
    },
  });
  const check = setInterval(() => {
    const elapsedMs = Date.now() - started;
    if (elapsedMs < GRACE_MS) return;
    const rate = (received * 1000) / elapsedMs;
    if (rate >= minBytesPerSecond) return;
    clearInterval(check);
    meter.destroy(
      new Problem(
        'request_timeout',
        `the body arrived at ${Math.round(rate)} bytes/s on average, slower than the ${minBytesPerSecond} an upload ` +
          'must keep up (BATCH_UPLOAD_MIN_BYTES_PER_SECOND); nothing was enqueued',
      ),
    );
  }, 1_000);
  check.unref();
  meter.once('close', () => clearInterval(check));
  answered.once('close', () => clearInterval(check));
  // Its reader (the body parser) listens while it reads; an error after it stopped must not go unheard.
  meter.on('error', () => undefined);
  payload.on('error', (error) => meter.destroy(error));
  payload.pipe(meter);
  return meter;
}
