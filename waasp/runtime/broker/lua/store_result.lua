-- Store task records, each unless a later delivery of its task has stored one.
-- KEYS[1..n] the tasks' records (each key is also the channel its waiters listen on)
-- ARGV[1] TTL ms, then four values per key: the record JSON, the state to publish ("" to
-- publish nothing), the stream entry id of the delivery that wrote it ("" if none), and that
-- delivery's count
-- A record carries the "entry_id" and "deliveries" of the delivery that wrote it. Stream ids
-- grow, and each redelivery of an entry counts one more, so a record from an earlier delivery
-- (an older entry, or the same entry delivered fewer times) never replaces a later one's: a
-- worker that stalled past the visibility timeout and finishes a task another worker took
-- over cannot overwrite that worker's outcome (a SUCCESS waiters have read, a retry, a FAILURE).
-- Returns, per key, 1 if its record was stored, 0 if it was refused.
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  if ms == nil then return nil end
  return tonumber(ms), tonumber(seq)
end

-- One MGET for every key, not a GET each (the runtime sends at most a thousand keys a call).
local olds = redis.call('MGET', unpack(KEYS))

local function superseded(old, id, n)
  local ms, seq = parse(id)
  if ms == nil then return false end
  if not old then return false end
  local ok, record = pcall(cjson.decode, old)
  if not ok or type(record) ~= 'table' or type(record.entry_id) ~= 'string' then
    return false
  end
  local old_ms, old_seq = parse(record.entry_id)
  if old_ms == nil then return false end
  if ms ~= old_ms then return ms < old_ms end
  if seq ~= old_seq then return seq < old_seq end
  return n < (tonumber(record.deliveries) or 0)
end

local stored = {}
for i = 1, #KEYS do
  local a = 2 + (i - 1) * 4
  if superseded(olds[i], ARGV[a + 2], tonumber(ARGV[a + 3])) then
    stored[i] = 0
  else
    redis.call('SET', KEYS[i], ARGV[a], 'PX', ARGV[1])
    if ARGV[a + 1] ~= '' then
      redis.call('PUBLISH', KEYS[i], ARGV[a + 1])
    end
    stored[i] = 1
  end
end
return stored
