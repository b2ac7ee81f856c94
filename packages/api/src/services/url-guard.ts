/**
 * The enqueue-time half of the SSRF guard: webhook URLs and URLs in a job's input
 * (input images, which Segmind fetches) must not reach loopback, private, link-local,
 * metadata or any other special-purpose address (see address-guard in shared) unless
 * WEBHOOK_ALLOW_PRIVATE=true. Answers are cached per host for a minute, so a busy API
 * does not resolve the same name on every request. A name that does not resolve now is
 * accepted (unless it is localhost's): delivery checks again, as it must anyway because
 * DNS can change.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { assertPublicUrl, type Lookup, PrivateAddressError, type ValidationIssue } from '@renderq/shared';

export interface UrlGuardOptions {
  readonly allowPrivate: boolean;
  /** For tests. @defaultValue the system resolver */
  readonly lookup?: Lookup;
  /** @defaultValue 60 s */
  readonly cacheMs?: number;
}

const MAX_CACHED_HOSTS = 10_000;
const LOOKUP_TIMEOUT_MS = 2_000;

export class UrlGuard {
  readonly #options: UrlGuardOptions;
  readonly #cacheMs: number;
  /** Host → refusal (or null: allowed), until when. */
  readonly #cache = new Map<string, { refusal: string | null; until: number }>();

  constructor(options: UrlGuardOptions) {
    this.#options = options;
    this.#cacheMs = options.cacheMs ?? 60_000;
  }

  /** One issue per refused URL, at its path. */
  async check(urls: readonly { readonly path: string; readonly url: string }[]): Promise<ValidationIssue[]> {
    if (this.#options.allowPrivate || urls.length === 0) return [];
    const issues: ValidationIssue[] = [];
    for (const { path, url } of urls) {
      const refusal = await this.#refusal(url);
      if (refusal) issues.push({ path, message: refusal });
    }
    return issues;
  }

  async #refusal(url: string): Promise<string | null> {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return 'must be an http(s) URL';
    }
    // Segmind fetches input URLs with a parser of its own: a spelling that parsers read differently
    // (`http://a.example\@127.0.0.1/`) could name one host here and another there.
    if (/[\\\s]/.test(url) || parsed.username !== '' || parsed.password !== '') {
      return 'must not contain backslashes, spaces or user:password@ (URL parsers disagree on where such a URL goes)';
    }
    const host = parsed.host;
    const cached = this.#cache.get(host);
    if (cached && cached.until > Date.now()) return cached.refusal;
    const refusal = await this.#resolve(url);
    if (this.#cache.size >= MAX_CACHED_HOSTS) this.#cache.clear();
    this.#cache.set(host, { refusal, until: Date.now() + this.#cacheMs });
    return refusal;
  }

  async #resolve(url: string): Promise<string | null> {
    const lookup: Lookup = this.#options.lookup ?? ((name) => dnsLookup(name, { all: true, verbatim: true }));
    try {
      await assertPublicUrl(url, {
        allowPrivate: false,
        lookup: (name) => withTimeout(lookup(name)),
        // Unresolvable now: accepted, and checked again when it is called.
        acceptUnresolved: true,
      });
      return null;
    } catch (error) {
      if (error instanceof PrivateAddressError) return error.message;
      throw error;
    }
  }
}

function withTimeout<T>(promise: Promise<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('lookup timed out')), LOOKUP_TIMEOUT_MS);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/**
 * What a URL fetcher may take for an http(s) URL: WHATWG parsers drop leading spaces and
 * control characters and accept any number of (back)slashes after the scheme, so
 * `http:/127.0.0.1` and ` HTTP:\\127.0.0.1` are URLs too. Such a string that does not
 * parse is refused, since another parser may still read a host out of it.
 */
function looksLikeHttpUrl(value: string): boolean {
  let start = 0;
  while (start < value.length && value.charCodeAt(start) <= 0x20) start++;
  return /^https?:/i.test(value.slice(start, start + 6));
}

/**
 * The URLs a job would have called: its webhook and every http(s) URL among its input's
 * values, nested ones included (an unknown model's input is passed on as given).
 */
export function urlsOfJob(
  input: Record<string, unknown>,
  webhookUrl: string | undefined,
  inputPath = 'input',
): { path: string; url: string }[] {
  const urls = webhookUrl ? [{ path: 'webhook_url', url: webhookUrl }] : [];
  const visit = (value: unknown, path: string): void => {
    if (typeof value === 'string') {
      if (looksLikeHttpUrl(value)) urls.push({ path, url: value });
    } else if (Array.isArray(value)) {
      for (const [index, item] of value.entries()) visit(item, `${path}[${index}]`);
    } else if (value !== null && typeof value === 'object') {
      for (const [field, item] of Object.entries(value)) visit(item, `${path}.${field}`);
    }
  };
  visit(input, inputPath);
  return urls;
}
