/**
 * EMULATOR_DATA_DIR: the emulator's requests kept in a file, so that an emulator stopped
 * and started again (as `pnpm start` does on Ctrl-C) still knows every request it
 * accepted, as Segmind does whatever happens on its side: unfinished ones finish, finished
 * ones keep their results and images. Off unless a directory is given: tests and
 * benchmarks want an emulator that starts empty. Saved at most once a second while
 * something changes, and on close; written to a temporary file and renamed, so a crash
 * mid-write leaves the last whole save.
 */
import { readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { makePrivateDir, writePrivateFile } from '@renderq/shared';
import type { EmulatedService, ServiceSnapshot } from './emulated-service.js';

const FILE = 'requests.json';
const FORMAT = 1;
const SAVE_EVERY_MS = 1_000;

interface JournalFile extends ServiceSnapshot {
  readonly format: number;
}

export class RequestJournal {
  readonly file: string;
  #savedChanges: number;
  #saving: Promise<void> = Promise.resolve();
  readonly #timer: NodeJS.Timeout;

  private constructor(
    readonly dir: string,
    private readonly service: EmulatedService,
  ) {
    this.file = path.join(dir, FILE);
    this.#savedChanges = service.changes;
    this.#timer = setInterval(() => void this.save(), SAVE_EVERY_MS);
    this.#timer.unref();
  }

  /**
   * Restores what the directory holds into `service` and keeps saving it there. A file it
   * cannot read is set aside (renamed *.unreadable) and named in `problem`, not fatal:
   * the emulator starts empty rather than not at all.
   */
  static async open(
    dir: string,
    service: EmulatedService,
  ): Promise<{ journal: RequestJournal; restored: number; problem?: string }> {
    await makePrivateDir(dir, { tighten: true });
    const file = path.join(dir, FILE);
    let restored = 0;
    let problem: string | undefined;
    const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    if (text !== undefined) {
      try {
        const saved = JSON.parse(text, reviveBytes) as Partial<JournalFile>;
        if (saved.format !== FORMAT || !Array.isArray(saved.requests) || !Array.isArray(saved.outputs)) {
          throw new Error(`not a format ${FORMAT} request journal`);
        }
        service.restore(saved as JournalFile);
        restored = saved.requests.length;
      } catch (error) {
        await rename(file, `${file}.unreadable`);
        problem = `${file} could not be read (${(error as Error).message}); set aside as ${FILE}.unreadable`;
      }
    }
    return { journal: new RequestJournal(dir, service), restored, ...(problem ? { problem } : {}) };
  }

  /** Writes the requests when they changed since the last save; one save at a time. */
  save(): Promise<void> {
    this.#saving = this.#saving.then(async () => {
      const changes = this.service.changes;
      if (changes === this.#savedChanges) return;
      const saved: JournalFile = { format: FORMAT, ...this.service.snapshot() };
      const temporary = `${this.file}.saving`;
      await writePrivateFile(temporary, JSON.stringify(saved, keepBytes));
      await rename(temporary, this.file);
      this.#savedChanges = changes;
    });
    // A failed save is tried again at the next tick; close() reports it.
    const attempt = this.#saving;
    this.#saving = attempt.catch(() => {});
    return attempt;
  }

  /** Stops the timer and saves a last time (after the service stopped changing). */
  close(): Promise<void> {
    clearInterval(this.#timer);
    return this.save();
  }
}

/** An img2img output keeps its input image: as base64, not JSON's array of numbers. */
function keepBytes(this: Record<string, unknown>, key: string, value: unknown): unknown {
  const original = this[key];
  return Buffer.isBuffer(original) ? { $base64: original.toString('base64') } : value;
}

function reviveBytes(_key: string, value: unknown): unknown {
  const base64 = (value as { $base64?: unknown } | null)?.$base64;
  return typeof base64 === 'string' ? Buffer.from(base64, 'base64') : value;
}
