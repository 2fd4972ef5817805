-- GCRA for each of KEYS in order, at the caller's time (see package ratelimit).
-- ARGV[1]: now, Unix ms; ARGV[2]: slack, ms added to each key's TTL. For
-- KEYS[i]: ARGV[2i+1] the emission interval T and ARGV[2i+2] the burst
-- offset Burst*T, both in ms (T >= 1).
-- A key holds its TAT in Unix ms; a missing key has TAT = now.
-- Returns four integers per key: allowed (1 or 0), remaining, retry after
-- (ms), reset after (ms).
local now = tonumber(ARGV[1])
local slack = tonumber(ARGV[2])
local out = {}
for i, key in ipairs(KEYS) do
  local t = tonumber(ARGV[2 * i + 1])
  local burst = tonumber(ARGV[2 * i + 2])
  local tat = tonumber(redis.call('GET', key) or now)
  if tat < now then
    tat = now
  end
  local new_tat = tat + t
  local allow_at = new_tat - burst
  local n = #out
  if now < allow_at then
    -- Denied: nothing is written. tat > now here, since burst >= t.
    out[n + 1], out[n + 2], out[n + 3], out[n + 4] = 0, 0, allow_at - now, tat - now
  else
    redis.call('SET', key, new_tat, 'PX', new_tat - now + slack)
    out[n + 1], out[n + 2], out[n + 3], out[n + 4] = 1, math.floor((now - allow_at) / t), 0, new_tat - now
  end
end
return out
