-- Move a dead letter back into its queue's stream.
-- KEYS[1] dead-letter stream, KEYS[2] stream
-- ARGV[1] dead-letter entry id, ARGV[2] message to enqueue (retries reset, replay recorded)
-- Returns the new stream entry id, or false when the dead letter is gone (already replayed
-- or purged), so two concurrent replays enqueue it once.
if #redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1]) == 0 then
  return false
end
local id = redis.call('XADD', KEYS[2], '*', 'message', ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[1])
return id
