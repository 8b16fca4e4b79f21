-- Enqueue one cron tick, unless it or a later tick of the same entry was enqueued already.
-- KEYS[1] the entry's last-fired-tick key, KEYS[2] the target queue's stream
-- ARGV[1] the tick (epoch ms), ARGV[2] the task message, ARGV[3] TTL of KEYS[1] (ms)
-- Returns 1 if this call enqueued the tick, 0 if another scheduler had (or had fired a later one).
-- Comparing with the last tick, not testing for this one, makes ticks monotonic: a slow or
-- stale scheduler can never enqueue an older tick after a newer one.
local tick = tonumber(ARGV[1])
local last = tonumber(redis.call('GET', KEYS[1]) or '')
if last ~= nil and tick <= last then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
redis.call('XADD', KEYS[2], '*', 'message', ARGV[2])
return 1
