import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { type S3Handle, startS3 } from '@renderq/testing';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  createLogger,
  extensionFor,
  FileStorage,
  inlineImages,
  loadConfig,
  ObjectNotFoundError,
  openStorage,
  readStoredInputs,
  type Storage,
  type StorageStatus,
  storeInputImages,
  watchStorage,
  withoutStoredFields,
} from '../src/index.js';
import { S3Storage } from '../src/storage/s3-storage.js';
import { StorageUnusableError } from '../src/storage/storage.js';
import { byteSource, peakRetainedBytes, sha256Of } from './byte-source.js';

const MiB = 1024 * 1024;

let s3: S3Handle;
let dir: string;
const backends: Record<string, () => Storage> = {
  file: () => new FileStorage(dir),
  s3: () =>
    new S3Storage({
      bucket: s3.bucket,
      prefix: 'outputs/test',
      region: s3.region,
      endpoint: s3.endpoint,
      forcePathStyle: true,
      credentials: s3.credentials,
    }),
};

beforeAll(async () => {
  [s3, dir] = await Promise.all([startS3(), mkdtemp(path.join(tmpdir(), 'renderq-files-'))]);
});

afterAll(async () => {
  await s3?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('inline input images', () => {
  it('are the base64 and data: URIs among the image fields; URLs and other fields are left alone', () => {
    const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]);
    const found = inlineImages(['image', 'mask', 'absent'], {
      image: jpeg.toString('base64'),
      mask: 'https://images.example/mask.png',
      other: jpeg.toString('base64'),
    });
    expect(found).toEqual([{ field: 'image', bytes: jpeg, contentType: 'image/jpeg', encoding: 'base64' }]);
    expect(inlineImages(['image'], { image: 'AAAA' })[0]?.contentType).toBe('application/octet-stream');
    expect(inlineImages(['image'], { image: 'data:Image/GIF;base64,R0lGODlh' })[0]).toMatchObject({
      contentType: 'image/gif',
      encoding: 'data_uri',
    });
  });
});

