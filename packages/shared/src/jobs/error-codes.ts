/** The error codes a job can end with, as data: the public contract's, which the API, webhooks and metrics show. */
export { ErrorCode, JobError } from '@renderq/contract';
