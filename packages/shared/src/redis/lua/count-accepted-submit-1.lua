-- Segmind accepted a submit (packages/worker/src/segmind/rate-budget.ts): it counts toward what the
-- current window allows, and its time joins the recent ones a 429 reads to tell when the refusing
-- window began (its count-th most recent accepted submit was in it).
--
-- KEYS[1]  the budget (a hash: accepted, times, …)
-- ARGV[1]  now (ms)                              ARGV[2] how many recent times to keep
local keep = tonumber(ARGV[2])
redis.call('HINCRBY', KEYS[1], 'accepted', 1)
local times = (redis.call('HGET', KEYS[1], 'times') or '') .. ' ' .. ARGV[1]
-- Trimmed now and then, not every call: the field grows to twice what is kept, then keeps the newest.
if #times > 2 * keep * 14 then
  local list = {}
  for t in string.gmatch(times, '%d+') do list[#list + 1] = t end
  times = ' ' .. table.concat(list, ' ', math.max(1, #list - keep + 1))
end
redis.call('HSET', KEYS[1], 'times', times)
return 0
