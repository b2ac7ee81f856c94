/**
 * The one table `pnpm bench` prints: per row renderq's figure, the baseline measured
 * in the same run, their ratio and the target — as text, or as JSON with `--json`.
 */

export interface Row {
  /** Which part of the run it comes from, e.g. "end to end". */
  readonly section: string;
  /** What is measured, with its unit, e.g. "jobs/s". */
  readonly metric: string;
  readonly renderq: number | undefined;
  /** What renderq is compared with, measured in the same run; undefined when nothing compares. */
  readonly baseline?: number | undefined;
  /** What the baseline is, e.g. "raw BullMQ four-pass job". */
  readonly baselineName?: string;
  /** The target, as printed (e.g. "≥ 0.3× baseline"), and whether the figure meets it. */
  readonly target?: string;
  readonly met?: boolean | undefined;
  /** Anything a reader needs to read the row. */
  readonly note?: string;
}

function ratio(row: Row): number | undefined {
  if (row.renderq === undefined || row.baseline === undefined || row.baseline === 0) return undefined;
  return row.renderq / row.baseline;
}

/** Three significant figures, without exponent notation for the sizes seen here. */
function figure(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '—';
  if (n === 0) return '0';
  const abs = Math.abs(n);
  if (abs >= 1000) return Math.round(n).toLocaleString('en-US');
  if (abs >= 100) return n.toFixed(0);
  if (abs >= 10) return n.toFixed(1);
  if (abs >= 1) return n.toFixed(2);
  return n.toPrecision(2);
}

export function renderTable(rows: readonly Row[]): string {
  const header = ['section', 'metric', 'renderq', 'baseline', 'ratio', 'target', 'met'];
  const cells = rows.map((row) => [
    row.section,
    row.metric,
    figure(row.renderq),
    row.baseline === undefined ? '—' : `${figure(row.baseline)}${row.baselineName ? ` (${row.baselineName})` : ''}`,
    ratio(row) === undefined ? '—' : `${figure(ratio(row))}×`,
    row.target ?? '—',
    row.met === undefined ? '' : row.met ? 'yes' : 'NO',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] as string).length)));
  const line = (c: readonly string[]) => `| ${c.map((v, i) => v.padEnd(widths[i] as number)).join(' | ')} |`;
  const rule = `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`;
  const notes = rows.filter((r) => r.note).map((r) => `- ${r.section}, ${r.metric}: ${r.note}`);
  return [line(header), rule, ...cells.map(line), ...(notes.length ? ['', ...notes] : [])].join('\n');
}

export function renderJson(rows: readonly Row[], meta: Record<string, unknown>): string {
  return JSON.stringify({ ...meta, rows: rows.map((row) => ({ ...row, ratio: ratio(row) })) }, null, 2);
}
