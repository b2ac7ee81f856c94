/**
 * Downloads of what a job keeps in storage — its outputs and the input images stored
 * with it — for the tenant that owns the job, or for anyone holding a signed link.
 */
import { ObjectNotFoundError } from '@renderq/shared';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ApiContext } from '../api-context.js';
import { Problem } from '../http/problems.js';

/** A stored object (an output or an input image), streamed with its type, length and an ETag from its digest. */
export async function sendStored(
  ctx: ApiContext,
  request: FastifyRequest,
  reply: FastifyReply,
  object: { storage_key: string; sha256: string; content_type: string; size: number },
  gone: string,
) {
  // With OUTPUT_LINKS=presigned the bytes come from S3 itself.
  if (ctx.config.api.outputLinks === 'presigned' && ctx.storage.presignedUrl) {
    return reply.redirect(
      await ctx.storage.presignedUrl(object.storage_key, ctx.config.api.outputLinkTtlMs / 1000),
      302,
    );
  }
  const etag = `"${object.sha256}"`;
  // The bytes never change, but a link's right to them ends: a cache may keep them only as long as the link works.
  const expires = Number((request.query as { expires?: unknown } | undefined)?.expires);
  const maxAge = request.tenant ? 3_600 : Math.max(0, Math.floor(expires - Date.now() / 1000)) || 0;
  reply.header('etag', etag).header('cache-control', `private, max-age=${maxAge}, immutable`);
  if (request.headers['if-none-match'] === etag) return reply.code(304).send();
  try {
    const stored = await ctx.storage.get(object.storage_key);
    return (
      reply
        .type(object.content_type)
        .header('content-length', String(object.size))
        .header('x-storage-key', object.storage_key)
        // Served from the API's origin, beside the dashboard: whatever the bytes turn out to be, a
        // browser neither guesses another type nor runs a script in them.
        .header('x-content-type-options', 'nosniff')
        .header('content-security-policy', "default-src 'none'; sandbox")
        .send(stored.body)
    );
  } catch (error) {
    if (error instanceof ObjectNotFoundError) throw new Problem('not_found', gone);
    throw error;
  }
}
