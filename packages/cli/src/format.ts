/** How records look to a person (without `--json`): a few aligned lines each. */
import type { Batch, Job, Model, WebhookEvent } from '@renderq/client';
import { seconds } from './durations.js';
import type { Output } from './output.js';

export function jobLines(out: Output, job: Job): string[] {
  const lines = [`${out.paint('bold', job.id)}  ${out.status(job.status)}  ${job.model}`];
  const facts = [`created ${job.created_at}`];
  if (job.batch_id) facts.push(`batch ${job.batch_id}`);
  if (job.finished_at) facts.push(`took ${seconds(Date.parse(job.finished_at) - Date.parse(job.created_at))}`);
  if (job.cost !== null) facts.push(`cost ${job.cost}`);
  if (job.trace_id) facts.push(`trace ${job.trace_id}`);
  lines.push(`  ${facts.join('  ')}`);
  for (const [index, output] of job.outputs.entries()) {
    lines.push(`  output ${index}: ${output.content_type}, ${bytes(output.size)}, sha256 ${output.sha256}`);
  }
  if (job.error) lines.push(`  ${out.paint('red', 'error')} ${job.error.code}: ${job.error.message}`);
  return lines;
}

export function batchLines(out: Output, batch: Batch): string[] {
  const { total, queued, running, completed, failed, cancelled } = batch.counts;
  const expired = batch.counts.expired ?? 0;
  const lines = [
    `${out.paint('bold', batch.id)}  ${out.status(batch.status)}  ${total} job${total === 1 ? '' : 's'}: ` +
      `${completed} completed, ${failed} failed, ${cancelled} cancelled, ${expired > 0 ? `${expired} expired, ` : ''}` +
      `${queued} queued, ${running} running`,
  ];
  const facts = [`created ${batch.created_at}`];
  if (batch.finished_at) facts.push(`took ${seconds(Date.parse(batch.finished_at) - Date.parse(batch.created_at))}`);
  const cost = (batch as { cost?: unknown }).cost;
  if (typeof cost === 'number') facts.push(`cost ${cost}`);
  lines.push(`  ${facts.join('  ')}`);
  return lines;
}

/** A table with a header, columns padded to their widest cell. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => visibleLength(row[column] ?? ''))),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => cell + ' '.repeat(Math.max(0, (widths[column] ?? 0) - visibleLength(cell))))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)];
}

export function modelLines(out: Output, model: Model): string[] {
  const schema = model.input_schema as {
    properties?: Record<string, Record<string, unknown>>;
    required?: readonly string[];
  };
  const required = new Set(schema.required ?? []);
  const rows = Object.entries(schema.properties ?? {}).map(([name, property]) => [
    name,
    typeOf(property),
    'default' in property ? JSON.stringify(property.default) : required.has(name) ? 'required' : '',
    rangeOf(property),
  ]);
  return [
    `${out.paint('bold', model.name)}  ${model.title} (${model.kind})`,
    ...table(
      ['  parameter', 'type', 'default', 'range / values'],
      rows.map(([first, ...rest]) => [`  ${first}`, ...rest] as string[]),
    ),
  ];
}

function typeOf(property: Record<string, unknown>): string {
  if (typeof property.type === 'string') return property.type;
  const options = property.anyOf as readonly Record<string, unknown>[] | undefined;
  if (options) return [...new Set(options.map((option) => String(option.type ?? '?')))].join(' | ');
  return 'any';
}

function rangeOf(property: Record<string, unknown>): string {
  if ('const' in property) return `only ${JSON.stringify(property.const)}`;
  if (Array.isArray(property.enum)) return property.enum.map((value) => JSON.stringify(value)).join(', ');
  const options = property.anyOf as readonly Record<string, unknown>[] | undefined;
  if (options?.every((option) => 'const' in option))
    return options.map((option) => JSON.stringify(option.const)).join(', ');
  const low = property.minimum ?? property.exclusiveMinimum;
  const high = property.maximum ?? property.exclusiveMaximum;
  if (low !== undefined || high !== undefined) return `${low ?? '…'} – ${high ?? '…'}`;
  if (typeof property.pattern === 'string') return `matches ${property.pattern}`;
  if (typeof property.maxLength === 'number') return `at most ${property.maxLength} characters`;
  // No range to show: what the parameter is, when the schema says.
  return typeof property.description === 'string' ? property.description : '';
}

export function webhookLines(out: Output, events: readonly WebhookEvent[]): string[] {
  if (events.length === 0) return ['no webhook events (no webhook_url, or none due yet)'];
  const lines: string[] = [];
  for (const event of events) {
    lines.push(`${out.paint('bold', event.id)}  ${event.type}  ${webhookStatus(out, event.status)}  ${event.url}`);
    if (event.next_attempt_at) lines.push(`  next attempt ${event.next_attempt_at}`);
    for (const attempt of event.attempts) {
      const answer = attempt.status_code === null ? 'no answer' : `HTTP ${attempt.status_code}`;
      const error = attempt.error ? ` — ${attempt.error}` : '';
      lines.push(
        `  #${attempt.attempt} ${attempt.at}  ${attempt.outcome}  ${answer}  ${attempt.duration_ms} ms${error}`,
      );
    }
  }
  return lines;
}

/** Delivered is good, pending is under way, gone and failed are not. */
function webhookStatus(out: Output, status: WebhookEvent['status']): string {
  return out.paint(status === 'delivered' ? 'green' : status === 'pending' ? 'cyan' : 'red', status);
}

export function bytes(size: number): string {
  if (size < 1024) return `${size} B`;
  if (size < 1024 * 1024) return `${(size / 1024).toFixed(1)} KB`;
  return `${(size / 1024 / 1024).toFixed(1)} MB`;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI colour codes do not take up columns.
const ANSI = /\u001b\[[0-9;]*m/g;

function visibleLength(text: string): string['length'] {
  return text.replace(ANSI, '').length;
}
