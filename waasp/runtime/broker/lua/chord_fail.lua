-- Mark a chord failed: one of its members failed for good, so its callback never runs.
-- KEYS[1] the chord's hash (see chord_done.lua)
-- ARGV[1] chord size, ARGV[2] TTL ms
-- Returns 1 if the chord is failed (by this call or an earlier one: a redelivered failing
-- member must still get its callback's FAILURE written), 0 if every member had finished
-- already (the callback was sent; a late failure, e.g. of a replayed member, changes nothing).
if redis.call('HEXISTS', KEYS[1], 'failed') == 0 then
  if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[1]) then
    return 0
  end
  redis.call('HSET', KEYS[1], 'failed', '1')
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
