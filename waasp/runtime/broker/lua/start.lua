-- Count the starts of entries whose tasks are about to run, and stop those that must not run.
-- KEYS[1] stream, KEYS[2] starts hash (entry id -> starts), KEYS[3] dead-letter stream,
-- KEYS[4] (optional) the revoked tasks' sorted set, where it shares the script's server and slot
-- ARGV[1] group, ARGV[2] consumer, ARGV[3] most starts (broker_max_deliveries),
-- ARGV[4] TTL of KEYS[2] (ms), ARGV[5] the details JSON of a max-deliveries dead letter
-- (Python's max_deliveries_letter), ARGV[6] its error message as a format of the start count,
-- ARGV[7] n, ARGV[8..7+n] entry ids, ARGV[8+n..] task ids to look up in KEYS[4]
-- Returns {codes, {seconds, microseconds}, flags}: one code per entry id: 0 run it (its start is
-- counted), 1 do not: this consumer no longer owns it (another worker claimed it while this one
-- stalled, or it is gone), 2 do not: it started ARGV[3] times without finishing (it keeps
-- killing its workers), so it is dead-lettered here, with ARGV[5]'s details, its delivery count
-- and this server's time; then this server's clock (for expiry); then, with KEYS[4], 1 for each
-- task id that is revoked, else 0 (one round trip for all three).
-- Starts are counted, not deliveries, so the messages a crashing worker had only prefetched
-- are redelivered freely. A group or stream that vanished (Redis restarted without its data)
-- cannot have handed the entry to another worker: such an entry runs, uncounted.
local most = tonumber(ARGV[3])
local codes = {}
local counted = false
local n = tonumber(ARGV[7])
for i = 8, 7 + n do
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
local flags = {}
if KEYS[4] then
  for i = 8 + n, #ARGV do
    table.insert(flags, redis.call('ZSCORE', KEYS[4], ARGV[i]) and 1 or 0)
  end
end
return {codes, redis.call('TIME'), flags}
