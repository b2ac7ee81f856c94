/** `startEmulator()`: a running Segmind emulator for tests, benchmarks and `pnpm start`. */
import type { AddressInfo } from 'node:net';
import { EmulatedService } from './emulated-service.js';
import { createEmulatorServer } from './http-server.js';
import { RequestJournal } from './request-journal.js';
import type { FaultSettings, SettingsPatch } from './settings.js';
import type { EmulatorStats } from './stats.js';

export interface EmulatorOptions extends SettingsPatch {
  /** @defaultValue 0 (any free port) */
  readonly port?: number;
  /** @defaultValue 127.0.0.1 */
  readonly host?: string;
  /** Keys accepted as x-api-key. @defaultValue ['emulator-key'] */
  readonly apiKeys?: readonly string[];
  /** Base of the URLs handed out. @defaultValue http://HOST:PORT */
  readonly publicUrl?: string;
  /**
   * Keeps the requests in this directory (created 0700), so that a restart resumes them;
   * unset, they live in memory only. @defaultValue undefined
   */
  readonly dataDir?: string;
}

export interface Emulator {
  /** http://host:port, the SEGMIND_BASE_URL for a client. */
  readonly url: string;
  readonly apiKey: string;
  /** With `dataDir`: where the requests are kept, how many a restart took over, and a file it set aside. */
  readonly kept?: { readonly file: string; readonly restored: number; readonly problem?: string };
  stats(): EmulatorStats;
  /** Changes fault injection and the service model at run time. */
  configure(patch: SettingsPatch): FaultSettings;
  close(): Promise<void>;
}

const DEFAULT_API_KEY = 'emulator-key';

export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const { port = 0, host = '127.0.0.1', apiKeys = [DEFAULT_API_KEY], publicUrl, dataDir, ...settings } = options;
  const service = new EmulatedService(settings);
  const opened = dataDir === undefined ? undefined : await RequestJournal.open(dataDir, service);
  let url = '';
  const server = createEmulatorServer({ service, apiKeys, publicUrl: () => url });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  }).catch(async (error: unknown) => {
    service.close();
    await opened?.journal.close();
    throw error;
  });
  const address = server.address() as AddressInfo;
  url = (publicUrl ?? `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`).replace(/\/+$/, '');
  return {
    url,
    apiKey: apiKeys[0] ?? DEFAULT_API_KEY,
    ...(opened
      ? {
          kept: {
            file: opened.journal.file,
            restored: opened.restored,
            ...(opened.problem ? { problem: opened.problem } : {}),
          },
        }
      : {}),
    stats: () => service.statsSnapshot(),
    configure: (patch) => service.configure(patch),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      service.close();
      // Last: nothing changes the requests any more.
      await opened?.journal.close();
    },
  };
}
