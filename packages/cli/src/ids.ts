/** Which kind of record an id names, by its prefix: `job_…` or `bat_…`. */
import { UsageError } from './errors.js';

export type RecordKind = 'job' | 'batch';

export function kindOfId(id: string): RecordKind {
  if (/^job_[0-9a-z]+$/i.test(id)) return 'job';
  if (/^bat_[0-9a-z]+$/i.test(id)) return 'batch';
  throw new UsageError(`"${id}" is not a job id (job_…) or a batch id (bat_…)`);
}
