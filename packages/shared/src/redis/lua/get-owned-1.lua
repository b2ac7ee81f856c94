-- Reads a job or batch hash only when it belongs to the given tenant, so that another tenant's
-- record answers as no record at all, in the same time (packages/shared/src/jobs/job-reads.ts).
--
-- KEYS[1]  a job or batch hash
-- ARGV[1]  the tenant asking
-- Returns  the hash as a flat field, value list when it is that tenant's; nil otherwise
if redis.call('HGET', KEYS[1], 'tenant') ~= ARGV[1] then return false end
return redis.call('HGETALL', KEYS[1])
