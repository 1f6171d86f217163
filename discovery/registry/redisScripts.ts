/**
 * The Lua scripts of RedisRegistry (key layout in RedisRegistry.ts). Scripts keep heartbeat and
 * EWMA updates atomic across replicas and run the search next to the data in one round trip.
 */
import { createHash } from 'node:crypto';

// Tile placement (see RedisRegistry.ts "Layout"): a node sits in its tile's `a` set and in one
// set per capability bit it has; `tileOf` remembers "tier mask x:y" so a move, a removal or the
// sweep takes it out of exactly those sets. The census counts members per set (the search picks
// the rarest requested capability), and a tile whose set empties leaves that set's centres.
const PLACEMENT_FNS = `
local function placementSets(mask)
  local out, b = { 'a' }, 1
  while b <= mask do
    if bit.band(mask, b) ~= 0 then out[#out + 1] = tostring(b) end
    b = b * 2
  end
  return out
end
-- the node's learned stats as one "b n r" field of \`learned\` (empty fields: none learned), so the
-- search reads every candidate's in one HMGET instead of a call per row (see NEAREST)
local function mirrorStats(prefix, id)
  local st = redis.call('HMGET', prefix .. 'stats:' .. id, 'b', 'n', 'r')
  redis.call('HSET', prefix .. 'learned', id, (st[1] or '') .. ' ' .. (st[2] or '') .. ' ' .. (st[3] or ''))
end
local function unplace(prefix, id, placement)
  local tier, mask, tile = string.match(placement, '^(%S+) (%S+) (%S+)$')
  if not tile then return end
  for _, set in ipairs(placementSets(tonumber(mask))) do
    local tileKey = prefix .. 'tile:' .. tier .. ':' .. set .. ':' .. tile
    if redis.call('ZREM', tileKey, id) == 1 then
      redis.call('HINCRBY', prefix .. 'census:' .. tier, set, -1)
      if redis.call('EXISTS', tileKey) == 0 then redis.call('ZREM', prefix .. 'tiles:' .. tier .. ':' .. set, tile) end
    end
  end
end
`;

// KEYS[1] tileOf; ARGV prefix, id, tier, caps mask, lon, lat, tile "x:y", tile centre lon, lat
export const PLACE = `${PLACEMENT_FNS}
local prefix, id, tier, mask, tile = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[7]
local old = redis.call('HGET', KEYS[1], id)
if old then unplace(prefix, id, old) end
for _, set in ipairs(placementSets(mask)) do
  redis.call('GEOADD', prefix .. 'tile:' .. tier .. ':' .. set .. ':' .. tile, ARGV[5], ARGV[6], id)
  redis.call('GEOADD', prefix .. 'tiles:' .. tier .. ':' .. set, ARGV[8], ARGV[9], tile)
  redis.call('HINCRBY', prefix .. 'census:' .. tier, set, 1)
end
redis.call('HSET', KEYS[1], id, tier .. ' ' .. mask .. ' ' .. tile)
mirrorStats(prefix, id)
return 1`;

export const PLACE_SHA = createHash('sha1').update(PLACE).digest('hex');

// KEYS[1] tileOf; ARGV prefix, id
export const UNPLACE = `${PLACEMENT_FNS}
local old = redis.call('HGET', KEYS[1], ARGV[2])
if old then unplace(ARGV[1], ARGV[2], old) end
redis.call('HDEL', KEYS[1], ARGV[2])
redis.call('HDEL', ARGV[1] .. 'learned', ARGV[2])
return 1`;

// A status update (load, free capacity) that also counts as liveness, for one node: returns its
// descriptor line, or false when it is unknown or expired. Also refreshes the node's row in the
// search hash (see searchRow in redisRecord.ts). Liveness is the node's score in \`seen\`, nothing else.
const TOUCH_FN = `
local function touchOne(nodeKey, seenKey, searchKey, id, load, free, now, oldest)
  local s = tonumber(redis.call('ZSCORE', seenKey, id))
  if not s or s <= oldest then return false end
  local n = redis.call('HMGET', nodeKey, 'd', 'v', 'c', 'p')
  if not n[1] then return false end
  redis.call('HSET', nodeKey, 'l', load, 'f', free, 's', now)
  redis.call('ZADD', seenKey, 'GT', now, id)
  redis.call('HSET', searchKey, id, table.concat({ n[2], load, free, now, n[3], n[4], n[1] }, ' '))
  return n[1]
end
`;

