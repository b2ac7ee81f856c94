/**
 * Every Redis key renderq spells, next to BullMQ's keys under the same prefix (BullMQ names its
 * own). Lua scripts are given their keys through KEYS, never a prefix to build them from, so every
 * key a script touches is declared. On Redis Cluster the prefix is a hash tag such as `{renderq}`:
 * every key then hashes to one slot, as one script's keys and BullMQ's queues need.
 */
export function jobKey(prefix: string, id: string): string {
  return `${prefix}:job:${id}`;
}
/** A job's changes of stage, in order (a capped stream; its entry ids are the event ids of its event stream). */
export function jobEventsKey(prefix: string, id: string): string {
  return `${prefix}:job:${id}:events`;
}
/**
 * The channel every change of a job's stage, and of its batch, is published on (see the transition
 * script for the messages): each API
 * process subscribes once and fans the changes out to its event streams and waiting requests.
 * A channel, not a key: Redis Cluster delivers it to subscribers on any node.
 */
export function jobChangesChannel(prefix: string): string {
  return `${prefix}:job-changes`;
}
/** A batch's jobs' final moves and its own finish, in order (a stream; the ids of its event stream). */
export function batchEventsKey(prefix: string, id: string): string {
  return `${prefix}:batch:${id}:events`;
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
/**
 * Jobs not yet finished (queued or in a working stage), scored by when they last moved
 * or were last checked: the create and transition scripts keep it, and the reconciler
 * walks it from the oldest. Named when it held only working jobs; the name stays so that
 * a running deployment's entries carry over.
 */
export function unfinishedJobsKey(prefix: string): string {
  return `${prefix}:working`;
}
/** A tenant's unfinished jobs, which its backlog quota counts (a sorted set of ids, scored by creation). */
export function tenantBacklogKey(prefix: string, tenant: string): string {
  return `${prefix}:backlog:tenant:${tenant}`;
}
/** Every tenant that has had a backlog (a set of names): what the backlogs are listed and tidied by. */
export function backlogTenantsKey(prefix: string): string {
  return `${prefix}:backlog:tenants`;
}
/**
 * What requests were admitted for and have not recorded yet, against backlog quotas and spend
 * budgets (a hash: claim id → tenant, jobs and reservation left, deadline, day; see admission.ts).
 */
export function backlogClaimsKey(prefix: string): string {
  return `${prefix}:backlog:claims`;
}
/**
 * A tenant's spend ledger: what its jobs reserve and what Segmind charged for them, by UTC day and
 * month, in millionths of a USD (a hash; see spend.ts).
 */
export function tenantSpendKey(prefix: string, tenant: string): string {
  return `${prefix}:spend:tenant:${tenant}`;
}
/** Held by the one worker reconciling lost jobs and events this period. */
export function reconcilerLockKey(prefix: string): string {
  return `${prefix}:reconciler`;
}
/** A webhook event: what happened, to which subject, where it goes, how its delivery stands. */
export function eventKey(prefix: string, id: string): string {
  return `${prefix}:event:${id}`;
}
/** A webhook event's delivery attempts, oldest first (JSON, capped). */
export function eventAttemptsKey(prefix: string, id: string): string {
  return `${prefix}:event:${id}:attempts`;
}
/** Events recorded but not yet confirmed on the webhooks queue (sorted by creation time). */
export function eventOutboxKey(prefix: string): string {
  return `${prefix}:webhooks:outbox`;
}
/**
 * Pending webhook events, scored by their next attempt (or, once the reconciler has
 * looked, by when it last looked): kept by the scripts that record events, record
 * attempts and redeliver, so finding events whose delivery job was lost scans no others.
 */
export function pendingEventsKey(prefix: string): string {
  return `${prefix}:webhooks:pending`;
}
/** A receiving host's run of failures and how long it is backed off. */
export function webhookHostKey(prefix: string, host: string): string {
  return `${prefix}:webhooks:host:${host}`;
}
/** A tenant's enqueue token bucket (tokens left and when it was last filled), shared by every API process. */
export function enqueueBucketKey(prefix: string, tenant: string): string {
  return `${prefix}:rate:enqueue:${tenant}`;
}
/** Set for a minute after a job's or batch's webhooks are redelivered: one redelivery per subject per cooldown. */
export function redeliveryCooldownKey(prefix: string, subject: string): string {
  return `${prefix}:webhooks:redelivered:${subject}`;
}
/**
 * A tenant's jobs, for listing them newest first: a sorted set whose members are
 * `CREATED_MS:JOB_ID` (milliseconds zero-padded to 13 digits), all scored 0, so that
 * it sorts by creation time and pages by member (see tenant-index.ts). Kept by the
 * create script; entries whose record has expired are trimmed by the listing that
 * finds them.
 */
export function tenantJobsKey(prefix: string, tenant: string): string {
  return `${prefix}:tenant:${tenant}:jobs`;
}
/** A bulk action (replay or cancel of many jobs): its request, progress and state (a hash). */
export function bulkOperationKey(prefix: string, id: string): string {
  return `${prefix}:operation:${id}`;
}
/** The jobs a bulk action was chosen to act on, in the order it acts (a list it consumes from the head). */
export function bulkOperationTargetsKey(prefix: string, id: string): string {
  return `${prefix}:operation:${id}:targets`;
}
/** Held by the API process running a bulk action, renewed while it runs; lapsed, another takes it over. */
export function bulkOperationLeaseKey(prefix: string, id: string): string {
  return `${prefix}:operation:${id}:lease`;
}
/** The bulk actions not yet ended, which API processes look for to take over (a set of ids). */
export function runningBulkOperationsKey(prefix: string): string {
  return `${prefix}:operations:running`;
}
/** The last Segmind credit balance a worker saw, with when (JSON). */
export function creditsKey(prefix: string): string {
  return `${prefix}:credits`;
}
/** Held by the one worker checking the Segmind balance this period. */
export function creditsCheckLockKey(prefix: string): string {
  return `${prefix}:credits-check`;
}
/** Why taking jobs is paused for everyone, if it is (JSON). */
export function pauseKey(prefix: string): string {
  return `${prefix}:pause`;
}
/** The key signing output download links, made once and shared by every API process. */
export function outputLinkSecretKey(prefix: string): string {
  return `${prefix}:output-link-secret`;
}
/** An Idempotency-Key's claim and first answer, by tenant and the key's SHA-256 (hex). */
export function idempotencyKey(prefix: string, tenant: string, keyHash: string): string {
  return `${prefix}:idempotency:${tenant}:${keyHash}`;
}
/** Segmind's submit rate as the workers' budget has it now (JSON, refreshed every few seconds): what estimates divide by. */
export function submitRateKey(prefix: string): string {
  return `${prefix}:submit-rate`;
}
/**
 * The requests at Segmind whose result is not yet in hand, by submit time (a sorted set of job ids,
 * kept by transition-job-10-or-14.lua): the oldest one's age is how close Segmind is to forgetting it.
 */
export function requestsAtSegmindKey(prefix: string): string {
  return `${prefix}:at-segmind`;
}
/** The Segmind outage breaker every worker shares (a hash, present only while open): submit-breaker-1.lua. */
export function segmindBreakerKey(prefix: string): string {
  return `${prefix}:segmind-breaker`;
}
/** A model's last Segmind latencies in ms, newest first (a list), that polls are placed by. */
export function modelLatencyKey(prefix: string, model: string): string {
  return `${prefix}:model-latency-ms:${model}`;
}
/** The Segmind submit rate budget every worker using one API key shares, by a digest of the key. */
export function segmindBudgetKey(prefix: string, apiKeyDigest: string): string {
  return `${prefix}:segmind-budget:${apiKeyDigest}:submit`;
}
/**
 * A tenant's jobs waiting for their fair share of the submit budget, not yet on the render queue:
 * a sorted set of ids scored by priority, then creation (see fair-share.ts).
 */
export function fairReadyKey(prefix: string, tenant: string): string {
  return `${prefix}:fair:ready:${tenant}`;
}
/** Tenants with jobs waiting for their share, scored by their virtual pass: the lowest goes next. */
export function fairTenantsKey(prefix: string): string {
  return `${prefix}:fair:tenants`;
}
/** The fair share's clock (a hash: `vtime`, the pass last served; `seq`, the entry counter). */
export function fairStateKey(prefix: string): string {
  return `${prefix}:fair:state`;
}
/** The pass each tenant left the tenants being served with (a hash), where it rejoins unless the clock passed it. */
export function fairPassesKey(prefix: string): string {
  return `${prefix}:fair:passes`;
}
/** Jobs released to the render queue whose BullMQ add is not yet confirmed (sorted by release time). */
export function fairReleasedKey(prefix: string): string {
  return `${prefix}:fair:released`;
}
