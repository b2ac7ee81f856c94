// The client ships the repository's licence: its package.json names it and lists LICENSE in `files`, and
// packages/client/LICENSE (npm packs only files in the package's own folder) is the root LICENSE word for word.
// Every package of the workspace says the same licence, so none can be published or adopted without one.
import { readdir, readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';

const REPO = new URL('../../../', import.meta.url);
/** The root's package.json, infra's and every package's, found rather than listed so a new one is checked too. */
async function manifests(): Promise<string[]> {
  const folders = await readdir(new URL('packages/', REPO), { withFileTypes: true });
  return [
    'package.json',
    'infra/package.json',
    ...folders.filter((entry) => entry.isDirectory()).map((entry) => `packages/${entry.name}/package.json`),
  ];
}

describe('the licence', () => {
  it('is the same file in packages/client as at the root, and the client packs it', async () => {
    const [root, client] = await Promise.all([
      readFile(new URL('LICENSE', REPO), 'utf8'),
      readFile(new URL('packages/client/LICENSE', REPO), 'utf8'),
    ]);
    expect(root).toMatch(/^MIT License\n\nCopyright \(c\) 2026 the renderq authors\n/);
    expect(client).toBe(root);
    const manifest = JSON.parse(await readFile(new URL('packages/client/package.json', REPO), 'utf8'));
    expect(manifest.files).toContain('LICENSE');
  });

  it('is MIT in every package.json', async () => {
    const files = await manifests();
    expect(files.length).toBeGreaterThan(10);
    const licences = await Promise.all(
      files.map(async (file) => [file, JSON.parse(await readFile(new URL(file, REPO), 'utf8')).license]),
    );
    expect(licences.filter(([, licence]) => licence !== 'MIT')).toEqual([]);
  });
});
