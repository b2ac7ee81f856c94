/**
 * pino logging with secrets removed wherever they appear: under any key that
 * names a credential, at any depth of the objects logged, and as known secret
 * values (and bearer tokens, and link signatures and tokens in URLs) anywhere in the
 * finished line, including what pino's serializers made of requests and errors.
 * JSON lines for collectors; coloured lines (pino-pretty) for a person at a terminal.
 */
import { type Logger, type LoggerOptions, pino } from 'pino';
import pinoPretty from 'pino-pretty';
import { redactUrlsInText } from './redact-url.js';

export type { Logger } from 'pino';

const SECRET_KEYS =
  /^(x-api-key|authorization|proxy-authorization|cookie|set-cookie|segmind_api_key|webhook_secret|renderq_api_keys|renderq_admin_keys|api_?key|apikey|secret|password|token|signature|webhook-signature)$/i;
export const REDACTED = '[REDACTED]';
const MAX_DEPTH = 8;

export interface LoggerSettings {
  readonly level: LoggerOptions['level'];
  readonly name: string;
  /** Secret values (Segmind key, webhook secret, API keys) to cut out of every string. */
  readonly secrets: readonly string[];
  /** Where lines go. @defaultValue standard output */
  readonly destination?: pino.DestinationStream;
  /** pretty: one coloured line per entry, its fields at the end. @defaultValue json */
  readonly format?: 'json' | 'pretty';
}

/** LOG_FORMAT resolved: `auto` is pretty when standard output is a terminal. */
export function logFormatFor(setting: 'auto' | 'json' | 'pretty', isTerminal: boolean): 'json' | 'pretty' {
  if (setting !== 'auto') return setting;
  return isTerminal ? 'pretty' : 'json';
}

export function createLogger(settings: LoggerSettings): Logger {
  const secrets = settings.secrets.filter((s) => s.length >= 4);
  const scrub = (value: unknown) => redactSecrets(value, secrets);
  // The same values as they appear inside a JSON string.
  const inJson = [...new Set([...secrets, ...secrets.map((s) => JSON.stringify(s).slice(1, -1))])];
  const options: LoggerOptions = {
    level: settings.level,
    name: settings.name,
    base: { service: settings.name },
    timestamp: pino.stdTimeFunctions.isoTime,
    hooks: {
      logMethod(args, method) {
        // pino logs a leading Error under `err`; keep that shape once it is a plain object.
        const first = args[0] instanceof Error ? { err: args[0] } : args[0];
        const scrubbed = [first, ...args.slice(1)].map(scrub);
        method.apply(this, scrubbed as Parameters<typeof method>);
      },
      streamWrite: (line) => scrubString(line, inJson),
    },
  };
  if (settings.format === 'pretty') {
    // Scrubbed as JSON first (streamWrite), then made readable; synchronous, so a line logged
    // just before exit is not lost.
    const pretty = pinoPretty({
      colorize: pinoPretty.isColorSupported,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname,service',
      // One line per entry (a request is one line), its fields at the end.
      singleLine: true,
      sync: true,
      ...(settings.destination ? { destination: settings.destination } : {}),
    });
    return pino(options, pretty);
  }
  return settings.destination ? pino(options, settings.destination) : pino(options);
}

/** A copy of `value` with credential keys and known secret values replaced by [REDACTED]. */
function redactSecrets(value: unknown, secrets: readonly string[], depth = 0): unknown {
  if (typeof value === 'string') return scrubString(value, secrets);
  if (value === null || typeof value !== 'object' || depth > MAX_DEPTH) return value;
  if (value instanceof Error) return redactError(value, secrets, depth);
  if (Array.isArray(value)) return value.map((item) => redactSecrets(item, secrets, depth + 1));
  if (value instanceof Headers) return redactSecrets(Object.fromEntries(value), secrets, depth + 1);
  // Requests, responses and other class instances are left to pino's serializers; their
  // secret values are still cut from the finished line.
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return value;
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    out[key] = SECRET_KEYS.test(key) ? REDACTED : redactSecrets(inner, secrets, depth + 1);
  }
  return out;
}

/** A copy of an error, same prototype (so pino still names its type), with every field scrubbed. */
function redactError(error: Error, secrets: readonly string[], depth: number): Error {
  const copy = Object.create(Object.getPrototypeOf(error)) as Error;
  for (const key of Object.getOwnPropertyNames(error)) {
    const field: unknown = Reflect.get(error, key);
    Object.defineProperty(copy, key, {
      value: SECRET_KEYS.test(key) ? REDACTED : redactSecrets(field, secrets, depth + 1),
      enumerable: key !== 'stack' && key !== 'message',
      writable: true,
      configurable: true,
    });
  }
  return copy;
}

function scrubString(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  }
  // Bearer tokens in free text, whoever's they are, and the signatures and tokens of links.
  return redactUrlsInText(out.replace(/(Bearer\s+)(?!\[REDACTED\])[A-Za-z0-9._~+/=-]+/gi, `$1${REDACTED}`));
}
