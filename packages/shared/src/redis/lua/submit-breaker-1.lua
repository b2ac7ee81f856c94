-- The Segmind outage breaker every worker shares (packages/worker/src/segmind/submit-breaker.ts):
-- while it is open no submit goes out, except one probe at a time once the hold has passed.
--
-- KEYS[1]  the breaker (a hash: since, until, hold_ms, message, probe_until; absent when closed)
-- ARGV[1]  what happened: 'enter' (may a submit go now?), 'fail' (a submit found Segmind out),
--          'ok' (a submit was accepted)
-- ARGV[2]  now (ms)
-- 'enter': ARGV[3] how long a probe may take before another worker probes instead (ms)
--          Returns {0, 0} closed: go; {1, ms} open: wait ms; {2, until} go, as the probe
-- 'fail':  ARGV[3] the first hold (ms), ARGV[4] the longest hold (ms), ARGV[5] why,
--          ARGV[6] '1' when the failed submit was the probe
--          Returns {1, until} (the breaker is open until then)
-- 'ok':    ARGV[3] when the accepted submit was sent (ms)
--          Returns {1, 0} when this closed the breaker, else {0, 0}
-- A breaker nobody probes (no submit waits) is forgotten 10 minutes after its hold: no outage is
-- reported for a Segmind that nothing has tried for that long.
local FORGET_AFTER_MS = 600000
local key = KEYS[1]
local now = tonumber(ARGV[2])
local since = tonumber(redis.call('HGET', key, 'since') or '-1')
local open = since >= 0

if ARGV[1] == 'enter' then
  if not open then return {0, 0} end
  local hold_until = tonumber(redis.call('HGET', key, 'until'))
  if now < hold_until then return {1, hold_until - now} end
  local probe_until = tonumber(redis.call('HGET', key, 'probe_until') or '0')
  -- Asked again soon, not when the probe's lease ends: a probe that gets through closes it at once.
  if now < probe_until then return {1, math.min(probe_until - now, 2000)} end
  redis.call('HSET', key, 'probe_until', now + tonumber(ARGV[3]))
  return {2, now + tonumber(ARGV[3])}
end

if ARGV[1] == 'fail' then
  local first, longest = tonumber(ARGV[3]), tonumber(ARGV[4])
  if not open then
    redis.call('HSET', key, 'since', now, 'until', now + first, 'hold_ms', first, 'message', ARGV[5], 'probe_until', 0)
    redis.call('PEXPIRE', key, first + FORGET_AFTER_MS)
    return {1, now + first}
  end
  if ARGV[6] == '1' then
    -- The probe found Segmind still out: hold twice as long (up to the longest), then probe again.
    local hold = math.min(longest, 2 * tonumber(redis.call('HGET', key, 'hold_ms')))
    redis.call('HSET', key, 'until', now + hold, 'hold_ms', hold, 'message', ARGV[5], 'probe_until', 0)
    redis.call('PEXPIRE', key, hold + FORGET_AFTER_MS)
    return {1, now + hold}
  end
  return {1, tonumber(redis.call('HGET', key, 'until'))}
end

-- 'ok': an accepted submit sent after the breaker opened says Segmind answers again. One sent
-- before says nothing of the outage, and leaves it open.
if open and tonumber(ARGV[3]) >= since then
  redis.call('DEL', key)
  return {1, 0}
end
return {0, 0}
