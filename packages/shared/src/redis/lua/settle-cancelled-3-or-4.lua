-- Records what Segmind charged for the request a cancelled job was following, on the job, (with
-- HINCRBYFLOAT) its batch and its tenant's settled spend, ends the job's reservation, and stops
-- following it (packages/shared/src/jobs/cancelled-requests.ts). When what it cost stays unknown,
-- what the job reserved counts as spent (even if its reservation was let go at a cancel during the
-- submit): Segmind ran the request and may have billed it. The job stays
-- cancelled; no webhook event is recorded. The request is a long value, read and written with
-- getLong and setLong (prelude/long-values.lua).
--
-- KEYS[1]  the job hash
-- KEYS[2]  the unfinished jobs
-- KEYS[3]  its tenant's spend ledger (prelude/spend-ledger.lua)
-- KEYS[4]  its batch's hash — only for a job in a batch
-- ARGV[1]  the request's id
-- ARGV[2]  what Segmind charged ('' when unknown)
-- ARGV[3]  today (UTC, YYYY-MM-DD): the day a job recorded before spend budgets counts in
-- Returns  1 when settled now, 0 when the job follows no such request (settled already, or gone)
local current = getLong(KEYS[1], 'cancelled_request')
if not current or current == '' or cjson.decode(current).request_id ~= ARGV[1] then return 0 end
setLong(KEYS[1], 'cancelled_request', '')
redis.call('ZREM', KEYS[2], redis.call('HGET', KEYS[1], 'id'))
local known = ARGV[2] ~= ''
if known and (redis.call('HGET', KEYS[1], 'cost') or '') == '' then
  redis.call('HSET', KEYS[1], 'cost', ARGV[2])
  settleSpend(KEYS[1], KEYS[3], ARGV[3], toMicros(ARGV[2]))
  if KEYS[4] and redis.call('EXISTS', KEYS[4]) == 1 then
    redis.call('HINCRBYFLOAT', KEYS[4], 'cost', ARGV[2])
  end
elseif not known and (tonumber(redis.call('HGET', KEYS[1], 'reserved_micros')) or 0) == 0 then
  -- Cancelled during its submit, its reservation let go then; Segmind took the request after all.
  settleSpend(KEYS[1], KEYS[3], ARGV[3], tonumber(redis.call('HGET', KEYS[1], 'reservation_micros')) or 0)
end
endReservation(KEYS[1], KEYS[3], ARGV[3], not known)
return 1
