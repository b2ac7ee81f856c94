-- Admits a request's new jobs under its tenant's backlog quota and spend budgets
-- (packages/shared/src/jobs/admission.ts), in one step, so that API processes admitting at once
-- never pass either. The quota counts the tenant's unfinished jobs (kept by create-jobs-n.lua and
-- the transition script) and the jobs of its open claims; a budget counts the period's reserved
-- and settled spend in the tenant's ledger (prelude/spend-ledger.lua) and its open claims'
-- reservations for that period. A claim is what a request admitted and has not recorded yet;
-- create-jobs-n.lua turns it into counted jobs and reservations as it records them, and the request
-- deletes what is left when it is done. A claim whose request died lapses at its deadline.
--
-- An admission that takes a period's spend to 80 % of its budget or more records the tenant's
-- `tenant.budget_warning` event for the period, once, when the request has a webhook that wants it.
--
-- KEYS[1]  the tenant's unfinished jobs (a sorted set of ids)
-- KEYS[2]  open claims (prelude/admission-claims.lua)
-- KEYS[3]  the tenant's spend ledger
-- KEYS[4]  the webhooks outbox                  KEYS[5] the pending webhook events
-- KEYS[6]  the day's warning event hash         KEYS[7] the month's warning event hash
-- ARGV[1]  the tenant        ARGV[2] jobs to admit     ARGV[3] the tenant's quota (0: none)
-- ARGV[4]  the claim's id    ARGV[5] how long the claim lasts (ms)
-- ARGV[6]  what the jobs reserve (micro-USD)   ARGV[7] the UTC day they count in (YYYY-MM-DD)
-- ARGV[8]  the day's budget (micro-USD, 0: none)   ARGV[9] the month's budget (micro-USD, 0: none)
-- ARGV[10] the webhook URL a warning goes to ('' for none)
-- ARGV[11] now (ISO 8601)    ARGV[12] retention of webhook events (ms)
-- ARGV[13] the day's warning event id              ARGV[14] the month's warning event id
-- (Deadlines are on Redis's clock, so API hosts whose clocks differ still agree on them.)
-- Returns  {1, unfinished and claimed with these, '', 0, warning event ids (comma-separated)} when admitted
--          | {0, unfinished and claimed, 'quota' | 'day' | 'month', the period's spend (micro-USD), ''}
local tenant, n, quota = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local micros, day = tonumber(ARGV[6]), ARGV[7]
local month = string.sub(day, 1, 7)
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)

local claimedJobs, claimedDay, claimedMonth = 0, 0, 0
local claims = redis.call('HGETALL', KEYS[2])
for i = 1, #claims, 2 do
  local claim = parseClaim(claims[i + 1])
  if not claim or claim.deadline <= now then
    redis.call('HDEL', KEYS[2], claims[i])
  elseif claim.tenant == tenant then
    claimedJobs = claimedJobs + claim.jobs
    if claim.day == day then claimedDay = claimedDay + claim.micros end
    if string.sub(claim.day, 1, 7) == month then claimedMonth = claimedMonth + claim.micros end
  end
end

local held = redis.call('ZCARD', KEYS[1]) + claimedJobs
if quota > 0 and held + n > quota then return {0, held, 'quota', 0, ''} end

local function spentIn(period, claimed)
  local ledger = redis.call('HMGET', KEYS[3], 'reserved:' .. period, 'settled:' .. period)
  return (tonumber(ledger[1]) or 0) + (tonumber(ledger[2]) or 0) + claimed
end
local periods = {
  { name = 'day', start = day, cap = tonumber(ARGV[8]), event = KEYS[6], eventId = ARGV[13] },
  { name = 'month', start = month, cap = tonumber(ARGV[9]), event = KEYS[7], eventId = ARGV[14] },
}
periods[1].spent = periods[1].cap > 0 and spentIn('day:' .. day, claimedDay) or 0
periods[2].spent = periods[2].cap > 0 and spentIn('month:' .. month, claimedMonth) or 0
for _, period in ipairs(periods) do
  if period.cap > 0 and period.spent + micros > period.cap then
    return {0, held, period.name, period.spent, ''}
  end
end

redis.call('HSET', KEYS[2], ARGV[4],
  formatClaim({ tenant = tenant, jobs = n, deadline = now + tonumber(ARGV[5]), micros = micros, day = day }))

local warned = {}
for _, period in ipairs(periods) do
  local after = period.spent + micros
  -- 80 %, in whole numbers: after / cap >= 4 / 5.
  -- The ledger remembers the warning for the period's whole length; the event itself expires sooner.
  if period.cap > 0 and ARGV[10] ~= '' and after * 5 >= period.cap * 4
    and redis.call('HSETNX', KEYS[3], 'warned:' .. period.name .. ':' .. period.start, 1) == 1 then
    local data = cjson.encode({
      tenant = tenant, period = period.name, period_start = period.start,
      budget_usd = period.cap / 1000000, spent_usd = after / 1000000,
    })
    local recorded = recordEvent(period.event, KEYS[4], KEYS[5], ARGV[11], now, tonumber(ARGV[12]), {
      id = period.eventId, type = 'tenant.budget_warning', subjectKind = 'tenant', subjectId = tenant,
      tenant = tenant, url = ARGV[10], data = data,
    })
    if recorded then table.insert(warned, period.eventId) end
  end
end
return {1, held + n, '', 0, table.concat(warned, ',')}
