-- Blocks a client for a duration from the caller's time, replacing any block
-- and clearing its count (see ratelimit.Blocker.Block).
-- KEYS[1]: the client's count; KEYS[2]: the block list.
-- ARGV: now (Unix ms), duration (ms), client, skew (ms).
-- Returns the block's end, Unix ms.
local now = tonumber(ARGV[1])
local d = tonumber(ARGV[2])
local u = now + d
redis.call('DEL', KEYS[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[4]))
redis.call('ZADD', KEYS[2], u, ARGV[3])
local ttl = d + tonumber(ARGV[4])
if redis.call('PTTL', KEYS[2]) < ttl then
  redis.call('PEXPIRE', KEYS[2], ttl)
end
return u
