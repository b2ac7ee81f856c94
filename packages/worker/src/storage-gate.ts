/**
 * The submit step runs only while storage takes writes: a job submitted to Segmind
 * whose outputs cannot be stored is paid for and then retried for days. While
 * storage is unusable, render jobs wait in the queue (nothing spent) and /readyz says why;
 * polls of requests already at Segmind go on.
 */
import type { Logger, Storage, StorageStatus, StorageWatch } from '@renderq/shared';
import { watchStorage } from '@renderq/shared';
import type { Consumer } from './consumer.js';

export interface StorageGateOptions {
  readonly storage: Storage;
  readonly intervalMs: number;
  readonly logger: Logger;
  /** Not yet started: the gate starts it once storage is usable. */
  readonly submitter: Consumer;
}

export async function gateOnStorage({
  storage,
  intervalMs,
  logger,
  submitter,
}: StorageGateOptions): Promise<StorageWatch> {
  let started = false;
  const open = (status: StorageStatus) => {
    // The submitter's worker now: a stalled one may have been replaced since the last change.
    const worker = submitter.worker;
    if (status.ok && !started) {
      started = true;
      submitter.start();
    } else if (status.ok && worker.isPaused()) {
      worker.resume();
    } else if (!status.ok && started && !worker.isPaused()) {
      // Steps in hand finish; no new job is taken.
      worker.pause().catch((error: unknown) => logger.warn({ err: error }, 'pausing the submit worker failed'));
      logger.warn('no job is submitted until storage is usable again');
    }
  };
  return watchStorage({ storage, intervalMs, logger, onChange: open });
}
