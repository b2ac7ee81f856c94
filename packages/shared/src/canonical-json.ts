/** JSON with object keys sorted at every depth: equal values give equal text (for hashing and comparing). */
export function canonicalJson(value: unknown): string {
  const parts: string[] = [];
  writeCanonicalJson(value, (text) => parts.push(text));
  return parts.join('');
}

/**
 * The same text, handed to `write` a piece at a time: a digest of a large body (a batch with
 * inline images) never holds a second copy of it as one string.
 */
export function writeCanonicalJson(value: unknown, write: (text: string) => void): void {
  if (Array.isArray(value)) {
    write('[');
    value.forEach((item, i) => {
      if (i > 0) write(',');
      writeCanonicalJson(item, write);
    });
    write(']');
    return;
  }
  if (value && typeof value === 'object') {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    write('{');
    entries.forEach(([key, inner], i) => {
      write(i > 0 ? `,${JSON.stringify(key)}:` : `${JSON.stringify(key)}:`);
      writeCanonicalJson(inner, write);
    });
    write('}');
    return;
  }
  write(JSON.stringify(value) ?? 'null');
}
