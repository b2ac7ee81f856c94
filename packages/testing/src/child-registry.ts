/**
 * A list of server processes the tests started, kept on disk with the process that
 * owns each, so that the run's global teardown can stop any whose owner died
 * without stopping it (a crashed or killed test file). Servers of owners still
 * running are theirs to stop.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const registryDir = path.join(tmpdir(), 'renderq-test-servers');

interface Entry {
  readonly what: string;
  readonly owner: number;
}

export function registerChild(pid: number, what: string, owner = process.pid): void {
  mkdirSync(registryDir, { recursive: true });
  writeFileSync(path.join(registryDir, String(pid)), JSON.stringify({ what, owner } satisfies Entry));
}

export function unregisterChild(pid: number): void {
  rmSync(path.join(registryDir, String(pid)), { force: true });
}

/** Kills every registered server whose owner is gone; returns what it stopped. */
export function stopLeftoverChildren(): string[] {
  let names: string[];
  try {
    names = readdirSync(registryDir);
  } catch {
    return [];
  }
  const stopped: string[] = [];
  for (const name of names) {
    const pid = Number(name);
    let entry: Entry;
    try {
      entry = JSON.parse(readFileSync(path.join(registryDir, name), 'utf8')) as Entry;
    } catch {
      unregisterChild(pid);
      continue;
    }
    if (isAlive(entry.owner)) continue;
    if (isAlive(pid)) {
      process.kill(pid, 'SIGKILL');
      stopped.push(`${entry.what} (pid ${pid})`);
    }
    unregisterChild(pid);
  }
  return stopped;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
