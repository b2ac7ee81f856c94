/** `renderq wait ID`: follows a job or a batch until it finishes; exits 1 unless it all completed. */
import type { Action, WaitFlags } from '../context.js';
import { exitCodeOf, followRecord, recordLines } from './records.js';

export function waitCommand(id: string, flags: WaitFlags): Action {
  return async (context) => {
    const record = await followRecord(context, id, flags);
    context.output.result(record, () => recordLines(context, record));
    return exitCodeOf(record);
  };
}
