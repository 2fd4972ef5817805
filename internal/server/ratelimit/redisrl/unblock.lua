-- Lifts a client's block and clears its count (see ratelimit.Blocker.Unblock).
-- KEYS[1]: the client's count; KEYS[2]: the block list. ARGV[1]: the client.
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 0
