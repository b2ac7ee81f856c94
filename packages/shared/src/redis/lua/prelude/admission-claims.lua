-- Open admission claims (packages/shared/src/jobs/admission.ts): what a request was admitted for
-- and has not recorded yet, in a hash of claim id → "tenant|micro-USD|day|jobs|deadline ms". The
-- spend comes first so that an API process of the version before spend budgets, which reads
-- "owner|jobs|deadline", still parses it (as another owner's: it neither counts nor deletes it)
-- while a rolling upgrade runs; that version's own claims reserve nothing.
local function parseClaim(value)
  local tenant, micros, day, jobs, deadline = string.match(value, '^([^|]*)|(%d+)|([^|]*)|(%d+)|(%d+)$')
  if not tenant then
    tenant, jobs, deadline = string.match(value, '^([^|]*)|(%d+)|(%d+)$')
    micros, day = 0, ''
  end
  if not tenant then return nil end
  return { tenant = tenant, jobs = tonumber(jobs), deadline = tonumber(deadline), micros = tonumber(micros), day = day }
end

-- Whole numbers written out in full: Lua's own formatting turns large ones into exponents.
local function formatClaim(claim)
  return string.format('%s|%d|%s|%d|%d', claim.tenant, claim.micros, claim.day, claim.jobs, claim.deadline)
end
