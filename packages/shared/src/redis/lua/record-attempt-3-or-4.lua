-- Records a webhook delivery attempt with the event's status after it and, when the attempt
-- reached its host or failed to, what that means for the host's backoff — in one step
-- (packages/shared/src/webhooks/event-attempts.ts). A host is backed off once its failures in a
-- row reach the threshold, for a while that doubles with each further failure up to a maximum;
-- one answer that counts as success clears it (packages/worker/src/webhooks/host-backoff.ts).
--
-- KEYS[1]  the event hash
-- KEYS[2]  the event's attempts (a list, capped)
-- KEYS[3]  the pending webhook events
-- KEYS[4]  the receiving host's failures and backoff (a hash); left out for an attempt that
--          says nothing about the host (refused before connecting)
-- ARGV[1]  the attempt as a JSON object, without its number
-- ARGV[2]  the event's status after it
-- ARGV[3]  the next attempt (ISO 8601, or '')
-- ARGV[4]  how many attempts to keep
-- ARGV[5]  the next attempt (ms, or '')
-- ARGV[6]  the event's id
-- With KEYS[4]:
-- ARGV[7]  'succeeded' or 'failed'
-- ARGV[8]  now (ms)        ARGV[9]  failures in a row that back the host off
-- ARGV[10] base wait (ms)  ARGV[11] longest wait (ms)
-- Returns  {the attempt's number, until when the host is backed off (ms since the epoch; 0: it is not)}
local attempt = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'next_attempt_at', ARGV[3])
if ARGV[2] == 'pending' then
  redis.call('ZADD', KEYS[3], ARGV[5], ARGV[6])
else
  redis.call('ZREM', KEYS[3], ARGV[6])
end
-- The number goes in front of the attempt's own fields, as text: no decoding and encoding again.
redis.call('RPUSH', KEYS[2], '{"attempt":' .. attempt .. ',' .. string.sub(ARGV[1], 2))
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[4]), -1)
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end

local untilMs = 0
if KEYS[4] and ARGV[7] == 'succeeded' then
  redis.call('DEL', KEYS[4])
elseif KEYS[4] and ARGV[7] == 'failed' then
  local failures = redis.call('HINCRBY', KEYS[4], 'failures', 1)
  local threshold = tonumber(ARGV[9])
  if failures >= threshold then
    local wait = math.min(tonumber(ARGV[11]), tonumber(ARGV[10]) * 2 ^ math.min(failures - threshold, 30))
    untilMs = tonumber(ARGV[8]) + wait
    redis.call('HSET', KEYS[4], 'open_until', untilMs)
  end
  redis.call('PEXPIRE', KEYS[4], 86400000)
end
return {attempt, untilMs}
