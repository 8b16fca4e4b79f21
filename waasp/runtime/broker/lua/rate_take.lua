-- Take tokens from a token bucket, on the Redis server's clock (every process shares it).
-- KEYS[1] the bucket, a hash: tokens, at (ms of the last refill), denied (refusals not yet
--         taken by rate_drain)
-- ARGV[1] rate in tokens per second, ARGV[2] burst (the bucket's size), ARGV[3] cost
-- Returns {1 allowed | 0 refused, ms until the cost would be there (0 when allowed), denied}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at', 'denied')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
local denied = tonumber(state[3]) or 0
tokens = math.min(burst, tokens + math.max(now - at, 0) * rate / 1000)
local allowed, wait = 0, 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  wait = math.ceil((cost - tokens) * 1000 / rate)
  denied = denied + 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now), 'denied', denied)
-- Kept twice as long as a refill takes: a full bucket is the same as none, and refusals
-- wait at most one refill for rate_drain.
redis.call('PEXPIRE', KEYS[1], math.ceil(2 * burst * 1000 / rate) + 1000)
return {allowed, wait, denied}
