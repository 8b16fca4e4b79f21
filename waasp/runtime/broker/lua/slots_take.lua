-- Lease concurrency slots of one task (max_concurrency), shared by every worker.
-- KEYS[1] the task's leases: a sorted set, member (consumer|queue|entry id) -> expiry (epoch ms)
-- ARGV[1] most leases at once, ARGV[2] lease length in ms (the visibility timeout),
-- ARGV[3..] members, one per start
-- Leases past their expiry belonged to workers that died (a live one renews its leases) and
-- are dropped first, so a dead worker's slots come back after the visibility timeout.
-- Returns one code per member: 1 leased (or already held: renewed), 0 refused (the cap is
-- reached).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cap = tonumber(ARGV[1])
local expiry = now + tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local held = redis.call('ZCARD', KEYS[1])
local codes = {}
for i = 3, #ARGV do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    redis.call('ZADD', KEYS[1], expiry, ARGV[i])
    table.insert(codes, 1)
  elseif held < cap then
    redis.call('ZADD', KEYS[1], expiry, ARGV[i])
    held = held + 1
    table.insert(codes, 1)
  else
    table.insert(codes, 0)
  end
end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
return codes
