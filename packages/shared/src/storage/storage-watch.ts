/**
 * Storage proven usable at start and every interval after: a missing bucket or an
 * unwritable directory shows in /readyz (and stops a worker submitting jobs it could
 * not store) within one interval, instead of surfacing as jobs retrying for days.
 */
import type { Logger } from 'pino';
import { type Storage, StorageUnusableError } from './storage.js';

export type StorageStatus = { readonly ok: true } | { readonly ok: false; readonly problem: string };

export interface StorageWatch {
  /** The latest check's answer (the first one is awaited by `watchStorage`). */
  status(): StorageStatus;
  stop(): void;
}

export interface StorageWatchOptions {
  readonly storage: Storage;
  readonly intervalMs: number;
  readonly logger: Logger;
  /** Called when usability changes, and once with the first answer. */
  readonly onChange?: (status: StorageStatus) => void;
  /** How long one check may take: a store that never answers must not hold a process's start. @defaultValue 10_000 */
  readonly deadlineMs?: number;
}

function withinDeadline(checking: Promise<void>, description: string, deadlineMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new StorageUnusableError(`${description} did not answer within ${deadlineMs / 1000} s`)),
      deadlineMs,
    );
  });
  return Promise.race([checking, deadline]).finally(() => clearTimeout(timer));
}

export async function watchStorage({
  storage,
  intervalMs,
  logger,
  onChange,
  deadlineMs = 10_000,
}: StorageWatchOptions): Promise<StorageWatch> {
  let current: StorageStatus | undefined;
  let stopped = false;
  const check = async () => {
    const next = await withinDeadline(storage.check(), storage.description, deadlineMs).then(
      (): StorageStatus => ({ ok: true }),
      (error: unknown): StorageStatus => ({
        ok: false,
        problem: error instanceof StorageUnusableError ? error.message : `storage check failed: ${String(error)}`,
      }),
    );
    if (stopped) return;
    const changed = current === undefined || current.ok !== next.ok;
    current = next;
    if (!changed) return;
    if (next.ok) logger.info({ storage: storage.description }, 'storage is usable');
    else
      logger.error({ storage: storage.description, problem: next.problem }, `storage is not usable: ${next.problem}`);
    onChange?.(next);
  };
  await check();
  const timer = setInterval(() => void check(), intervalMs);
  timer.unref();
  return {
    status: () => current ?? { ok: false, problem: 'storage not checked yet' },
    stop: () => {
      stopped = true;
      clearInterval(timer);
    },
  };
}