describe.each(Object.keys(backends))('%s storage', (backend) => {
  let storage: Storage;
  beforeAll(() => {
    storage = backends[backend]!();
  });
  afterAll(() => storage.close());

  it('round-trips a 20 MB stream: put → get → same sha256', async () => {
    const source = byteSource(20 * MiB);
    const key = storage.outputKey('job_roundtrip', 0, 'bin');
    const stored = await storage.put(key, source.stream, 'application/octet-stream');
    expect(stored).toEqual({ key, size: 20 * MiB, sha256: source.sha256(), contentType: 'application/octet-stream' });
    const read = await storage.get(key);
    expect(read.size).toBe(20 * MiB);
    expect(read.contentType).toBe('application/octet-stream');
    expect(await sha256Of(read.body)).toEqual({ sha256: stored.sha256, size: 20 * MiB });
  });

  it('streams: memory stays far below the object size, putting and getting', async () => {
    const size = 128 * MiB;
    const key = storage.outputKey('job_memory', 0, 'bin');
    const put = await peakRetainedBytes(() => storage.put(key, byteSource(size).stream, 'application/octet-stream'));
    const get = await peakRetainedBytes(async () => sha256Of((await storage.get(key)).body));
    // Bounded buffers only (S3: about (parts in flight + 2) × 5 MiB, ~21 MiB measured, 49 MiB once
    // on Node 24 under load); the slack absorbs V8 freeing buffers on a background thread, which
    // lags on a loaded machine. Holding the body would retain at least the 128 MiB.
    expect(put).toBeLessThan(64 * MiB);
    expect(get).toBeLessThan(64 * MiB);
    await storage.delete(key);
  });

  it('keys outputs PREFIX/JOB_ID/INDEX.EXT and overwrites the same key', async () => {
    const key = storage.outputKey('job_overwrite', 2, extensionFor('image/png'));
    expect(key).toBe(backend === 's3' ? 'outputs/test/job_overwrite/2.png' : 'job_overwrite/2.png');
    await storage.put(key, Readable.from([Buffer.from('first version, longer')]), 'image/png');
    const second = await storage.put(key, Readable.from([Buffer.from('second')]), 'image/png');
    const read = await storage.get(key);
    expect(read.contentType).toBe('image/png');
    expect(await sha256Of(read.body)).toEqual({ sha256: second.sha256, size: 6 });
  });

  it('stores bytes in memory in one write, as it would have stored them streamed', async () => {
    const bytes = Buffer.from('the same bytes, streamed or in memory');
    const streamedKey = storage.outputKey('job_bytes', 0, 'png');
    const inMemoryKey = storage.outputKey('job_bytes', 1, 'png');
    const streamed = await storage.put(streamedKey, Readable.from([bytes]), 'image/png');
    const inMemory = await storage.put(inMemoryKey, new Uint8Array(bytes), 'image/png');
    expect({ ...inMemory, key: streamed.key }).toEqual(streamed);
    const read = await storage.get(inMemoryKey);
    expect(read.contentType).toBe('image/png');
    expect(await sha256Of(read.body)).toEqual({ sha256: streamed.sha256, size: bytes.length });
  });

  it('keeps input images sent inline beside the outputs, PREFIX/JOB_ID/inputs/FIELD.EXT, and reads them back as sent', async () => {
    const png = Buffer.concat([Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'), Buffer.alloc(2_000, 7)]);
    const input = {
      prompt: 'x',
      image: png.toString('base64'),
      mask: `data:image/webp;base64,${png.toString('base64')}`,
    };
    const images = inlineImages(['image', 'mask'], input);
    const stored = await storeInputImages(storage, 'job_inputs', images);
    const base = backend === 's3' ? 'outputs/test/job_inputs' : 'job_inputs';
    expect(stored).toEqual([
      {
        field: 'image',
        storage_key: `${base}/inputs/image.png`,
        content_type: 'image/png',
        size: png.length,
        sha256: createHash('sha256').update(png).digest('hex'),
        encoding: 'base64',
      },
      {
        field: 'mask',
        storage_key: `${base}/inputs/mask.webp`,
        content_type: 'image/webp',
        size: png.length,
        sha256: createHash('sha256').update(png).digest('hex'),
        encoding: 'data_uri',
      },
    ]);
    expect(await readStoredInputs(storage, stored)).toEqual({ image: input.image, mask: input.mask });
    expect(withoutStoredFields(input, stored)).toEqual({ prompt: 'x' });
    expect(() => storage.inputKey('job_x', '../image', 'png')).toThrow(/unsafe/);
  });

  it('answers a missing key with ObjectNotFoundError', async () => {
    await expect(storage.get(storage.outputKey('job_missing', 0, 'png'))).rejects.toBeInstanceOf(ObjectNotFoundError);
  });

  it('deletes', async () => {
    const key = storage.outputKey('job_delete', 0, 'png');
    await storage.put(key, Readable.from([Buffer.from('x')]), 'image/png');
    await storage.delete(key);
    await expect(storage.get(key)).rejects.toBeInstanceOf(ObjectNotFoundError);
  });

  it('refuses keys that could escape the store', async () => {
    await expect(storage.put('../escape.png', Readable.from([Buffer.from('x')]), 'image/png')).rejects.toThrow(
      /unsafe/,
    );
    expect(() => storage.outputKey('../job', 0, 'png')).toThrow(/unsafe/);
  });

  it('leaves no trace of a put whose source fails', async () => {
    const key = storage.outputKey('job_broken', 0, 'png');
    const broken = new Readable({
      read() {
        this.destroy(new Error('source went away'));
      },
    });
    await expect(storage.put(key, broken, 'image/png')).rejects.toThrow('source went away');
    await expect(storage.get(key)).rejects.toBeInstanceOf(ObjectNotFoundError);
  });
});

describe('S3 storage against an S3-compatible server', () => {
  it('stores the bytes themselves, as a plain HTTP GET shows (no aws-chunked framing)', async () => {
    const storage = backends.s3!();
    const source = byteSource(6 * MiB + 123);
    const key = storage.outputKey('job_plainget', 0, 'bin');
    const stored = await storage.put(key, source.stream, 'application/octet-stream');
    const url = await storage.presignedUrl!(key, 60);
    const response = await fetch(url);
    expect(response.status).toBe(200);
    const bytes = Buffer.from(await response.arrayBuffer());
    expect(bytes.length).toBe(stored.size);
    expect(await sha256Of(Readable.from([bytes]))).toEqual({ sha256: stored.sha256, size: stored.size });
    await storage.close();
  });

  it('is opened from STORAGE_URL with the endpoint and path style', async () => {
    const config = loadConfig({ ...s3.env('from-config') });
    const storage = openStorage(config.storage);
    expect(storage.description).toBe(`s3://${s3.bucket}/from-config`);
    const key = storage.outputKey('job_config', 0, 'png');
    expect(key).toBe('from-config/job_config/0.png');
    await storage.put(key, Readable.from([Buffer.from('hello')]), 'image/png');
    expect(await sha256Of((await storage.get(key)).body)).toMatchObject({ size: 5 });
    await storage.close();
  });
});

describe('file storage', () => {
  it('writes objects whole: a reader never sees a partial file', async () => {
    const storage = new FileStorage(dir);
    const key = storage.outputKey('job_atomic', 0, 'png');
    await storage.put(key, Readable.from([Buffer.from('complete')]), 'image/png');
    expect(await readFile(path.join(dir, 'job_atomic', '0.png'), 'utf8')).toBe('complete');
  });
});

describe('the storage check', () => {
  const s3With = (bucket: string, options: { createBucket?: boolean; endpoint?: string } = {}) =>
    new S3Storage({
      bucket,
      prefix: 'outputs',
      region: s3.region,
      endpoint: options.endpoint ?? s3.endpoint,
      forcePathStyle: true,
      credentials: s3.credentials,
      ...(options.createBucket === undefined ? {} : { createBucket: options.createBucket }),
    });

  it('passes for a writable store and leaves nothing behind, however many check it at once', async () => {
    const file = backends.file!();
    await Promise.all(Array.from({ length: 4 }, () => expect(file.check()).resolves.toBeUndefined()));
    expect((await readdir(dir)).filter((name) => name.startsWith('.renderq-check'))).toEqual([]);
    // The API and every worker check one store at once: each writes and removes an object of its own.
    const stores = Array.from({ length: 4 }, () => backends.s3!());
    await Promise.all(stores.map((storage) => expect(storage.check()).resolves.toBeUndefined()));
    const client = new S3Client({
      region: s3.region,
      endpoint: s3.endpoint,
      forcePathStyle: true,
      credentials: s3.credentials,
    });
    const listed = await client.send(
      new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: 'outputs/test/.renderq-check' }),
    );
    expect(listed.Contents ?? []).toEqual([]);
    client.destroy();
    await Promise.all(stores.map((storage) => storage.close()));
  });

  it('names a missing bucket and the setting that creates it; with S3_CREATE_BUCKET it creates it', async () => {
    const missing = s3With('renderq-missing-bucket');
    await expect(missing.check()).rejects.toThrow(
      new StorageUnusableError(
        `bucket "renderq-missing-bucket" does not exist at ${s3.endpoint} (STORAGE_URL; S3_CREATE_BUCKET=true creates it)`,
      ),
    );
    await missing.close();
    const creating = s3With('renderq-created-bucket', { createBucket: true });
    await expect(creating.check()).resolves.toBeUndefined();
    // Made once: a second check (another process's, say) finds it.
    await expect(creating.check()).resolves.toBeUndefined();
    // API and worker starting together both try to make it: both checks pass.
    const [a, b] = [
      s3With('renderq-raced-bucket', { createBucket: true }),
      s3With('renderq-raced-bucket', { createBucket: true }),
    ];
    await expect(Promise.all([a.check(), b.check()])).resolves.toEqual([undefined, undefined]);
    await Promise.all([a.close(), b.close()]);
    const stored = await creating.put('outputs/x/0.txt', Readable.from([Buffer.from('hi')]), 'text/plain');
    expect(stored.size).toBe(2);
    await creating.close();
  });

  it('names the endpoint a store cannot be reached at, and a directory it cannot write', async () => {
    const unreachable = s3With(s3.bucket, { endpoint: 'http://127.0.0.1:9' });
    await expect(unreachable.check()).rejects.toThrow(
      /cannot reach bucket "renderq-test" at http:\/\/127\.0\.0\.1:9: /,
    );
    await unreachable.close();
    // Under a file, so that no permission (root has them all) can make it writable.
    const blocker = path.join(dir, 'a-file');
    await writeFile(blocker, 'x');
    await expect(new FileStorage(path.join(blocker, 'outputs')).check()).rejects.toThrow(
      `cannot write to file://${blocker}/outputs (STORAGE_URL): ENOTDIR`,
    );
  });
});

