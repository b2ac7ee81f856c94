// Outputs and secrets are written for their owner alone (0600 files, 0700 directories),
// whatever the umask the process runs under.
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileStorage, makePrivateDir, tightenFileMode, writePrivateFile } from '../src/index.js';

const modeOf = async (file: string) => (await stat(file)).mode & 0o777;

let root: string;
let umask: number;
beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'renderq-private-'));
  umask = process.umask();
});
afterEach(async () => {
  process.umask(umask);
  await rm(root, { recursive: true, force: true });
});

describe('FileStorage', () => {
  it.each([
    ['022', 0o022],
    ['000', 0o000],
    ['002', 0o002],
  ])('writes outputs 0600 in 0700 directories under umask %s', async (_label, mask) => {
    process.umask(mask);
    const dir = path.join(root, 'outputs', 'nested');
    const storage = new FileStorage(dir);
    const key = storage.outputKey('job_modes', 0, 'png');
    const stored = await storage.put(key, Readable.from([Buffer.from('pixels')]), 'image/png');
    const file = path.join(dir, ...key.split('/'));
    expect(await readFile(file, 'utf8')).toBe('pixels');
    expect(await modeOf(file)).toBe(0o600);
    expect(await modeOf(`${file}.meta.json`)).toBe(0o600);
    expect(JSON.parse(await readFile(`${file}.meta.json`, 'utf8'))).toEqual(stored);
    // Every directory it made, from the first that was missing down to the file's own.
    for (let each = path.dirname(file); each !== root; each = path.dirname(each)) {
      expect({ dir: each, mode: await modeOf(each) }).toEqual({ dir: each, mode: 0o700 });
    }
    // A rewrite of the same key replaces it whole, and stays private.
    await storage.put(key, Readable.from([Buffer.from('again')]), 'image/png');
    expect(await readFile(file, 'utf8')).toBe('again');
    expect(await modeOf(file)).toBe(0o600);
  });
});

describe('private files', () => {
  it('makePrivateDir leaves a directory that existed as it was, unless asked to tighten it', async () => {
    process.umask(0o022);
    const existing = path.join(root, 'existing');
    await mkdir(existing, { mode: 0o755 });
    await makePrivateDir(path.join(existing, 'a', 'b'));
    expect(await modeOf(existing)).toBe(0o755);
    expect(await modeOf(path.join(existing, 'a'))).toBe(0o700);
    expect(await modeOf(path.join(existing, 'a', 'b'))).toBe(0o700);
    await makePrivateDir(existing, { tighten: true });
    expect(await modeOf(existing)).toBe(0o700);
  });

  it('writePrivateFile narrows a file that existed with a wider mode', async () => {
    const file = path.join(root, 'secret');
    await writeFile(file, 'old');
    await chmod(file, 0o644);
    await writePrivateFile(file, 'new');
    expect(await readFile(file, 'utf8')).toBe('new');
    expect(await modeOf(file)).toBe(0o600);
  });

  it('tightenFileMode corrects a 0644 file and says so, and leaves a 0600 one alone', async () => {
    const file = path.join(root, 'secret');
    await writeFile(file, 'x');
    await chmod(file, 0o644);
    expect(await tightenFileMode(file)).toBe(true);
    expect(await modeOf(file)).toBe(0o600);
    expect(await tightenFileMode(file)).toBe(false);
  });
});
