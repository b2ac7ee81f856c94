-- Starts following, for its cost, the request a cancelled job had at Segmind, or records one
-- more poll of it (packages/shared/src/jobs/cancelled-requests.ts). The transition script starts
-- following when a job is cancelled while polling; this starts it for a job cancelled during its
-- submit (the submit's answer came after the cancel). A job following a request is kept among the
-- unfinished jobs (scored by its last poll), so the reconciler queues its follow-up again should
-- that be lost; settle-cancelled-3-or-4.lua ends it. The request is a long value, read and written
-- with getLong and setLong (prelude/long-values.lua).
--
-- KEYS[1]  the job hash
-- KEYS[2]  the unfinished jobs
-- ARGV[1]  the request as JSON (see CancelledRequest)
-- ARGV[2]  'start': the job is cancelled and never had a request at Segmind recorded (it also gets
--          the request's id as segmind_request_id); 'poll': it follows this same request already
-- ARGV[3]  now (ms)
-- Returns  1 when written, 0 otherwise
if redis.call('HGET', KEYS[1], 'stage') ~= 'cancelled' then return 0 end
local given = cjson.decode(ARGV[1])
local id = redis.call('HGET', KEYS[1], 'id')
if ARGV[2] == 'start' then
  if (redis.call('HGET', KEYS[1], 'segmind_request_id') or '') ~= '' then return 0 end
  setLong(KEYS[1], 'cancelled_request', ARGV[1])
  redis.call('HSET', KEYS[1], 'segmind_request_id', given.request_id)
  redis.call('ZADD', KEYS[2], ARGV[3], id)
  return 1
end
local current = getLong(KEYS[1], 'cancelled_request')
if not current or current == '' or cjson.decode(current).request_id ~= given.request_id then return 0 end
setLong(KEYS[1], 'cancelled_request', ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[3], id)
return 1
