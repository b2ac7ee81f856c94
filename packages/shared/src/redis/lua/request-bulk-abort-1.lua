-- Asks a bulk operation to stop after its step under way (packages/api/src/services/bulk/
-- bulk-operations.ts), only while it runs: an abort racing the operation's end changes nothing.
--
-- KEYS[1]  the operation's hash
-- Returns  1 when asked, 0 when it has already ended (or been asked), -1 when there is no such operation
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return -1 end
if status ~= 'running' or redis.call('HEXISTS', KEYS[1], 'abort_requested') == 1 then return 0 end
redis.call('HSET', KEYS[1], 'abort_requested', '1')
return 1
