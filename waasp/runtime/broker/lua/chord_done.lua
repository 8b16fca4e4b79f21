-- Count one finished member of a chord; say whether every member has finished.
-- KEYS[1] the chord's hash: field "r:INDEX" holds member INDEX's result (JSON), "failed" is
-- set once a member failed for good
-- ARGV[1] member index, ARGV[2] chord size, ARGV[3] the member's result (JSON), ARGV[4] TTL ms
-- Returns 0 while members are missing, -1 if the chord failed, else the members' results in
-- member order (a list of JSON strings).
-- The member's field is written only once (HSETNX), so a redelivered member (its worker died
-- after counting, before acknowledging) counts once and cannot change a result the callback
-- may have been sent with. Every finishing member that finds the chord complete gets the
-- results, the redelivered one too: the callback's send is made idempotent by its task id, so
-- a worker that died between counting and sending cannot lose the callback.
if redis.call('HEXISTS', KEYS[1], 'failed') == 1 then
  return -1
end
redis.call('HSETNX', KEYS[1], 'r:' .. ARGV[1], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
local size = tonumber(ARGV[2])
if redis.call('HLEN', KEYS[1]) < size then
  return 0
end
local results = {}
for i = 0, size - 1 do
  results[i + 1] = redis.call('HGET', KEYS[1], 'r:' .. i)
end
return results
