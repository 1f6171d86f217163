/**
 * The Lua scripts of RedisRegistry (key layout in RedisRegistry.ts). Scripts keep heartbeat and
 * EWMA updates atomic across replicas and run the search next to the data in one round trip.
 */
import { createHash } from 'node:crypto';

// Tile placement (see RedisRegistry.ts "Layout"): a node sits in its tile's `a` set and in one
// set per capability bit it has, and in the same sets' all-members GEO sets (`all:<tier>:<set>`,
// what NEAREST searches where tiles are sparse); `tileOf` remembers "tier mask x:y" so a move, a
// removal or the sweep takes it out of exactly those sets. The census counts members per set (the search picks
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
    redis.call('ZREM', prefix .. 'all:' .. tier .. ':' .. set, id)
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
  redis.call('GEOADD', prefix .. 'all:' .. tier .. ':' .. set, ARGV[5], ARGV[6], id)
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

// A status update (load, free capacity) that also counts as liveness, for one node: true, or false
// when it is unknown or expired. Also refreshes the node's lean row in the search hash (see
// searchRow in redisRecord.ts: no descriptor line, so the update does not read one either).
// Liveness is the node's score in \`seen\`, nothing else.
const TOUCH_FN = `
local function touchOne(nodeKey, seenKey, searchKey, id, load, free, now, oldest)
  local s = tonumber(redis.call('ZSCORE', seenKey, id))
  if not s or s <= oldest then return false end
  local n = redis.call('HMGET', nodeKey, 'v', 'c', 'p')
  if not n[1] then return false end
  redis.call('HSET', nodeKey, 'l', load, 'f', free, 's', now)
  redis.call('ZADD', seenKey, 'GT', now, id)
  redis.call('HSET', searchKey, id, table.concat({ n[1], load, free, now, n[2], n[3] }, ' '))
  return true
end
`;

