// The contract's codes and enums as docs/ tell them to users: every value the code has is documented,
// and the docs list no value the code does not have. Each check reads the one place that lists it.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BatchStatus, ErrorCode, EventStatus, JobStatus, WebhookEventType } from '../src/index.js';

const doc = (name: string) => readFileSync(new URL(`../../../docs/${name}`, import.meta.url), 'utf8');

/** The section of a page under `heading`, up to the next heading of the same level or above. */
function section(page: string, heading: string): string {
  const start = page.indexOf(`\n${heading}\n`);
  expect(start, `no heading "${heading}"`).toBeGreaterThan(-1);
  const level = heading.split(' ')[0] as string;
  const after = page.slice(start + heading.length + 2);
  const end = after.search(new RegExp(`^#{1,${level.length}} `, 'm'));
  return end === -1 ? after : after.slice(0, end);
}

/** One column of the table in `text` (its header and rule left out), a code span's backticks taken off. */
function column(text: string, index: number): string[] {
  const rows = text.split('\n').filter((line) => line.startsWith('|'));
  return rows.slice(2).map((row) => {
    const cell = row.split(/(?<!\\)\|/)[index + 1]?.trim() ?? '';
    return cell.replace(/^`|`$/g, '');
  });
}

/** The code spans of the sentence that begins with `lead`: a list such as "`a`, `b` or `c`". */
function listAfter(page: string, lead: string): string[] {
  const start = page.indexOf(lead);
  expect(start, `no "${lead}"`).toBeGreaterThan(-1);
  const list = page.slice(start + lead.length).match(/^(\s*(?:,|or|and)?\s*`[^`]+`(?:\s*\([^)]*\))?)+/);
  // What a value's parenthesis says is about the value, not another one.
  const values = (list?.[0] ?? '').replace(/\([^)]*\)/g, '');
  return [...values.matchAll(/`([^`]+)`/g)].map((match) => match[1] as string);
}

describe('docs/errors.md', () => {
  it('lists every job error code, each with what it means and what to do, and no other', () => {
    const table = section(doc('errors.md'), "## A failed job's `error.code`");
    expect(column(table, 0)).toEqual(ErrorCode.options);
    for (const cell of [...column(table, 1), ...column(table, 2)]) expect(cell.length).toBeGreaterThan(20);
  });

  it('is linked from README and docs/api.md', () => {
    expect(readFileSync(new URL('../../../README.md', import.meta.url), 'utf8')).toContain('](docs/errors.md)');
    expect(doc('api.md')).toContain('](errors.md)');
  });
});

// The job stages and their moves are compared with docs/architecture.md by packages/shared's lifecycle test,
// the pause reasons and webhook attempt outcomes with docs/metrics.md by its metrics test.
describe("the contract's enums in docs/api.md and docs/webhooks.md", () => {
  it('gives every job status', () => {
    expect(listAfter(doc('api.md'), '`status` is ')).toEqual(JobStatus.options);
  });

  it('gives every batch status', () => {
    expect(listAfter(doc('api.md'), "A batch's `status` is ")).toEqual(BatchStatus.options);
  });

  it('gives every webhook event type, in the table of events', () => {
    expect(column(section(doc('webhooks.md'), '## Events'), 0)).toEqual(WebhookEventType.options);
  });

  it('gives every status of a webhook event', () => {
    expect(listAfter(doc('webhooks.md'), '`status` is ')).toEqual(EventStatus.options);
  });
});
