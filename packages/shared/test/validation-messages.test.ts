// Every kind of issue zod 4 raises reads as renderq's sentence (validation-messages.ts), and a
// message written on a schema still wins.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { issuesFromZod, parseWithMessages } from '../src/index.js';

function messagesOf(schema: z.ZodType, value: unknown): string[] {
  const parsed = parseWithMessages(schema, value);
  if (parsed.success) throw new Error('expected a failure');
  return issuesFromZod(parsed.error).map((issue) => (issue.path ? `${issue.path} ${issue.message}` : issue.message));
}

describe('describeIssue', () => {
  it.each<[string, z.ZodType, unknown, string]>([
    ['required', z.object({ prompt: z.string() }), {}, 'prompt is required'],
    ['wrong type', z.object({ prompt: z.string() }), { prompt: 5 }, 'prompt must be a string'],
    ['not a whole number', z.object({ seed: z.number().int() }), { seed: 1.5 }, 'seed must be a whole number'],
    ['not a number', z.object({ n: z.number() }), { n: 'x' }, 'n must be a number'],
    ['NaN from a query', z.object({ n: z.coerce.number() }), { n: 'abc' }, 'n must be a number'],
    ['boolean', z.object({ b: z.boolean() }), { b: 1 }, 'b must be true or false'],
    ['object', z.object({ o: z.object({}) }), { o: [] }, 'o must be an object'],
    ['record', z.object({ o: z.record(z.string(), z.unknown()) }), { o: 'x' }, 'o must be an object'],
    ['array', z.object({ a: z.array(z.string()) }), { a: 'x' }, 'a must be an array'],
    ['at most', z.object({ steps: z.number().max(100) }), { steps: 101 }, 'steps must be at most 100'],
    ['less than', z.object({ n: z.number().lt(1) }), { n: 1 }, 'n must be less than 1'],
    ['at least', z.object({ n: z.number().min(1) }), { n: 0 }, 'n must be at least 1'],
    ['more than', z.object({ n: z.number().positive() }), { n: 0 }, 'n must be more than 0'],
    ['empty string', z.object({ s: z.string().min(1) }), { s: '' }, 's must not be empty'],
    ['long string', z.object({ s: z.string().max(3) }), { s: 'abcd' }, 's must be at most 3 characters long'],
    ['short string', z.object({ s: z.string().min(3) }), { s: 'ab' }, 's must be at least 3 characters long'],
    ['exact length', z.object({ s: z.string().length(2) }), { s: 'abc' }, 's must be exactly 2 characters long'],
    ['too few items', z.object({ a: z.array(z.number()).min(1) }), { a: [] }, 'a must hold at least 1 item'],
    ['too many items', z.object({ a: z.array(z.number()).max(2) }), { a: [1, 2, 3] }, 'a must hold at most 2 items'],
    ['enum', z.object({ e: z.enum(['a', 'b', 'c']) }), { e: 'd' }, 'e must be one of "a", "b", "c"'],
    ['literal', z.object({ w: z.literal(1024) }), { w: 512 }, 'w must be 1024'],
    ['url', z.object({ u: z.url() }), { u: 'nope' }, 'u must be a URL'],
    [
      'datetime',
      z.object({ t: z.iso.datetime() }),
      { t: 'yesterday' },
      't must be an ISO 8601 date-time such as 2025-01-31T12:00:00Z',
    ],
    ['regex', z.object({ r: z.string().regex(/^a+$/) }), { r: 'b' }, 'r must match the pattern /^a+$/'],
    ['starts with', z.object({ r: z.string().startsWith('job_') }), { r: 'x' }, 'r must start with "job_"'],
    ['multiple of', z.object({ n: z.number().multipleOf(8) }), { n: 9 }, 'n must be a multiple of 8'],
    [
      'union',
      z.object({ v: z.union([z.string(), z.number()]) }),
      { v: true },
      'v matches none of the forms accepted here',
    ],
    ['record key', z.record(z.string().startsWith('a'), z.number()), { b: 1 }, 'b has a key that is not valid'],
    ['custom refine', z.object({ c: z.string().refine(() => false) }), { c: 'x' }, 'c is not valid'],
    ['unknown key', z.strictObject({}), { foo: 1 }, 'foo is not a field renderq knows here'],
  ])('%s', (_kind, schema, value, expected) => {
    expect(messagesOf(schema, value)).toEqual([expected]);
  });

  it("keeps a schema's own message", () => {
    expect(messagesOf(z.object({ u: z.url({ error: 'must be an http(s) URL' }) }), { u: 'x' })).toEqual([
      'u must be an http(s) URL',
    ]);
  });

  it('never uses the library words', () => {
    const all = messagesOf(
      z.strictObject({ a: z.string(), b: z.number().int(), c: z.map(z.string(), z.number()), d: z.set(z.number()) }),
      { b: 1.5, c: new Map([['k', 'v']]), d: new Set(['x']), e: 1 },
    );
    expect(all.length).toBeGreaterThan(3);
    for (const message of all) expect(message).not.toMatch(/invalid input|received|expected/i);
  });
});
