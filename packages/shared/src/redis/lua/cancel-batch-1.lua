-- Marks a running batch cancelled (packages/shared/src/jobs/batches.ts); its jobs are cancelled
-- one by one after.
--
-- KEYS[1]  the batch hash
-- Returns  1 when it was running and is now cancelled, 0 when it had already finished (or is gone)
if redis.call('HGET', KEYS[1], 'status') == 'running' then
  redis.call('HSET', KEYS[1], 'status', 'cancelled')
  return 1
end
return 0
