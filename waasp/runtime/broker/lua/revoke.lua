-- Remember that a task is revoked, for as long as its result would live.
-- KEYS[1] sorted set of revoked task ids, KEYS[2] sorted set of those revoked with terminate
-- (both scored by the server time, in ms, at which the revoke is forgotten)
-- ARGV[1] task id, ARGV[2] how long to remember it (ms), ARGV[3] "1" to terminate it too
-- Members past their time are dropped here, and each set lives as long as its longest-lived
-- member, so neither grows without bound nor outlives the revokes it holds.
-- Returns 1 if the task was not revoked already, else 0.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
local function remember(key)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  redis.call('ZADD', key, 'GT', now + ttl, ARGV[1])
  if redis.call('PTTL', key) < ttl then
    redis.call('PEXPIRE', key, ttl)
  end
end
local new = redis.call('ZSCORE', KEYS[1], ARGV[1]) == false and 1 or 0
remember(KEYS[1])
if ARGV[3] == '1' then
  remember(KEYS[2])
end
return new
