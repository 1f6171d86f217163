/**
 * The Lua scripts of RedisRegistry (key layout in RedisRegistry.ts). Scripts keep heartbeat and
 * EWMA updates atomic across replicas and run the search next to the data in one round trip.
 */
import { createHash } from 'node:crypto';

// Drops a node from the tile set it was last put in (tileOf remembers which, beyond the node's ttl).
export const UNTILE = `
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old then redis.call('ZREM', old, ARGV[1]) end
redis.call('HDEL', KEYS[1], ARGV[1])
return 1`;

// Also refreshes the node's row in the search hash (see searchRow in RedisRegistry.ts).
export const TOUCH = `
local n = redis.call('HMGET', KEYS[1], 'd', 'v', 'c', 'p')
if not n[1] then return false end
redis.call('HSET', KEYS[1], 'l', ARGV[1], 'f', ARGV[2], 's', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[5])
redis.call('HSET', KEYS[3], ARGV[5], table.concat({ n[2], ARGV[1], ARGV[2], ARGV[3], n[3], n[4], n[1] }, ' '))
return n[1]`;

// The same arithmetic as foldObservation() in Registry.ts.
export const LEARN = `
local b = tonumber(redis.call('HGET', KEYS[1], 'b'))
local n = tonumber(redis.call('HGET', KEYS[1], 'n')) or 0
local r = tonumber(redis.call('HGET', KEYS[1], 'r')) or 1
if ARGV[1] == '1' then
  local x = tonumber(ARGV[2])
  if b == nil then b = x else b = b + tonumber(ARGV[4]) * (x - b) end
  n = n + 1
  redis.call('HSET', KEYS[1], 'b', string.format('%.17g', b))
end
local a = 0
if ARGV[3] == '1' then a = 1 end
r = r + tonumber(ARGV[5]) * (a - r)
redis.call('HSET', KEYS[1], 'n', n, 'r', string.format('%.17g', r))
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return 1`;

