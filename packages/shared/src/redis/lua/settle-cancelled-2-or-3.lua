-- Records what Segmind charged for the request a cancelled job was following, on the job and
-- (with HINCRBYFLOAT) its batch, and stops following it (packages/shared/src/jobs/cancelled-requests.ts).
-- The job stays cancelled; no webhook event is recorded. The request is a long value, read and
-- written with getLong and setLong (prelude/long-values.lua).
--
-- KEYS[1]  the job hash
-- KEYS[2]  the unfinished jobs
-- KEYS[3]  its batch's hash — only for a job in a batch
-- ARGV[1]  the request's id
-- ARGV[2]  what Segmind charged ('' when unknown)
-- Returns  1 when settled now, 0 when the job follows no such request (settled already, or gone)
local current = getLong(KEYS[1], 'cancelled_request')
if not current or current == '' or cjson.decode(current).request_id ~= ARGV[1] then return 0 end
setLong(KEYS[1], 'cancelled_request', '')
redis.call('ZREM', KEYS[2], redis.call('HGET', KEYS[1], 'id'))
if ARGV[2] ~= '' and (redis.call('HGET', KEYS[1], 'cost') or '') == '' then
  redis.call('HSET', KEYS[1], 'cost', ARGV[2])
  if KEYS[3] and redis.call('EXISTS', KEYS[3]) == 1 then
    redis.call('HINCRBYFLOAT', KEYS[3], 'cost', ARGV[2])
  end
end
return 1
