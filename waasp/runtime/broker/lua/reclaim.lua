-- Claim entries whose holder has been silent longer than the visibility timeout.
-- KEYS[1] stream, KEYS[2] starts hash
-- ARGV[1] group, ARGV[2] consumer, ARGV[3] min idle ms, ARGV[4] count, ARGV[5] start id
-- A message that keeps killing its workers is stopped when it is about to start again
-- (lua/start.lua), not here: what a dead worker had only prefetched is claimed freely.
-- Returns {next start id, {id, message, deliveries, ...}}.
local r = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[5],
  'COUNT', tonumber(ARGV[4]))
local claimed = {}
for _, entry in ipairs(r[2]) do
  local id, fields = entry[1], entry[2]
  if type(fields) ~= 'table' then
    -- the entry was deleted while pending: nothing left to run
    redis.call('XACK', KEYS[1], ARGV[1], id)
    redis.call('HDEL', KEYS[2], id)
  else
    local message = ''
    for i = 1, #fields, 2 do
      if fields[i] == 'message' then message = fields[i + 1] end
    end
    local p = redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1)
    local deliveries = (#p > 0) and p[1][4] or 1
    table.insert(claimed, id); table.insert(claimed, message)
    table.insert(claimed, deliveries)
  end
end
return {r[1], claimed}
