// OUTPUT_LINKS=presigned: outputs and stored input images link straight to S3, and downloads redirect there.
import { Readable } from 'node:stream';
import { loadConfig, openStorage } from '@renderq/shared';
import { type S3Handle, startS3 } from '@renderq/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type TestApi, VEGA } from './server.js';

let s3: S3Handle;
let api: TestApi;
beforeAll(async () => {
  s3 = await startS3();
  api = await startApi({ ...s3.env('outputs'), OUTPUT_LINKS: 'presigned' });
});
afterAll(async () => {
  await api?.close();
  await s3?.stop();
});

describe('presigned output links', () => {
  it('hands out presigned S3 URLs and redirects downloads to them', async () => {
    const { id } = (await api.call('POST', '/v1/jobs', { body: VEGA })).json() as { id: string };
    const storage = openStorage(loadConfig(s3.env('outputs')).storage);
    const stored = await storage.put(
      storage.outputKey(id, 0, 'png'),
      Readable.from([Buffer.from('s3 bytes')]),
      'image/png',
    );
    await api.store.transition(id, 'submit', { name: 'submitting', since: new Date().toISOString() });
    await api.store.transition(id, 'submitted', {
      name: 'polling',
      request_id: 'r',
      status_url: 'https://api.segmind.com/v2/requests/r/status',
      response_url: 'https://api.segmind.com/v2/requests/r',
      submitted_at: new Date().toISOString(),
      polls: 0,
    });
    await api.store.transition(id, 'result', { name: 'storing', request_id: 'r', sources: [], attempts: 0 });
    await api.store.transition(
      id,
      'complete',
      { name: 'completed' },
      {
        outputs: [
          { index: 0, storage_key: stored.key, content_type: 'image/png', size: stored.size, sha256: stored.sha256 },
        ],
      },
    );
    const { outputs } = (await api.call('GET', `/v1/jobs/${id}`)).json() as { outputs: { url: string }[] };
    expect(outputs[0]?.url).toContain(`${s3.endpoint}/${s3.bucket}/outputs/${id}/0.png`);
    expect(await (await fetch(outputs[0]?.url as string)).text()).toBe('s3 bytes');
    const redirect = await fetch(`${api.url}/v1/jobs/${id}/outputs/0`, {
      headers: { authorization: 'Bearer acme-key-0123456789' },
      redirect: 'manual',
    });
    expect(redirect.status).toBe(302);
    expect(await (await fetch(redirect.headers.get('location') as string)).text()).toBe('s3 bytes');
    await storage.close();
  });

  it('stores an inline input image in S3 and links to it there too', async () => {
    const png = Buffer.concat([Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'), Buffer.alloc(64, 3)]);
    const created = await api.call('POST', '/v1/jobs', {
      body: { model: 'ssd-img2img', input: { image: png.toString('base64'), prompt: 'winter' } },
    });
    expect(created.status).toBe(202);
    const { id, input } = created.json() as { id: string; input: { image: { url: string; size: number } } };
    expect(input.image.url).toContain(`${s3.endpoint}/${s3.bucket}/outputs/${id}/inputs/image.png`);
    expect(Buffer.from(await (await fetch(input.image.url)).arrayBuffer())).toEqual(png);
    const redirect = await fetch(`${api.url}/v1/jobs/${id}/inputs/image`, {
      headers: { authorization: 'Bearer acme-key-0123456789' },
      redirect: 'manual',
    });
    expect(redirect.status).toBe(302);
  });
});
