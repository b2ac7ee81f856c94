/**
 * Following a job or a batch until it finishes, shown as it goes: on a terminal
 * a progress bar (a job: its status moves; a batch: finished of total, how many
 * completed and failed, jobs per second and the time left), without one a line
 * on stderr when something changes, and nothing with `--json`. `--timeout` and
 * Ctrl-C stop following, never the job.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { Batch, Job, RenderqClient } from '@renderq/client';
import cliProgress from 'cli-progress';
import { InterruptedError, WaitTimedOutError } from './errors.js';
import type { Output } from './output.js';

export interface FollowOptions {
  /** How often to ask. */
  readonly intervalMs: number;
  /** Stop following (exit 124) after this long. */
  readonly timeoutMs?: number;
  /** Aborted by Ctrl-C (with an InterruptedError as the reason). */
  readonly interrupt: AbortSignal;
}

/** A status move of a job, and when it was seen. */
interface Move {
  readonly status: string;
  readonly at: number;
}

export async function followJob(client: RenderqClient, output: Output, id: string, options: FollowOptions) {
  const moves: Move[] = [];
  const started = Date.now();
  const trail = () =>
    moves
      .map((move, i) => {
        const next = moves[i + 1];
        return next ? `${move.status} ${seconds(next.at - move.at)}` : output.status(move.status);
      })
      .join(' → ');
  const bar = output.interactive
    ? new cliProgress.SingleBar(
        {
          format: `${id} {bar} {trail} | {duration_formatted}`,
          stream: output.streams.stderr,
          hideCursor: true,
          barsize: 20,
        },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  bar?.start(2, 0, { trail: '' });
  try {
    return await withStop(
      id,
      () => moves.at(-1)?.status,
      options,
      (signal) =>
        poll(
          () => client.getJob(id),
          (job) => FINISHED.has(job.status),
          options.intervalMs,
          signal,
          {
            onReading: (job: Job) => {
              if (moves.at(-1)?.status === job.status) {
                bar?.update({ trail: trail() });
                return;
              }
              moves.push({ status: job.status, at: Date.now() });
              if (bar) bar.update(STAGE[job.status] ?? 0, { trail: trail() });
              else output.note(`${id}: ${job.status} (after ${seconds(Date.now() - started)})`);
            },
          },
        ),
    );
  } finally {
    bar?.stop();
  }
}

const STAGE: Record<string, number> = { queued: 0, running: 1, completed: 2, failed: 2, cancelled: 2 };
const FINISHED = new Set(['completed', 'failed', 'cancelled']);

/**
 * Reads until `done`, every `intervalMs`. (The client's waitFor* would do, but its pause between
 * reads leaves a listener on the signal each time, and a long wait gathers thousands.)
 */
async function poll<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  intervalMs: number,
  signal: AbortSignal,
  handlers: { readonly onReading: (value: T) => void },
): Promise<T> {
  for (;;) {
    signal.throwIfAborted();
    const value = await read();
    handlers.onReading(value);
    if (done(value)) return value;
    await delay(intervalMs, undefined, { signal });
  }
}

export async function followBatch(client: RenderqClient, output: Output, id: string, options: FollowOptions) {
  const started = Date.now();
  let first: number | undefined;
  let last: Batch | undefined;
  let lastNote = 0;
  let barStarted = false;
  const bar = output.interactive
    ? new cliProgress.SingleBar(
        {
          format: `${id} {bar} {value}/{total} | {done} done, {failed} failed{cancelled} | {rate} | ETA {time_left}`,
          stream: output.streams.stderr,
          hideCursor: true,
          barsize: 20,
        },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  const describe = (batch: Batch) => {
    const { total, completed, failed, cancelled } = batch.counts;
    const finished = completed + failed + cancelled;
    first ??= finished;
    const elapsed = (Date.now() - started) / 1000;
    const rate = elapsed >= 1 && finished > first ? (finished - first) / elapsed : undefined;
    const left = total - finished;
    return {
      finished,
      total,
      payload: {
        done: output.paint('green', String(completed)),
        failed: failed > 0 ? output.paint('red', String(failed)) : '0',
        cancelled: cancelled > 0 ? `, ${output.paint('yellow', String(cancelled))} cancelled` : '',
        rate: rate === undefined ? '– jobs/s' : `${rate.toFixed(rate < 10 ? 1 : 0)} jobs/s`,
        // Not `eta`: cli-progress fills that token with its own estimate.
        time_left: left === 0 ? '0s' : rate === undefined ? '–' : seconds((left / rate) * 1000),
      },
    };
  };
  try {
    return await withStop(
      id,
      () => last?.status,
      options,
      (signal) =>
        poll(
          () => client.getBatch(id),
          (batch) => batch.finished_at !== null,
          options.intervalMs,
          signal,
          {
            onReading: (batch: Batch) => {
              const changed = last === undefined || JSON.stringify(last.counts) !== JSON.stringify(batch.counts);
              last = batch;
              const { finished, total, payload } = describe(batch);
              if (bar) {
                if (barStarted) bar.update(finished, payload);
                else bar.start(total, finished, payload);
                barStarted = true;
                return;
              }
              // Without a terminal: a line when the counts move, at most every 2 s, and always the last.
              if (!changed || (batch.finished_at === null && Date.now() - lastNote < 2_000)) return;
              lastNote = Date.now();
              output.note(
                `${id}: ${finished}/${total} finished (${batch.counts.completed} done, ${batch.counts.failed} failed, ` +
                  `${batch.counts.cancelled} cancelled), ${payload.rate}, ETA ${payload.time_left}`,
              );
            },
          },
        ),
    );
  } finally {
    bar?.stop();
  }
}

/** Runs `wait` until it ends, `--timeout` passes (WaitTimedOutError) or Ctrl-C (InterruptedError). */
async function withStop<T>(
  id: string,
  lastStatus: () => string | undefined,
  options: FollowOptions,
  wait: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const timeout = options.timeoutMs === undefined ? undefined : AbortSignal.timeout(options.timeoutMs);
  const signal = timeout ? AbortSignal.any([options.interrupt, timeout]) : options.interrupt;
  try {
    return await wait(signal);
  } catch (error) {
    const status = lastStatus();
    const still = status ? ` (still ${status})` : '';
    if (options.interrupt.aborted) {
      throw new InterruptedError(`stopped following ${id}${still}; it goes on: renderq wait ${id} follows it again`);
    }
    if (timeout?.aborted) {
      throw new WaitTimedOutError(
        `${id} has not finished after ${seconds(options.timeoutMs ?? 0)}${still}; renderq wait ${id} follows it again`,
      );
    }
    throw error;
  }
}

/** 0.4s, 12s, 3m05s. */
export function seconds(ms: number): string {
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)}s`;
  const total = Math.round(ms / 1000);
  if (total < 60) return `${total}s`;
  return `${Math.floor(total / 60)}m${String(total % 60).padStart(2, '0')}s`;
}
