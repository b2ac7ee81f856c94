/**
 * A job's public statuses and which of them are final, declared once: the job and batch schemas
 * are built from them, the worker's stages map onto them, and the client and CLI wait for the
 * finished ones. Plain TypeScript (no zod), so the published client carries it compiled.
 */

/**
 * The statuses a job ends in: nothing changes it afterwards. `expired`: its start-by deadline passed
 * before it was submitted (a batch ends in the others only).
 */
const FINISHED_STATUSES = ['completed', 'failed', 'cancelled', 'expired'] as const;
export type FinishedStatus = (typeof FINISHED_STATUSES)[number];

export const JOB_STATUSES = ['queued', 'running', ...FINISHED_STATUSES] as const;

/** Whether a job's or batch's status is final. */
export function isFinishedStatus(status: string): status is FinishedStatus {
  return (FINISHED_STATUSES as readonly string[]).includes(status);
}
