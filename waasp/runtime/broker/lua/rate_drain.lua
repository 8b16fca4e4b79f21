-- Take the refusals a token bucket counted, and count from zero again.
-- KEYS[1] the bucket (see rate_take.lua)
-- Returns the number of refusals since the last call (0 when the bucket is gone)
local denied = tonumber(redis.call('HGET', KEYS[1], 'denied')) or 0
if denied > 0 then
  redis.call('HSET', KEYS[1], 'denied', 0)
end
return denied
