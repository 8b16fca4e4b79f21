-- The clock of the server that holds a key (TIME itself names no key, so a Redis Cluster
-- client cannot route it, nor send it in a pipeline).
-- KEYS[1] a key whose node answers (it is neither read nor written)
-- Returns TIME's reply: {seconds, microseconds}.
return redis.call('TIME')
