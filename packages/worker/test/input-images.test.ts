// Input images stored at enqueue are read back by the worker when it submits, and Segmind
// gets the same image as if it had been in the record: a job whose image was stored renders
// exactly what the same job with the image inline renders (the emulator's images follow
// from model, input, seed and the input image's bytes). Workers as child processes, the
// Segmind emulator, real Redis and S3.
import { inlineImages, newId, storeInputImages, withoutStoredFields } from '@renderq/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { jobFor, SMALL_PNG, type Stack, startStack } from './stack.js';

let stack: Stack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

/** Creates `job` as the API does: its inline image stored under its id first. */
async function createWithStoredImage(s: Stack, job: ReturnType<typeof jobFor>): Promise<string> {
  const id = newId('job');
  const inputs = await storeInputImages(s.storage, id, inlineImages(['image'], job.input));
  expect(inputs).toHaveLength(1);
  return (await s.store.create({ ...job, id, input: withoutStoredFields(job.input, inputs), inputs })).id;
}

describe('input images stored at enqueue', () => {
  it('reach Segmind as they were sent: the same outputs as the image inline, base64 and data: URI alike', async () => {
    stack = await startStack({ latencyScale: 0.01 });
    await stack.startWorker();
    const same = { prompt: 'marker:stored-image a harbour in winter', seed: 42 };
    const inline = jobFor('ssd-img2img', 'stored-image', same);
    const dataUri = jobFor('sd1.5-img2img', 'stored-image', { ...same, image: `data:image/png;base64,${SMALL_PNG}` });
    const ids = [
      (await stack.store.create(inline)).id,
      await createWithStoredImage(stack, inline),
      (await stack.store.create(dataUri)).id,
      await createWithStoredImage(stack, dataUri),
    ];
    const records = await stack.waitForJobs(ids, 60_000);
    expect(records.map((record) => record.error)).toEqual([null, null, null, null]);
    expect(records.map((record) => record.stage.name)).toEqual(['completed', 'completed', 'completed', 'completed']);
    const [a, b, c, d] = records.map((record) => record.outputs.map((output) => output.sha256));
    expect(b).toEqual(a);
    expect(d).toEqual(c);
    expect(records[1]?.inputs).toMatchObject([{ field: 'image', encoding: 'base64', content_type: 'image/png' }]);
    expect(records[3]?.inputs).toMatchObject([{ field: 'image', encoding: 'data_uri' }]);
    // The record never held the bytes.
    expect(JSON.stringify(records[1]?.input)).not.toContain(SMALL_PNG.slice(0, 40));
  }, 90_000);

  it('fails a job whose stored image is gone with invalid_input, without submitting it', async () => {
    stack = await startStack({ latencyScale: 0.01 });
    await stack.startWorker();
    const job = jobFor('ssd-img2img', 'image-gone');
    const id = newId('job');
    const inputs = await storeInputImages(stack.storage, id, inlineImages(['image'], job.input));
    await stack.storage.delete(inputs[0]?.storage_key as string);
    await stack.store.create({ ...job, id, input: withoutStoredFields(job.input, inputs), inputs });
    const [record] = await stack.waitForJobs([id], 30_000);
    expect(record?.stage.name).toBe('failed');
    expect(record?.error).toEqual({ code: 'invalid_input', message: expect.stringContaining('is gone') });
    expect(stack.emulator.stats().submits.byMarker['image-gone']).toBeUndefined();
  }, 60_000);
});
