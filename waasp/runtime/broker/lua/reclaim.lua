-- Claim entries whose holder has been silent longer than the visibility timeout.
-- KEYS[1] stream, KEYS[2] dead-letter stream
-- ARGV[1] group, ARGV[2] consumer, ARGV[3] min idle ms, ARGV[4] count, ARGV[5] max deliveries,
-- ARGV[6] start id, ARGV[7] the details JSON of a max-deliveries dead letter (Python's
-- max_deliveries_letter), ARGV[8] its error message as a format of the delivery count
-- Entries delivered more than max deliveries times are dead-lettered instead of claimed, with
-- ARGV[7]'s details, their delivery count and this server's time filled in.
-- Returns {next start id, {id, message, deliveries, ...}, {id, message, deliveries, ...} dead}.
local r = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[6],
  'COUNT', tonumber(ARGV[4]))
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local claimed, dead = {}, {}
for _, entry in ipairs(r[2]) do
  local id, fields = entry[1], entry[2]
  if type(fields) ~= 'table' then
    -- the entry was deleted while pending: nothing left to run
    redis.call('XACK', KEYS[1], ARGV[1], id)
  else
    local message = ''
    for i = 1, #fields, 2 do
      if fields[i] == 'message' then message = fields[i + 1] end
    end
    local p = redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1)
    local deliveries = (#p > 0) and p[1][4] or 1
    if deliveries > tonumber(ARGV[5]) then
      local details = cjson.decode(ARGV[7])
      details.deliveries = deliveries
      details.failed_at = now
      details.error.message = string.format(ARGV[8], deliveries)
      redis.call('XADD', KEYS[2], '*', 'message', message, 'details', cjson.encode(details))
      redis.call('XACK', KEYS[1], ARGV[1], id)
      redis.call('XDEL', KEYS[1], id)
      table.insert(dead, id); table.insert(dead, message); table.insert(dead, deliveries)
    else
      table.insert(claimed, id); table.insert(claimed, message)
      table.insert(claimed, deliveries)
    end
  end
end
return {r[1], claimed, dead}
