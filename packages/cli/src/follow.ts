/**
 * Following a job or a batch until it finishes — read every so often (`wait`), or from its event
 * stream as it changes (`watch`) — shown as it goes: on a terminal
 * a progress bar (a job: its status moves; a batch: finished of total, how many
 * completed and failed, jobs per second and the time left), without one a line
 * on stderr when something changes, and nothing with `--json`. `--timeout` and
 * Ctrl-C stop following, never the job.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { Batch, Job, RenderqClient } from '@renderq/client';
import { isFinishedStatus } from '@renderq/contract';
import { seconds } from './durations.js';
import { InterruptedError, WaitTimedOutError } from './errors.js';
import type { Output } from './output.js';
import { progressBar } from './progress-bar.js';

export interface FollowOptions {
  /** How often to ask. */
  readonly intervalMs: number;
  /** Stop following (exit 124) after this long. */
  readonly timeoutMs?: number;
  /** Aborted by Ctrl-C (with an InterruptedError as the reason). */
  readonly interrupt: AbortSignal;
}

/** How the readings of a job or batch are shown while following it. */
interface Display<T> {
  show(reading: T): void;
  /** The last status shown, for the message when following stops early. */
  lastStatus(): string | undefined;
  /** Puts the terminal back (the cursor, the line). */
  stop(): void;
}

/** Where readings come from: asked for every `intervalMs`, or the views the event stream carries. */
export type Source = 'poll' | 'stream';

export function followJob(
  client: RenderqClient,
  output: Output,
  id: string,
  options: FollowOptions,
  source: Source = 'poll',
): Promise<Job> {
  const readings =
    source === 'poll'
      ? polled(() => client.getJob(id), options.intervalMs)
      : streamed(client, 'job', id, (data) => data.job as Job | undefined);
  return follow(id, readings, (job) => isFinishedStatus(job.status), jobDisplay(output, id), options);
}

export function followBatch(
  client: RenderqClient,
  output: Output,
  id: string,
  options: FollowOptions,
  source: Source = 'poll',
): Promise<Batch> {
  const readings =
    source === 'poll'
      ? polled(() => client.getBatch(id), options.intervalMs)
      : streamed(client, 'batch', id, (data) => data.batch as Batch | undefined);
  return follow(id, readings, (batch) => batch.finished_at !== null, batchDisplay(output, id), options);
}

type Readings<T> = (signal: AbortSignal) => AsyncIterable<T>;

/**
 * Reads every `intervalMs`. Not the client's waitFor*: its pause between reads leaves a listener
 * on the signal every time, and a long wait would gather thousands.
 */
function polled<T>(read: () => Promise<T>, intervalMs: number): Readings<T> {
  return async function* (signal) {
    for (;;) {
      signal.throwIfAborted();
      yield await read();
      await delay(intervalMs, undefined, { signal });
    }
  };
}

/** The job or batch as each event of its stream shows it (a batch's job events carry the batch's counts). */
function streamed<T>(
  client: RenderqClient,
  kind: 'job' | 'batch',
  id: string,
  view: (data: Record<string, unknown>) => T | undefined,
): Readings<T> {
  return async function* (signal) {
    for await (const event of client.events(kind, id, { signal })) {
      const reading = view(event.data);
      if (reading !== undefined) yield reading;
    }
  };
}

/** Shows each reading until `done`, or until `--timeout` (WaitTimedOutError) or Ctrl-C (InterruptedError). */
async function follow<T>(
  id: string,
  readings: Readings<T>,
  done: (reading: T) => boolean,
  display: Display<T>,
  options: FollowOptions,
): Promise<T> {
  const timeout = options.timeoutMs === undefined ? undefined : AbortSignal.timeout(options.timeoutMs);
  const signal = timeout ? AbortSignal.any([options.interrupt, timeout]) : options.interrupt;
  try {
    for await (const reading of readings(signal)) {
      display.show(reading);
      if (done(reading)) return reading;
    }
    throw new Error(`the event stream of ${id} ended before it finished`);
  } catch (error) {
    const status = display.lastStatus();
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
  } finally {
    display.stop();
  }
}

