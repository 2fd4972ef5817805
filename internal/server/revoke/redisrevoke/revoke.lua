-- Revokes a session until a time, keeping the later of two revocations.
-- KEYS[1]: the session's key, holding the end of its revocation (Unix ms).
-- ARGV[1]: until (Unix ms); ARGV[2]: skew (ms).
-- The key expires skew after until by Redis' clock, or skew after Redis' now
-- if until has already passed there: a caller's clock that lags Redis' by
-- less than skew still finds it. Returns 1 if it stored until, 0 if an
-- equal or later revocation was already there.
local u = tonumber(ARGV[1])
local cur = tonumber(redis.call('GET', KEYS[1]))
if cur and cur >= u then
  return 0
end
local t = redis.call('TIME')
local redis_now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('SET', KEYS[1], u, 'PXAT', math.max(u, redis_now) + tonumber(ARGV[2]))
return 1
