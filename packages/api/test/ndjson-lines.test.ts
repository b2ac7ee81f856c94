// The NDJSON line splitter on its own: what it yields, where it stops reading, and what it throws.
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  BodyAbortedError,
  BodyTooLargeError,
  type LineLimits,
  LineTooLongError,
  ndjsonLines,
} from '../src/http/ndjson-lines.js';

const LIMITS: LineLimits = { maxLineBytes: 4096, maxBodyBytes: 1024 * 1024 };

/** A body that hands out the given chunks one read at a time, counting what it was asked for. */
function body(chunks: Iterable<Buffer | string>) {
  const source = chunks[Symbol.iterator]();
  let produced = 0;
  const stream = new Readable({
    highWaterMark: 1024,
    read() {
      const next = source.next();
      if (next.done) {
        this.push(null);
        return;
      }
      const chunk = Buffer.from(next.value);
      produced += chunk.length;
      this.push(chunk);
    },
  });
  return { stream, produced: () => produced };
}

async function lines(chunks: Iterable<Buffer | string>, limits = LIMITS) {
  const out: { number: number; text: string }[] = [];
  for await (const line of ndjsonLines(body(chunks).stream, limits)) out.push(line);
  return out;
}

describe('ndjsonLines', () => {
  it('yields every line numbered as an editor would, \\r\\n and a last line without newline included', async () => {
    expect(await lines(['{"a":1}\n', '\n{"b"', ':2}\r\n', '{"c":3}'])).toEqual([
      { number: 1, text: '{"a":1}' },
      { number: 2, text: '' },
      { number: 3, text: '{"b":2}' },
      { number: 4, text: '{"c":3}' },
    ]);
  });

  it('decodes characters whose bytes arrive in different chunks', async () => {
    const bytes = Buffer.from('"é€😀"\n');
    const chunks = Array.from(bytes, (byte) => Buffer.from([byte]));
    expect(await lines(chunks)).toEqual([{ number: 1, text: '"é€😀"' }]);
  });

  it('takes a line of exactly the cap and refuses one byte more, naming the line', async () => {
    const exact = 'x'.repeat(4096);
    expect(await lines([`{}\n${exact}\n`])).toEqual([
      { number: 1, text: '{}' },
      { number: 2, text: exact },
    ]);
    expect(await lines([`${exact}\r\n`])).toEqual([{ number: 1, text: exact }]);
    await expect(lines([`{}\n\n${exact}x\n`])).rejects.toEqual(new LineTooLongError(3, 4096));
    await expect(lines([`${exact}x`])).rejects.toBeInstanceOf(LineTooLongError);
  });

  it('stops reading as soon as a line passes the cap, however long the body goes on', async () => {
    const endless = function* () {
      for (;;) yield 'x'.repeat(512);
    };
    const { stream, produced } = body(endless());
    await expect(
      (async () => {
        for await (const _ of ndjsonLines(stream, LIMITS));
      })(),
    ).rejects.toEqual(new LineTooLongError(1, 4096));
    // The cap, and what the stream had buffered ahead (its high-water mark), not a byte more.
    expect(produced()).toBeLessThanOrEqual(4096 + 1 + 1024 + 512);
  });

  it('refuses a body over its own cap', async () => {
    const many = Array.from({ length: 100 }, () => '{"a":1}\n');
    await expect(lines(many, { maxLineBytes: 4096, maxBodyBytes: 500 })).rejects.toEqual(new BodyTooLargeError(500));
  });

  it('throws BodyAbortedError when the body breaks off', async () => {
    const { stream } = body(['{"a":1}\n', '{"b"']);
    const reading = (async () => {
      const seen: string[] = [];
      for await (const line of ndjsonLines(stream, LIMITS)) {
        seen.push(line.text);
        stream.destroy(new Error('socket hang up'));
      }
      return seen;
    })();
    await expect(reading).rejects.toBeInstanceOf(BodyAbortedError);
  });
});
