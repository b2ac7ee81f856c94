/**
 * The OpenAPI document's transform: the zod provider's own, plus what zod schemas
 * that fastify validates cannot say. A route whose body is read by its handler (a
 * batch: JSON, or NDJSON as a stream) documents it per content type in
 * `documentedBody`, which fastify never sees as a body to validate; `bodyExamples`
 * adds named examples to a validated JSON body.
 */
import type { SwaggerTransform } from '@fastify/swagger';
import { jsonSchemaTransform } from 'fastify-type-provider-zod';
import type { z } from 'zod';

/** Named examples, as OpenAPI's media type `examples` holds them. */
type Examples = Record<string, { readonly summary?: string; readonly value: unknown }>;

declare module 'fastify' {
  interface FastifySchema {
    /** The request body for the document only, per content type (the handler reads and checks it). */
    documentedBody?: Record<string, { readonly schema: z.ZodType; readonly examples?: Examples }>;
    /** Examples of the (validated, JSON) body. */
    bodyExamples?: Examples;
  }
}

/**
 * The provider types the schemas it returns as FastifySchema, whose parts are `unknown`; the JSON Schema it
 * makes of a zod schema is an object.
 */
const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null;

export const openapiTransform: SwaggerTransform = (document) => {
  const { documentedBody, bodyExamples, ...schema } = document.schema ?? {};
  const transformed = jsonSchemaTransform({ ...document, schema });
  if (transformed.schema.hide) return transformed;
  const jsonOf = (zodSchema: z.ZodType) => {
    const { body } = jsonSchemaTransform({ ...document, schema: { body: zodSchema } }).schema;
    return isObject(body) ? body : {};
  };
  if (documentedBody) {
    const content = Object.fromEntries(
      Object.entries(documentedBody).map(([type, { schema: body, examples }]) => [
        type,
        { schema: { ...jsonOf(body), ...(examples ? { 'x-examples': examples } : {}) } },
      ]),
    );
    transformed.schema.body = { content };
  }
  if (bodyExamples && isObject(transformed.schema.body)) {
    transformed.schema.body = { ...transformed.schema.body, 'x-examples': bodyExamples };
  }
  return transformed;
};
