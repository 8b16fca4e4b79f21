-- Record a worker's heartbeat, stamped with the Redis server's clock.
-- KEYS[1] the worker's hash, KEYS[2] sorted set of workers
-- ARGV[1] worker name, ARGV[2] ttl ms, then field/value pairs for the hash
-- Returns the server time in epoch ms.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
local fields = {}
for i = 3, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], 'last_heartbeat', now / 1000, unpack(fields))
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('ZADD', KEYS[2], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - ttl)
redis.call('PEXPIRE', KEYS[2], 86400000)
return now
