/**
 * Fastify's validator for the routes' zod schemas: parses with renderq's messages (describeIssue)
 * and fails with a RequestValidationError carrying each wrong field, which the problem handler
 * turns into a 400 (or a 404 for a malformed id in the path).
 */
import { type FieldIssue, fieldIssues, parseWithMessages } from '@renderq/shared';
import type { FastifySchemaCompiler } from 'fastify';
import type { z } from 'zod';

export class RequestValidationError extends Error {
  readonly statusCode = 400;
  readonly code = 'FST_ERR_VALIDATION';
  /** Set by fastify: `body`, `querystring`, `params` or `headers`. */
  validationContext?: string;

  constructor(readonly issues: readonly FieldIssue[]) {
    super(`${issues.length} field(s) not valid`);
    this.name = 'RequestValidationError';
  }
}

export const validatorCompiler: FastifySchemaCompiler<z.ZodType> =
  ({ schema }) =>
  (data) => {
    const parsed = parseWithMessages(schema, data);
    if (parsed.success) return { value: parsed.data };
    return { error: new RequestValidationError(fieldIssues(parsed.error)) };
  };
