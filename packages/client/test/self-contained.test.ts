// The built client is what npm users get, and it has no dependencies: its modules import only Node's
// built-ins and each other, although its sources take the API's shapes and the webhook secret rule
// from @renderq/contract (scripts/inline-contract.mjs writes them into dist/).
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const DIST = fileURLToPath(new URL('../dist', import.meta.url));
const SPECIFIER = /(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g;

async function specifiers(): Promise<Map<string, string[]>> {
  const found = new Map<string, string[]>();
  for (const file of await readdir(DIST)) {
    if (!/\.(js|d\.ts)$/.test(file)) continue;
    const text = await readFile(path.join(DIST, file), 'utf8');
    found.set(
      file,
      [...text.matchAll(SPECIFIER)].map((match) => match[1] as string),
    );
  }
  return found;
}

describe('the built client', () => {
  it('imports nothing but node: built-ins and its own modules', async () => {
    const found = await specifiers();
    expect(found.size).toBeGreaterThan(0);
    const foreign = [...found].flatMap(([file, names]) =>
      names.filter((name) => !name.startsWith('node:') && !name.startsWith('./')).map((name) => `${file}: ${name}`),
    );
    expect(foreign).toEqual([]);
  });

  it("writes the contract's types out, each of the client's public shapes among them", async () => {
    const declarations = await readFile(path.join(DIST, 'contract.d.ts'), 'utf8');
    for (const name of ['Job', 'Batch', 'CreatedBatch', 'JobPage', 'Problem', 'WebhookEvent', 'WebhookPayload']) {
      expect(declarations).toMatch(new RegExp(`^export type ${name} = `, 'm'));
    }
    // Nested shapes refer to the named ones rather than repeating them.
    expect(declarations).toMatch(/^ {2}jobs: Job\[\];$/m);
    expect(declarations).toMatch(/^ {2}outputs: JobOutput\[\];$/m);
  });
});