/** Where a job's status puts its bar: queued, running, finished. */
const STAGE: Record<string, number> = { queued: 0, running: 1, completed: 2, failed: 2, cancelled: 2, expired: 2 };

function jobDisplay(output: Output, id: string): Display<Job> {
  const moves: { readonly status: string; readonly at: number }[] = [];
  const started = Date.now();
  // queued 0.4s → running 3.1s → completed
  const trail = () =>
    moves
      .map((move, i) => {
        const next = moves[i + 1];
        return next ? `${move.status} ${seconds(next.at - move.at)}` : output.status(move.status);
      })
      .join(' → ');
  const bar = output.interactive ? progressBar(output, `${id} {bar} {trail} | {duration_formatted}`) : undefined;
  bar?.start(2, 0, { trail: '' });
  return {
    show(job) {
      const moved = moves.at(-1)?.status !== job.status;
      if (moved) moves.push({ status: job.status, at: Date.now() });
      if (bar) bar.update(STAGE[job.status] ?? 0, { trail: trail() });
      else if (moved) output.note(`${id}: ${job.status} (after ${seconds(Date.now() - started)})`);
    },
    lastStatus: () => moves.at(-1)?.status,
    stop: () => bar?.stop(),
  };
}

function batchDisplay(output: Output, id: string): Display<Batch> {
  const started = Date.now();
  let firstFinished: number | undefined;
  let last: Batch | undefined;
  let lastNote = 0;
  const bar = output.interactive
    ? progressBar(
        output,
        // Not {eta}: cli-progress fills that token with its own estimate.
        `${id} {bar} {value}/{total} | {done} done, {failed} failed{cancelled}{expired} | {rate} | ETA {time_left}`,
      )
    : undefined;
  return {
    show(batch) {
      const { total, completed, failed, cancelled } = batch.counts;
      // A server from before start-by deadlines sends no `expired`.
      const expired = batch.counts.expired ?? 0;
      const finished = completed + failed + cancelled + expired;
      // The rate counts what finished while following, not what had finished before.
      firstFinished ??= finished;
      const elapsed = (Date.now() - started) / 1000;
      const rate = elapsed >= 1 && finished > firstFinished ? (finished - firstFinished) / elapsed : undefined;
      const rateText = rate === undefined ? '– jobs/s' : `${rate.toFixed(rate < 10 ? 1 : 0)} jobs/s`;
      const left = total - finished;
      const timeLeft = left === 0 ? '0s' : rate === undefined ? '–' : seconds((left / rate) * 1000);
      const changed = last === undefined || JSON.stringify(last.counts) !== JSON.stringify(batch.counts);
      const first = last === undefined;
      last = batch;
      if (bar) {
        const payload = {
          done: output.paint('green', String(completed)),
          failed: failed > 0 ? output.paint('red', String(failed)) : '0',
          cancelled: cancelled > 0 ? `, ${output.paint('yellow', String(cancelled))} cancelled` : '',
          expired: expired > 0 ? `, ${output.paint('yellow', String(expired))} expired` : '',
          rate: rateText,
          time_left: timeLeft,
        };
        if (first) bar.start(total, finished, payload);
        else bar.update(finished, payload);
        return;
      }
      // Without a terminal: a line when the counts move, at most every 2 s, and always the last.
      if (!changed || (batch.finished_at === null && Date.now() - lastNote < 2_000)) return;
      lastNote = Date.now();
      output.note(
        `${id}: ${finished}/${total} finished (${completed} done, ${failed} failed, ${cancelled} cancelled` +
          `${expired > 0 ? `, ${expired} expired` : ''}), ` +
          `${rateText}, ETA ${timeLeft}`,
      );
    },
    lastStatus: () => last?.status,
    stop: () => bar?.stop(),
  };
}
