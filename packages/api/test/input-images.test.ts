// Input images sent inline are stored when a job is accepted, beside its outputs, and
// the job shows a key-free link and a digest instead of repeating the bytes; a URL stays
// as given; nothing is stored for a refused request; an Idempotency-Key's retries share
// the one stored input. Real server, real Redis, file storage.
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { enqueueBucketKey } from '@renderq/shared';
import { batchKey, jobKey } from '@renderq/shared/keys';
import { startS3 } from '@renderq/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type TestApi } from './server.js';

/** A 64×64 PNG. */
const PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAEAAAABACAIAAAAlC+aJAAAACXBIWXMAAAPoAAAD6AG1e1JrAAAAn0lEQVRoge2SQQkAQRDD6imeKm5Vnoh7hIFCBKSh4fU00Q3YgOoV2YV6l+gGbED1iuxCvUt0AzagekV2od4lugEbUL0iu1DvEt2ADahekV2od4luwAZUr8gu1LtEN2ADqldkF+pdohuwAdUrsgv1LtEN2IDqFdmFepfoBmxA9YrsQr1LdAM2oHpFdqHeJboBG1C9IrtQ7xLdgA2oXvEPH4sRMS34XATrAAAAAElFTkSuQmCC';
const PNG_BYTES = Buffer.from(PNG, 'base64');
const PNG_SHA256 = createHash('sha256').update(PNG_BYTES).digest('hex');
const img2img = (image: string, extra: Record<string, unknown> = {}) => ({
  model: 'ssd-img2img',
  input: { image, prompt: 'the same scene in winter', ...extra },
});

interface InputFile {
  url: string;
  sha256: string;
  content_type: string;
  size: number;
}
interface JobAnswer {
  id: string;
  input: { image: InputFile | string } & Record<string, unknown>;
}

let api: TestApi;
beforeAll(async () => {
  api = await startApi();
});
afterAll(() => api?.close());

/** Every stored input file under a storage directory. */
async function storedInputs(target: TestApi): Promise<string[]> {
  const dir = fileURLToPath(target.storage.description);
  const entries = await readdir(dir, { recursive: true });
  return entries.filter((entry) => /\/inputs\/[^/]+$/.test(entry) && !entry.endsWith('.meta.json')).sort();
}

const local = (url: string) => {
  const link = new URL(url);
  return `${link.pathname}${link.search}`;
};

describe('an input image sent as base64', () => {
  it('is stored beside the outputs and shown as a signed link with its digest, not its bytes', async () => {
    const created = await api.call('POST', '/v1/jobs', { body: img2img(PNG) });
    expect(created.status).toBe(202);
    const job = created.json() as unknown as JobAnswer;
    expect(job.input).toMatchObject({
      image: { url: expect.any(String), sha256: PNG_SHA256, content_type: 'image/png', size: PNG_BYTES.length },
      prompt: 'the same scene in winter',
      strength: 0.9,
    });
    const image = job.input.image as InputFile;
    expect(local(image.url)).toMatch(new RegExp(`^/v1/jobs/${job.id}/inputs/image\\?expires=\\d+&signature=[\\w-]+$`));
    // The bytes live in storage, under the job's id; the record holds none of them.
    const stored = await api.storage.get(`${job.id}/inputs/image.png`);
    const chunks: Buffer[] = [];
    for await (const chunk of stored.body) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks)).toEqual(PNG_BYTES);
    const hash = await api.redis.hgetall(jobKey(api.prefix, job.id));
    expect(Object.values(hash).join('')).not.toContain(PNG.slice(0, 40));
    expect((await api.store.get(job.id))?.input).not.toHaveProperty('image');
    expect((await api.call('GET', `/v1/jobs/${job.id}`)).json().input).toMatchObject({
      image: { sha256: PNG_SHA256, size: PNG_BYTES.length },
    });
  });

  it('is served by GET /v1/jobs/{id}/inputs/{field}, with a key or with the link alone', async () => {
    const job = (await api.call('POST', '/v1/jobs', { body: img2img(PNG) })).json() as unknown as JobAnswer;
    const link = local((job.input.image as InputFile).url);
    const free = await api.call('GET', link, { tenant: null });
    expect(free.status).toBe(200);
    expect(free.headers.get('content-type')).toBe('image/png');
    expect(free.headers.get('content-length')).toBe(String(PNG_BYTES.length));
    expect(free.headers.get('etag')).toBe(`"${PNG_SHA256}"`);
    // Served from the API's own origin: no guessing another type, no script, whatever the bytes.
    expect(free.headers.get('x-content-type-options')).toBe('nosniff');
    expect(free.headers.get('content-security-policy')).toBe("default-src 'none'; sandbox");
    const keyed = await fetch(`${api.url}/v1/jobs/${job.id}/inputs/image`, {
      headers: { authorization: 'Bearer acme-key-0123456789' },
    });
    expect(Buffer.from(await keyed.arrayBuffer())).toEqual(PNG_BYTES);
    expect(
      (await api.call('GET', `/v1/jobs/${job.id}/inputs/image`, { headers: { 'if-none-match': `"${PNG_SHA256}"` } }))
        .status,
    ).toBe(304);
    expect(
      (
        await api.call(
          'GET',
          link.replace(/signature=(.)/, (_, first: string) => `signature=${first === 'A' ? 'B' : 'A'}`),
          { tenant: null },
        )
      ).status,
    ).toBe(401);
    expect((await api.call('GET', link.replace(/expires=\d+/, 'expires=1000'), { tenant: null })).status).toBe(401);
    // A link to one job's input opens nothing of another job, nor the job's outputs.
    const other = (await api.call('POST', '/v1/jobs', { body: img2img(PNG) })).json() as unknown as JobAnswer;
    expect((await api.call('GET', link.replace(job.id, other.id), { tenant: null })).status).toBe(401);
    expect((await api.call('GET', link.replace('/inputs/image', '/outputs/0'), { tenant: null })).status).toBe(401);
    expect((await api.call('GET', `/v1/jobs/${job.id}/inputs/image`, { tenant: 'globex' })).status).toBe(404);
    expect((await api.call('GET', `/v1/jobs/${job.id}/inputs/mask`)).status).toBe(404);
    expect((await api.call('GET', `/v1/jobs/${job.id}/inputs/..%2fimage`)).status).toBe(404);
  });
});

