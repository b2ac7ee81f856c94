-- Reading and writing a job record's long values (packages/shared/src/jobs/record-hash.ts): a
-- value of a field in PIECED longer than PIECE_BYTES and at most MAX_PIECED_BYTES is kept as
-- FIELD:1, FIELD:2, … (each at most PIECE_BYTES, cut between UTF-8 characters) and no FIELD, so
-- that the record stays a compact listpack; any other as FIELD. Records of the earlier layout
-- hold long values whole and read the same. Put ahead of the scripts that touch long values,
-- after PIECE_BYTES, MAX_PIECED_BYTES and PIECED (generated from record-hash.ts).

-- The value of `field` (joined from its pieces), or false when it has none.
local function getLong(key, field)
  local whole = redis.call('HGET', key, field)
  if whole then return whole end
  local parts = {}
  while true do
    local names = {}
    for n = #parts + 1, #parts + 8 do names[#names + 1] = field .. ':' .. n end
    local got = redis.call('HMGET', key, unpack(names))
    for _, part in ipairs(got) do
      if not part then
        if #parts == 0 then return false end
        return table.concat(parts)
      end
      parts[#parts + 1] = part
    end
  end
end

-- Sets `field` to `value` ('' removes it), whole or in pieces, and drops what it held before.
local function setLong(key, field, value)
  local fields, pieces = {}, 0
  local i, n = 1, #value
  if n > PIECE_BYTES and n <= MAX_PIECED_BYTES and PIECED[field] then
    while i <= n do
      local j = math.min(i + PIECE_BYTES - 1, n)
      -- A byte 10xxxxxx continues a character: end the piece before it.
      while j < n do
        local b = string.byte(value, j + 1)
        if b < 128 or b >= 192 then break end
        j = j - 1
      end
      pieces = pieces + 1
      fields[#fields + 1] = field .. ':' .. pieces
      fields[#fields + 1] = string.sub(value, i, j)
      i = j + 1
    end
    redis.call('HDEL', key, field)
  elseif n > 0 then
    fields[1], fields[2] = field, value
  else
    redis.call('HDEL', key, field)
  end
  if #fields > 0 then redis.call('HSET', key, unpack(fields)) end
  -- Pieces past the new ones are left from a longer value: dropped.
  local stale = pieces + 1
  while redis.call('HDEL', key, field .. ':' .. stale) == 1 do stale = stale + 1 end
end
