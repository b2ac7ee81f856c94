-- Starts another round of delivery for a webhook event (packages/shared/src/webhooks/redeliver-event.ts).
--
-- KEYS[1]  the event hash
-- KEYS[2]  the pending webhook events
-- ARGV[1]  now (ISO 8601)
-- ARGV[2]  '1' to start a round even while the event is pending (its queue job is lost)
-- ARGV[3]  now (ms)
-- Returns  the new round's BullMQ job id; '' when the event is still pending (its round is under
--          way); nil when there is no such event
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return false end
if status == 'pending' and ARGV[2] ~= '1' then return '' end
local round = redis.call('HINCRBY', KEYS[1], 'rounds', 1)
local id = redis.call('HGET', KEYS[1], 'id')
local queueJob = id .. '-r' .. round
redis.call('HSET', KEYS[1], 'status', 'pending', 'run_start', redis.call('HGET', KEYS[1], 'attempts'),
  'queue_job', queueJob, 'next_attempt_at', ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[3], id)
return queueJob
