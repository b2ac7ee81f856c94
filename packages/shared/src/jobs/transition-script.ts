/**
 * The Lua script that moves a job between stages. One script, so that the stage
 * check, the record update and the batch counters change together: two workers can
 * never both finish a job, and a batch finishes exactly once.
 *
 * KEYS[1]  the job hash
 * KEYS[2]  the unfinished jobs (see unfinishedJobsKey)
 * KEYS[3]  the webhooks outbox     KEYS[4] the pending webhook events (see pendingEventsKey)
 * ARGV[1]  comma-separated stages the job may be in now
 * ARGV[2]  the new stage's name    ARGV[3] the new stage as JSON
 * ARGV[4]  now (ISO 8601)          ARGV[5] retention of finished records (ms)
 * ARGV[6]  key prefix (batch keys are derived from the job's batch_id, as BullMQ's scripts do)
 * ARGV[7]  now (ms)
 * ARGV[8]  a token unique to this call: a client that reconnects re-sends commands whose
 *          answer it lost, and a replay of an applied move must answer as the move did,
 *          not as a refusal (the job is no longer in a `from` stage by then)
 * ARGV[9]  '1' when webhooks are on: a job reaching a final stage then records its event
 *          (and its batch's `batch.completed` when it was the last), with the move itself
 * ARGV[10…] field, value pairs to set on the job
 * Also keeps KEYS[2], the unfinished jobs scored by their last move, from which the
 * worker's reconciler finds jobs whose BullMQ job was lost.
 * A move that changes the job's cost adds the difference to its batch's `cost` (HINCRBYFLOAT),
 * so a batch's cost is always the sum of its jobs'. A job cancelled while polling keeps its
 * request as `cancelled_request`, and its place among the unfinished jobs: the worker follows
 * the request to the end for its cost (cancelled-request-scripts.ts), and the reconciler finds
 * it should that follow-up be lost.
 * An event is a hash PREFIX:event:ID plus an entry in the outbox, from which it is put on
 * the webhooks queue, and one in the pending events, from which the reconciler finds an
 * event whose delivery job was lost; its id follows from its subject (see eventIdFor).
 * Returns  {1, previous stage, batch finished now (0/1), comma-separated new event ids}
 *          | {0, current stage, 0, ''} | {-1, '', 0, ''} (no such job)
 */
import { STATUS_OF_STAGE } from './stage.js';

const statusTable = Object.entries(STATUS_OF_STAGE)
  .map(([stage, status]) => `['${stage}']='${status}'`)
  .join(', ');

