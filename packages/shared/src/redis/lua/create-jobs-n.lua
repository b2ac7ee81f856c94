-- Records new jobs (packages/shared/src/jobs/create-jobs.ts): each job's hash, its entry in its
-- tenant's index, among the jobs not yet confirmed in BullMQ and among the unfinished jobs, and
-- for a batch's job its place in the batch's job list — all of a call's jobs together. Each new
-- job joins its tenant's unfinished jobs, and its reservation joins its tenant's spend ledger
-- (prelude/spend-ledger.lua); both are taken off the claim that admitted it
-- (claim-admission-7.lua), so that a job is held against the quota and a budget once: claimed,
-- then counted.
--
-- KEYS[1]  the unenqueued jobs (recorded, not yet confirmed in BullMQ)
-- KEYS[2]  the unfinished jobs
-- KEYS[3]  every tenant that has had a backlog (a set of names)
-- KEYS[4]  open admission claims (prelude/admission-claims.lua)
-- KEYS[5]  the batch's job list — only when ARGV[2] is '1'
-- then five keys per job, in ARGV's order: its hash, its tenant's job index, its tenant's
-- unfinished jobs, its tenant's spend ledger, and the hash of the job it replays (its own hash
-- when it replays none)
-- ARGV[1]  now (ms)
-- ARGV[2]  '1' when the jobs belong to a batch (KEYS[5] is its job list), else '0'
-- ARGV[3…] one job each: a JSON array of strings [id, tenant, claim id ('' for none), tenant index
--          entry, reservation (micro-USD), the UTC day its spend counts in, the id of the job it
--          replays ('' for none), field, value, …] (strings only, so cjson changes nothing)
-- Returns  for each job, 1 when it is recorded (now, or by this call sent before), 0 when it is
--          not: a replay of a job already replayed, or gone. Marking the replayed job in the same
--          call is what makes a job replayed at most once, whoever replays it and however often.
local inBatch = ARGV[2] == '1'
local first = inBatch and 6 or 5

local function record(job, k)
  local id, tenant, claim = job[1], job[2], job[3]
  redis.call('HSET', KEYS[k], unpack(job, 8))
  redis.call('ZADD', KEYS[k + 1], 0, job[4])
  redis.call('ZADD', KEYS[1], ARGV[1], id)
  redis.call('ZADD', KEYS[k + 2], ARGV[1], id)
  redis.call('SADD', KEYS[3], tenant)
  redis.call('ZADD', KEYS[2], ARGV[1], id)
  local micros, day = tonumber(job[5]), job[6]
  redis.call('HSET', KEYS[k], 'reserved_micros', micros, 'reservation_micros', micros, 'spend_day', day)
  addSpend(KEYS[k + 3], day, 'reserved', micros)
  local open = claim ~= '' and parseClaim(redis.call('HGET', KEYS[4], claim) or '')
  if open and open.jobs > 1 then
    open.jobs = open.jobs - 1
    open.micros = math.max(0, open.micros - micros)
    redis.call('HSET', KEYS[4], claim, formatClaim(open))
  elseif open then
    redis.call('HDEL', KEYS[4], claim)
  end
  if inBatch then redis.call('RPUSH', KEYS[5], id) end
end

local recorded = {}
for i = 3, #ARGV do
  local job = cjson.decode(ARGV[i])
  local replayOf = job[7]
  local k = first + 5 * (i - 3)
  if redis.call('EXISTS', KEYS[k]) == 1 then
    -- A call sent again (a reconnect) finds its jobs recorded, and records nothing twice.
    recorded[#recorded + 1] = 1
  elseif replayOf ~= '' and (redis.call('EXISTS', KEYS[k + 4]) == 0 or redis.call('HEXISTS', KEYS[k + 4], 'replayed_by') == 1) then
    recorded[#recorded + 1] = 0
  else
    if replayOf ~= '' then redis.call('HSET', KEYS[k + 4], 'replayed_by', job[1]) end
    record(job, k)
    recorded[#recorded + 1] = 1
  end
end
return recorded
