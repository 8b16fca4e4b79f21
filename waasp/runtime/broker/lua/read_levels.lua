-- Read new entries from the streams of a queue's priorities, the best priority first: a
-- worse one is read only when the better ones had fewer than asked for.
-- KEYS[1..n] the streams, best priority first
-- ARGV[1] group, ARGV[2] consumer, ARGV[3] most entries in all, ARGV[4..3+n] the priority of
-- each stream
-- Returns {priority, entry id, message, due (epoch µs; 0: due already), ...}.
local out = {}
local left = tonumber(ARGV[3])
for i, stream in ipairs(KEYS) do
  if left <= 0 then
    break
  end
  local reply = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', left,
    'STREAMS', stream, '>')
  if reply then
    for _, entry in ipairs(reply[1][2]) do
      local fields, message, due = entry[2], '', 0
      for j = 1, #fields, 2 do
        if fields[j] == 'message' then
          message = fields[j + 1]
        elseif fields[j] == 'due' then
          due = fields[j + 1]
        end
      end
      table.insert(out, ARGV[3 + i])
      table.insert(out, entry[1])
      table.insert(out, message)
      table.insert(out, due)
      left = left - 1
    end
  end
end
return out
