-- Records a webhook delivery attempt with the event's status after it, in one step
-- (packages/shared/src/webhooks/event-store.ts).
--
-- KEYS[1]  the event hash
-- KEYS[2]  the event's attempts (a list, capped)
-- KEYS[3]  the pending webhook events
-- ARGV[1]  the attempt as JSON, without its number
-- ARGV[2]  the event's status after it
-- ARGV[3]  the next attempt (ISO 8601, or '')
-- ARGV[4]  how many attempts to keep
-- ARGV[5]  the next attempt (ms, or '')
-- ARGV[6]  the event's id
-- Returns  the attempt's number
local attempt = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'next_attempt_at', ARGV[3])
if ARGV[2] == 'pending' then
  redis.call('ZADD', KEYS[3], ARGV[5], ARGV[6])
else
  redis.call('ZREM', KEYS[3], ARGV[6])
end
local entry = cjson.decode(ARGV[1])
entry['attempt'] = attempt
redis.call('RPUSH', KEYS[2], cjson.encode(entry))
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[4]), -1)
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
return attempt
