-- Store a task's record, unless a later delivery of the task has stored one.
-- KEYS[1] the task's record (its key is also the channel its waiters listen on)
-- ARGV[1] the record JSON, ARGV[2] TTL ms, ARGV[3] the state to publish ("" publishes
-- nothing), ARGV[4] the stream entry id of the delivery that wrote the record ("" if none),
-- ARGV[5] that delivery's count
-- A record carries the "entry_id" and "deliveries" of the delivery that wrote it. Stream ids
-- grow, and each redelivery of an entry counts one more, so a record from an earlier delivery
-- (an older entry, or the same entry delivered fewer times) never replaces a later one: a
-- worker that stalled past the visibility timeout and finishes a task another worker has
-- taken over cannot overwrite its outcome (a SUCCESS waiters have read, a retry, a FAILURE).
-- Returns 1 if the record was stored, 0 if it was refused.
local function parse(id)
  local ms, seq = string.match(id or '', '^(%d+)-(%d+)$')
  if ms == nil then return nil end
  return tonumber(ms), tonumber(seq)
end

local function earlier(ms, seq, n, other_ms, other_seq, other_n)
  if ms ~= other_ms then return ms < other_ms end
  if seq ~= other_seq then return seq < other_seq end
  return n < other_n
end

local ms, seq = parse(ARGV[4])
if ms ~= nil then
  local old = redis.call('GET', KEYS[1])
  if old then
    local ok, record = pcall(cjson.decode, old)
    if ok and type(record) == 'table' and type(record.entry_id) == 'string' then
      local old_ms, old_seq = parse(record.entry_id)
      local old_n = tonumber(record.deliveries) or 0
      if old_ms ~= nil and earlier(ms, seq, tonumber(ARGV[5]), old_ms, old_seq, old_n) then
        return 0
      end
    end
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if ARGV[3] ~= '' then
  redis.call('PUBLISH', KEYS[1], ARGV[3])
end
return 1
