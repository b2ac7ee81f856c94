/** Where renderq's own records live in Redis, next to BullMQ's keys under the same prefix. */
export function jobKey(prefix: string, id: string): string {
  return `${prefix}:job:${id}`;
}
export function batchKey(prefix: string, id: string): string {
  return `${prefix}:batch:${id}`;
}
export function batchJobsKey(prefix: string, id: string): string {
  return `${prefix}:batch:${id}:jobs`;
}
/** Jobs recorded but not yet confirmed in BullMQ (sorted by creation time). */
export function unenqueuedKey(prefix: string): string {
  return `${prefix}:unenqueued`;
}
/** Jobs in a working stage, scored by when they last moved (kept by the transition script). */
export function workingKey(prefix: string): string {
  return `${prefix}:working`;
}
