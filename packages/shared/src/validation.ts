/** Validation failures as data: every wrong field with its path, for problem+json and logs. */
import type { z } from 'zod';

export interface ValidationIssue {
  /** Dotted path from the document root, array indexes in brackets: `input.samples`, `jobs[3].model`. */
  readonly path: string;
  readonly message: string;
}

export function formatPath(segments: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of segments) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out === '' ? String(segment) : `.${String(segment)}`;
  }
  return out;
}

/** Flattens a zod error to issues, each path prefixed with `base` (the location of the parsed value). */
export function issuesFromZod(error: z.ZodError, base: readonly PropertyKey[] = []): ValidationIssue[] {
  return error.issues.flatMap((issue) => {
    // An object with unknown keys yields one issue naming them all; report each key at its own path.
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({
        path: formatPath([...base, ...issue.path, key]),
        message: 'is not a parameter of this model',
      }));
    }
    return [{ path: formatPath([...base, ...issue.path]), message: issue.message }];
  });
}
