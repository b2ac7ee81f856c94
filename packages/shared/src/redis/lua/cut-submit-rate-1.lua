-- Cuts the shared Segmind submit rate after a 429 (packages/worker/src/segmind/rate-budget.ts):
-- to 95 % of what the window that just closed allowed, holding every submit until its reset.
-- Once per reset: a second 429 for the same window changes nothing.
--
-- KEYS[1]  the budget (a hash: rate, blocked, wstart, accepted, cut_for, …)
-- ARGV[1]  now (ms)                        ARGV[2] when Segmind's window resets (ms)
-- ARGV[3]  submits accepted since the last call
-- ARGV[4]  rate to assume when none is known
-- Returns  the rate per second after the cut, as a string
local now = tonumber(ARGV[1])
if tonumber(ARGV[3]) > 0 then redis.call('HINCRBY', KEYS[1], 'accepted', ARGV[3]) end
local reset = tonumber(ARGV[2])
local s = redis.call('HMGET', KEYS[1], 'rate', 'blocked', 'wstart', 'accepted', 'cut_for')
local rate = tonumber(s[1]) or tonumber(ARGV[4])
if tonumber(s[5]) == reset then
  return tostring(rate)
end
local wstart = tonumber(s[3]) or 0
local accepted = tonumber(s[4]) or 0
local window = reset - (wstart > 0 and wstart or now)
if window < 1000 then window = 1000 end
local allowed = math.max(1, accepted)
rate = math.min(rate, 0.95 * allowed * 1000 / window)
redis.call('HSET', KEYS[1], 'rate', rate, 'tokens', 1, 'at', reset, 'blocked', reset, 'wstart', reset, 'accepted', 0, 'learned', 1, 'cut_for', reset)
redis.call('PEXPIRE', KEYS[1], 86400000)
return tostring(rate)
