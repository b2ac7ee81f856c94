/**
 * Deeply nested JSON is refused before it is parsed: recursive code further in
 * (validation, hashing) would overflow the stack on thousands of levels. A linear
 * scan counts nesting outside strings.
 */
export const MAX_JSON_DEPTH = 64;

/** The deepest nesting in `text`, or MAX_JSON_DEPTH + 1 as soon as it passes the limit. */
export function jsonDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 /* { */ || c === 91 /* [ */) {
      depth++;
      if (depth > deepest) deepest = depth;
      if (deepest > MAX_JSON_DEPTH) return deepest;
    } else if (c === 125 /* } */ || c === 93 /* ] */) depth--;
  }
  return deepest;
}
