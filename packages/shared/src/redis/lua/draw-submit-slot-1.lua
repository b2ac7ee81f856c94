-- Draws one Segmind submit from the rate budget every worker using one API key shares
-- (packages/worker/src/segmind/rate-budget.ts): a token bucket at a learned rate, a slot
-- reserved ahead when it is near, growing the rate while submits succeed.
--
-- KEYS[1]  the budget (a hash: rate, tokens, at, blocked, wstart, learned, accepted)
-- ARGV[1]  now (ms)                          ARGV[2] initial rate per second (0: unknown)
-- ARGV[3]  shortest reserve horizon (ms)     ARGV[4] longest reserve horizon (ms)
-- ARGV[5]  highest rate per second           ARGV[6] submits accepted since the last call
-- ARGV[7]  pacing intervals reserved ahead   ARGV[8] rate to probe from when unknown
-- Returns  {1, wait ms}: granted, its slot after the wait; {0, wait ms}: not now, ask again then
local now = tonumber(ARGV[1])
if tonumber(ARGV[6]) > 0 then redis.call('HINCRBY', KEYS[1], 'accepted', ARGV[6]) end
local s = redis.call('HMGET', KEYS[1], 'rate', 'tokens', 'at', 'blocked', 'wstart', 'learned')
local rate = tonumber(s[1])
local learned = tonumber(s[6]) or 0
if not rate then
  local initial = tonumber(ARGV[2])
  if initial > 0 then rate = initial; learned = 1 else rate = tonumber(ARGV[8]) end
end
local tokens = tonumber(s[2]) or 1
local at = tonumber(s[3]) or now
local blocked = tonumber(s[4]) or 0
local wstart = tonumber(s[5]) or 0
if blocked > now then return {0, blocked - now} end
if blocked > at then at = blocked end
-- A tenth of a second's worth may go at once (at least one): high rates need no waits, low ones stay paced.
if now > at then tokens = math.min(math.max(1, rate / 10), tokens + (now - at) * rate / 1000); at = now end
local wait = 0
if tokens < 1 then
  wait = math.ceil((1 - tokens) * 1000 / rate)
  local horizon = math.min(tonumber(ARGV[4]), math.max(tonumber(ARGV[3]), tonumber(ARGV[7]) * 1000 / rate))
  if wait > horizon then
    redis.call('HSET', KEYS[1], 'rate', rate, 'tokens', tokens, 'at', at, 'learned', learned)
    return {0, wait}
  end
end
tokens = tokens - 1
if wstart == 0 then wstart = now end
if learned == 1 then rate = rate * 1.001 else rate = rate * 1.02 end
rate = math.min(rate, tonumber(ARGV[5]))
redis.call('HSET', KEYS[1], 'rate', rate, 'tokens', tokens, 'at', at, 'wstart', wstart, 'learned', learned)
redis.call('PEXPIRE', KEYS[1], 86400000)
return {1, wait}
