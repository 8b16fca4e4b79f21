-- Renew the leases a live consumer holds: reset the idle time of its pending entries.
-- KEYS[1] stream
-- ARGV[1] group, ARGV[2] consumer, ARGV[3..] entry ids
-- Only entries still owned by this consumer are renewed, so a worker that lost an entry to
-- a reclaim never takes it back. Returns the ids another consumer holds now; an id no
-- longer pending at all was settled (maybe just now, by this consumer) and is not a loss.
local lost = {}
for i = 3, #ARGV do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if #p == 1 then
    if p[1][2] == ARGV[2] then
      redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
    else
      table.insert(lost, ARGV[i])
    end
  end
end
return lost
