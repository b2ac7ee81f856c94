-- Takes over an Idempotency-Key claim whose lease ran out, if nobody else did first, or renews
-- the lease of one still held (packages/api/src/services/idempotency.ts); renews a bulk
-- operation's lease only while its runner still holds it (services/bulk/bulk-operations.ts).
--
-- KEYS[1]  the claim
-- ARGV[1]  the claim as it must still be
-- ARGV[2]  the new claim
-- ARGV[3]  its time to live (s)
-- Returns  1 when taken over, 0 when the claim had changed
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'EX', tonumber(ARGV[3]))
return 1
