/** Stopping servers a test spawned itself (a cluster's nodes, a Sentinel group) at once, for good. */
import type { ChildProcess } from 'node:child_process';

/** SIGKILLs every child still running and resolves once each has exited. */
export async function killChildren(children: Iterable<ChildProcess>): Promise<void> {
  await Promise.all(
    [...children].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
}
