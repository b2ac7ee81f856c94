/**
 * URLs as they may be logged: query parameters that grant access — an output link's
 * `signature`, a presigned S3 URL's `X-Amz-Signature` and credentials, any token or
 * key — keep their name and lose their value, and user:password in the URL is
 * dropped. A logged link must never work as a download.
 */
const SECRET_PARAMETER =
  /^(signature|sig|token|access_token|id_token|refresh_token|api_?key|key|secret|password|x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature|x-goog-credential|credential)$/i;

export const REDACTED_VALUE = 'REDACTED';

/** `url` (absolute, or a path with a query) with every secret parameter's value replaced. */
export function redactUrl(url: string): string {
  const queryAt = url.indexOf('?');
  const credentialsAt = url.indexOf('@');
  if (queryAt < 0 && credentialsAt < 0) return url;
  let base = queryAt < 0 ? url : url.slice(0, queryAt);
  // scheme://user:password@host/… keeps only the host.
  base = base.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@?#]*@/i, '$1');
  if (queryAt < 0) return base;
  const [query, fragment] = splitOnce(url.slice(queryAt + 1), '#');
  const redacted = query
    .split('&')
    .map((pair) => {
      const [name] = splitOnce(pair, '=');
      return SECRET_PARAMETER.test(safeDecode(name)) ? `${name}=${REDACTED_VALUE}` : pair;
    })
    .join('&');
  return `${base}?${redacted}${fragment === undefined ? '' : `#${fragment}`}`;
}

/**
 * The same, for URLs inside free text (an error message that quotes a link): every
 * `name=value` whose name is a secret parameter loses its value.
 */
export function redactUrlsInText(text: string): string {
  if (!text.includes('=')) return text;
  return text.replace(
    /([?&;](?:signature|sig|token|access_token|api_?key|secret|x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature|x-goog-credential)=)[^&\s"'#]+/gi,
    `$1${REDACTED_VALUE}`,
  );
}

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const at = text.indexOf(separator);
  return at < 0 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)];
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