// KEYS node, seen, search; ARGV load, free, now, oldest live lastSeen, id.
export const TOUCH = `${TOUCH_FN}
return touchOne(KEYS[1], KEYS[2], KEYS[3], ARGV[5], ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]))`;

// Many status updates in one script (the node channel's batched load pushes): a script call, its
// round trip and its reply per batch instead of per node. KEYS seen, search; ARGV prefix, oldest
// live lastSeen, then (id, load, free, now) per node. Returns the 1-based positions of the nodes
// it does not hold (they must register again).
export const TOUCH_MANY = `${TOUCH_FN}
local prefix, oldest = ARGV[1], tonumber(ARGV[2])
local missing = {}
for i = 3, #ARGV, 4 do
  local id = ARGV[i]
  if not touchOne(prefix .. 'node:' .. id, KEYS[1], KEYS[2], id, ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], oldest) then
    missing[#missing + 1] = (i - 3) / 4 + 1
  end
end
return missing`;

export const TOUCH_MANY_SHA = createHash('sha1').update(TOUCH_MANY).digest('hex');

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
local rs = string.format('%.17g', r)
redis.call('HSET', KEYS[1], 'n', n, 'r', rs)
redis.call('PEXPIRE', KEYS[1], ARGV[6])
-- KEYS[2] tileOf, KEYS[3] learned, ARGV[7] id: a placed node's mirror row (NEAREST reads it)
if KEYS[3] and redis.call('HEXISTS', KEYS[2], ARGV[7]) == 1 then
  local bs = ''
  if b ~= nil then bs = string.format('%.17g', b) end
  redis.call('HSET', KEYS[3], ARGV[7], bs .. ' ' .. n .. ' ' .. rs)
end
return 1`;

// One round trip per query: finds the `count` nearest members, reads their search rows and applies
// the eligibility check (caps mask, price, load, free capacity, reputation: the same rules as
// eligibilityFilter) next to the data; when too few pass, it asks again for more members.
//
// Where the time went before (210k nodes, bench query mix, Redis 7.0): tile rings walked around
// the point (tileBound in Lua + one SMISMEMBER per ring, ~170 + 47 us a query, and regional or
// remote clients walked many empty rings), then ~57 members read to find 16 eligible (about 40 %
// pass caps + price + free capacity): each read member costs its GEOSEARCH hit conversion, its
// HMGET share and its row parse. Now:
// - Searches run on the tile sets of the rarest requested capability (the census says which), so
//   most members read pass (infer + price: ~75 % instead of ~40 %): fewer tiles, hits and rows.
// - Occupied tiles come nearest-first from a GEO set of tile centres: a tile is searched while
//   its lower bound (centre distance - half a tile diagonal) is within the c-th nearest found,
//   and the centre search widens (x2) only while an unsearched tile could still hold a nearer
//   member. No empty ring is ever walked; a mid-ocean query costs a few centre searches.
// - A tile search's radius is min(c-th distance, centre distance + half diagonal), which covers
//   the whole tile but keeps Redis's geohash cells small (a 2000 km radius on a 72-member tile
//   cost 25 us, a 5 km one 6.5 us).
// Reply: radius, members read in the last pass, then one space-joined "id v l f s b n r d" string
// per eligible hit, nearest first (one reply item per hit keeps client parsing cheap; ids cannot
// contain spaces; d, the descriptor line, comes last because it has spaces).
export const NEAREST = `
local lon, lat = ARGV[1], ARGV[2]
local need = tonumber(ARGV[3])
local statsPrefix = ARGV[4]
local maxRadius = tonumber(ARGV[5])
local capsMask, maxPrice, maxLoad, minRep = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local maxExamined = tonumber(ARGV[10])
local checkEligibility = ARGV[11] == '1'
local count = math.ceil(need * tonumber(ARGV[12]))
local tileDeg, prefix, tier = tonumber(ARGV[13]), ARGV[14], ARGV[15]
local oldest = tonumber(ARGV[16])
local r0 = tonumber(ARGV[17])
local withDescriptor = ARGV[18] ~= '0'
local seenKey = prefix .. 'seen'
local learnedKey = prefix .. 'learned'
-- a search row's fields; its descriptor (~150 bytes, a new Lua string per row) only when sent
local rowPattern = withDescriptor and '^(%S+) (%S+) (%S+) (%S+) (%S+) (%S+) (.*)$' or '^(%S+) (%S+) (%S+) (%S+) (%S+) (%S+) '
-- no member lies farther than this from its tile's centre (Redis's sphere is 111.25 km a degree;
-- a tile is at most tileDeg square in degrees), with a margin
local halfDiag = 111.25 * tileDeg * 0.7072 * 1.01
local lat0 = tonumber(lat)
local WORLD = 20040

