-- Delete the consumers of a queue's group that belong to dead workers and hold nothing: their
-- workers died (or left without saying so), and live workers have reclaimed their entries.
-- KEYS[1] stream
-- ARGV[1] group, ARGV[2] min idle ms, ARGV[3..] consumers never deleted (live workers)
-- A consumer with pending entries is never deleted: XGROUP DELCONSUMER would drop them from
-- the group's pending list, where no reclaim could find them. One deleted by mistake (a
-- worker whose heartbeat lapsed) is recreated by its next read.
-- Returns the names of the deleted consumers.
local consumers = redis.pcall('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])
if consumers.err then
  return {}  -- no stream or group (Redis lost its data): the workers' readers recreate them
end
local keep = {}
for i = 3, #ARGV do keep[ARGV[i]] = true end
local min_idle = tonumber(ARGV[2])
local reaped = {}
for _, fields in ipairs(consumers) do
  local c = {}
  for i = 1, #fields, 2 do c[fields[i]] = fields[i + 1] end
  if not keep[c.name] and c.pending == 0 and c.idle > min_idle then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], c.name)
    table.insert(reaped, c.name)
  end
end
return reaped
