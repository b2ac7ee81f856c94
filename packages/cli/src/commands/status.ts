/** `renderq status ID`: a job or a batch as it is now. Exits 0 whatever its status. */
import type { Action } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { readRecord, recordLines } from './records.js';

export function statusCommand(id: string): Action {
  return async (context) => {
    const record = await readRecord(context, id);
    context.output.result(record, () => recordLines(context, record));
    return EXIT.ok;
  };
}
