-- Append a message to a queue's stream unless a send of its task id is remembered.
-- KEYS[1] the task id's sent marker, KEYS[2] stream
-- ARGV[1] message, ARGV[2] how long the marker is remembered (ms)
-- Returns 1 if this call enqueued the message, 0 if the task id was sent already.
-- The check and the XADD are one step, so a producer that re-sends after a lost reply, or
-- two producers sending one id at once, enqueue it once.
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[2]) then
  return 0
end
redis.call('XADD', KEYS[2], '*', 'message', ARGV[1])
return 1
