-- Records one step of a bulk operation (packages/api/src/services/bulk/bulk-operations.ts): its
-- counts, and the step's jobs taken off the head of the chosen list — only while the caller still
-- holds the operation's lease and the list still starts with the jobs it acted on. A runner whose
-- lease lapsed mid-step (another process took the operation over and may have moved on) commits
-- nothing, so no job is ever taken off the list without having been dealt with.
--
-- KEYS[1]  the operation's hash
-- KEYS[2]  its chosen jobs (a list)
-- KEYS[3]  its lease
-- ARGV[1]  the lease's holder, as the caller took it
-- ARGV[2]  the lease's time to live (ms), renewed on commit
-- ARGV[3]  jobs acted on, ARGV[4] jobs left alone, ARGV[5] micro-USD reserved
-- ARGV[6…] the step's job ids, in list order
-- Returns  1 when committed, 0 when the lease or the list's head was not the caller's
if redis.call('GET', KEYS[3]) ~= ARGV[1] then return 0 end
local taken = #ARGV - 5
local head = redis.call('LRANGE', KEYS[2], 0, taken - 1)
if #head ~= taken then return 0 end
for i = 1, taken do
  if head[i] ~= ARGV[5 + i] then return 0 end
end
redis.call('HINCRBY', KEYS[1], 'processed', taken)
redis.call('HINCRBY', KEYS[1], 'acted', tonumber(ARGV[3]))
redis.call('HINCRBY', KEYS[1], 'skipped', tonumber(ARGV[4]))
redis.call('HINCRBY', KEYS[1], 'reserved_micros', tonumber(ARGV[5]))
redis.call('HDEL', KEYS[1], 'waiting')
redis.call('LTRIM', KEYS[2], taken, -1)
redis.call('PEXPIRE', KEYS[3], tonumber(ARGV[2]))
return 1
