-- Drops a job recorded for a batch that was never committed (packages/shared/src/jobs/recovery.ts):
-- its caller got an error, so it must not run. Its record goes, and with it its place among the
-- unfinished jobs and among its tenant's, and its reservation of its tenant's spend — together.
--
-- KEYS[1]  the job hash      KEYS[2] the unfinished jobs
-- KEYS[3]  its tenant's unfinished jobs (a sorted set of ids)
-- KEYS[4]  its tenant's spend ledger (prelude/spend-ledger.lua)
-- ARGV[1]  the job's id      ARGV[2] today (UTC, YYYY-MM-DD)
-- Returns  1 when it was dropped now, 0 when it was gone already
endReservation(KEYS[1], KEYS[4], ARGV[2], false)
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[3], ARGV[1])
return redis.call('ZREM', KEYS[2], ARGV[1])
