-- Put a message in a queue's delay set, due at a time on the Redis server's clock.
-- KEYS[1] delay set, KEYS[2] stream
-- ARGV[1] message, ARGV[2] "in" (ARGV[3] is a delay in ms, from this server's clock: the
-- runtime sends an absolute eta as one, so the producer's clock does not matter) or "at"
-- (ARGV[3] is epoch ms by this server's clock), ARGV[4] wake channel
-- Returns the due time in epoch ms; a due time already past goes straight into the stream.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local due = tonumber(ARGV[3])
if ARGV[2] == 'in' then due = now + due end
if due <= now then
  redis.call('XADD', KEYS[2], '*', 'message', ARGV[1])
  return math.floor(now)
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
redis.call('ZADD', KEYS[1], due, ARGV[1])
if #first == 0 or tonumber(first[2]) > due then
  redis.call('PUBLISH', ARGV[4], tostring(due))
end
return math.floor(due)
