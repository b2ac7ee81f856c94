-- Releases up to N jobs from the tenants' ready sets to the render queue's outbox, in fair-share
-- order (packages/shared/src/jobs/fair-share.ts): stride scheduling, where the tenant with the
-- lowest virtual pass goes next and each job it is given advances its pass by 1 / its weight.
-- While several tenants wait, each is served in proportion to its weight; one alone is served at
-- once (nothing idles). The clock (vtime) is the pass last served, where newcomers join.
-- The caller names the tenants it expects to serve (the lowest passes when it looked); when the
-- next tenant is one it did not name, the call stops early and the caller looks again.
--
-- KEYS[1]  the tenants being served (a sorted set: tenant → virtual pass)
-- KEYS[2]  the fair share's clock (a hash: vtime, seq)
-- KEYS[3]  the released jobs not yet confirmed on the render queue (id → release time)
-- then one key per named tenant, in ARGV's order: its ready set
-- ARGV[1]  now (ms)        ARGV[2]  the most jobs to release
-- ARGV[3…] tenant, weight pairs (weight > 0), one per named tenant
-- Returns  the released job ids, in release order
local named = {}
for i = 3, #ARGV, 2 do
  named[ARGV[i]] = { ready = KEYS[4 + (i - 3) / 2], weight = tonumber(ARGV[i + 1]) }
end
local released = {}
local most = tonumber(ARGV[2])
while #released < most do
  local head = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  if #head == 0 then break end
  local tenant, pass = head[1], tonumber(head[2])
  local t = named[tenant]
  if not t then break end
  local popped = redis.call('ZPOPMIN', t.ready)
  if #popped > 0 then
    local id = popped[1]
    redis.call('ZADD', KEYS[3], ARGV[1], id)
    released[#released + 1] = id
    redis.call('HSET', KEYS[2], 'vtime', string.format('%.17g', pass))
  end
  -- A tenant whose jobs are all gone (released, or cancelled while waiting) leaves, banking nothing.
  if #popped == 0 or redis.call('EXISTS', t.ready) == 0 then
    redis.call('ZREM', KEYS[1], tenant)
  else
    redis.call('ZADD', KEYS[1], string.format('%.17g', pass + 1 / t.weight), tenant)
  end
end
return released
