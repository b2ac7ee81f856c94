-- A 429 from Segmind (packages/worker/src/segmind/rate-budget.ts, whose header gives the rules
-- and why): learns the ceiling from what was accepted, cuts the rate under it, and holds every
-- submit until the refusing window has surely ended — the reset Segmind names, or earlier when
-- the learned window says it ends sooner (a named reset may be later than the window's end).
-- A 429 while a hold lasts (another worker's submit in flight) changes nothing.
--
-- KEYS[1]  the budget (a hash: rate, ceil, win, busy, blocked, wstart, accepted, cut_at, reset, times, raising, …)
-- ARGV[1]  now (ms)                              ARGV[2] the reset Segmind names (ms)
-- ARGV[3]  submits accepted since the last call  ARGV[4] known window (ms; 0: unknown)
-- ARGV[5]  how late a named reset may be (ms)
-- ARGV[6..10] the rate's tuning (prelude/submit-rate.lua)
-- ARGV[11] longest reserve horizon (ms)
-- Returns  {rate per second after the cut, as a string; hold until (ms)}
local now = tonumber(ARGV[1])
local tune = submitTuning(6)
if tonumber(ARGV[3]) > 0 then redis.call('HINCRBY', KEYS[1], 'accepted', ARGV[3]) end
local reset = math.max(now, tonumber(ARGV[2]))
local s = redis.call('HMGET', KEYS[1], 'rate', 'blocked', 'wstart', 'accepted', 'win', 'cut_at', 'ceil', 'busy', 'tokens', 'at',
  'reset', 'times', 'raising')
local rate = tonumber(s[1]) or tune.probe
local blocked = tonumber(s[2]) or 0
if blocked > now then return {tostring(rate), blocked} end
local win = tonumber(s[5]) or 1000
local knownWin = tonumber(ARGV[4])
if knownWin > 0 then
  win = knownWin
else
  -- A reset named further ahead than a late one can be: the window is at least that long (whole seconds).
  local ahead = reset - now - tonumber(ARGV[5])
  -- Consecutive windows' resets are a window apart (give or take their lateness): with clock-cut
  -- windows a first 429 may come anywhere in its window, and this finds the whole length. Resets
  -- closer than twice the window this reset proves are a window apart; so are those closer than three
  -- of the window learned before, once it is ten seconds or more (it may be half the real one). A
  -- one-second window's resets two windows apart must not pass for adjacent ones.
  local learned = win
  if ahead > win then win = math.min(3600000, math.ceil(ahead / 1000) * 1000) end
  local previous = tonumber(s[11]) or 0
  local gap = reset - previous - tonumber(ARGV[5]) / 2
  local adjacent = math.max((learned >= 10000 and 3 or 2) * learned, 2 * win)
  if previous > 0 and reset - previous < adjacent and gap > win then
    win = math.min(3600000, math.ceil(gap / 1000) * 1000)
  end
end
-- When the refusing window ends at the latest: it holds about `count` submits, all sent since it began,
-- so it began no later than the count-th most recent accepted one (or, without their times, than
-- count - 1 intervals of the pace refused ago) and ends within a window of that; and no later than the
-- reset Segmind names. (A long window whose named reset is within a late reset's margin of that bound
-- waits for the reset: the bound may be the early one, and that costs little of the window.)
local recent = {}
for t in string.gmatch(s[12] or '', '%d+') do
  if tonumber(t) <= now then recent[#recent + 1] = tonumber(t) end
end
-- (Answers come back out of order.)
table.sort(recent)
local function holdEnd(count, refused, after)
  local ends = now + math.min(win, math.max(win - (count - 1) * 1000 / refused, after))
  local k = math.floor(count)
  if k >= 1 and #recent >= k then ends = math.min(ends, math.max(now + after, recent[#recent - k + 1] + win)) end
  local hold = math.min(reset, math.ceil(ends))
  if reset - hold < math.min(tonumber(ARGV[5]), win / 10) then hold = reset end
  return hold
end
local wstart = tonumber(s[3]) or now
local accepted = tonumber(s[4]) or 0
local cutAt = tonumber(s[6]) or 0
local hold
if accepted == 0 or (accepted < 3 and accepted < 0.5 * rate * win / 1000) then
  -- Next to nothing accepted since counting began (far fewer than the pace sends in a window): the
  -- window is still full — of ours from before a hold that ended early, or of another client's — which
  -- says nothing about the rate. Wait for it to end: it began before the last 429 or before now.
  local ends = now + win
  if cutAt > 0 and now - cutAt < win then ends = cutAt + win end
  hold = math.min(reset, ends)
  if hold <= now then hold = reset end
  -- Counting goes on from where it began: a window that ends after this hold then adds to the span.
  redis.call('HSET', KEYS[1], 'blocked', hold, 'tokens', 1, 'at', hold, 'win', win, 'last', hold, 'until', hold,
    'reset', reset)
  redis.call('PEXPIRE', KEYS[1], 86400000)
  return {tostring(rate), hold}
end
-- The new rate: the pace of a window ago (the window before this one was not refused, and it was
-- paced at about that), at most 97 % of the pace refused now; within two windows of a start, an idle
-- spell or a hold, at most 97 % of what those windows accepted (a burst at a guessed or stale rate
-- outruns any pace). The ceiling is what that rate stays 3 % under.
local span = now - wstart
local before = tonumber(s[7]) or 0
-- (Submits go out when their slot comes, drawn as far ahead as slots are reserved now: the pace they
-- went at is older by that much.)
local tokens = (tonumber(s[9]) or 1) + (now - (tonumber(s[10]) or now)) * rate / 1000
local lag = math.min(tonumber(ARGV[11]), math.max(0, -tokens) * 1000 / rate)
local paced = submitRate(before, (tonumber(s[8]) or 0) - win - lag, win, tune)
local next = math.min(paced, tune.headroom * rate)
local farPast = false
-- What the trailing window since the last 429 took: a paced window that was refused took that many at
-- most (more only when part of the window before it is counted: the pace was then lower).
local trailing
local from = math.max(now - win, cutAt)
if #recent > 0 and recent[1] <= from then
  local n = 0
  for i = #recent, 1, -1 do
    if recent[i] <= from then break end
    n = n + 1
  end
  trailing = n * 1000 / win
  farPast = before > 0 and trailing >= 1.6 * before
  next = math.min(next, tune.headroom * math.max(trailing, 1000 / win))
  -- While a raised limit is being sought (the last cut found the ceiling well above the one before, or
  -- the trailing window took 1.6 times the ceiling before this 429: under an unchanged limit it takes
  -- the refused window's count and a little of the window before, about 1.1–1.25 times), the refused
  -- window's count says how far up it is; the pace a window ago, low on an accelerating probe, would
  -- climb there a few percent a probe.
  -- (On a raise's first 429 also at most 1.5 × the old ceiling: a steep probe's trailing window spans
  -- two clock windows and may hold more than the limit.)
  if s[13] == '1' or farPast then
    local cap = s[13] == '1' and math.huge or 1.5 * before
    next = math.max(next, tune.headroom * math.min(trailing, rate, 1.5 * paced, cap))
  end
end
if span < 2 * win then
  -- What those windows took a second; or one more, when the trailing window took that (a hold that
  -- ended just after the refusing window began leaves its first submit out of the count).
  local took = accepted * 1000 / math.max(span, win)
  if trailing then took = math.max(took, math.min(trailing, (accepted + 1) * 1000 / win)) end
  next = math.min(next, tune.headroom * took)
end
local ceil = next / tune.headroom
-- A ceiling well above the last: the limit was raised. Probe on at once rather than plateau first.
local busy = 0
local raising = farPast or (before > 0 and ceil > 1.05 * before)
if raising then busy = tune.plateau * win end
local refused = rate
rate = next
hold = holdEnd(ceil * win / 1000, refused, 1000 / rate)
redis.call('HSET', KEYS[1], 'rate', rate, 'ceil', ceil, 'win', win, 'busy', busy, 'last', hold, 'until', hold,
  'tokens', 1, 'at', hold, 'blocked', hold, 'wstart', hold, 'accepted', 0, 'cut_at', now, 'reset', reset,
  'raising', raising and 1 or 0)
redis.call('PEXPIRE', KEYS[1], 86400000)
return {tostring(rate), hold}
