/**
 * `renderq wait ID` and `renderq watch ID`: follow a job or a batch until it finishes — reading it
 * every so often, or from its event stream as it changes — and exit 1 unless it all completed.
 */
import type { Action, WaitFlags } from '../context.js';
import type { Source } from '../follow.js';
import { exitCodeOf, followRecord, recordLines } from './records.js';

export function waitCommand(id: string, flags: WaitFlags, source: Source = 'poll'): Action {
  return async (context) => {
    const record = await followRecord(context, id, flags, source);
    context.output.result(record, () => recordLines(context, record));
    return exitCodeOf(record);
  };
}
