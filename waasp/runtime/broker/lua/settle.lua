-- Settle finished deliveries of one queue in one atomic step.
-- KEYS[1] stream, KEYS[2] delay set, KEYS[3] dead-letter stream
-- ARGV[1] group, ARGV[2] wake channel, then four values per delivery:
--   "ack",   entry id, "", ""                      done: acknowledge and delete
--   "retry", entry id, next message, delay in ms   acknowledge, and schedule the next attempt
--   "dead",  entry id, raw message, details JSON   acknowledge, and dead-letter
-- A retry or dead letter happens only if this call acknowledged the entry, so a duplicate
-- delivery that finishes second cannot schedule a second retry or a second dead letter.
-- Returns the number of entries this call acknowledged.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local acked = 0
for i = 3, #ARGV, 4 do
  local kind, id = ARGV[i], ARGV[i + 1]
  local n = redis.call('XACK', KEYS[1], ARGV[1], id)
  redis.call('XDEL', KEYS[1], id)
  if n == 1 then
    acked = acked + 1
    if kind == 'retry' then
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
return acked
