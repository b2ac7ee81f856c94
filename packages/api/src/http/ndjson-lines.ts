/**
 * Splits a request body into NDJSON lines without ever holding more than one line:
 * the bytes of the line being read are counted as they arrive, and reading stops the
 * moment a line passes its cap (or the body passes its own), so a gigabyte "line"
 * costs no more memory than the cap. Lines end at `\n` (a `\r` before it is dropped);
 * a last line without a newline counts too.
 *
 * The stream is read with `read()`, never iterated: leaving a `for await` over a
 * request destroys it, and with it the socket the answer has to go out on.
 */
import type { Readable } from 'node:stream';

export interface LineLimits {
  /** The most bytes one line may hold, its `\r\n` or `\n` not counted. */
  readonly maxLineBytes: number;
  /** The most bytes the whole body may hold. */
  readonly maxBodyBytes: number;
}

export interface NdjsonLine {
  /** 1-based, blank lines counted, as an editor numbers them. */
  readonly number: number;
  readonly text: string;
}

/** A line passed `maxLineBytes`; nothing after it was read. */
export class LineTooLongError extends Error {
  override readonly name = 'LineTooLongError';
  constructor(
    readonly line: number,
    readonly maxLineBytes: number,
  ) {
    super(`line ${line} is longer than ${maxLineBytes} bytes`);
  }
}

/** The body passed `maxBodyBytes`; nothing after that was read. */
export class BodyTooLargeError extends Error {
  override readonly name = 'BodyTooLargeError';
  constructor(readonly maxBodyBytes: number) {
    super(`the body is longer than ${maxBodyBytes} bytes`);
  }
}

/** The body broke off before its end (the client went away, or the connection was cut). */
export class BodyAbortedError extends Error {
  override readonly name = 'BodyAbortedError';
  constructor(cause?: unknown) {
    super('the request was aborted before its body ended', { cause });
  }
}

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

export async function* ndjsonLines(body: Readable, limits: LineLimits): AsyncGenerator<NdjsonLine> {
  // The current line's bytes so far, as the chunks they came in (joined once, when the line ends).
  let parts: Buffer[] = [];
  let pending = 0;
  let total = 0;
  let number = 1;
  const finish = (tail: Buffer): NdjsonLine => {
    let bytes = parts.length === 0 ? tail : Buffer.concat([...parts, tail], pending + tail.length);
    if (bytes.length > 0 && bytes[bytes.length - 1] === CARRIAGE_RETURN) bytes = bytes.subarray(0, -1);
    if (bytes.length > limits.maxLineBytes) throw new LineTooLongError(number, limits.maxLineBytes);
    parts = [];
    pending = 0;
    return { number: number++, text: bytes.toString('utf8') };
  };
  // A stream that fails while its reader is busy with a line (between reads) must not throw unheard;
  // the next read finds it destroyed and says so.
  const heard = () => undefined;
  body.on('error', heard);
  try {
    for (;;) {
      const chunk = await nextChunk(body);
      if (chunk === undefined) break;
      total += chunk.length;
      if (total > limits.maxBodyBytes) throw new BodyTooLargeError(limits.maxBodyBytes);
      let start = 0;
      for (let end = chunk.indexOf(NEWLINE); end !== -1; end = chunk.indexOf(NEWLINE, start)) {
        // Checked before joining, so an over-long line is never copied whole.
        if (pending + (end - start) > limits.maxLineBytes + 1) throw new LineTooLongError(number, limits.maxLineBytes);
        yield finish(chunk.subarray(start, end));
        start = end + 1;
      }
      if (start < chunk.length) {
        const rest = chunk.subarray(start);
        pending += rest.length;
        // One byte of room for a `\r` that a `\n` may still follow.
        if (pending > limits.maxLineBytes + 1) throw new LineTooLongError(number, limits.maxLineBytes);
        parts.push(rest);
      }
    }
    if (pending > 0) yield finish(Buffer.alloc(0));
  } finally {
    // A destroyed stream may still be about to emit its error (on the next tick): it stays heard.
    if (!body.destroyed) body.off('error', heard);
  }
}

/** The next chunk of `body`, or undefined at its end; rejects with BodyAbortedError when it breaks off. */
function nextChunk(body: Readable): Promise<Buffer | undefined> {
  const ready = body.read() as Buffer | null;
  if (ready !== null) return Promise.resolve(ready);
  if (body.readableEnded) return Promise.resolve(undefined);
  if (body.destroyed) return Promise.reject(new BodyAbortedError(body.errored));
  return new Promise((resolve, reject) => {
    const settle = (outcome: () => void) => {
      body.off('readable', onReadable);
      body.off('end', onEnd);
      body.off('error', onError);
      body.off('close', onClose);
      outcome();
    };
    const onReadable = () => {
      const chunk = body.read() as Buffer | null;
      // null at the end of the body: 'end' follows.
      if (chunk !== null) settle(() => resolve(chunk));
    };
    const onEnd = () => settle(() => resolve(undefined));
    const onError = (error: Error) => settle(() => reject(new BodyAbortedError(error)));
    const onClose = () => settle(() => reject(new BodyAbortedError()));
    body.on('readable', onReadable);
    body.on('end', onEnd);
    body.on('error', onError);
    body.on('close', onClose);
  });
}
