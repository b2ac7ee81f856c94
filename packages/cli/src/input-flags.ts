/**
 * A job's input, metadata and other JSON objects as flags give them:
 * `--input key=value` (a value that reads as JSON is taken as JSON, so `seed=42`
 * is a number; `key=@FILE` is the file's bytes as base64, for input images),
 * `--input-json '{…}'` or `--input-json @FILE`, `--metadata '{…}'`.
 */
import { readFileSync } from 'node:fs';
import { UsageError } from './errors.js';

/** A JSON object from a flag: inline, or `@FILE`. */
export function jsonObjectFlag(flag: string, text: string): Record<string, unknown> {
  const source = text.startsWith('@') ? readFlagFile(flag, text.slice(1)).toString('utf8') : text;
  let value: unknown;
  try {
    value = JSON.parse(source);
  } catch (error) {
    throw new UsageError(`${flag} is not valid JSON: ${(error as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new UsageError(`${flag} must be a JSON object ({…})`);
  }
  return value as Record<string, unknown>;
}

/** The input of a job: `--input-json` first, then each `--input key=value` over it. */
export function jobInput(inputJson: string | undefined, pairs: readonly string[]): Record<string, unknown> {
  const input = inputJson === undefined ? {} : jsonObjectFlag('--input-json', inputJson);
  for (const pair of pairs) {
    const equals = pair.indexOf('=');
    if (equals <= 0) throw new UsageError(`--input ${pair}: expected key=value`);
    const key = pair.slice(0, equals);
    input[key] = inputValue(key, pair.slice(equals + 1));
  }
  return input;
}

function inputValue(key: string, text: string): unknown {
  if (text.startsWith('@')) return readFlagFile(`--input ${key}`, text.slice(1)).toString('base64');
  // Numbers, booleans, null, arrays, objects and "quoted strings" as JSON; anything else is the string itself.
  if (/^(-?\d|true$|false$|null$|\[|\{|")/.test(text)) {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}

function readFlagFile(flag: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new UsageError(
      `${flag}: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
}
