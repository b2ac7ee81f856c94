/** `renderq cancel ID`: cancels a job, or every unfinished job of a batch. */
import type { Action } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { kindOfId } from '../ids.js';
import { type JobOrBatch, recordLines } from './records.js';

export function cancelCommand(id: string): Action {
  return async (context) => {
    const record: JobOrBatch =
      kindOfId(id) === 'job'
        ? { job: await context.client.cancelJob(id) }
        : { batch: await context.client.cancelBatch(id) };
    context.output.result(record, () => recordLines(context, record));
    return EXIT.ok;
  };
}