describe('other input images', () => {
  it('keeps a data: URI’s type and stores it as well; a URL stays as given and nothing is stored for it', async () => {
    const dataUri = (await api.call('POST', '/v1/jobs', { body: img2img(`data:image/png;base64,${PNG}`) })).json();
    expect(dataUri.input).toMatchObject({ image: { sha256: PNG_SHA256, content_type: 'image/png' } });
    const before = await storedInputs(api);
    const url = 'https://images.example/input.png';
    const byUrl = (await api.call('POST', '/v1/jobs', { body: img2img(url) })).json();
    expect(byUrl.input).toMatchObject({ image: url });
    expect(await storedInputs(api)).toEqual(before);
  });

  it('must be a PNG, JPEG, WebP or GIF, as its first bytes show: an SVG, HTML, or bytes of another type are a 400, and nothing is stored', async () => {
    const base64 = (text: string) => Buffer.from(text.padEnd(96, ' ')).toString('base64');
    const svg = base64('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>');
    const html = base64('<html><body><script>alert(document.domain)</script></body></html>');
    const before = await storedInputs(api);
    const refused: [string, string][] = [
      [`data:image/svg+xml;base64,${svg}`, 'must be a PNG, JPEG, WebP or GIF image, not image/svg+xml'],
      [`data:image/html;base64,${html}`, 'must be a PNG, JPEG, WebP or GIF image, not image/html'],
      [`data:image/png;base64,${html}`, 'says image/png, but its bytes are not an image'],
      [`data:image/jpeg;base64,${PNG}`, 'says image/jpeg, but its bytes are image/png'],
      [html, 'must be base64 of a PNG, JPEG, WebP or GIF image: its bytes are not one'],
      // A declared type too long to be looked at in part is looked at whole.
      [
        `data:image/${'a'.repeat(300)}+xml;base64,${svg}`,
        `must be a PNG, JPEG, WebP or GIF image, not image/${'a'.repeat(300)}+xml`,
      ],
    ];
    for (const [image, message] of refused) {
      const answer = await api.call('POST', '/v1/jobs', { body: img2img(image) });
      expect(answer.status, message).toBe(400);
      expect(answer.json().errors).toEqual([{ path: 'input.image', message }]);
    }
    const batch = await api.call('POST', '/v1/batches', {
      body: { jobs: [img2img(PNG), img2img(`data:image/svg+xml;base64,${svg}`)] },
    });
    expect(batch.status).toBe(400);
    expect(await storedInputs(api)).toEqual(before);
  });

  it('stores nothing for a request that is refused, by validation or by the enqueue rate', async () => {
    const limited = await startApi({ TENANT_ENQUEUE_RATE: '1', TENANT_ENQUEUE_BURST: '10000' });
    try {
      // One token left in acme's bucket: one job, then refusals for a second.
      const [seconds, micros] = (await limited.redis.time()) as [number | string, number | string];
      await limited.redis.hset(enqueueBucketKey(limited.prefix, 'acme'), {
        tokens: '1',
        at: String(Number(seconds) * 1000 + Math.floor(Number(micros) / 1000)),
      });
      const invalid = await limited.call('POST', '/v1/jobs', { body: img2img(PNG, { strength: 5 }) });
      expect(invalid.status).toBe(400);
      const refusedBatch = await limited.call('POST', '/v1/batches', {
        body: { jobs: [img2img(PNG), { model: 'ssd-img2img', input: { image: PNG } }] },
      });
      expect(refusedBatch.status).toBe(400);
      expect(await storedInputs(limited)).toEqual([]);
      const first = await limited.call('POST', '/v1/jobs', { body: img2img(PNG) });
      expect(first.status).toBe(202);
      const second = await limited.call('POST', '/v1/jobs', { body: img2img(PNG) });
      expect(second.status).toBe(429);
      const batch = await limited.call('POST', '/v1/batches', { body: { jobs: [img2img(PNG)] } });
      expect(batch.status).toBe(429);
      expect(await storedInputs(limited)).toEqual([`${first.json().id}/inputs/image.png`]);
    } finally {
      await limited.close();
    }
  });

  it('meets a storage outage with a 503 to retry, enqueueing nothing (jobs without inline images go on)', async () => {
    const s3 = await startS3();
    const env = s3.env('outputs');
    await s3.stop();
    const cut = await startApi(env);
    try {
      const refused = await cut.call('POST', '/v1/jobs', {
        body: img2img(PNG),
        headers: { 'idempotency-key': 'outage-1' },
      });
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('5');
      expect(refused.json().detail).toContain('nothing was enqueued');
      const batch = await cut.call('POST', '/v1/batches', { body: { jobs: [img2img(PNG), img2img(PNG)] } });
      expect(batch.status).toBe(503);
      expect(await cut.redis.keys(jobKey(cut.prefix, '*'))).toEqual([]);
      expect(await cut.redis.keys(batchKey(cut.prefix, '*'))).toEqual([]);
      expect((await cut.call('POST', '/v1/jobs', { body: img2img('https://images.example/a.png') })).status).toBe(202);
    } finally {
      await cut.close();
    }
  });

  it('is stored once for an Idempotency-Key: its retries answer with the same job and the same input', async () => {
    const before = (await storedInputs(api)).length;
    const headers = { 'idempotency-key': 'with-image-1' };
    const first = await api.call('POST', '/v1/jobs', { body: img2img(PNG), headers });
    const again = await api.call('POST', '/v1/jobs', { body: img2img(PNG), headers });
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.json()).toEqual(first.json());
    expect((await storedInputs(api)).length - before).toBe(1);
    expect(await storedInputs(api)).toContain(`${first.json().id}/inputs/image.png`);
  });

  it('takes a large image inside the 32 MiB body of a single job (11 MiB: under the 16 Mi-character cap once base64)', async () => {
    const large = Buffer.concat([PNG_BYTES, Buffer.alloc(11 * 1024 * 1024, 1)]);
    const created = await api.call('POST', '/v1/jobs', { body: img2img(large.toString('base64')) });
    expect(created.status).toBe(202);
    expect(created.json().input).toMatchObject({
      image: { size: large.length, sha256: createHash('sha256').update(large).digest('hex') },
    });
    expect(created.text.length).toBeLessThan(4_096);
  });
});

