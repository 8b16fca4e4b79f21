-- Move due messages from a queue's delay set into the streams of their priorities, and those
-- due within ARGV[2] ms too, each with its due time (epoch µs) in a 'due' field: the worker
-- that reads such an entry holds it until then (worker/holds.py), so the promotion and the
-- read are done by the time it falls due, however many fall due together.
-- KEYS[1] delay set, KEYS[2] stream (priority 0), KEYS[3..11] the streams of priorities 1-9
-- ARGV[1] most messages to move in one call, ARGV[2] lead (ms)
-- A message of a priority other than 0 starts with {"priority":N, (message.py writes it
-- first), so the priority is read without decoding the message.
-- Returns {moved, microseconds until the next message is due less the lead (-1: none left),
-- now in epoch µs}, by the server's clock.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local lead = tonumber(ARGV[2])
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now + lead, 'WITHSCORES', 'LIMIT', 0,
  tonumber(ARGV[1]))
local moved = {}
for i = 1, #due, 2 do
  local message, at = due[i], tonumber(due[i + 1])
  local level = tonumber(string.match(message, '^{"priority":([1-9]),')) or 0
  if at > now then
    redis.call('XADD', KEYS[2 + level], '*', 'message', message, 'due',
      string.format('%d', math.ceil(at * 1000)))
  else
    redis.call('XADD', KEYS[2 + level], '*', 'message', message)
  end
  moved[#moved + 1] = message
end
if #moved > 0 then
  redis.call('ZREM', KEYS[1], unpack(moved))
end
local wait = -1
local nxt = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #nxt > 0 then
  wait = math.max(0, math.floor((tonumber(nxt[2]) - lead - now) * 1000))
end
return {#moved, wait, math.floor(now * 1000)}