describe('watching storage', () => {
  it('answers with the first check, then follows the store: unusable, usable again', async () => {
    let failing = true;
    const storage = backends.file!();
    const flaky: Storage = Object.assign(Object.create(Object.getPrototypeOf(storage)) as Storage, storage, {
      check: async () => {
        if (failing) throw new StorageUnusableError('bucket "b" does not exist');
      },
    });
    const seen: StorageStatus[] = [];
    const watch = await watchStorage({
      storage: flaky,
      intervalMs: 50,
      logger: createLogger({ level: 'silent', name: 'test', secrets: [] }),
      onChange: (status) => seen.push(status),
    });
    expect(watch.status()).toEqual({ ok: false, problem: 'bucket "b" does not exist' });
    failing = false;
    await vi.waitFor(() => expect(watch.status()).toEqual({ ok: true }), { timeout: 2_000 });
    watch.stop();
    expect(seen).toEqual([{ ok: false, problem: 'bucket "b" does not exist' }, { ok: true }]);
  });
});

describe('a storage check that never answers', () => {
  it('is an unusable store after the deadline, not a start that never ends', async () => {
    const storage = backends.file!();
    const hanging: Storage = Object.assign(Object.create(Object.getPrototypeOf(storage)) as Storage, storage, {
      check: () => new Promise<void>(() => {}),
    });
    // Without the deadline this await would never end.
    const watch = await watchStorage({
      storage: hanging,
      intervalMs: 60_000,
      deadlineMs: 200,
      logger: createLogger({ level: 'silent', name: 'test', secrets: [] }),
    });
    watch.stop();
    expect(watch.status()).toEqual({ ok: false, problem: `${storage.description} did not answer within 0.2 s` });
  });
});
