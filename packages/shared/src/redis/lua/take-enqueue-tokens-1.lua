-- Takes tokens from a tenant's enqueue token bucket for each of several requests, in order,
-- each only if the bucket holds all it asks for (packages/api/src/services/enqueue-rate.ts
-- charges the requests of one tick together). The clock is Redis's own, so API hosts whose
-- clocks differ still agree. A bucket untouched long enough to be full again has expired: a
-- missing one is full.
--
-- KEYS[1]  the tenant's bucket (a hash: tokens, at)
-- ARGV[1]  tokens added per second
-- ARGV[2]  the most tokens a bucket holds
-- ARGV[3…] tokens each request takes
-- Returns  per request, three numbers: 1, tokens left, 0 when taken; 0, tokens there, ms until
--          enough when not (a refused request takes nothing)
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = burst
if state[1] then
  tokens = math.min(burst, tonumber(state[1]) + math.max(0, now - tonumber(state[2])) * rate / 1000)
end
local answers = {}
local taken = false
for i = 3, #ARGV do
  local cost = tonumber(ARGV[i])
  if tokens < cost then
    table.insert(answers, 0)
    table.insert(answers, math.floor(tokens))
    table.insert(answers, math.ceil((cost - tokens) * 1000 / rate))
  else
    tokens = tokens - cost
    taken = true
    table.insert(answers, 1)
    table.insert(answers, math.floor(tokens))
    table.insert(answers, 0)
  end
end
if taken then
  redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
  redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) * 1000 / rate) + 1000)
end
return answers
