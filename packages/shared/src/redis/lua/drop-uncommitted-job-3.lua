-- Drops a job recorded for a batch that was never committed (packages/shared/src/jobs/recovery.ts):
-- its caller got an error, so it must not run. Its record goes, and with it its place among the
-- unfinished jobs and on its tenant's backlog count — together, so a crash or a command sent again
-- never takes the count off twice or leaves it on.
--
-- KEYS[1]  the job hash      KEYS[2] the unfinished jobs
-- KEYS[3]  unfinished jobs per tenant (a hash: tenant → count)
-- ARGV[1]  the job's id
-- Returns  1 when it was dropped now, 0 when it was gone already
local tenant = redis.call('HGET', KEYS[1], 'tenant')
redis.call('DEL', KEYS[1])
if redis.call('ZREM', KEYS[2], ARGV[1]) == 0 then return 0 end
if tenant and (tonumber(redis.call('HGET', KEYS[3], tenant)) or 0) > 0 then redis.call('HINCRBY', KEYS[3], tenant, -1) end
return 1
