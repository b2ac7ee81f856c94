/**
 * Graceful shutdown for renderq's processes: on SIGINT or SIGTERM (or when the
 * launcher that started the process goes away) stop taking work, finish what is
 * in hand within a bound, then exit 0. A second signal, or running past the
 * bound, exits 1 at once.
 */
import type { Logger } from 'pino';

/** How long closing may take by default; an orchestrator's grace period must be longer (infra/k8s). */
export const DEFAULT_SHUTDOWN_GRACE_MS = 25_000;

interface ShutdownOptions {
  /** How long closing may take before the process exits anyway. @defaultValue DEFAULT_SHUTDOWN_GRACE_MS */
  readonly graceMs?: number;
}

/** Runs one shutdown phase and logs how long it took, so a slow shutdown says where it waited. */
export async function timedPhase(logger: Logger, done: string, phase: () => Promise<unknown>): Promise<void> {
  const started = Date.now();
  await phase();
  logger.info({ ms: Date.now() - started }, done);
}

export function exitOnSignals(logger: Logger, close: () => Promise<void>, options: ShutdownOptions = {}): void {
  const graceMs = options.graceMs ?? DEFAULT_SHUTDOWN_GRACE_MS;
  let closing = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (closing) {
      logger.warn({ signal }, 'second signal: exiting without finishing');
      process.exit(1);
    }
    closing = true;
    logger.info({ signal, graceMs }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error({ graceMs }, 'shutdown did not finish in time: exiting');
      process.exit(1);
    }, graceMs);
    timer.unref();
    close().then(
      () => {
        logger.info('stopped');
        logger.flush();
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        logger.flush();
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Started by `pnpm start`'s launcher (an IPC channel): its end closing means it is gone.
  if (process.connected) {
    process.once('disconnect', () => {
      if (!closing) onSignal('SIGTERM');
    });
  }
}
