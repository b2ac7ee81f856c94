-- Draws one Segmind submit from the rate budget every worker using one API key shares
-- (packages/worker/src/segmind/rate-budget.ts, whose header gives the rules and why): a token
-- bucket whose rate is submitRate (prelude/submit-rate.lua) of the learned ceiling and of the
-- busy time since the last 429. Only time during which the pace held submits back counts as
-- busy; an idle spell teaches nothing, and a long one relaxes the state toward probing.
--
-- KEYS[1]  the budget (a hash: rate, ceil, win, busy, last, until, tokens, at, blocked, wstart, accepted, cut_at)
-- ARGV[1]  now (ms)                              ARGV[2] known limit: count per window (0: unknown)
-- ARGV[3]  known limit: window (ms; 0: unknown)  ARGV[4] shortest reserve horizon (ms)
-- ARGV[5]  longest reserve horizon (ms)          ARGV[6] submits accepted since the last call
-- ARGV[7]  pacing intervals reserved ahead       ARGV[8] idle time after which the state relaxes (ms)
-- ARGV[9..13] the rate's tuning (prelude/submit-rate.lua)
-- Returns  {1, wait ms}: granted, its slot after the wait; {0, wait ms}: not now, ask again then
local now = tonumber(ARGV[1])
local tune = submitTuning(9)
if tonumber(ARGV[6]) > 0 then redis.call('HINCRBY', KEYS[1], 'accepted', ARGV[6]) end
local s = redis.call('HMGET', KEYS[1], 'rate', 'tokens', 'at', 'blocked', 'ceil', 'win', 'busy', 'last', 'until')
local knownCount, knownWin = tonumber(ARGV[2]), tonumber(ARGV[3])
local rate = tonumber(s[1])
local ceil = tonumber(s[5]) or 0
local win = tonumber(s[6]) or 1000
local busy = tonumber(s[7]) or 0
local last = tonumber(s[8]) or now
if not rate then
  -- A new budget: the operator's limit when given, else probing from a guess.
  if knownCount > 0 then ceil = knownCount * 1000 / knownWin end
  rate = submitRate(ceil, 0, knownWin > 0 and knownWin or win, tune)
  redis.call('HSET', KEYS[1], 'wstart', now, 'accepted', 0)
end
if knownWin > 0 then win = knownWin end
local tokens = tonumber(s[2]) or 1
local at = tonumber(s[3]) or now
local blocked = tonumber(s[4]) or 0
if blocked > now then return {0, blocked - now} end
if blocked > at then at = blocked end
-- A tenth of a second's worth may go at once (at least one): high rates need no waits, low ones stay paced.
if now > at then tokens = math.min(math.max(1, rate / 10), tokens + (now - at) * rate / 1000); at = now end
local gap = math.max(0, now - last)
if gap > math.max(2000, 3000 / rate, win) then
  -- A new busy spell: what it teaches is counted from here (the idle time before is no evidence; a
  -- window at least long, so that the count starts with a window of ours).
  redis.call('HSET', KEYS[1], 'wstart', now, 'accepted', 0)
  -- A state idle for long may be stale: probe above its ceiling at once, and forget a learned window.
  if gap > tonumber(ARGV[8]) then
    busy = math.max(busy, tune.plateau * win)
    if knownWin == 0 then win = 1000 end
  end
else
  -- Busy time, which grows the rate: the time since the last draw during which slots were taken
  -- ahead (submits waiting for the pace), until the bucket was back to one token.
  busy = busy + math.max(0, math.min(now, tonumber(s[9]) or 0) - last)
end
rate = submitRate(ceil, busy, win, tune)
local wait = math.max(0, math.ceil(at + math.max(0, 1 - tokens) * 1000 / rate - now))
local horizon = math.min(tonumber(ARGV[5]), math.max(tonumber(ARGV[4]), tonumber(ARGV[7]) * 1000 / rate))
local granted = 1
if wait > horizon then
  -- Not now: back when its slot is half a horizon away, while slots reserved meanwhile still go out (a
  -- job put back takes a while to be taken again; coming back when the bucket is empty leaves a gap).
  granted = 0
  wait = math.ceil(wait - horizon / 2)
else
  tokens = tokens - 1
end
-- Work waits for the pace until the bucket is back to one token (a job not granted comes back then).
local busyUntil = at + math.max(0, 1 - tokens) * 1000 / rate
redis.call('HSET', KEYS[1], 'rate', rate, 'ceil', ceil, 'win', win, 'busy', busy, 'last', math.max(now, last),
  'until', busyUntil, 'tokens', tokens, 'at', at)
redis.call('PEXPIRE', KEYS[1], 86400000)
return {granted, wait}
