-- Hand back entries a stopping consumer holds but will not finish, so that another worker
-- gets them now instead of after the visibility timeout.
-- KEYS[1] stream
-- ARGV[1] group, ARGV[2] consumer, ARGV[3..] entry ids
-- Each entry still owned by this consumer is re-added at the stream's tail, then
-- acknowledged and deleted, in one step. Returns the number released.
local released = 0
for i = 3, #ARGV do
  local id = ARGV[i]
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1, ARGV[2])
  if #p == 1 then
    local e = redis.call('XRANGE', KEYS[1], id, id)
    if #e == 1 then
      redis.call('XADD', KEYS[1], '*', unpack(e[1][2]))
    end
    redis.call('XACK', KEYS[1], ARGV[1], id)
    redis.call('XDEL', KEYS[1], id)
    released = released + 1
  end
end
return released
