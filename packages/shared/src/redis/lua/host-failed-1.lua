-- Counts one more failure of a webhook receiving host and backs it off once the failures in a
-- row reach the threshold, for a while that doubles with each further failure up to a maximum
-- (packages/worker/src/webhooks/host-backoff.ts).
--
-- KEYS[1]  the host's failures and backoff (a hash)
-- ARGV[1]  now (ms)        ARGV[2] threshold
-- ARGV[3]  base wait (ms)  ARGV[4] longest wait (ms)
-- Returns  until when the host is backed off (ms since the epoch; 0: it is not)
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local threshold = tonumber(ARGV[2])
local untilMs = 0
if failures >= threshold then
  local wait = math.min(tonumber(ARGV[4]), tonumber(ARGV[3]) * 2 ^ math.min(failures - threshold, 30))
  untilMs = tonumber(ARGV[1]) + wait
  redis.call('HSET', KEYS[1], 'open_until', untilMs)
end
redis.call('PEXPIRE', KEYS[1], 86400000)
return untilMs
