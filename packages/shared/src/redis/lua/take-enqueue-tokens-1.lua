-- Takes tokens from a tenant's enqueue token bucket if it holds that many
-- (packages/api/src/services/enqueue-rate.ts). The clock is Redis's own, so API hosts whose
-- clocks differ still agree. A bucket untouched long enough to be full again has expired: a
-- missing one is full.
--
-- KEYS[1]  the tenant's bucket (a hash: tokens, at)
-- ARGV[1]  tokens added per second
-- ARGV[2]  the most tokens a bucket holds
-- ARGV[3]  tokens to take
-- Returns  {1, tokens left} when taken; {0, tokens there, ms until enough} when not (nothing changes)
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = burst
if state[1] then
  tokens = math.min(burst, tonumber(state[1]) + math.max(0, now - tonumber(state[2])) * rate / 1000)
end
if tokens < cost then
  return {0, math.floor(tokens), math.ceil((cost - tokens) * 1000 / rate)}
end
tokens = tokens - cost
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) * 1000 / rate) + 1000)
return {1, math.floor(tokens)}
