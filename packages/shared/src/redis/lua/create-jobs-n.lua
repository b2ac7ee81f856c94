-- Records new jobs (packages/shared/src/jobs/create-jobs.ts): each job's hash, its entry in its
-- tenant's index, among the jobs not yet confirmed in BullMQ and among the unfinished jobs, and
-- for a batch's job its place in the batch's job list — all of a call's jobs together.
--
-- KEYS[1]  the unenqueued jobs (recorded, not yet confirmed in BullMQ)
-- KEYS[2]  the unfinished jobs
-- KEYS[3]  the batch's job list — only when ARGV[2] is '1'
-- then two keys per job, in ARGV's order: its hash, its tenant's job index
-- ARGV[1]  now (ms)
-- ARGV[2]  '1' when the jobs belong to a batch (KEYS[3] is its job list), else '0'
-- ARGV[3…] one job each: a JSON array of strings [id, tenant index entry, field, value, …]
--          (strings only, so cjson changes nothing)
-- Returns  how many jobs it recorded
local inBatch = ARGV[2] == '1'
local first = inBatch and 4 or 3
for i = 3, #ARGV do
  local job = cjson.decode(ARGV[i])
  local id = job[1]
  local k = first + 2 * (i - 3)
  redis.call('HSET', KEYS[k], unpack(job, 3))
  redis.call('ZADD', KEYS[k + 1], 0, job[2])
  redis.call('ZADD', KEYS[1], ARGV[1], id)
  redis.call('ZADD', KEYS[2], ARGV[1], id)
  if inBatch then redis.call('RPUSH', KEYS[3], id) end
end
return #ARGV - 2