describe('batches with inline images', () => {
  it('store each job’s image under its own id, JSON and NDJSON alike, and answer with the jobs in order', async () => {
    const url = 'https://images.example/input.png';
    const json = await api.call('POST', '/v1/batches', {
      body: { jobs: [img2img(PNG), img2img(url), img2img(`data:image/png;base64,${PNG}`)] },
    });
    expect(json.status).toBe(202);
    const batch = json.json() as { id: string; jobs: { index: number; id: string }[] };
    expect(batch.jobs.map((job) => job.index)).toEqual([0, 1, 2]);
    const inputs = await Promise.all(
      batch.jobs.map(
        async (job) => ((await api.call('GET', `/v1/jobs/${job.id}`)).json() as unknown as JobAnswer).input.image,
      ),
    );
    expect(inputs).toEqual([
      expect.objectContaining({ sha256: PNG_SHA256, content_type: 'image/png' }),
      url,
      expect.objectContaining({ sha256: PNG_SHA256 }),
    ]);
    for (const [index, job] of batch.jobs.entries()) {
      if (index === 1) continue;
      expect(await storedInputs(api)).toContain(`${job.id}/inputs/image.png`);
      const link = (inputs[index] as InputFile).url;
      expect((await api.call('GET', local(link), { tenant: null })).status).toBe(200);
    }

    const ndjson = await api.call('POST', '/v1/batches', {
      raw: `${JSON.stringify(img2img(url))}\n\n${JSON.stringify(img2img(PNG))}\n`,
      headers: { 'content-type': 'application/x-ndjson' },
    });
    expect(ndjson.status).toBe(202);
    const lines = ndjson.json() as { jobs: { index: number; id: string }[] };
    expect(lines.jobs.map((job) => job.index)).toEqual([0, 1]);
    const second = (await api.call('GET', `/v1/jobs/${lines.jobs[1]?.id}`)).json() as unknown as JobAnswer;
    expect(second.input.image).toMatchObject({ sha256: PNG_SHA256 });
    const listed = (await api.call('GET', `/v1/batches/${(ndjson.json() as { id: string }).id}/jobs`)).text;
    expect(listed).not.toContain(PNG.slice(0, 40));
  });
});