export const TRANSITION_LUA = `
local status = { ${statusTable} }
local final = { completed = true, failed = true, cancelled = true }
local current = redis.call('HGET', KEYS[1], 'stage')
if not current then return {-1, '', 0, ''} end
local applied = redis.call('HMGET', KEYS[1], 'last_token', 'last_previous', 'last_batch_finished', 'last_events')
if applied[1] == ARGV[8] then return {1, applied[2], tonumber(applied[3]), applied[4] or ''} end
local allowed = false
for name in string.gmatch(ARGV[1], '[^,]+') do
  if name == current then allowed = true end
end
if not allowed then return {0, current, 0, ''} end

local nextStage = ARGV[2]
local previousData = redis.call('HGET', KEYS[1], 'stage_data')
local costBefore = tonumber(redis.call('HGET', KEYS[1], 'cost')) or 0
local costChanged = false
redis.call('HSET', KEYS[1], 'stage', nextStage, 'stage_data', ARGV[3], 'updated_at', ARGV[4])
for i = 10, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  if ARGV[i] == 'cost' then costChanged = true end
end
if current == 'polling' and nextStage == 'cancelled' then
  -- Its request is still at Segmind, which will charge for it: followed to the end for its cost.
  redis.call('HSET', KEYS[1], 'cancelled_request', previousData)
end
if status[nextStage] == 'running' and redis.call('HGET', KEYS[1], 'started_at') == '' then
  redis.call('HSET', KEYS[1], 'started_at', ARGV[4])
end
local id = redis.call('HGET', KEYS[1], 'id')
-- A job cancelled while polling stays among the unfinished until its request is settled (its follow-up may be lost too).
local following = current == 'polling' and nextStage == 'cancelled'
if final[nextStage] and not following then
  redis.call('ZREM', KEYS[2], id)
else
  redis.call('ZADD', KEYS[2], ARGV[7], id)
end
local retention = tonumber(ARGV[5])
if final[nextStage] then
  redis.call('HSET', KEYS[1], 'finished_at', ARGV[4])
  redis.call('PEXPIRE', KEYS[1], retention)
end

local batchFinished = 0
local batchId = redis.call('HGET', KEYS[1], 'batch_id')
local batch = ARGV[6] .. ':batch:' .. (batchId or '')
if costChanged and batchId and batchId ~= '' and redis.call('EXISTS', batch) == 1 then
  local delta = (tonumber(redis.call('HGET', KEYS[1], 'cost')) or 0) - costBefore
  if delta ~= 0 then redis.call('HINCRBYFLOAT', batch, 'cost', tostring(delta)) end
end
if batchId and batchId ~= '' and status[current] ~= status[nextStage] then
  redis.call('HINCRBY', batch, status[current], -1)
  redis.call('HINCRBY', batch, status[nextStage], 1)
  if final[nextStage] and not final[current] then
    local finished = redis.call('HINCRBY', batch, 'finished', 1)
    local total = tonumber(redis.call('HGET', batch, 'total'))
    if finished == total and redis.call('HGET', batch, 'finished_at') == '' then
      redis.call('HSET', batch, 'finished_at', ARGV[4])
      if redis.call('HGET', batch, 'status') == 'running' then
        redis.call('HSET', batch, 'status', 'completed')
      end
      redis.call('PEXPIRE', batch, retention)
      redis.call('PEXPIRE', batch .. ':jobs', retention)
      batchFinished = 1
    end
  end
end
local events = {}
local function wanted(filter, eventType)
  return not filter or filter == '' or string.find(',' .. filter .. ',', ',' .. eventType .. ',', 1, true) ~= nil
end
local function recordEvent(subjectKind, subjectId, tenant, eventType, url)
  local eventId = 'evt_' .. subjectId .. '_' .. string.sub(eventType, string.find(eventType, '.', 1, true) + 1)
  local eventKey = ARGV[6] .. ':event:' .. eventId
  if redis.call('EXISTS', eventKey) == 1 then return end
  redis.call('HSET', eventKey, 'id', eventId, 'type', eventType, 'subject_kind', subjectKind, 'subject_id', subjectId,
    'tenant', tenant, 'url', url, 'created_at', ARGV[4], 'status', 'pending', 'attempts', 0, 'run_start', 0, 'next_attempt_at', ARGV[4])
  redis.call('PEXPIRE', eventKey, retention)
  redis.call('ZADD', KEYS[3], ARGV[7], eventId)
  redis.call('ZADD', KEYS[4], ARGV[7], eventId)
  table.insert(events, eventId)
end
if ARGV[9] == '1' and final[nextStage] and not final[current] then
  local job = redis.call('HMGET', KEYS[1], 'id', 'tenant', 'webhook_url', 'webhook_events')
  if job[3] and job[3] ~= '' and wanted(job[4], 'job.' .. nextStage) then
    recordEvent('job', job[1], job[2], 'job.' .. nextStage, job[3])
  end
  if batchFinished == 1 then
    local owner = redis.call('HMGET', batch, 'tenant', 'webhook_url', 'webhook_events')
    if owner[2] and owner[2] ~= '' and wanted(owner[3], 'batch.completed') then
      recordEvent('batch', batchId, owner[1], 'batch.completed', owner[2])
    end
  end
end
local created = table.concat(events, ',')
redis.call('HSET', KEYS[1], 'last_token', ARGV[8], 'last_previous', current, 'last_batch_finished', batchFinished,
  'last_events', created)
return {1, current, batchFinished, created}
`;
