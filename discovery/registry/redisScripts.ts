/**
 * The Lua scripts of RedisRegistry's writes (key layout in RedisRegistry.ts): they keep placement,
 * heartbeat and EWMA updates atomic across replicas. The query's scripts are redisNearest.ts.
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
