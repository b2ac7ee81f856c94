/** Validation failures as data: every wrong field with its path, for problem+json and logs. */
import type { z } from 'zod';
import { describeIssue } from './validation-messages.js';

export interface ValidationIssue {
  /** Dotted path from the document root, array indexes in brackets: `input.samples`, `jobs[3].model`. */
  readonly path: string;
  /** Said of the field at `path`: "is required", "must be at most 100". */
  readonly message: string;
}

/** One wrong field with its path still in pieces, for callers that place it themselves (a batch's job index). */
export interface FieldIssue {
  readonly segments: readonly PropertyKey[];
  readonly message: string;
  /** A key the schema does not have (its message is `unknownKey`): the caller may name it its own way. */
  readonly unknownKey?: true;
}

export function formatPath(segments: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of segments) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out === '' ? String(segment) : `.${String(segment)}`;
  }
  return out;
}

/** Parses with renderq's messages (describeIssue) wherever the schema does not carry its own. */
export function parseWithMessages<S extends z.ZodType>(schema: S, value: unknown): z.ZodSafeParseResult<z.output<S>> {
  return schema.safeParse(value, { error: describeIssue }) as z.ZodSafeParseResult<z.output<S>>;
}

/**
 * A zod error's issues, one per wrong field: an object with unknown keys yields one issue naming them
 * all, reported here at each key's own path with `unknownKey` as its message.
 */
export function fieldIssues(error: z.ZodError, unknownKey = 'is not a field renderq knows here'): FieldIssue[] {
  return error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ segments: [...issue.path, key], message: unknownKey, unknownKey: true as const }))
      : [{ segments: issue.path, message: issue.message }],
  );
}

/** Flattens a zod error to issues, each path prefixed with `base` (the location of the parsed value). */
export function issuesFromZod(
  error: z.ZodError,
  base: readonly PropertyKey[] = [],
  unknownKey?: string,
): ValidationIssue[] {
  return fieldIssues(error, unknownKey).map((issue) => ({
    path: formatPath([...base, ...issue.segments]),
    message: issue.message,
  }));
}
