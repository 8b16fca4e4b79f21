-- Move due messages from a queue's delay set into the streams of their priorities.
-- KEYS[1] delay set, KEYS[2] stream (priority 0), KEYS[3..11] the streams of priorities 1-9
-- ARGV[1] most messages to move in one call
-- A message of a priority other than 0 starts with {"priority":N, (message.py writes it
-- first), so the priority is read without decoding the message.
-- Returns {moved, microseconds until the next message is due (-1: none left)}, by the
-- server's clock.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
for _, message in ipairs(due) do
  local level = tonumber(string.match(message, '^{"priority":([1-9]),')) or 0
  redis.call('XADD', KEYS[2 + level], '*', 'message', message)
end
if #due > 0 then
  redis.call('ZREM', KEYS[1], unpack(due))
end
local wait = -1
local nxt = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #nxt > 0 then
  wait = math.max(0, math.floor((tonumber(nxt[2]) - now) * 1000))
end
return {#due, wait}
