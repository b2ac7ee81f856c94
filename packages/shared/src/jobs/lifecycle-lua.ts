/**
 * The lifecycle's tables in Lua, generated from TRANSITIONS and STATUS_OF_STAGE and put
 * ahead of the transition script's source (redis/scripts.ts), so that the script and
 * the TypeScript can never disagree on which moves are legal or which stages are final.
 * The job store hands them, with the record's layout, to the script registry.
 */
import type { JobLua } from '../redis/scripts.js';
import {
  CANCEL_FOLLOWS_REQUEST_FROM,
  MAYBE_BILLED_WITHOUT_REQUEST,
  MOVE_NAMES,
  type Move,
  TRANSITIONS,
  UNBILLED_WITH_REQUEST,
} from './lifecycle.js';
import { recordLayoutLua } from './record-hash.js';
import { isFinal, STAGE_NAMES, STATUS_OF_STAGE } from './stage.js';

const set = (names: readonly string[]) => `{ ${names.map((name) => `['${name}'] = true`).join(', ')} }`;

/**
 * Defines STATUS (stage → public status), FINAL, MOVES (name → { to, from, fenced }), FOLLOWS_REQUEST,
 * MAYBE_BILLED and UNBILLED (error codes).
 */
export function lifecycleLua(): string {
  const status = STAGE_NAMES.map((stage) => `['${stage}'] = '${STATUS_OF_STAGE[stage]}'`).join(', ');
  const moves = MOVE_NAMES.map((name) => {
    const move: Move = TRANSITIONS[name];
    const fenced = move.fencedBySubmit ? ', fenced = true' : '';
    return `  ['${name}'] = { to = '${move.to}', from = ${set(move.from)}${fenced} },`;
  }).join('\n');
  return [
    '-- Generated from packages/shared/src/jobs/lifecycle.ts and stage.ts: do not edit here.',
    `local STATUS = { ${status} }`,
    `local FINAL = ${set(STAGE_NAMES.filter(isFinal))}`,
    `local MOVES = {\n${moves}\n}`,
    `local FOLLOWS_REQUEST = ${set(CANCEL_FOLLOWS_REQUEST_FROM)}`,
    `local MAYBE_BILLED = ${set(MAYBE_BILLED_WITHOUT_REQUEST)}`,
    `local UNBILLED = ${set(UNBILLED_WITH_REQUEST)}`,
    '',
  ].join('\n');
}

/** The Lua the job scripts start with: the lifecycle's tables and the record's layout. */
export function jobLua(): JobLua {
  return { lifecycle: lifecycleLua(), recordLayout: recordLayoutLua() };
}
