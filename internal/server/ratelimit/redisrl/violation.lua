-- Counts one violation of a client at the caller's time, blocking it on
-- reaching the threshold (see ratelimit.Blocker.RecordViolation).
-- KEYS[1]: the client's count, a hash {n: count, e: when it lapses (Unix ms,
-- Window after the latest violation)}; KEYS[2]: the block list, a
-- sorted set scored by block end.
-- ARGV: now (Unix ms), threshold, duration (ms), window (ms), client,
-- skew (ms: how long after their end blocks stay in the list), slack (ms
-- added to the count's TTL).
-- Returns {count, blocked (1/0), new block (1/0), until (Unix ms)}.
local now = tonumber(ARGV[1])
local client = ARGV[5]
local blocked_until = tonumber(redis.call('ZSCORE', KEYS[2], client))
if blocked_until and blocked_until > now then
  return {0, 1, 0, blocked_until}
end
local window = tonumber(ARGV[4])
local count = 1
local prev = redis.call('HMGET', KEYS[1], 'n', 'e')
if prev[1] and prev[2] and tonumber(prev[2]) > now then
  count = tonumber(prev[1]) + 1
end
if count >= tonumber(ARGV[2]) then
  local d = tonumber(ARGV[3])
  local u = now + d
  redis.call('DEL', KEYS[1])
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[6]))
  redis.call('ZADD', KEYS[2], u, client)
  local ttl = d + tonumber(ARGV[6])
  if redis.call('PTTL', KEYS[2]) < ttl then
    redis.call('PEXPIRE', KEYS[2], ttl)
  end
  return {count, 1, 1, u}
end
redis.call('HSET', KEYS[1], 'n', count, 'e', now + window)
redis.call('PEXPIRE', KEYS[1], window + tonumber(ARGV[7]))
return {count, 0, 0, 0}
