-- A tenant's spend ledger (packages/shared/src/jobs/spend.ts): one hash per tenant of whole
-- millionths of a USD (so that sums are exact and a reservation returns to zero), in the fields
-- `reserved:day:YYYY-MM-DD`, `settled:day:YYYY-MM-DD`, `reserved:month:YYYY-MM` and
-- `settled:month:YYYY-MM`. A job keeps in its own hash what it still reserves (`reserved_micros`),
-- what it reserved at first (`reservation_micros`) and the UTC day its spend counts in (`spend_day`,
-- the day it was admitted). A job recorded before
-- the ledger existed counts in the day given as `today`.
local function toMicros(usd)
  return math.floor((tonumber(usd) or 0) * 1000000 + 0.5)
end

local function addSpend(ledger, day, kind, micros)
  if micros == 0 then return end
  redis.call('HINCRBY', ledger, kind .. ':day:' .. day, micros)
  redis.call('HINCRBY', ledger, kind .. ':month:' .. string.sub(day, 1, 7), micros)
end

local function spendDayOf(job, today)
  local day = redis.call('HGET', job, 'spend_day')
  if not day or day == '' then return today end
  return day
end

-- Adds what Segmind said a job cost (or the change in it) to its day's and month's settled spend.
local function settleSpend(job, ledger, today, micros)
  addSpend(ledger, spendDayOf(job, today), 'settled', micros)
end

-- Ends a job's reservation: let go, or, when `asSpent`, counted as spent (a request Segmind may
-- have billed without saying what it cost). Once only: the job's reservation is zero afterwards
-- (`reserved_micros`), while `reservation_micros` keeps what it reserved at first.
local function endReservation(job, ledger, today, asSpent)
  local micros = tonumber(redis.call('HGET', job, 'reserved_micros')) or 0
  if micros == 0 then return end
  local day = spendDayOf(job, today)
  addSpend(ledger, day, 'reserved', -micros)
  if asSpent then addSpend(ledger, day, 'settled', micros) end
  redis.call('HSET', job, 'reserved_micros', 0)
end