// One round trip per query: finds the `count` nearest members, reads their hashes and applies the
// eligibility check (caps mask, price, load, free capacity, reputation: the same rules as
// eligibilityFilter) next to the data; when too few pass, it asks again for more members.
//
// Where the time went before (210k nodes, bench query mix): growing a radius from 8 km re-ran
// GEOSEARCH on every ring, each ring over every 2-degree tile it touched, and a ring that reached
// a dense city scanned the whole city (GEOSEARCH reads every member of the geohash cells around
// the point, cells >= the radius): ~2 ms p50 and 6 ms p99 of Redis time per query, 10-80
// GEOSEARCH calls. Now the big tiers are searched best-first over small tiles: tiles in rings
// around the point's tile, nearest first, skipping those a cheap lower bound puts beyond the
// current c-th nearest distance, and empty ones (one SMISMEMBER per ring on the occupied-tile
// set). A tile search scans at most that tile's members, and only tiles that can still hold one
// of the c nearest are searched, so a query reads a few hundred members however far the rings go.
// Small tiers (cloud) have few members in all: plain growing rings over the tier-wide set.
// Reply: radius, members read in the last pass, then one space-joined "id v l f s b n r d" string
// per eligible hit, nearest first (one reply item per hit keeps client parsing cheap; ids cannot
// contain spaces; d, the descriptor JSON, comes last because it may).
export const NEAREST = `
local lon, lat = ARGV[1], ARGV[2]
local radius, need = tonumber(ARGV[3]), tonumber(ARGV[4])
local nodePrefix, statsPrefix = ARGV[5], ARGV[6]
local maxRadius, growth = tonumber(ARGV[7]), tonumber(ARGV[8])
local capsMask, maxPrice, maxLoad, minRep = tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11]), tonumber(ARGV[12])
local maxExamined = tonumber(ARGV[13])
local checkEligibility = ARGV[14] == '1'
local count = math.ceil(need * tonumber(ARGV[15]))
local tileDeg, tilePrefix = tonumber(ARGV[16]), ARGV[17]
local smallTier, maxRings = tonumber(ARGV[18]), tonumber(ARGV[19])
local oldest = tonumber(ARGV[20])
local emptyRings = 8
local lat0, lon0 = tonumber(lat), tonumber(lon)
local nLon, nLat = math.floor(360 / tileDeg + 0.5), math.floor(180 / tileDeg + 0.5)
local tx0, ty0 = math.floor((lon0 + 180) / tileDeg), math.floor((lat0 + 90) / tileDeg)
local wholeTier = redis.call('ZCARD', KEYS[1]) <= smallTier

-- growing rings over the tier-wide set (small tiers, and the rare search that outgrows maxRings)
local function rings(r, c)
  while true do
    local hits = redis.call('GEOSEARCH', KEYS[1], 'FROMLONLAT', lon, lat, 'BYRADIUS', r, 'km', 'ASC', 'COUNT', c)
    if #hits >= c or r >= maxRadius then return hits, r end
    -- at most x2: the geohash cells scanned double with the radius, so a bigger jump costs up to 16x
    local factor = 2
    if #hits > 0 then factor = math.min(2, math.max(growth, math.sqrt(c / #hits) * 1.2)) end
    r = math.min(r * factor, maxRadius)
  end
end

-- a lower bound (km) on the distance from the point to tile (tx unwrapped, ty): meridian gap, or
-- longitude gap at the tile's most poleward latitude; 0.9 covers great-circle shortcuts and
-- Redis's slightly larger Earth radius
local function tileBound(tx, ty)
  local latLo = ty * tileDeg - 90
  local latHi = latLo + tileDeg
  local lonLo = tx * tileDeg - 180
  local dLat = math.max(0, latLo - lat0, lat0 - latHi)
  local dLon = math.max(0, lonLo - lon0, lon0 - lonLo - tileDeg)
  local poleward = math.min(90, math.max(math.abs(latLo), math.abs(latHi), math.abs(lat0)))
  return 0.9 * 111.19 * math.max(dLat, dLon * math.cos(math.rad(poleward)))
end

-- the first c of two nearest-first lists: a linear merge, because table.sort with a Lua comparator
-- over every tile's hits (up to c per tile) was ~0.4 ms of a metro query
local function merge(a, b, c)
  local out, i, j = {}, 1, 1
  local na, nb = #a, #b
  while #out < c and (i <= na or j <= nb) do
    if j > nb or (i <= na and a[i][2] <= b[j][2]) then
      out[#out + 1] = a[i]
      i = i + 1
    else
      out[#out + 1] = b[j]
      j = j + 1
    end
  end
  return out
end

-- the (up to) c nearest within r0, nearest first, and the c-th distance; nil when maxRings ran out
local function bestFirst(c, r0)
  local found, bound = {}, r0
  for d = 0, maxRings do
    if 2 * d + 1 > nLon then return nil, 0 end
    -- nobody within d tiles (mid-ocean, or a remote region): walking ever larger empty rings
    -- costs more than growing radii over the tier-wide set, which is cheap where nodes are sparse
    if d >= emptyRings and #found == 0 then return nil, 0.9 * 111.19 * tileDeg * d end
    local names = {}
    local inRange = false
    for dy = -d, d do
      local ty = ty0 + dy
      local stepX = 2 * d
      if dy == -d or dy == d then stepX = 1 end
      if ty >= 0 and ty < nLat then
        for dx = -d, d, stepX do
          if tileBound(tx0 + dx, ty) <= bound then
            inRange = true
            names[#names + 1] = ((tx0 + dx) % nLon) .. ':' .. ty
          end
        end
      end
    end
    -- every tile of this ring lies beyond the c-th nearest found (or beyond maxRadius): done
    if not inRange then return found, bound end
    local occupied = redis.call('SMISMEMBER', KEYS[2], unpack(names))
    for i, name in ipairs(names) do
      if occupied[i] == 1 then
        local hits = redis.call('GEOSEARCH', tilePrefix .. name, 'FROMLONLAT', lon, lat, 'BYRADIUS', bound, 'km', 'ASC', 'COUNT', c, 'WITHDIST')
        if #hits > 0 then
          for k, h in ipairs(hits) do hits[k] = { h[1], tonumber(h[2]) } end
          found = merge(found, hits, c)
          -- a tighter bound at once: the ring's next tiles are searched with a smaller radius
          if #found >= c then bound = found[c][2] end
        end
      end
    end
  end
  return nil, 0.9 * 111.19 * tileDeg * maxRings
end

local function search(c)
  if not wholeTier then
    local found, bound = bestFirst(c, maxRadius)
    if found then
      local ids = {}
      for i = 1, math.min(c, #found) do ids[i] = found[i][1] end
      radius = bound
      return ids
    end
    -- nothing within maxRings' reach holds c members: rings can start where the tiles stopped
    radius = math.max(radius, math.min(bound, maxRadius))
  end
  local hits, r = rings(radius, c)
  radius = r
  return hits
end

local rows
local lastRead = 0
while true do
  local hits = search(count)
  rows = {}
  lastRead = #hits
  -- the search rows of all hits in a few HMGETs: a redis.call per member (two hashes each) was
  -- ~3 us of Lua-to-Redis overhead apiece, most of the script's time once the search was cheap
  local vals = {}
  for i = 1, #hits, 4000 do
    local part = redis.call('HMGET', KEYS[3], unpack(hits, i, math.min(i + 3999, #hits)))
    for j = 1, #part do vals[i + j - 1] = part[j] end
  end
  for i, id in ipairs(hits) do
    local n = {}
    if vals[i] then n = { string.match(vals[i], '^(%S+) (%S+) (%S+) (%S+) (%S+) (%S+) (.*)$') } end
    -- a row outlives its expired hash until the sweep: lastSeen decides, as the client does
    if n[1] and tonumber(n[4]) > oldest and (not checkEligibility or (tonumber(n[3]) > 0 and tonumber(n[2]) < maxLoad and tonumber(n[6]) <= maxPrice
      and bit.band(tonumber(n[5]), capsMask) == capsMask)) then
      local st = redis.call('HMGET', statsPrefix .. id, 'b', 'n', 'r')
      if not checkEligibility or (tonumber(st[3]) or 1) >= minRep then
        rows[#rows + 1] = table.concat({ id, n[1], n[2], n[3], n[4], st[1] or '', st[2] or '', st[3] or '', n[7] }, ' ')
      end
    end
  end
  if #rows >= need or #hits < count or count >= maxExamined then break end
  -- enough members but too few eligible: look at as many more as this pass's rate says are needed
  local passRate = math.max(#rows / #hits, 0.02)
  count = math.min(maxExamined, math.max(count * 2, math.ceil(need / passRate * 1.25)))
end
table.insert(rows, 1, tostring(radius))
table.insert(rows, 2, tostring(lastRead))
return rows`;

export const NEAREST_SHA = createHash('sha1').update(NEAREST).digest('hex');

export const SWEEP = `
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
local removed = 0
for _, id in ipairs(ids) do
  if redis.call('EXISTS', ARGV[3] .. id) == 0 then
    redis.call('ZREM', KEYS[2], id)
    redis.call('ZREM', KEYS[3], id)
    redis.call('ZREM', KEYS[1], id)
    local tile = redis.call('HGET', KEYS[4], id)
    if tile then redis.call('ZREM', tile, id) end
    redis.call('HDEL', KEYS[4], id)
    redis.call('HDEL', KEYS[5], id)
    removed = removed + 1
  end
end
return removed`;
