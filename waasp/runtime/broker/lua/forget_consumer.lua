-- Delete the consumer of a worker that is leaving cleanly, unless it still holds entries.
-- KEYS[1] stream
-- ARGV[1] group, ARGV[2] consumer
-- Checked and deleted in one step: XGROUP DELCONSUMER drops a consumer's pending entries
-- from the group, so one that still holds any is kept, and reclaimed by the reaper later.
-- Returns 1 if the consumer is gone, 0 if it is kept.
local held = redis.pcall('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2])
if held.err then
  return 1  -- no stream or group: no consumer either
end
if #held > 0 then
  return 0
end
redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
return 1
