/**
 * A port that cannot be listened on, said as one line naming the setting and its
 * value: what a person at a terminal can act on, instead of a stack trace.
 */
export function listenProblem(setting: string, host: string, port: number, error: unknown): string {
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') {
    return `${setting}=${port}: ${where} is already in use (another renderq?); set ${setting} to a free port`;
  }
  if (code === 'EACCES') return `${setting}=${port}: not allowed to listen on ${where}; choose a port above 1023`;
  if (code === 'EADDRNOTAVAIL') return `${setting}=${port}: ${host} is not an address of this machine (HOST)`;
  return `${setting}=${port}: cannot listen on ${where} (${code ?? (error as Error).message})`;
}
