-- Moves a job between stages (packages/shared/src/jobs/transition.ts). One script, so that the
-- stage check, the record update, the batch counters and the webhook events change together: two
-- workers can never both finish a job, and a batch finishes exactly once.
-- Runs after the lifecycle's tables (STATUS, FINAL, MOVES, FOLLOWS_REQUEST, MAYBE_BILLED, UNBILLED), generated from
-- packages/shared/src/jobs/lifecycle.ts: a move not in MOVES, or from a stage it does not list,
-- is refused. Long values (the stage, outputs, error, webhook URL) are read and written with
-- getLong and setLong (prelude/long-values.lua), which keep them in pieces.
--
-- KEYS[1]  the job hash
-- KEYS[2]  the unfinished jobs (scored by their last move; the reconciler walks them)
-- KEYS[3]  the webhooks outbox
-- KEYS[4]  the pending webhook events
-- KEYS[5]  the hash of the webhook event a final move records (for a move that is not final:
--          KEYS[1] again, unused)
-- KEYS[6]  its tenant's unfinished jobs (a sorted set of ids, for its backlog quota; a final move takes it off)
-- KEYS[7]  its tenant's fair-share ready set (a job cancelled while waiting for its share leaves it)
-- KEYS[8]  its tenant's spend ledger (prelude/spend-ledger.lua)
-- KEYS[9]  the job's change events (a capped stream: each change of stage, in order)
-- KEYS[10] the requests at Segmind whose result is not yet in hand (a sorted set of job ids by
--          submit time: a job enters it as it starts polling and leaves it as it stops)
-- KEYS[11] the job's batch hash           } only for a job in a batch (then #KEYS is 14; a job's
-- KEYS[12] the batch's job list           } batch is fixed when it is created, and the script
-- KEYS[13] the batch.completed event hash } checks that the keys are given exactly when it has one)
-- KEYS[14] the batch's change events (a stream: each job's final move, then the batch's finish)
-- ARGV[1]  the move's name (a key of MOVES)
-- ARGV[2]  the new stage as JSON
-- ARGV[3]  now (ISO 8601)                 ARGV[4] retention of finished records (ms)
-- ARGV[5]  now (ms)
-- ARGV[6]  a token unique to this call: a client that reconnects re-sends commands whose answer
--          it lost, and a replay of an applied move must answer as the move did, not as a
--          refusal (the job is no longer in a `from` stage by then)
-- ARGV[7]  '1' when webhooks are on: a job reaching a final stage then records its event (and
--          its batch's batch.completed when it was the last), with the move itself
-- ARGV[8]  the id of the event in KEYS[5]  ARGV[9] the id of the event in KEYS[13] ('' without)
-- ARGV[10] the channel changes are published on ('' for none): "job id|event id|stage|" for a change
--          of the job's stage; "batch id|event id|final status|job id" for its batch's job finishing,
--          and "batch id|event id|batch.completed|" for the batch finishing
-- ARGV[11] for a move MOVES marks `fenced` (made from a submit): '=' .. the submit id of the record the
--          caller holds ('=' alone when it has none), and the move is refused unless the job is still in
--          that submit; '' for no such check
-- ARGV[12…] field, value pairs to set on the job
-- Returns  {1, previous stage, batch finished now (0/1), comma-separated new event ids}
--          | {0, current stage, 0, ''} (refused: the job is in no stage the move starts from)
--          | {-2, current stage, 0, ''} (refused: the job is in another submit than the caller's)
--          | {-1, '', 0, ''} (no such job)
--
-- A move that changes the job's cost adds the difference to its batch's `cost`
-- (HINCRBYFLOAT), so a batch's cost is always the sum of its jobs', and to its tenant's settled
-- spend, ending the job's reservation. A final move ends the reservation too: let go, or counted as
-- spent when Segmind may have billed the job (below). A job cancelled from a
-- stage in FOLLOWS_REQUEST keeps its request as `cancelled_request`, and its place among the
-- unfinished jobs: the worker follows the request to the end for its cost
-- (follow-cancelled-2.lua), and the reconciler finds it should that follow-up be lost.
local move = MOVES[ARGV[1]]
if not move then return redis.error_reply('renderq: no move named ' .. tostring(ARGV[1])) end
local current = redis.call('HGET', KEYS[1], 'stage')
if not current then return {-1, '', 0, ''} end
local applied = redis.call('HMGET', KEYS[1], 'last_token', 'last_previous', 'last_batch_finished', 'last_events')
if applied[1] == ARGV[6] then return {1, applied[2], tonumber(applied[3]), applied[4] or ''} end
if not move.from[current] then return {0, current, 0, ''} end
-- A worker that stalled past its lock may still answer for its submit, but only for that one: never
-- for a job that another worker has since settled, put back or submitted anew.
if move.fenced and ARGV[11] ~= '' then
  local submitId = cjson.decode(getLong(KEYS[1], 'stage_data') or '{}').submit_id
  if '=' .. (type(submitId) == 'string' and submitId or '') ~= ARGV[11] then return {-2, current, 0, ''} end
end

local batchId = redis.call('HGET', KEYS[1], 'batch_id') or ''
if (batchId ~= '') ~= (#KEYS == 14) then
  return redis.error_reply('renderq: batch keys must be given exactly for a job in a batch')
end
local batch = KEYS[11]

local nextStage = move.to
-- Its request is still at Segmind, which will charge for it: followed to the end for its cost.
local following = nextStage == 'cancelled' and FOLLOWS_REQUEST[current] == true
if following then
  setLong(KEYS[1], 'cancelled_request', getLong(KEYS[1], 'stage_data'))
end
local costBefore = tonumber(redis.call('HGET', KEYS[1], 'cost')) or 0
local costChanged = false
redis.call('HSET', KEYS[1], 'stage', nextStage)
setLong(KEYS[1], 'stage_data', ARGV[2])
for i = 12, #ARGV, 2 do
  if PIECED[ARGV[i]] then setLong(KEYS[1], ARGV[i], ARGV[i + 1]) else redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
  if ARGV[i] == 'cost' then costChanged = true end
end
if STATUS[nextStage] == 'running' and (redis.call('HGET', KEYS[1], 'started_at') or '') == '' then
  redis.call('HSET', KEYS[1], 'started_at', ARGV[3])
end
local id = redis.call('HGET', KEYS[1], 'id')
-- A job following its request stays among the unfinished until the request is settled (its follow-up may be lost too).
if FINAL[nextStage] and not following then
  redis.call('ZREM', KEYS[2], id)
else
  redis.call('ZADD', KEYS[2], ARGV[5], id)
end
-- A request at Segmind whose result is not in hand: Segmind forgets it an hour after it finishes, so
-- the oldest one's age is watched (the workers' metrics, an alert) before that happens.
if nextStage == 'polling' and current ~= 'polling' then
  redis.call('ZADD', KEYS[10], ARGV[5], id)
elseif current == 'polling' and nextStage ~= 'polling' then
  redis.call('ZREM', KEYS[10], id)
end
local retention = tonumber(ARGV[4])
-- Its tenant's backlog quota counts it no more (a job followed for its cost is not waiting work).
if FINAL[nextStage] then
  redis.call('ZREM', KEYS[6], id)
  redis.call('ZREM', KEYS[7], id)
end
local today = string.sub(ARGV[3], 1, 10)
if costChanged then
  local costAfter = tonumber(redis.call('HGET', KEYS[1], 'cost')) or 0
  settleSpend(KEYS[1], KEYS[8], today, toMicros(costAfter) - toMicros(costBefore))
  endReservation(KEYS[1], KEYS[8], today, false)
end
-- A job following its request keeps its reservation until the request is settled (settle-cancelled).
-- What is still reserved at the end counts as spent when Segmind may have billed it: a job whose
-- request Segmind accepted (it runs and bills; completed, or cancelled once Segmind finished it),
-- unless it failed UNBILLED; or a failure MAYBE_BILLED without an accepted request.
if FINAL[nextStage] and not following then
  local accepted = (redis.call('HGET', KEYS[1], 'segmind_request_id') or '') ~= ''
  local billed = accepted or nextStage == 'completed'
  if nextStage == 'failed' then
    local code = (cjson.decode(ARGV[2]).error or {}).code or ''
    billed = MAYBE_BILLED[code] == true or (accepted and UNBILLED[code] ~= true)
  end
  endReservation(KEYS[1], KEYS[8], today, billed)
end
if FINAL[nextStage] then
  redis.call('HSET', KEYS[1], 'finished_at', ARGV[3])
  redis.call('PEXPIRE', KEYS[1], retention)
end

-- A change of stage is an event in the job's stream, and a message API processes fan out to the
-- job's event streams and to requests waiting for it (packages/api/src/services/job-changes.ts).
if nextStage ~= current then
  local entry = redis.call('XADD', KEYS[9], 'MAXLEN', '~', 64, '*', 'stage', nextStage, 'status', STATUS[nextStage])
  if ARGV[10] ~= '' then redis.call('PUBLISH', ARGV[10], id .. '|' .. entry .. '|' .. nextStage .. '|') end
  if FINAL[nextStage] then redis.call('PEXPIRE', KEYS[9], retention) end
end

local batchFinished = 0
if costChanged and batch and redis.call('EXISTS', batch) == 1 then
  local delta = (tonumber(redis.call('HGET', KEYS[1], 'cost')) or 0) - costBefore
  if delta ~= 0 then redis.call('HINCRBYFLOAT', batch, 'cost', tostring(delta)) end
end
if batch and STATUS[current] ~= STATUS[nextStage] then
  redis.call('HINCRBY', batch, STATUS[current], -1)
  redis.call('HINCRBY', batch, STATUS[nextStage], 1)
  if FINAL[nextStage] and not FINAL[current] then
    local finished = redis.call('HINCRBY', batch, 'finished', 1)
    local total = tonumber(redis.call('HGET', batch, 'total'))
    if finished == total and redis.call('HGET', batch, 'finished_at') == '' then
      redis.call('HSET', batch, 'finished_at', ARGV[3])
      if redis.call('HGET', batch, 'status') == 'running' then
        redis.call('HSET', batch, 'status', 'completed')
      end
      redis.call('PEXPIRE', batch, retention)
      redis.call('PEXPIRE', KEYS[12], retention)
      batchFinished = 1
    end
  end
end
-- A batch's stream has its jobs' final moves and its finish, for the batch's event streams.
if batch and FINAL[nextStage] and not FINAL[current] then
  local entry = redis.call('XADD', KEYS[14], 'MAXLEN', '~', 20000, '*', 'job', id, 'status', STATUS[nextStage])
  if ARGV[10] ~= '' then redis.call('PUBLISH', ARGV[10], batchId .. '|' .. entry .. '|' .. STATUS[nextStage] .. '|' .. id) end
  if batchFinished == 1 then
    local last = redis.call('XADD', KEYS[14], 'MAXLEN', '~', 20000, '*', 'batch', batchId, 'status', 'batch.completed')
    if ARGV[10] ~= '' then redis.call('PUBLISH', ARGV[10], batchId .. '|' .. last .. '|batch.completed|') end
    redis.call('PEXPIRE', KEYS[14], retention)
  end
end

local events = {}
local function wanted(filter, eventType)
  return not filter or filter == '' or string.find(',' .. filter .. ',', ',' .. eventType .. ',', 1, true) ~= nil
end
local function record(eventKey, eventId, subjectKind, subjectId, tenant, eventType, url)
  local event = { id = eventId, type = eventType, subjectKind = subjectKind, subjectId = subjectId, tenant = tenant, url = url }
  if recordEvent(eventKey, KEYS[3], KEYS[4], ARGV[3], ARGV[5], retention, event) then table.insert(events, eventId) end
end
if ARGV[7] == '1' and FINAL[nextStage] and not FINAL[current] then
  local job = redis.call('HMGET', KEYS[1], 'id', 'tenant', 'webhook_events')
  local url = getLong(KEYS[1], 'webhook_url')
  if url and url ~= '' and wanted(job[3], 'job.' .. nextStage) then
    record(KEYS[5], ARGV[8], 'job', job[1], job[2], 'job.' .. nextStage, url)
  end
  if batchFinished == 1 then
    local owner = redis.call('HMGET', batch, 'tenant', 'webhook_url', 'webhook_events')
    if owner[2] and owner[2] ~= '' and wanted(owner[3], 'batch.completed') then
      record(KEYS[13], ARGV[9], 'batch', batchId, owner[1], 'batch.completed', owner[2])
    end
  end
end
local created = table.concat(events, ',')
redis.call('HSET', KEYS[1], 'last_token', ARGV[6], 'last_previous', current, 'last_batch_finished', batchFinished,
  'last_events', created)
return {1, current, batchFinished, created}
