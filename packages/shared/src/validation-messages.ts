/**
 * The one mapping from zod's issues to the words a caller reads: a predicate about the field named
 * beside it ("is required", "must be a whole number", "must be at most 100"), never zod's own
 * defaults ("Invalid input: expected string, received undefined"). Pass it as the `error` of a
 * parse; a message written on the schema itself still wins.
 */
import type { z } from 'zod';

type RawIssue = Parameters<z.core.$ZodErrorMap>[0];

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  bigint: 'a whole number',
  boolean: 'true or false',
  object: 'an object',
  record: 'an object',
  array: 'an array',
  tuple: 'an array',
  date: 'a date',
  null: 'null',
  undefined: 'left out',
};

const FORMAT_NAMES: Record<string, string> = {
  url: 'a URL',
  email: 'an email address',
  uuid: 'a UUID',
  guid: 'a UUID',
  datetime: 'an ISO 8601 date-time such as 2025-01-31T12:00:00Z',
  date: 'an ISO 8601 date such as 2025-01-31',
  time: 'an ISO 8601 time such as 12:00:00',
  duration: 'an ISO 8601 duration',
  ipv4: 'an IPv4 address',
  ipv6: 'an IPv6 address',
  base64: 'base64 text',
  base64url: 'base64url text',
  json_string: 'JSON text',
};

const UNITS: Record<string, [one: string, many: string]> = {
  string: ['character', 'characters'],
  array: ['item', 'items'],
  set: ['item', 'items'],
  file: ['byte', 'bytes'],
};

function quote(value: unknown): string {
  return typeof value === 'string' ? `"${value}"` : String(value);
}

function bound(
  origin: string,
  limit: number | bigint | Date,
  inclusive: boolean | undefined,
  exact: boolean | undefined,
  side: 'most' | 'least',
): string {
  const unit = UNITS[origin];
  const shown = limit instanceof Date ? limit.toISOString() : String(limit);
  if (unit) {
    const noun = Number(limit) === 1 ? unit[0] : unit[1];
    if (exact) return `must be exactly ${shown} ${noun} long`;
    if (origin === 'string' && side === 'least' && Number(limit) === 1) return 'must not be empty';
    const count = origin === 'string' ? `${shown} ${noun} long` : `${shown} ${noun}`;
    return origin === 'string' ? `must be at ${side} ${count}` : `must hold at ${side} ${count}`;
  }
  if (origin === 'date') return `must be ${side === 'most' ? 'on or before' : 'on or after'} ${shown}`;
  if (inclusive === false) return `must be ${side === 'most' ? 'less' : 'more'} than ${shown}`;
  return `must be at ${side} ${shown}`;
}

function describeFormat(issue: Extract<RawIssue, { code: 'invalid_format' }>): string {
  const detail = issue as { prefix?: string; suffix?: string; includes?: string; pattern?: RegExp | string };
  switch (issue.format) {
    case 'starts_with':
      return `must start with ${quote(detail.prefix)}`;
    case 'ends_with':
      return `must end with ${quote(detail.suffix)}`;
    case 'includes':
      return `must contain ${quote(detail.includes)}`;
    case 'regex':
      if (detail.pattern === undefined) return 'is not in the form asked for';
      return `must match the pattern ${String(detail.pattern)}`;
    default:
      return `must be ${FORMAT_NAMES[issue.format] ?? `a valid ${issue.format}`}`;
  }
}

/** What is wrong with a value, said of the field: the message of a `{path, message}` issue. */
export function describeIssue(issue: RawIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'is required';
      return `must be ${TYPE_NAMES[issue.expected] ?? issue.expected}`;
    case 'too_big':
      return bound(issue.origin, issue.maximum, issue.inclusive, issue.exact, 'most');
    case 'too_small':
      return bound(issue.origin, issue.minimum, issue.inclusive, issue.exact, 'least');
    case 'invalid_format':
      return describeFormat(issue);
    case 'not_multiple_of':
      return `must be a multiple of ${issue.divisor}`;
    case 'unrecognized_keys':
      return `has fields it does not know: ${issue.keys.join(', ')}`;
    case 'invalid_union':
      return 'matches none of the forms accepted here';
    case 'invalid_key':
      return 'has a key that is not valid';
    case 'invalid_element':
      return 'holds an item that is not valid';
    case 'invalid_value':
      return issue.values.length === 1
        ? `must be ${quote(issue.values[0])}`
        : `must be one of ${issue.values.map(quote).join(', ')}`;
    default:
      return 'is not valid';
  }
}