-- Redis 7.0 computes a wrong bounding box for a circle that crosses a pole (a negative cosine
-- flips its longitude range) and then misses members inside the circle. Such a search runs over
-- the whole world instead, which is exact (ASC + COUNT still give the nearest first).
local function crossesPole(r)
  local deg = r / 111.2 + 0.1
  return lat0 + deg >= 90 or lat0 - deg <= -90
end

-- which tile sets to search: those of the requested capability with the fewest nodes in the tier
-- (every member of it is a candidate, and the share that passes is highest), else all nodes
local set = 'a'
if checkEligibility and capsMask > 0 then
  local bits, b = {}, 1
  while b <= capsMask do
    if bit.band(capsMask, b) ~= 0 then bits[#bits + 1] = tostring(b) end
    b = b * 2
  end
  local counts = redis.call('HMGET', prefix .. 'census:' .. tier, unpack(bits))
  local fewest
  for i, name in ipairs(bits) do
    local n = tonumber(counts[i]) or 0
    if fewest == nil or n < fewest then fewest, set = n, name end
  end
end
local centresKey = prefix .. 'tiles:' .. tier .. ':' .. set
local tilePrefix = prefix .. 'tile:' .. tier .. ':' .. set .. ':'

-- a tile's hits (nearest first) into \`found\`, the nearest-first list of at most c: in place,
-- from the back. A metro query at 8,000 nodes searches ~28 tiles of ~2 hits each, and a merge
-- into a new list per tile copied up to c entries each time; a tile's hit table is reused as is
local function insertHits(found, hits, c)
  for _, h in ipairs(hits) do
    local d = tonumber(h[2])
    local n = #found
    -- hits come nearest first: once one cannot enter the list, none after it can
    if n >= c and d >= found[n][2] then return end
    h[2] = d
    local at = n + 1
    while at > 1 and found[at - 1][2] > d do at = at - 1 end
    table.insert(found, at, h)
    if n >= c then found[n + 1] = nil end
  end
end

-- the (up to) c nearest members within maxRadius, nearest first, and the c-th distance
local function bestFirst(c)
  local found, bound = {}, maxRadius
  local searched = {}
  local r, polarCount = r0, 64
  while true do
    -- every tile centred within covered km of the point is in centres
    local centres, covered
    if crossesPole(r) then
      centres = redis.call('GEOSEARCH', centresKey, 'FROMLONLAT', lon, lat, 'BYRADIUS', WORLD, 'km', 'ASC', 'COUNT', polarCount, 'WITHDIST')
      covered = WORLD
      if #centres >= polarCount then covered = tonumber(centres[#centres][2]) end
      polarCount = polarCount * 4
    else
      centres = redis.call('GEOSEARCH', centresKey, 'FROMLONLAT', lon, lat, 'BYRADIUS', r, 'km', 'ASC', 'WITHDIST')
      covered = r
    end
    for _, t in ipairs(centres) do
      local name, centreKm = t[1], tonumber(t[2])
      -- tiles come nearest centre first: once one cannot hold a nearer member, none after it can
      if centreKm - halfDiag > bound then return found, bound end
      if not searched[name] then
        searched[name] = true
        local radius = math.min(bound, centreKm + halfDiag)
        if crossesPole(radius) then radius = WORLD end
        local hits = redis.call('GEOSEARCH', tilePrefix .. name, 'FROMLONLAT', lon, lat, 'BYRADIUS', radius, 'km', 'ASC', 'COUNT', c, 'WITHDIST')
        if #hits > 0 then
          insertHits(found, hits, c)
          if #found >= c then bound = found[c][2] end
        end
      end
    end
    -- every tile centred within covered is searched; any other member lies beyond covered - halfDiag
    if covered - halfDiag >= bound or covered >= math.min(maxRadius + halfDiag, WORLD) then return found, bound end
    r = math.min(math.max(r, covered) * 2, maxRadius + halfDiag, WORLD)
  end
end

local rows
local radius = 0
local lastRead = 0
while true do
  local found, bound = bestFirst(count)
  radius = bound
  local hits = {}
  for i = 1, #found do hits[i] = found[i][1] end
  rows = {}
  lastRead = #hits
  -- the search rows of all hits in a few HMGETs: a redis.call per member (two hashes each) was
  -- ~3 us of Lua-to-Redis overhead apiece, most of the script's time once the search was cheap
  local vals, seen = {}, {}
  for i = 1, #hits, 4000 do
    local last = math.min(i + 3999, #hits)
    local part = redis.call('HMGET', KEYS[1], unpack(hits, i, last))
    local scores = redis.call('ZMSCORE', seenKey, unpack(hits, i, last))
    for j = 1, #part do
      vals[i + j - 1] = part[j]
      seen[i + j - 1] = scores[j]
    end
  end
  local pass, passIds = {}, {}
  for i, id in ipairs(hits) do
    local n
    if vals[i] and seen[i] then n = { string.match(vals[i], rowPattern) } end
    -- liveness is the score in seen (batched pongs move it, not the row): an expired node stays
    -- placed until the sweep, and is skipped here, as the client does
    if n and n[1] then n[4] = seen[i] end
    if n and n[1] and tonumber(n[4]) > oldest and (not checkEligibility or (tonumber(n[3]) > 0 and tonumber(n[2]) < maxLoad and tonumber(n[6]) <= maxPrice
      and bit.band(tonumber(n[5]), capsMask) == capsMask)) then
      n[8] = id
      pass[#pass + 1] = n
      passIds[#passIds + 1] = id
    end
  end
  -- learned stats of every passing row in one HMGET of the \`learned\` mirror (PLACE and LEARN
  -- write it): a call per row was ~40 redis.calls, a third of an edge query's script time. A row
  -- without one (placed by a replica from before the mirror) is read from its stats hash.
  local learned = {}
  for i = 1, #passIds, 4000 do
    local part = redis.call('HMGET', learnedKey, unpack(passIds, i, math.min(i + 3999, #passIds)))
    for j = 1, #part do learned[i + j - 1] = part[j] end
  end
  for i, n in ipairs(pass) do
    local st = learned[i]
    local r
    if st then
      r = string.match(st, '^%S* %S* (%S*)$')
    else
      local h = redis.call('HMGET', statsPrefix .. n[8], 'b', 'n', 'r')
      st = (h[1] or '') .. ' ' .. (h[2] or '') .. ' ' .. (h[3] or '')
      r = h[3]
    end
    if not checkEligibility or (tonumber(r) or 1) >= minRep then
      -- without the descriptor (ARGV[18] '0'), the replica holds it by version: "… r " ends the row
      rows[#rows + 1] = table.concat({ n[8], n[1], n[2], n[3], n[4], st, n[7] or '' }, ' ')
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

// KEYS seen, tileOf, search; ARGV oldest lastSeen kept, batch, prefix. The deadline sorted set
// is the only expiry: no key carries a TTL, so liveness costs one sorted-set update per node (in
// a batched ZADD), and the sweep removes every trace of a node whose score fell behind.
export const SWEEP = `${PLACEMENT_FNS}
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('DEL', ARGV[3] .. 'node:' .. id)
  local placement = redis.call('HGET', KEYS[2], id)
  if placement then unplace(ARGV[3], id, placement) end
  redis.call('HDEL', KEYS[2], id)
  redis.call('HDEL', KEYS[3], id)
  redis.call('HDEL', ARGV[3] .. 'learned', id)
end
return #ids`;
