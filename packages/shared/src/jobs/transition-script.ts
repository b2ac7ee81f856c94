/**
 * The Lua script that moves a job between stages. One script, so that the stage
 * check, the record update and the batch counters change together: two workers can
 * never both finish a job, and a batch finishes exactly once.
 *
 * KEYS[1]  the job hash
 * ARGV[1]  comma-separated stages the job may be in now
 * ARGV[2]  the new stage's name    ARGV[3] the new stage as JSON
 * ARGV[4]  now (ISO 8601)          ARGV[5] retention of finished records (ms)
 * ARGV[6]  key prefix (batch keys are derived from the job's batch_id, as BullMQ's scripts do)
 * ARGV[7]  now (ms)
 * ARGV[8]  a token unique to this call: a client that reconnects re-sends commands whose
 *          answer it lost, and a replay of an applied move must answer as the move did,
 *          not as a refusal (the job is no longer in a `from` stage by then)
 * ARGV[9…] field, value pairs to set on the job
 * Also keeps PREFIX:working, the jobs in a working stage scored by their last move, from
 * which the worker's reconciler finds jobs whose BullMQ job was lost.
 * Returns  {1, previous stage, batch finished now (0/1)} | {0, current stage, 0} | {-1, '', 0} (no such job)
 */
import { STATUS_OF_STAGE } from './stage.js';

const statusTable = Object.entries(STATUS_OF_STAGE)
  .map(([stage, status]) => `['${stage}']='${status}'`)
  .join(', ');

export const TRANSITION_LUA = `
local status = { ${statusTable} }
local final = { completed = true, failed = true, cancelled = true }
local current = redis.call('HGET', KEYS[1], 'stage')
if not current then return {-1, '', 0} end
local applied = redis.call('HMGET', KEYS[1], 'last_token', 'last_previous', 'last_batch_finished')
if applied[1] == ARGV[8] then return {1, applied[2], tonumber(applied[3])} end
local allowed = false
for name in string.gmatch(ARGV[1], '[^,]+') do
  if name == current then allowed = true end
end
if not allowed then return {0, current, 0} end

local nextStage = ARGV[2]
redis.call('HSET', KEYS[1], 'stage', nextStage, 'stage_data', ARGV[3], 'updated_at', ARGV[4])
for i = 9, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
if status[nextStage] == 'running' and redis.call('HGET', KEYS[1], 'started_at') == '' then
  redis.call('HSET', KEYS[1], 'started_at', ARGV[4])
end
local working = ARGV[6] .. ':working'
local id = redis.call('HGET', KEYS[1], 'id')
if status[nextStage] == 'running' then
  redis.call('ZADD', working, ARGV[7], id)
else
  redis.call('ZREM', working, id)
end
local retention = tonumber(ARGV[5])
if final[nextStage] then
  redis.call('HSET', KEYS[1], 'finished_at', ARGV[4])
  redis.call('PEXPIRE', KEYS[1], retention)
end

local batchFinished = 0
local batchId = redis.call('HGET', KEYS[1], 'batch_id')
if batchId and batchId ~= '' and status[current] ~= status[nextStage] then
  local batch = ARGV[6] .. ':batch:' .. batchId
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
redis.call('HSET', KEYS[1], 'last_token', ARGV[8], 'last_previous', current, 'last_batch_finished', batchFinished)
return {1, current, batchFinished}
`;