// KEYS node, seen, search; ARGV load, free, now, oldest live lastSeen, id. Returns the node's
// descriptor line, or false when it is unknown or expired.
export const TOUCH = `${TOUCH_FN}
if not touchOne(KEYS[1], KEYS[2], KEYS[3], ARGV[5], ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])) then return false end
return redis.call('HGET', KEYS[1], 'd')`;

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
// Reply: radius (no member read lies farther), members read in the last pass, then one
// space-joined "id v l f s b n r " string per eligible hit, nearest first, at most `need` of them
// (one reply item per hit keeps client parsing cheap; ids cannot contain spaces; the trailing
// space is where the descriptor line was: the replica holds descriptors by version and fetches
// one from `desc` only for a version it lacks).
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
-- ARGV[18]: unused (was: with descriptor lines; the lean search row has none)
local sparseTile = tonumber(ARGV[19]) or 0
local seenKey = prefix .. 'seen'
local learnedKey = prefix .. 'learned'
-- a search row's "v l f s c p" (s unread: liveness is the score in seen); a row that still ends
-- with a descriptor line (written by a replica from before the lean rows) matches too
local rowPattern = '^(%S+) (%S+) (%S+) %S+ (%S+) (%S+)'
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
local set, members = 'a', nil
if checkEligibility and capsMask > 0 then
  local bits, b = {}, 1
  while b <= capsMask do
    if bit.band(capsMask, b) ~= 0 then bits[#bits + 1] = tostring(b) end
    b = b * 2
  end
  local counts = redis.call('HMGET', prefix .. 'census:' .. tier, unpack(bits))
  for i, name in ipairs(bits) do
    local n = tonumber(counts[i]) or 0
    if members == nil or n < members then members, set = n, name end
  end
elseif sparseTile > 0 then
  members = tonumber(redis.call('HGET', prefix .. 'census:' .. tier, 'a')) or 0
end
local centresKey = prefix .. 'tiles:' .. tier .. ':' .. set
local tilePrefix = prefix .. 'tile:' .. tier .. ':' .. set .. ':'
local allKey = prefix .. 'all:' .. tier .. ':' .. set

-- Where the set's occupied tiles hold fewer than sparseTile members on average, one GEOSEARCH of
-- the set's all-members GEO set per radius step replaces a GEOSEARCH per tile: at 8,000 nodes an
-- infer tile holds ~2, and a query searched ~39 of them. Where tiles are dense (a city core of a
-- large deployment) the tile path bounds each scan to a tile's members, and a widening circle on
-- the whole set could sweep a dense region's members at once. The all set is used only while it
-- holds what the census counts (not after a replica from before it placed or removed nodes).
local useAll = false
local tiles = 0
if sparseTile > 0 and members ~= nil and members > 0 then
  tiles = redis.call('ZCARD', centresKey)
  useAll = members < sparseTile * tiles and redis.call('ZCARD', allKey) == members
end

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

-- the same as bestFirst, on the all set: the c nearest within r (Redis scans the geohash cells
-- around the circle, ~3x its area, and sorts what is inside), r growing x2 (x4 while empty) until c
-- are inside or r reaches maxRadius. c found within r are the c nearest: exact. Ids only, no
-- distances (a reply of c pairs per call, converted to Lua tables, cost more than the scan); the
-- radius returned bounds them.
--
-- The first radius comes from the set's own density: its members spread over its occupied tiles
-- (census / occupied tiles, each tile tileDeg square, narrower away from the equator), c of them
-- fill a circle of radius sqrt(c / density / pi); ALL_FIRST_SPAN times that is expected to hold
-- ~6 c members where tiles are as full as the average (a metro's are fuller), so most queries
-- need one GEOSEARCH, and the scan stays bounded by the set's own size. A tile diagonal (r0) was a
-- fixed 39 km at any fleet size: 4.3 GEOSEARCH an edge query at 8,000 nodes. It only sets where
-- the doubling starts: c found within r are the c nearest whatever r is.
local ALL_FIRST_SPAN = 2.5
local function allFirst(c)
  local tileKm = 111.25 * tileDeg
  local density = members / (tiles * tileKm * tileKm * math.max(math.cos(math.rad(lat0)), 0.1))
  local r = math.min(math.max(r0, ALL_FIRST_SPAN * math.sqrt(c / density / math.pi)), maxRadius)
  while true do
    if crossesPole(r) then
      -- the whole world (see crossesPole), less what lies beyond maxRadius: the caller would read
      -- those rows and, finding none within reach, ask for more
      local hits, ids = redis.call('GEOSEARCH', allKey, 'FROMLONLAT', lon, lat, 'BYRADIUS', WORLD, 'km', 'ASC', 'COUNT', c, 'WITHDIST'), {}
      for i, h in ipairs(hits) do
        if tonumber(h[2]) > maxRadius then break end
        ids[i] = h[1]
      end
      return ids, maxRadius
    end
    local ids = redis.call('GEOSEARCH', allKey, 'FROMLONLAT', lon, lat, 'BYRADIUS', r, 'km', 'ASC', 'COUNT', c)
    if #ids >= c or r >= maxRadius then return ids, r end
    r = math.min(r * (#ids == 0 and 4 or 2), maxRadius)
  end
end

-- The rows of \`hits\` (ids, nearest first) that pass, in order, until \`need\` do: read in chunks of
-- about (need - passed so far) / pass rate (ARGV[12] / 1.25 is 1 / the replica's pass rate), so a
-- query reads ~need / passRate rows, not all \`count\` hits (count keeps 25 % spare hits so that a
-- second search is rare; their rows were read, parsed and sent for nothing). Each chunk: its search
-- rows and \`seen\` scores in one HMGET + ZMSCORE (a redis.call per member was ~3 us of Lua-to-Redis
-- overhead apiece), then the passing rows' learned stats in one HMGET of the \`learned\` mirror
-- (PLACE and LEARN write it; a row without one, placed by a replica from before the mirror, is read
-- from its stats hash). Returns how many hits it went through.
local perPass = tonumber(ARGV[12]) / 1.25
local function readRows(hits, rows)
  local at, used = 0, 0
  while #rows < need and at < #hits do
    local first = at + 1
    at = math.min(#hits, at + math.min(4000, math.ceil((need - #rows) * perPass) + 1))
    local vals = redis.call('HMGET', KEYS[1], unpack(hits, first, at))
    local seen = redis.call('ZMSCORE', seenKey, unpack(hits, first, at))
    used = at
    -- the passing rows' fields in flat arrays (a table per row was ~0.3 us each, and garbage)
    local np, pIds, pV, pL, pF, pS, pI = 0, {}, {}, {}, {}, {}, {}
    for j = 1, at - first + 1 do
      local row, s = vals[j], seen[j]
      -- liveness is the score in seen (batched pongs move it, not the row): an expired node stays
      -- placed until the sweep, and is skipped here, as the client does
      if row and s and tonumber(s) > oldest then
        local v, l, f, c, p = string.match(row, rowPattern)
        if v and (not checkEligibility or (tonumber(f) > 0 and tonumber(l) < maxLoad and tonumber(p) <= maxPrice
          and bit.band(tonumber(c), capsMask) == capsMask)) then
          np = np + 1
          local i = first + j - 1
          pIds[np], pV[np], pL[np], pF[np], pS[np], pI[np] = hits[i], v, l, f, s, i
        end
      end
    end
    local learned = np > 0 and redis.call('HMGET', learnedKey, unpack(pIds)) or {}
    for k = 1, np do
      local st = learned[k]
      local r
      if st then
        r = string.match(st, '^%S* %S* (%S*)$')
      else
        local h = redis.call('HMGET', statsPrefix .. pIds[k], 'b', 'n', 'r')
        st = (h[1] or '') .. ' ' .. (h[2] or '') .. ' ' .. (h[3] or '')
        r = h[3]
      end
      if not checkEligibility or (tonumber(r) or 1) >= minRep then
        -- "… r " ends the row (where its descriptor line was, see Reply above); one concatenation
        rows[#rows + 1] = pIds[k] .. ' ' .. pV[k] .. ' ' .. pL[k] .. ' ' .. pF[k] .. ' ' .. pS[k] .. ' ' .. st .. ' '
        if #rows >= need then return pI[k] end
      end
    end
  end
  return used
end

local rows
local radius = 0
local lastRead = 0
while true do
  local hits
  if useAll then
    hits, radius = allFirst(count)
  else
    local found
    found, radius = bestFirst(count)
    hits = {}
    for i = 1, #found do hits[i] = found[i][1] end
  end
  rows = {}
  lastRead = readRows(hits, rows)
  if #rows >= need or #hits < count or count >= maxExamined then break end
  -- enough members but too few eligible: look at as many more as this pass's rate says are needed
  local passRate = math.max(#rows / math.max(lastRead, 1), 0.02)
  count = math.min(maxExamined, math.max(count * 2, math.ceil(need / passRate * 1.25)))
end
table.insert(rows, 1, tostring(radius))
table.insert(rows, 2, tostring(lastRead))
return rows`;

export const NEAREST_SHA = createHash('sha1').update(NEAREST).digest('hex');

// The descriptor rows "v d" (redisRecord.ts descriptorRow) of nodes a replica does not hold at the
// version a NEAREST row names, from their node hashes; false for a node that is gone. The search
// rows carry no descriptor line: a replica fetches one once per registration it sees (a call per
// id here costs ~3 us, on a cache miss only, where a line in every search row was read on every
// query). Node hashes have held \`v d\` in every layout, so rows of nodes an older replica wrote
// are described as well. KEYS[1] seen (the keyspace's slot); ARGV prefix, then the ids.
export const DESCRIBE = `
local out = {}
for i = 2, #ARGV do
  local n = redis.call('HMGET', ARGV[1] .. 'node:' .. ARGV[i], 'v', 'd')
  out[i - 1] = (n[1] and n[2]) and (n[1] .. ' ' .. n[2]) or false
end
return out`;

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
