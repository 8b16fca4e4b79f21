-- Record a task REVOKED, unless its record says it has finished or is running.
-- KEYS[1] the task's record (also the channel its waiters listen on)
-- ARGV[1] task id, ARGV[2] TTL ms, ARGV[3] the error JSON ({type, message}), ARGV[4..] the
-- states whose record is kept as it is
-- The record keeps its other fields (name, queue, retries, the delivery that wrote it), so a
-- late write of an earlier delivery still cannot replace it (lua/store_result.lua).
-- Returns the state the record had ("" if there was none).
local record = {}
local old = redis.call('GET', KEYS[1])
if old then
  local ok, decoded = pcall(cjson.decode, old)
  if ok and type(decoded) == 'table' then record = decoded end
end
local state = type(record.state) == 'string' and record.state or ''
for i = 4, #ARGV do
  if ARGV[i] == state then return state end
end
local t = redis.call('TIME')
record.id = ARGV[1]
record.state = 'REVOKED'
record.result = nil
record.error = cjson.decode(ARGV[3])
record.date_done = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('SET', KEYS[1], cjson.encode(record), 'PX', ARGV[2])
redis.call('PUBLISH', KEYS[1], 'REVOKED')
return state
