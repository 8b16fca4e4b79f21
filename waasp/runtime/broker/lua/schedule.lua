-- Put a message in a queue's delay set, due at a time on the Redis server's clock.
-- KEYS[1] delay set, KEYS[2] stream, KEYS[3] (optional) the task id's sent marker
-- ARGV[1] message, ARGV[2] delay in ms from this server's clock (the runtime sends an
-- absolute eta as one, so the producer's clock does not matter), ARGV[3] wake channel,
-- ARGV[4] (with KEYS[3]) how long the marker outlives the due time (ms)
-- Returns the due time in epoch ms; a due time already past goes straight into the stream.
-- With KEYS[3], returns -1 and schedules nothing if the task id was sent already.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local due = now + tonumber(ARGV[2])
if KEYS[3] then
  local ttl = math.floor(math.max(due - now, 0) + tonumber(ARGV[4]))
  if not redis.call('SET', KEYS[3], '1', 'NX', 'PX', ttl) then
    return -1
  end
end
if due <= now then
  redis.call('XADD', KEYS[2], '*', 'message', ARGV[1])
  return math.floor(now)
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
redis.call('ZADD', KEYS[1], due, ARGV[1])
if #first == 0 or tonumber(first[2]) > due then
  redis.call('PUBLISH', ARGV[3], tostring(due))
end
return math.floor(due)
