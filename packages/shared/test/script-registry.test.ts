// The script registry, the Lua files beside it and docs/architecture.md's script table name the
// same scripts: a script added in one place and forgotten in another fails here.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SCRIPT_FILES } from '../src/redis/scripts.js';

const TABLE_MARKER =
  '<!-- the script table: checked against the registry by packages/shared/test/script-registry.test.ts -->';

/** The script names in the first column of the markdown table that follows the marker. */
function documentedScripts(): string[] {
  const docs = readFileSync(new URL('../../../docs/architecture.md', import.meta.url), 'utf8');
  const at = docs.indexOf(TABLE_MARKER);
  expect(at, 'the script table marker in docs/architecture.md').toBeGreaterThanOrEqual(0);
  const table = docs.slice(at).split('\n\n')[1] ?? '';
  return table
    .split('\n')
    .slice(2)
    .map((row) => /^\|\s*`([^`]+)`/.exec(row)?.[1])
    .filter((name): name is string => name !== undefined);
}

describe('the Lua scripts', () => {
  it('are each a file in redis/lua, registered once', () => {
    const files = readdirSync(new URL('../src/redis/lua', import.meta.url)).filter((f) => f.endsWith('.lua'));
    expect([...SCRIPT_FILES].sort()).toEqual(files.sort());
    expect(new Set(SCRIPT_FILES).size).toBe(SCRIPT_FILES.length);
  });

  it('are the table docs/architecture.md shows, row for row', () => {
    const documented = documentedScripts();
    expect(documented.length).toBeGreaterThan(0);
    expect([...documented].sort()).toEqual([...SCRIPT_FILES].sort());
  });
});
