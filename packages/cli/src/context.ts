/** What every command runs with: the API client, where output goes, and Ctrl-C. */
import type { RenderqClient } from '@renderq/client';
import type { ApiTarget } from './api-calls.js';
import type { ExitCode } from './exit-codes.js';
import type { FollowOptions } from './follow.js';
import type { Output } from './output.js';

export interface CommandContext {
  readonly client: RenderqClient;
  /** The same API and key, for the routes the client has no method for. */
  readonly target: ApiTarget;
  readonly output: Output;
  /** Aborted on Ctrl-C while following a job or batch. */
  readonly interrupt: AbortSignal;
  /** Runs `follow` with Ctrl-C stopping it (rather than the process at once). */
  following<T>(follow: () => Promise<T>): Promise<T>;
}

/** A command's action: resolves to the exit code (0, or 1 when a job did not complete); throws on failure. */
export type Action = (context: CommandContext) => Promise<ExitCode>;

/** `--interval` and `--timeout` as the commands that wait take them. */
export interface WaitFlags {
  readonly interval: number;
  readonly timeout?: number;
}

export function followOptions(context: CommandContext, flags: WaitFlags): FollowOptions {
  return {
    intervalMs: flags.interval,
    ...(flags.timeout !== undefined ? { timeoutMs: flags.timeout * 1000 } : {}),
    interrupt: context.interrupt,
  };
}
