-- Take from a token bucket, on the Redis server's clock (every process shares it).
-- KEYS[1] the bucket, a hash: tokens (below 0 while slots are reserved), at (ms of the last
--         refill), denied (refusals not yet taken by rate_drain)
-- ARGV[1] rate in tokens per second, ARGV[2] burst (the bucket's size), ARGV[3] cost of a take,
-- ARGV[4] 1: a take that finds too few tokens reserves the next free slot (it takes the cost
--         all the same, so the tokens go below 0, and is told when its slot is); 0: it is
--         refused, and counted in denied
-- ARGV[5] ms a reservation stays good past its slot (one claimed later is taken afresh)
-- ARGV[6..] one per take: the slot (epoch ms) that take reserved earlier and claims now, or 0
-- Returns {now in epoch ms, denied, then one per take: 0 go now, or the ms until its slot
-- (reserved) or until the cost would be there (refused)}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local reserve = ARGV[4] == '1'
local grace = tonumber(ARGV[5])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at', 'denied')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
local denied = tonumber(state[3]) or 0
tokens = math.min(burst, tokens + math.max(now - at, 0) * rate / 1000)
local out = {now, 0}
for i = 6, #ARGV do
  local slot = tonumber(ARGV[i])
  if slot > 0 and now >= slot and now <= slot + grace then
    table.insert(out, 0) -- its token was taken when it reserved the slot
  elseif tokens >= cost then
    tokens = tokens - cost
    table.insert(out, 0)
  else
    table.insert(out, math.ceil((cost - tokens) * 1000 / rate))
    if reserve then tokens = tokens - cost else denied = denied + 1 end
  end
end
out[2] = denied
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now), 'denied', denied)
-- Kept twice as long as a refill takes (and as the reserved slots last): a full bucket is the
-- same as none, and refusals wait at most one refill for rate_drain.
redis.call('PEXPIRE', KEYS[1], math.ceil((2 * burst + math.max(-tokens, 0)) * 1000 / rate) + 1000)
return out
