/**
 * Ports checked before anything starts: a port in use is one line naming the setting
 * and its value, not a stack trace from a child after "running" was printed.
 */
import { createServer } from 'node:net';
import { listenProblem } from '@renderq/shared';

export interface PortSetting {
  /** The variable that sets it, such as PORT. */
  readonly setting: string;
  readonly host: string;
  readonly port: number;
}

function canListen({ host, port }: PortSetting): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => resolve(error));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}

/** The first setting whose port cannot be listened on, said as one line; undefined when all are free. */
export async function busyPort(settings: readonly PortSetting[]): Promise<string | undefined> {
  const seen = new Map<number, string>();
  for (const setting of settings) {
    const twin = seen.get(setting.port);
    if (twin) return `${setting.setting}=${setting.port} is also ${twin}'s port: give each its own`;
    seen.set(setting.port, setting.setting);
    const error = await canListen(setting);
    if (error) return listenProblem(setting.setting, setting.host, setting.port, error);
  }
  return undefined;
}
