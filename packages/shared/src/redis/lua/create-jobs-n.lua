-- Records new jobs (packages/shared/src/jobs/create-jobs.ts): each job's hash, its entry in its
-- tenant's index, among the jobs not yet confirmed in BullMQ and among the unfinished jobs, and
-- for a batch's job its place in the batch's job list — all of a call's jobs together. Each new
-- job joins its tenant's unfinished jobs, and is taken off the claim that admitted it
-- (claim-backlog-2.lua), so that a job is held against the quota once: claimed, then counted.
--
-- KEYS[1]  the unenqueued jobs (recorded, not yet confirmed in BullMQ)
-- KEYS[2]  the unfinished jobs
-- KEYS[3]  every tenant that has had a backlog (a set of names)
-- KEYS[4]  open backlog claims (a hash: claim id → "tenant|jobs not yet recorded|deadline ms")
-- KEYS[5]  the batch's job list — only when ARGV[2] is '1'
-- then three keys per job, in ARGV's order: its hash, its tenant's job index, its tenant's unfinished jobs
-- ARGV[1]  now (ms)
-- ARGV[2]  '1' when the jobs belong to a batch (KEYS[5] is its job list), else '0'
-- ARGV[3…] one job each: a JSON array of strings [id, tenant, claim id ('' for none), tenant index
--          entry, field, value, …] (strings only, so cjson changes nothing)
-- Returns  how many jobs it recorded
local inBatch = ARGV[2] == '1'
local first = inBatch and 6 or 5
for i = 3, #ARGV do
  local job = cjson.decode(ARGV[i])
  local id, tenant, claim = job[1], job[2], job[3]
  local k = first + 3 * (i - 3)
  redis.call('HSET', KEYS[k], unpack(job, 5))
  redis.call('ZADD', KEYS[k + 1], 0, job[4])
  redis.call('ZADD', KEYS[1], ARGV[1], id)
  -- A call sent again (a reconnect) records nothing twice.
  redis.call('ZADD', KEYS[k + 2], ARGV[1], id)
  redis.call('SADD', KEYS[3], tenant)
  if redis.call('ZADD', KEYS[2], ARGV[1], id) == 1 then
    local open = claim ~= '' and redis.call('HGET', KEYS[4], claim)
    if open then
      local owner, left, deadline = string.match(open, '^(.*)|(%d+)|(%d+)$')
      if owner and tonumber(left) > 1 then
        redis.call('HSET', KEYS[4], claim, owner .. '|' .. (tonumber(left) - 1) .. '|' .. deadline)
      else
        redis.call('HDEL', KEYS[4], claim)
      end
    end
  end
  if inBatch then redis.call('RPUSH', KEYS[5], id) end
end
return #ARGV - 2
