/**
 * A list of server processes the tests started, kept on disk, so that the run's
 * global teardown can stop any that a crashed or killed test file left behind.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const registryDir = path.join(tmpdir(), 'renderq-test-servers');

export function registerChild(pid: number, what: string): void {
  mkdirSync(registryDir, { recursive: true });
  writeFileSync(path.join(registryDir, String(pid)), what);
}

export function unregisterChild(pid: number): void {
  rmSync(path.join(registryDir, String(pid)), { force: true });
}

/** Kills every registered server still running; returns what it stopped. */
export function stopLeftoverChildren(): string[] {
  let entries: string[];
  try {
    entries = readdirSync(registryDir);
  } catch {
    return [];
  }
  const stopped: string[] = [];
  for (const entry of entries) {
    const pid = Number(entry);
    const what = readFileSync(path.join(registryDir, entry), 'utf8');
    try {
      process.kill(pid, 'SIGKILL');
      stopped.push(`${what} (pid ${pid})`);
    } catch {
      // Already gone.
    }
    unregisterChild(pid);
  }
  return stopped;
}
