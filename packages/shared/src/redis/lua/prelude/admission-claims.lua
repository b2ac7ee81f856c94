-- Open admission claims (packages/shared/src/jobs/admission.ts): what a request was admitted for
-- and has not recorded yet, in a hash of claim id → "tenant|jobs|deadline ms|micro-USD|day". A claim
-- of an API version before spend budgets has no micro-USD or day: it reserves nothing.
local function parseClaim(value)
  local tenant, jobs, deadline, micros, day = string.match(value, '^([^|]*)|(%d+)|(%d+)|?(%d*)|?([^|]*)$')
  if not tenant then return nil end
  return { tenant = tenant, jobs = tonumber(jobs), deadline = tonumber(deadline), micros = tonumber(micros) or 0, day = day }
end

local function formatClaim(claim)
  return claim.tenant .. '|' .. claim.jobs .. '|' .. claim.deadline .. '|' .. claim.micros .. '|' .. claim.day
end
