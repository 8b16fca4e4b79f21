-- Count the starts of entries whose tasks are about to run, and stop those that must not run.
-- KEYS[1] stream, KEYS[2] starts hash (entry id -> starts), KEYS[3] dead-letter stream
-- ARGV[1] group, ARGV[2] consumer, ARGV[3] most starts (broker_max_deliveries),
-- ARGV[4] TTL of KEYS[2] (ms), ARGV[5] the details JSON of a max-deliveries dead letter
-- (Python's max_deliveries_letter), ARGV[6] its error message as a format of the start count,
-- ARGV[7..] entry ids
-- Returns one code per entry id: 0 run it (its start is counted), 1 do not: this consumer no
-- longer owns it (another worker claimed it while this one stalled, or it is gone), 2 do not:
-- it started ARGV[3] times without finishing (it keeps killing its workers), so it is
-- dead-lettered here, with ARGV[5]'s details, its delivery count and this server's time.
-- Starts are counted, not deliveries, so the messages a crashing worker had only prefetched
-- are redelivered freely. A group or stream that vanished (Redis restarted without its data)
-- cannot have handed the entry to another worker: such an entry runs, uncounted.
local most = tonumber(ARGV[3])
local codes = {}
local counted = false
for i = 7, #ARGV do
  local id = ARGV[i]
  local p = redis.pcall('XPENDING', KEYS[1], ARGV[1], id, id, 1, ARGV[2])
  if type(p) == 'table' and p.err then
    table.insert(codes, 0)
  elseif #p == 0 then
    table.insert(codes, 1)
  else
    local starts = redis.call('HINCRBY', KEYS[2], id, 1) - 1
    if starts < most then
      counted = true
      table.insert(codes, 0)
    else
      local e = redis.call('XRANGE', KEYS[1], id, id)
      if #e == 1 then
        local message = ''
        local fields = e[1][2]
        for j = 1, #fields, 2 do
          if fields[j] == 'message' then message = fields[j + 1] end
        end
        local t = redis.call('TIME')
        local details = cjson.decode(ARGV[5])
        details.deliveries = p[1][4]
        details.failed_at = tonumber(t[1]) + tonumber(t[2]) / 1000000
        details.error.message = string.format(ARGV[6], starts)
        redis.call('XADD', KEYS[3], '*', 'message', message, 'details', cjson.encode(details))
      end
      redis.call('XACK', KEYS[1], ARGV[1], id)
      redis.call('XDEL', KEYS[1], id)
      redis.call('HDEL', KEYS[2], id)
      table.insert(codes, (#e == 1) and 2 or 1)
    end
  end
end
if counted then
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
end
return codes
