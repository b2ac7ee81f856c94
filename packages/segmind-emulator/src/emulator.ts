/** `startEmulator()`: a running Segmind emulator for tests, benchmarks and `pnpm start`. */
import type { AddressInfo } from 'node:net';
import { EmulatedService } from './emulated-service.js';
import { createEmulatorServer } from './http-server.js';
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
}

export interface Emulator {
  /** http://host:port, the SEGMIND_BASE_URL for a client. */
  readonly url: string;
  readonly apiKey: string;
  stats(): EmulatorStats;
  /** Changes fault injection and the service model at run time. */
  configure(patch: SettingsPatch): FaultSettings;
  close(): Promise<void>;
}

export const DEFAULT_API_KEY = 'emulator-key';

export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const { port = 0, host = '127.0.0.1', apiKeys = [DEFAULT_API_KEY], publicUrl, ...settings } = options;
  const service = new EmulatedService(settings);
  let url = '';
  const server = createEmulatorServer({ service, apiKeys, publicUrl: () => url });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  url = (publicUrl ?? `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`).replace(/\/+$/, '');
  return {
    url,
    apiKey: apiKeys[0] ?? DEFAULT_API_KEY,
    stats: () => service.statsSnapshot(),
    configure: (patch) => service.configure(patch),
    close: async () => {
      service.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
