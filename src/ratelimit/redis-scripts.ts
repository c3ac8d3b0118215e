/**
 * The Lua scripts of the redis policy. Redis runs a script atomically, so "check every window,
 * then count in every window" is one indivisible step for the whole cluster: no two gateways can
 * both take the last unit of a budget. ioredis sends them with EVALSHA and reloads them itself
 * after NOSCRIPT (a restarted redis-server has forgotten them).
 */

/**
 * Fixed and sliding windows, counted on every request (sync_rate -1).
 * KEYS: per window, the current window's key then the previous window's key.
 * ARGV: cost, then per window: limit, ttl (ms), weight of the previous window (0 = fixed).
 * Returns {stop, used_1, ..., used_n}: stop is the 1-based window that refused (0 = admitted);
 * used_i is the count (sliding: estimate) after the request, or the one that refused it.
 */
export const HIT_WINDOWS = `
local cost = tonumber(ARGV[1])
local n = #KEYS / 2
local used = {}
local stop = 0
for i = 1, n do
  local base = 1 + (i - 1) * 3
  local limit = tonumber(ARGV[base + 1])
  local weight = tonumber(ARGV[base + 3])
  local u = tonumber(redis.call('GET', KEYS[2 * i - 1]) or '0')
  if weight > 0 then
    u = u + math.floor(tonumber(redis.call('GET', KEYS[2 * i]) or '0') * weight)
  end
  used[i] = u
  if stop == 0 and u + cost > limit then stop = i end
end
local out = {stop}
for i = 1, n do
  if stop == 0 then
    local base = 1 + (i - 1) * 3
    redis.call('INCRBY', KEYS[2 * i - 1], cost)
    redis.call('PEXPIRE', KEYS[2 * i - 1], ARGV[base + 2])
    used[i] = used[i] + cost
  end
  out[i + 1] = used[i]
end
return out
`;

/**
 * Token buckets (hash fields t = tokens, ts = last refill in ms), on every request.
 * KEYS: one per window. ARGV: cost, now (ms), then per window: capacity, tokens per ms, ttl (ms).
 * Returns {stop, milli_tokens_1, ...}: tokens left × 1000 (integers survive the Lua→RESP trip).
 */
export const TAKE_TOKENS = `
local cost = tonumber(ARGV[1])
local now = tonumber(ARGV[2])
local n = #KEYS
local tokens = {}
local stop = 0
for i = 1, n do
  local base = 2 + (i - 1) * 3
  local cap = tonumber(ARGV[base + 1])
  local rate = tonumber(ARGV[base + 2])
  local v = redis.call('HMGET', KEYS[i], 't', 'ts')
  local t = cap
  if v[1] then
    t = tonumber(v[1])
    local last = tonumber(v[2])
    if now > last then t = math.min(cap, t + (now - last) * rate) end
  end
  tokens[i] = t
  if stop == 0 and t < cost then stop = i end
end
local out = {stop}
for i = 1, n do
  local t = tokens[i]
  if stop == 0 then
    local base = 2 + (i - 1) * 3
    t = t - cost
    redis.call('HSET', KEYS[i], 't', string.format('%.6f', t), 'ts', ARGV[2])
    redis.call('PEXPIRE', KEYS[i], ARGV[base + 3])
  end
  out[i + 1] = math.floor(t * 1000)
end
return out
`;

/**
 * sync_rate > 0: add a worker's locally counted requests, and optionally take `want` more only if
 * every window has room for it (the request that found its local share used up).
 * KEYS: per window, the count key then the key of the set of workers sharing it.
 * ARGV: want, member (this worker), then per window: pending, limit, ttl (ms).
 * Returns {stop, total_1, sharers_1, ...}: stop as above (0 also when want is 0), totals after.
 */
export const SYNC_WINDOWS = `
local want = tonumber(ARGV[1])
local member = ARGV[2]
local n = #KEYS / 2
local totals = {}
local stop = 0
for i = 1, n do
  local base = 2 + (i - 1) * 3
  local pending = tonumber(ARGV[base + 1])
  local limit = tonumber(ARGV[base + 2])
  totals[i] = tonumber(redis.call('GET', KEYS[2 * i - 1]) or '0') + pending
  if want > 0 and stop == 0 and totals[i] + want > limit then stop = i end
end
local out = {stop}
for i = 1, n do
  local base = 2 + (i - 1) * 3
  local add = tonumber(ARGV[base + 1])
  if want > 0 and stop == 0 then
    add = add + want
    totals[i] = totals[i] + want
  end
  if add > 0 then redis.call('INCRBY', KEYS[2 * i - 1], add) end
  redis.call('PEXPIRE', KEYS[2 * i - 1], ARGV[base + 3])
  redis.call('SADD', KEYS[2 * i], member)
  redis.call('PEXPIRE', KEYS[2 * i], ARGV[base + 3])
  out[2 * i] = totals[i]
  out[2 * i + 1] = redis.call('SCARD', KEYS[2 * i])
end
return out
`;
