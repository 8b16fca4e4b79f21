-- Record one batch of task events, counters and run times in one step.
-- KEYS[1] events stream, KEYS[2] failures stream, KEYS[3] counts hash, KEYS[4] run-time hash,
-- KEYS[5] the throughput hash of the bucket the caller expects this server's clock to be in
--         (the prefix, then the bucket's epoch seconds); if the clock is in another bucket,
--         nothing is written and the server time is returned negated, for a call again
-- KEYS[6] sorted set of the task names counted in KEYS[3] and KEYS[4], by last event (ms)
-- ARGV[1] events max length (~), ARGV[2] failures max length (~),
-- ARGV[3] TTL ms of the events stream and throughput hashes,
-- ARGV[4] TTL ms of the counts, run times and failures, ARGV[5] throughput bucket seconds,
-- ARGV[6..14] how many: count pairs, bucket pairs, sum pairs, throughput pairs, events,
--   failures, task names, field suffixes of KEYS[3], field suffixes of KEYS[4]; then, in that
--   order: count pairs (field, n) for KEYS[3]; bucket pairs (field, n) and sum pairs
--   (field, seconds) for KEYS[4]; throughput pairs (event, n); event JSON documents for
--   KEYS[1]; failure JSON documents for KEYS[2]; the task names this batch counts; the
--   suffixes that make a name's fields in KEYS[3], then in KEYS[4].
-- A name without an event for ARGV[4] ms loses its fields (at most 100 names per call), so
-- the hashes hold only names still in use even while other names keep them alive.
-- Returns the server time in epoch ms (negated: see KEYS[5]).
local t = redis.call('TIME')
local now_s = tonumber(t[1])
local now_ms = now_s * 1000 + math.floor(tonumber(t[2]) / 1000)
local width = tonumber(ARGV[5])
local expected = string.match(KEYS[5], '(%d+)$')
if tonumber(expected) ~= now_s - now_s % width then
  return -now_ms
end
local n_counts, n_buckets, n_sums = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local n_tp, n_events, n_failures = tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11])
local n_names, n_count_fields, n_time_fields = tonumber(ARGV[12]), tonumber(ARGV[13]),
  tonumber(ARGV[14])
local i = 15
for _ = 1, n_counts do
  redis.call('HINCRBY', KEYS[3], ARGV[i], ARGV[i + 1])
  i = i + 2
end
if n_counts > 0 then redis.call('PEXPIRE', KEYS[3], ARGV[4]) end
for _ = 1, n_buckets do
  redis.call('HINCRBY', KEYS[4], ARGV[i], ARGV[i + 1])
  i = i + 2
end
for _ = 1, n_sums do
  redis.call('HINCRBYFLOAT', KEYS[4], ARGV[i], ARGV[i + 1])
  i = i + 2
end
if n_buckets + n_sums > 0 then redis.call('PEXPIRE', KEYS[4], ARGV[4]) end
if n_tp > 0 then
  local bucket = KEYS[5]
  for _ = 1, n_tp do
    redis.call('HINCRBY', bucket, ARGV[i], ARGV[i + 1])
    i = i + 2
  end
  redis.call('PEXPIRE', bucket, ARGV[3])
end
for _ = 1, n_events do
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'event', ARGV[i])
  i = i + 1
end
if n_events > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
for _ = 1, n_failures do
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'event', ARGV[i])
  i = i + 1
end
if n_failures > 0 then redis.call('PEXPIRE', KEYS[2], ARGV[4]) end
if n_names > 0 then
  for _ = 1, n_names do
    redis.call('ZADD', KEYS[6], now_ms, ARGV[i])
    i = i + 1
  end
  redis.call('PEXPIRE', KEYS[6], ARGV[4])
  local count_fields = {unpack(ARGV, i, i + n_count_fields - 1)}
  local time_fields = {unpack(ARGV, i + n_count_fields, i + n_count_fields + n_time_fields - 1)}
  local quiet = redis.call('ZRANGEBYSCORE', KEYS[6], '-inf', now_ms - tonumber(ARGV[4]),
    'LIMIT', 0, 100)
  for _, name in ipairs(quiet) do
    for _, hash in ipairs({{KEYS[3], count_fields}, {KEYS[4], time_fields}}) do
      local fields = {}
      for k, suffix in ipairs(hash[2]) do fields[k] = name .. suffix end
      redis.call('HDEL', hash[1], unpack(fields))
    end
    redis.call('ZREM', KEYS[6], name)
  end
end
return now_ms
