-- Puts recorded jobs in their tenants' fair-share queues (packages/shared/src/jobs/fair-share.ts)
-- instead of straight on the render queue: each job leaves the unenqueued jobs and joins its
-- tenant's ready set, scored by priority and then by order of entry. A job no longer among the
-- unenqueued was entered already (a call sent again, or recovery racing its creator) and is left
-- where it is; one no longer unfinished (cancelled meanwhile) only leaves the unenqueued.
-- A tenant that had nothing waiting joins the tenants being served at the later of the clock's
-- pass and the pass it left with (start-time fair queueing): an idle tenant banks no credit, and a
-- tenant that keeps one job waiting at a time takes its turn like any other, not every turn.
--
-- KEYS[1]  the unenqueued jobs (recorded, not yet on a queue)
-- KEYS[2]  the unfinished jobs
-- KEYS[3]  the tenants being served (a sorted set: tenant → virtual pass)
-- KEYS[4]  the fair share's clock (a hash: vtime, seq)
-- KEYS[5]  the passes tenants left with (a hash: tenant → pass)
-- then one key per job, in ARGV's order: its tenant's ready set
-- ARGV[1…] one job each: a JSON array [id, tenant, priority] (priority 1–1000, 1 first)
-- Returns  how many jobs it entered
local entered = 0
for i = 1, #ARGV do
  local job = cjson.decode(ARGV[i])
  local id, tenant, priority = job[1], job[2], tonumber(job[3])
  if redis.call('ZREM', KEYS[1], id) == 1 and redis.call('ZSCORE', KEYS[2], id) then
    local seq = redis.call('HINCRBY', KEYS[4], 'seq', 1)
    -- 2^40 entries a priority apart; priorities up to 1000 keep the score exact in a double.
    redis.call('ZADD', KEYS[5 + i], priority * 1099511627776 + seq, id)
    if not redis.call('ZSCORE', KEYS[3], tenant) then
      local pass = tonumber(redis.call('HGET', KEYS[4], 'vtime')) or 0
      local left = tonumber(redis.call('HGET', KEYS[5], tenant))
      if left and left > pass then pass = left end
      redis.call('HDEL', KEYS[5], tenant)
      redis.call('ZADD', KEYS[3], string.format('%.17g', pass), tenant)
    end
    entered = entered + 1
  end
end
return entered
