-- Append a message to the stream of one of a queue's priorities other than 0, and record that
-- the queue uses that priority (workers read only the priorities recorded).
-- KEYS[1] the priority's stream, KEYS[2] the queue's set of priorities in use
-- ARGV[1] message, ARGV[2] priority
-- Returns the new entry id.
redis.call('SADD', KEYS[2], ARGV[2])
return redis.call('XADD', KEYS[1], '*', 'message', ARGV[1])
