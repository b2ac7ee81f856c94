-- Releases up to N jobs from the tenants' ready sets to the render queue's outbox, in fair-share
-- order (packages/shared/src/jobs/fair-share.ts): stride scheduling, where the tenant with the
-- lowest virtual pass goes next and each job it is given advances its pass by 1 / its weight.
-- While several tenants wait, each is served in proportion to its weight; one alone is served at
-- once (nothing idles). The clock (vtime) is the pass last served, where newcomers join (or at
-- the pass they left with, if that is later).
-- It releases only what tops the render queue's unsubmitted jobs (waiting, prioritized, held by a
-- worker, or released and not yet added) up to ARGV[2], counted in the same step, so workers
-- releasing at once never put more ahead between them.
-- The caller names the tenants it expects to serve (the lowest passes when it looked); when the
-- next tenant is one it did not name, the call stops early and the caller looks again.
--
-- KEYS[1]  the tenants being served (a sorted set: tenant → virtual pass)
-- KEYS[2]  the fair share's clock (a hash: vtime, seq)
-- KEYS[3]  the released jobs not yet confirmed on the render queue (id → release time)
-- KEYS[4]  the passes tenants left with (a hash: tenant → pass), where they rejoin
-- KEYS[5]  the render queue's wait list   KEYS[6] its active list   KEYS[7] its prioritized set (BullMQ's)
-- then one key per named tenant, in ARGV's order: its ready set
-- ARGV[1]  now (ms)        ARGV[2]  how many unsubmitted jobs the render queue should hold
-- ARGV[3…] tenant, weight pairs (weight > 0), one per named tenant
-- Returns  the released job ids, in release order
local named = {}
for i = 3, #ARGV, 2 do
  named[ARGV[i]] = { ready = KEYS[8 + (i - 3) / 2], weight = tonumber(ARGV[i + 1]) }
end
local released = {}
local held = redis.call('LLEN', KEYS[5]) + redis.call('LLEN', KEYS[6]) + redis.call('ZCARD', KEYS[7])
  + redis.call('ZCARD', KEYS[3])
local most = tonumber(ARGV[2]) - held
while #released < most do
  local head = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  if #head == 0 then break end
  local tenant, pass = head[1], tonumber(head[2])
  local t = named[tenant]
  if not t then break end
  local popped = redis.call('ZPOPMIN', t.ready)
  local nextPass = pass
  if #popped > 0 then
    local id = popped[1]
    redis.call('ZADD', KEYS[3], ARGV[1], id)
    released[#released + 1] = id
    redis.call('HSET', KEYS[2], 'vtime', string.format('%.17g', pass))
    nextPass = pass + 1 / t.weight
  end
  -- A tenant whose jobs are all gone (released, or cancelled while waiting) leaves with its pass,
  -- which it rejoins at unless the clock has passed it (enter-fair-queue-n.lua).
  if redis.call('EXISTS', t.ready) == 0 then
    redis.call('ZREM', KEYS[1], tenant)
    redis.call('HSET', KEYS[4], tenant, string.format('%.17g', nextPass))
  else
    redis.call('ZADD', KEYS[1], string.format('%.17g', nextPass), tenant)
  end
end
return released
