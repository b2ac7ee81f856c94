/**
 * A TCP port nobody listens on right now, for a server a test is about to start.
 *
 * Not the kernel's `listen(0)`: that hands out a port from the ephemeral range, the same
 * range every outgoing connection takes its local port from, so in the second or two a
 * child process needs to bind it, another test's connection can take it (CI saw a worker
 * refuse to start with "already in use"). Ports are drawn at random from outside that
 * range instead, checked by binding them, and never handed out twice by one process; each
 * vitest worker draws from a slice of its own, so two workers never hand out the same one.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

const handedOut = new Set<number>();
const SLICES = 8;
const candidates = sliceOf(portsOutsideEphemeralRange(), (Number(process.env.VITEST_POOL_ID) || process.pid) % SLICES);

export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = candidates.low + Math.floor(Math.random() * (candidates.high - candidates.low + 1));
    if (handedOut.has(port)) continue;
    handedOut.add(port); // before the check: concurrent callers must not both take it
    if (await canListen(port)) return port;
    handedOut.delete(port);
  }
  throw new Error(`no free port found in ${candidates.low}-${candidates.high}`);
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** The ports this process draws from. */
export function freePortRange(): { readonly low: number; readonly high: number } {
  return candidates;
}

function sliceOf(range: { low: number; high: number }, slice: number): { low: number; high: number } {
  const size = Math.floor((range.high - range.low + 1) / SLICES);
  return { low: range.low + slice * size, high: range.low + (slice + 1) * size - 1 };
}

/** Linux publishes its ephemeral range; elsewhere assume its default (32768-60999). */
function portsOutsideEphemeralRange(): { low: number; high: number } {
  let [first, last] = [32_768, 60_999];
  try {
    const [a, b] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (Number.isInteger(a) && Number.isInteger(b)) [first, last] = [a as number, b as number];
  } catch {
    // not Linux: keep the default
  }
  if (first - 1 - 16_384 >= 4_096) return { low: 16_384, high: first - 1 };
  if (65_535 - (last + 1) >= 4_096) return { low: last + 1, high: 65_535 };
  return { low: 16_384, high: 65_535 }; // the range covers nearly everything: the bind check has to do
}
