// Ctrl-C in the middle of a batch loses nothing: `pnpm start` stops the API, the worker, the
// emulator (its requests kept under ./data/emulator) and Redis in that order, and the next
// start finishes every job. Built output and real signals, as a newcomer runs it.
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '@renderq/testing';
import { describe, expect, it } from 'vitest';
import { packagesDir, run, waitFor } from './run-process.js';

const launcherMain = path.join(packagesDir, 'launcher/dist/main.js');
const cliMain = path.join(packagesDir, 'cli/dist/main.js');
const showcase = path.resolve(packagesDir, '../examples/seeds.ndjson');

interface ListedJob {
  readonly id: string;
  readonly status: string;
  readonly error?: { readonly code: string; readonly message: string };
}

/**
 * Lines that betray a crash or a noisy shutdown: warnings and errors, and any stack frame.
 * One warning is expected: the demo runs without API keys, and says so.
 */
function trouble(output: string): string[] {
  return output
    .split('\n')
    .filter((line) => /"level":(40|50|60)|\bat .*\.js:\d+|"stack"/.test(line))
    .filter((line) => !line.includes('RENDERQ_API_KEYS is unset'));
}

describe('Ctrl-C during a batch (pnpm start)', () => {
  it('loses no job: after a restart with the same data all five of the showcase complete', async () => {
    const cwd = await mkdtemp(path.join(tmpdir(), 'renderq-restart-'));
    const [redisPort, apiPort, metricsPort, emulatorPort] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
      freePort(),
    ]);
    const api = `http://127.0.0.1:${apiPort}`;
    const env = {
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      PORT: String(apiPort),
      WORKER_METRICS_PORT: String(metricsPort),
      EMULATOR_PORT: String(emulatorPort),
      LOG_LEVEL: 'info',
    };
    const jobs = async () => ((await (await fetch(`${api}/v1/jobs?limit=100`)).json()) as { jobs: ListedJob[] }).jobs;
    const started: ReturnType<typeof run>[] = [];
    const start = async () => {
      const launcher = run(launcherMain, env, cwd);
      started.push(launcher);
      await waitFor(async () => launcher.out().includes('renderq is running'), '"renderq is running"', 90_000);
      return launcher;
    };
    const stop = async (launcher: ReturnType<typeof run>) => {
      // Ctrl-C: SIGINT to the terminal's process group.
      process.kill(-(launcher.child.pid as number), 'SIGINT');
      expect(await launcher.exited).toBe(0);
      // The children's last lines may trail the launcher's exit.
      await waitFor(async () => launcher.out().includes('"msg":"renderq stopped"'), 'the stop to be logged');
    };
    try {
      const first = await start();
      const submit = run(cliMain, { RENDERQ_URL: api }, cwd, ['submit', showcase]);
      expect(await submit.exited, submit.err()).toBe(0);
      expect(await jobs()).toHaveLength(5);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      // What makes this a test: some of the batch is still at Segmind when Ctrl-C comes.
      const atCtrlC = await jobs();
      expect(atCtrlC.filter((job) => job.status !== 'completed').length).toBeGreaterThan(0);
      await stop(first);
      // The emulator's requests are kept, privately, for the next start.
      expect((await stat(path.join(cwd, 'data/emulator'))).mode & 0o777).toBe(0o700);
      expect((await stat(path.join(cwd, 'data/emulator/requests.json'))).mode & 0o777).toBe(0o600);

      const second = await start();
      await waitFor(
        async () => (await jobs()).every((job) => job.status === 'completed' || job.status === 'failed'),
        'every job to finish',
        120_000,
      );
      const finished = await jobs();
      expect(finished.filter((job) => job.status !== 'completed')).toEqual([]);
      expect(finished).toHaveLength(5);
      await stop(second);

      for (const [index, launcher] of started.entries()) {
        expect(trouble(launcher.out() + launcher.err()), `run ${index + 1}'s output:\n${launcher.out()}`).toEqual([]);
      }
      // The stops went in order, each process gracefully: API, worker, emulator, Redis.
      expect(first.out()).toMatch(/Ctrl-C: stopping renderq/);
      expect(second.out()).toMatch(/taken over from the last run/);
    } finally {
      for (const launcher of started) {
        if (launcher.child.exitCode === null && launcher.child.signalCode === null) {
          process.kill(-(launcher.child.pid as number), 'SIGINT');
          await launcher.exited;
        }
      }
      await rm(cwd, { recursive: true, force: true });
    }
  }, 400_000);
});
