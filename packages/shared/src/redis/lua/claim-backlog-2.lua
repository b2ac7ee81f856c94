-- Admits new jobs under their tenant's backlog quota (packages/shared/src/jobs/backlog.ts): the
-- tenant's unfinished jobs (kept by create-jobs-n.lua and transition-job-7-or-10.lua) and its
-- claims not yet recorded must leave room for `n` more. A claim is what a request admitted and has
-- not recorded yet; create-jobs-n.lua turns it into counted jobs as it records them, and the
-- request deletes what is left when it is done. A claim whose request died lapses at its deadline.
--
-- KEYS[1]  the tenant's unfinished jobs (a sorted set of ids)
-- KEYS[2]  open claims (a hash: claim id → "tenant|jobs not yet recorded|deadline ms")
-- ARGV[1]  the tenant        ARGV[2] jobs to admit     ARGV[3] the tenant's quota (0: none)
-- ARGV[4]  the claim's id    ARGV[5] how long the claim lasts (ms)
-- (Deadlines are on Redis's clock, so API hosts whose clocks differ still agree on them.)
-- Returns  {1, unfinished and claimed, with these} when admitted | {0, unfinished and claimed} when not
local tenant, n, quota = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local claimed = 0
local claims = redis.call('HGETALL', KEYS[2])
for i = 1, #claims, 2 do
  local owner, left, deadline = string.match(claims[i + 1], '^(.*)|(%d+)|(%d+)$')
  if not owner or tonumber(deadline) <= now then
    redis.call('HDEL', KEYS[2], claims[i])
  elseif owner == tenant then
    claimed = claimed + tonumber(left)
  end
end
local held = redis.call('ZCARD', KEYS[1]) + claimed
if quota > 0 and held + n > quota then return {0, held} end
redis.call('HSET', KEYS[2], ARGV[4], tenant .. '|' .. n .. '|' .. (now + tonumber(ARGV[5])))
return {1, held + n}
