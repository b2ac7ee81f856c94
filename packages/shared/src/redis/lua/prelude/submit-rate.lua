-- The Segmind submit budget's rate as a function of what it learned (packages/worker/src/segmind/
-- rate-budget.ts): unknown, doubling every window of busy time from a guess; learned, a plateau
-- under the ceiling, then a probe above it that accelerates with busy time (× 2^(t/doubling)³: gentle
-- where a steady limit is crossed, steep where a lifted one is sought). Put ahead of the
-- scripts that draw from and cut the budget, which both pass the tuning as five ARGV entries:
-- probe rate when unknown, headroom under the ceiling, plateau (windows), probe doubling time
-- (windows), highest rate.

local function submitTuning(first)
  return {
    probe = tonumber(ARGV[first]), headroom = tonumber(ARGV[first + 1]), plateau = tonumber(ARGV[first + 2]),
    doubling = tonumber(ARGV[first + 3]), max = tonumber(ARGV[first + 4]),
  }
end

local function submitRate(ceil, busy, win, tune)
  local rate
  if ceil == 0 then
    rate = tune.probe * 2 ^ math.min(30, math.max(0, busy) / win)
  else
    rate = tune.headroom * ceil
    local probe = (busy - tune.plateau * win) / (tune.doubling * win)
    if probe > 0 then rate = rate * 2 ^ math.min(30, probe * probe * probe) end
  end
  return math.min(rate, tune.max)
end
