-- Renew the concurrency leases a live worker holds (see slots_take.lua).
-- KEYS[1] the task's leases, ARGV[1] lease length in ms, ARGV[2..] members
-- Only leases still there are renewed: one that expired may have been given to another start.
-- Returns how many were renewed.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local renewed = 0
for i = 2, #ARGV do
  renewed = renewed + redis.call('ZADD', KEYS[1], 'XX', 'CH', now + tonumber(ARGV[1]), ARGV[i])
end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]) * 2)
return renewed
