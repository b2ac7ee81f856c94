/**
 * The submit step runs only while storage takes writes: a job submitted to Segmind
 * whose outputs cannot be stored is paid for and then retried for half an hour. While
 * storage is unusable, render jobs wait in the queue (nothing spent) and /readyz says why;
 * polls of requests already at Segmind go on.
 */
import type { Logger, Storage, StorageStatus, StorageWatch } from '@renderq/shared';
import { watchStorage } from '@renderq/shared';
import type { Worker } from 'bullmq';

export interface StorageGateOptions {
  readonly storage: Storage;
  readonly intervalMs: number;
  readonly logger: Logger;
  /** Created with `autorun: false`: the gate starts it once storage is usable. */
  readonly submitWorker: Worker;
}

export async function gateOnStorage({
  storage,
  intervalMs,
  logger,
  submitWorker,
}: StorageGateOptions): Promise<StorageWatch> {
  let started = false;
  const open = (status: StorageStatus) => {
    if (status.ok && !started) {
      started = true;
      submitWorker.run().catch((error: unknown) => logger.error({ err: error }, 'the submit worker stopped'));
    } else if (status.ok && submitWorker.isPaused()) {
      void submitWorker.resume();
    } else if (!status.ok && started && !submitWorker.isPaused()) {
      // Steps in hand finish; no new job is taken.
      submitWorker.pause().catch((error: unknown) => logger.warn({ err: error }, 'pausing the submit worker failed'));
      logger.warn('no job is submitted until storage is usable again');
    }
  };
  return watchStorage({ storage, intervalMs, logger, onChange: open });
}
