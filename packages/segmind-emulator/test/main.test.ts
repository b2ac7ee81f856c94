// `pnpm emulator` as users run it, and how it reads its settings.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { emulatorOptionsFrom, flagsToEnv } from '../src/emulator-env.js';

const main = path.resolve(fileURLToPath(import.meta.url), '../../dist/main.js');

describe('pnpm emulator', () => {
  it('prints the URL it listens on, answers there, and stops on SIGTERM', async () => {
    const child = spawn(process.execPath, [main, '--port=0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const line = await new Promise<string>((resolve) => createInterface({ input: child.stdout }).once('line', resolve));
    const url = /listening on (\S+)/.exec(line)?.[1];
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const credits = await fetch(`${url}/v1/get-user-credits`, { headers: { 'x-api-key': 'emulator-key' } });
    expect(await credits.json()).toEqual({ credits: 1000, 'free-credits': 0 });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('exits 1 with one line for a bad setting', async () => {
    const child = spawn(process.execPath, [main, '--failure-rate=often'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    expect(await new Promise((resolve) => child.once('exit', resolve))).toBe(1);
    expect(stderr.trim().split('\n')).toEqual([expect.stringContaining('EMULATOR_FAILURE_RATE')]);
  });
});

describe('emulator settings', () => {
  it('maps flags to EMULATOR_* variables', () => {
    expect(flagsToEnv(['--latency-scale=0.5', '--submit-rate-limit=10/1000'])).toEqual({
      EMULATOR_LATENCY_SCALE: '0.5',
      EMULATOR_SUBMIT_RATE_LIMIT: '10/1000',
    });
    expect(() => flagsToEnv(['latency'])).toThrow(/unrecognised argument/);
  });

  it('reads every fault setting', () => {
    expect(
      emulatorOptionsFrom({
        EMULATOR_PORT: '9000',
        EMULATOR_API_KEYS: 'a, b',
        EMULATOR_CREDITS: '5',
        EMULATOR_FAILURE_RATE: '0.1',
        EMULATOR_STATUS_ERROR_RATE: '0.2',
        EMULATOR_SUBMIT_RATE_LIMIT: '10/1000',
        EMULATOR_RESULT_TTL_SECONDS: '60',
        EMULATOR_SUBMIT_DELAY_MS: '250',
        EMULATOR_DROP_AFTER_SUBMIT_RATE: '0.05',
        EMULATOR_LATENCY_SCALE: '0.1',
        EMULATOR_GPUS: '8',
      }),
    ).toEqual({
      port: 9000,
      apiKeys: ['a', 'b'],
      credits: 5,
      failureRate: 0.1,
      serverErrorRate: { status: 0.2 },
      submitRateLimit: { max: 10, windowMs: 1000 },
      resultTtlMs: 60_000,
      submitDelayMs: 250,
      dropAfterSubmitRate: 0.05,
      latencyScale: 0.1,
      gpusPerModel: 8,
    });
  });

  it('refuses unknown EMULATOR_ variables and malformed values', () => {
    expect(() => emulatorOptionsFrom({ EMULATOR_FAILURE: '1' })).toThrow(/unknown setting EMULATOR_FAILURE/);
    expect(() => emulatorOptionsFrom({ EMULATOR_SUBMIT_RATE_LIMIT: 'fast' })).toThrow(/MAX\/WINDOW_MS/);
  });
});
