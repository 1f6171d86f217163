/**
 * The query's Lua scripts (RedisRegion.nearest): NEAREST, the search next to the data in one round
 * trip, and DESCRIBE, the descriptors of registrations a replica does not hold yet. The writes'
 * scripts (placement, status, learning, sweep) are redisScripts.ts; the key layout is RedisRegistry.ts's.
 */
import { createHash } from 'node:crypto';

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
