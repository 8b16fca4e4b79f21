-- Settle finished deliveries of one queue in one atomic step.
-- KEYS[1] stream, KEYS[2] delay set, KEYS[3] dead-letter stream, KEYS[4] starts hash
-- ARGV[1] group, ARGV[2] wake channel, ARGV[3] consumer, then four values per delivery:
--   "ack",   entry id, "", ""                      done: acknowledge and delete
--   "retry", entry id, next message, delay in ms   acknowledge, and schedule the next attempt
--   "defer", entry id, the message, delay in ms    the same for a message that did not start
--                                                  (a rate limit or a concurrency cap)
--   "dead",  entry id, raw message, details JSON   acknowledge, and dead-letter
-- Only a delivery this consumer still owns is settled (with its start count dropped). One it
-- lost (another worker claimed the entry while this one stalled, and runs or ran it) is left
-- alone: its owner settles it, so a late duplicate can neither acknowledge the entry under its
-- owner, nor schedule a second retry, nor write a second dead letter.
-- Returns the entry ids this consumer no longer owned: their outcome is discarded.
-- The owned entries are acknowledged, deleted and their start counts dropped with one XACK,
-- XDEL and HDEL per thousand (one command per entry cost the server more than the rest of
-- the settle); the script is atomic, so the order of its writes is not observable.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local lost = {}
local owned, seen = {}, {}
for i = 4, #ARGV, 4 do
  local kind, id = ARGV[i], ARGV[i + 1]
  local p = redis.pcall('XPENDING', KEYS[1], ARGV[1], id, id, 1, ARGV[3])
  if (type(p) == 'table' and p.err) or #p == 0 or seen[id] then
    table.insert(lost, id)  -- (an id twice in one call: settled by its first op, as before)
  else
    seen[id] = true
    table.insert(owned, id)
    if kind == 'retry' or kind == 'defer' then
      local delay = tonumber(ARGV[i + 3])
      if delay <= 0 then
        redis.call('XADD', KEYS[1], '*', 'message', ARGV[i + 2])
      else
        local due = now + delay
        local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
        redis.call('ZADD', KEYS[2], due, ARGV[i + 2])
        if #first == 0 or tonumber(first[2]) > due then
          redis.call('PUBLISH', ARGV[2], tostring(due))
        end
      end
    elseif kind == 'dead' then
      redis.call('XADD', KEYS[3], '*', 'message', ARGV[i + 2], 'details', ARGV[i + 3])
    end
  end
end
for first = 1, #owned, 1000 do
  local ids = {unpack(owned, first, math.min(first + 999, #owned))}
  redis.call('XACK', KEYS[1], ARGV[1], unpack(ids))
  redis.call('XDEL', KEYS[1], unpack(ids))
  redis.call('HDEL', KEYS[4], unpack(ids))
end
return lost
