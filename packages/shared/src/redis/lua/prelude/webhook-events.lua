-- Records a webhook event (packages/shared/src/webhooks/events.ts) with its entries in the
-- outbox and among the pending events, unless it is recorded already (its id follows from what it
-- is about, so a move or an admission replayed records it once). `event` holds id, type,
-- subjectKind, subjectId, tenant, url and, for an event about no job or batch, data (its JSON).
-- Returns true when it recorded the event now.
local function recordEvent(eventKey, outbox, pending, nowIso, nowMs, retention, event)
  if redis.call('EXISTS', eventKey) == 1 then return false end
  redis.call('HSET', eventKey, 'id', event.id, 'type', event.type, 'subject_kind', event.subjectKind,
    'subject_id', event.subjectId, 'tenant', event.tenant, 'url', event.url, 'created_at', nowIso,
    'status', 'pending', 'attempts', 0, 'run_start', 0, 'next_attempt_at', nowIso)
  if event.data then redis.call('HSET', eventKey, 'data', event.data) end
  redis.call('PEXPIRE', eventKey, retention)
  redis.call('ZADD', outbox, nowMs, event.id)
  redis.call('ZADD', pending, nowMs, event.id)
  return true
end
