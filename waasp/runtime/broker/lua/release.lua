-- Hand back entries a stopping consumer holds but will not finish, so that another worker
-- gets them now instead of after the visibility timeout.
-- KEYS[1] stream, KEYS[2] starts hash
-- ARGV[1] group, ARGV[2] consumer, ARGV[3] TTL of KEYS[2] (ms), ARGV[4..] entry ids
-- Each entry still owned by this consumer is re-added at the stream's tail, then
-- acknowledged and deleted, in one step; its start count moves to the new entry, so a task
-- that never finishes within the shutdown timeout is not started afresh for ever.
-- Returns the number released.
local released = 0
for i = 4, #ARGV do
  local id = ARGV[i]
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1, ARGV[2])
  if #p == 1 then
    local e = redis.call('XRANGE', KEYS[1], id, id)
    local starts = redis.call('HGET', KEYS[2], id)
    if #e == 1 then
      local new_id = redis.call('XADD', KEYS[1], '*', unpack(e[1][2]))
      if starts then
        redis.call('HSET', KEYS[2], new_id, starts)
        redis.call('PEXPIRE', KEYS[2], ARGV[3])
      end
    end
    redis.call('XACK', KEYS[1], ARGV[1], id)
    redis.call('XDEL', KEYS[1], id)
    if starts then redis.call('HDEL', KEYS[2], id) end
    released = released + 1
  end
end
return released
