/**
 * The Lua scripts by which a cancelled job follows the request it had at Segmind
 * until Segmind finishes it, so that what Segmind charged for it is known: the job
 * stays `cancelled` throughout, and settling records its cost (on the job and, with
 * HINCRBYFLOAT, its batch) without recording any webhook event.
 *
 * The transition script starts following when a job is cancelled while polling;
 * FOLLOW_CANCELLED_LUA starts it for a job cancelled during its submit (the submit's
 * answer came after the cancel) and records each poll; SETTLE_CANCELLED_LUA ends it.
 */

/**
 * A job following a request is kept among the unfinished jobs (scored by its last poll), so
 * the reconciler queues its follow-up again should that be lost; settling drops it.
 *
 * KEYS[1] the job hash     KEYS[2] the unfinished jobs
 * ARGV[1] the request as JSON (see CancelledRequest)
 * ARGV[2] 'start': the job is cancelled and never had a request at Segmind recorded (it also gets
 *         the request's id as segmind_request_id); 'poll': it follows this same request already
 * ARGV[3] now (ms)
 * Returns 1 when written, 0 otherwise.
 */
export const FOLLOW_CANCELLED_LUA = `
if redis.call('HGET', KEYS[1], 'stage') ~= 'cancelled' then return 0 end
local given = cjson.decode(ARGV[1])
local id = redis.call('HGET', KEYS[1], 'id')
if ARGV[2] == 'start' then
  if (redis.call('HGET', KEYS[1], 'segmind_request_id') or '') ~= '' then return 0 end
  redis.call('HSET', KEYS[1], 'cancelled_request', ARGV[1], 'segmind_request_id', given.request_id)
  redis.call('ZADD', KEYS[2], ARGV[3], id)
  return 1
end
local current = redis.call('HGET', KEYS[1], 'cancelled_request')
if not current or current == '' or cjson.decode(current).request_id ~= given.request_id then return 0 end
redis.call('HSET', KEYS[1], 'cancelled_request', ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[3], id)
return 1
`;

/**
 * KEYS[1] the job hash     KEYS[2] its batch's hash ('' for none)     KEYS[3] the unfinished jobs
 * ARGV[1] the request's id ARGV[2] what Segmind charged ('' when unknown)
 * Returns 1 when settled now, 0 when the job follows no such request (settled already, or gone).
 */
export const SETTLE_CANCELLED_LUA = `
local current = redis.call('HGET', KEYS[1], 'cancelled_request')
if not current or current == '' or cjson.decode(current).request_id ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'cancelled_request', '')
redis.call('ZREM', KEYS[3], redis.call('HGET', KEYS[1], 'id'))
if ARGV[2] ~= '' and (redis.call('HGET', KEYS[1], 'cost') or '') == '' then
  redis.call('HSET', KEYS[1], 'cost', ARGV[2])
  if KEYS[2] ~= '' and redis.call('EXISTS', KEYS[2]) == 1 then
    redis.call('HINCRBYFLOAT', KEYS[2], 'cost', ARGV[2])
  end
end
return 1
`;
