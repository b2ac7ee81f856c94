// docs/errors.md lists every code the API answers with — its status and problem type, what it means and
// what to do — and no code the API does not have.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PROBLEM_CODES, Problem } from '../src/http/problems.js';

describe("docs/errors.md, the API's answers", () => {
  const page = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
  const start = page.indexOf("\n## The API's answers\n");
  const rows = page
    .slice(start, page.indexOf('\n## ', start + 1))
    .split('\n')
    .filter((line) => line.startsWith('|'))
    .slice(2)
    .map((line) =>
      line
        .split(/(?<!\\)\|/)
        .slice(1, -1)
        .map((cell) => cell.trim()),
    );

  it('gives every problem type with its status, and no other', () => {
    expect(start).toBeGreaterThan(-1);
    const documented = rows.map(([status, type]) => `${status} ${type}`);
    const coded = PROBLEM_CODES.map((code) => `${new Problem(code, '').status} \`${code.replaceAll('_', '-')}\``);
    expect(documented).toEqual(coded);
  });

  it('says for each what it means and what to do', () => {
    expect(rows.filter(([, , meaning = '', todo = '']) => meaning.length < 10 || todo.length < 10)).toEqual([]);
  });
});
