-- Move a dead letter back into its queue's stream (that of its priority).
-- KEYS[1] dead-letter stream, KEYS[2] stream, KEYS[3] (optional, for a priority other than
-- 0) the queue's set of priorities in use
-- ARGV[1] dead-letter entry id, ARGV[2] message to enqueue (retries reset, replay recorded),
-- ARGV[3] (with KEYS[3]) the priority
-- Returns the new stream entry id, or false when the dead letter is gone (already replayed
-- or purged), so two concurrent replays enqueue it once.
if #redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1]) == 0 then
  return false
end
if KEYS[3] then
  redis.call('SADD', KEYS[3], ARGV[3])
end
local id = redis.call('XADD', KEYS[2], '*', 'message', ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[1])
return id
