-- Cap a queue's dead-letter stream: remove its oldest entries beyond the limit, and count them.
-- KEYS[1] dead-letter stream, KEYS[2] the queue's counter of trimmed dead letters
-- ARGV[1] max length, ARGV[2] TTL of KEYS[2] in ms
-- Returns how many entries this call removed.
if redis.call('XLEN', KEYS[1]) <= tonumber(ARGV[1]) then
  return 0
end
local removed = redis.call('XTRIM', KEYS[1], 'MAXLEN', ARGV[1])
redis.call('INCRBY', KEYS[2], removed)
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return removed
