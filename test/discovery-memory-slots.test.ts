/**
 * The memory registry's slot handles (refreshSlots: the channel process's liveness batches as
 * numbers) and its query filter (eligibility checked on fields, not through a closure per query),
 * each against the reference: refresh() by id, and eligibilityFilter() over every node.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { greatCircleKm } from '../discovery/geo.js';
import { MemoryRegistry } from '../discovery/registry/MemoryRegistry.js';
import type { Capability } from '../protocol/index.js';
import { eligibilityFilter, FRESH_STATS, type Eligibility } from '../discovery/registry/Registry.js';
import { record } from './support/discoveryFixtures.js';

const TTL_MS = 300;
const test = suite<{ clock: { t: number }; registry: MemoryRegistry }>('discovery memory registry slots', {} as never);
test.before.each((ctx) => {
  ctx.clock = { t: 1_000_000 };
  ctx.registry = new MemoryRegistry({ heartbeatIntervalMs: TTL_MS / 3, now: () => ctx.clock.t, sweepIntervalMs: 3600_000 });
});
test.after.each(async (ctx) => {
  await ctx.registry.close();
});

const batch = (handles: { slot: number; gen: number }[], at: number[]) => [Uint32Array.from(handles.map((h) => h.slot)), Uint32Array.from(handles.map((h) => h.gen)), Float64Array.from(at)] as const;

test('refreshSlots() refreshes by handle, never backwards, and a node registering again keeps its handle', async (ctx) => {
  const r = ctx.registry;
  const t = ctx.clock.t;
  await r.put(record('a', 52.5, 13.4, { lastSeen: t }));
  await r.put(record('b', 48.8, 2.3, { lastSeen: t }));
  const a = r.slotOf('a')!;
  const b = r.slotOf('b')!;
  assert.is.not(a.slot, b.slot);
  assert.equal(r.refreshSlots(...batch([a, b], [t + 50, t - 50])), []);
  assert.is((await r.get('a'))!.lastSeen, t + 50);
  assert.is((await r.get('b'))!.lastSeen, t, 'an older time does not move lastSeen backwards');
  await r.put(record('a', 52.5, 13.4, { lastSeen: t + 60 }));
  assert.equal(r.slotOf('a'), a, 'registering again keeps the slot and its generation');
  assert.equal(r.refreshSlots(...batch([a], [t + 70])), []);
  assert.is((await r.get('a'))!.lastSeen, t + 70);
  assert.is(r.slotOf('nobody'), undefined);
});

test("a departed node's slot goes to the next new node under a new generation: the old handle is refused and refreshes nobody", async (ctx) => {
  const r = ctx.registry;
  const t = ctx.clock.t;
  await r.put(record('gone', 52.5, 13.4, { lastSeen: t }));
  const old = r.slotOf('gone')!;
  await r.remove('gone');
  await r.put(record('new', 48.8, 2.3, { lastSeen: t }));
  const fresh = r.slotOf('new')!;
  assert.is(fresh.slot, old.slot, 'the freed slot is reused');
  assert.is.not(fresh.gen, old.gen);
  // the stale handle's position is reported missing (its node must register again) and the newcomer is untouched
  assert.equal(r.refreshSlots(...batch([fresh, old], [t + 10, t + 99])), [1]);
  assert.is((await r.get('new'))!.lastSeen, t + 10);
  // a node swept after its ttl and grace frees its slot too, and is not brought back by its handle
  ctx.clock.t = t + 10 + 2 * TTL_MS + 1;
  assert.is(r.sweep(), 1);
  assert.equal(r.refreshSlots(...batch([fresh], [ctx.clock.t])), [0]);
  assert.is(await r.get('new'), undefined);
  // handles out of any range are only missing
  assert.equal(r.refreshSlots(...batch([{ slot: 0xffff_ffff, gen: 0 }, { slot: 12345, gen: 7 }], [t, t])), [0, 1]);
});

test('an expired node not yet swept is revived by its handle, as refresh() revives it by id', async (ctx) => {
  const r = ctx.registry;
  const t = ctx.clock.t;
  await r.put(record('late', 52.5, 13.4, { lastSeen: t }));
  const h = r.slotOf('late')!;
  ctx.clock.t = t + TTL_MS + 1;
  assert.is(await r.get('late'), undefined, 'expired: invisible');
  assert.equal(r.refreshSlots(...batch([h], [ctx.clock.t])), []);
  assert.is((await r.get('late'))!.lastSeen, ctx.clock.t);
});

test('nearest() with eligibility and a filter returns what eligibilityFilter over every node returns, nearest first', async (ctx) => {
  const r = ctx.registry;
  let seed = 11;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const all: Capability[] = ['predict', 'infer', 'render', 'webrtc', 'video'];
  const nodes = Array.from({ length: 400 }, (_, i) =>
    record(`n${i}`, 40 + rand() * 20, -10 + rand() * 40, {
      caps: all.filter(() => rand() < 0.6),
      load: Math.round(rand() * 100) / 100,
      freeCapacity: rand() < 0.1 ? 0 : 4,
      pricePerMinute: Math.round(rand() * 10) / 100,
      lastSeen: ctx.clock.t - (rand() < 0.1 ? TTL_MS + 1 : 0),
    }),
  );
  for (const n of nodes) await r.put(n);
  for (let i = 0; i < 40; i++) await r.learn(`n${i}`, { answered: false }, { latencyAlpha: 0.2, reputationAlpha: 0.6 });
  const point = { lat: 50, lon: 10 };
  const cases: [Eligibility | undefined, ((id: string) => boolean) | undefined][] = [
    [undefined, undefined],
    [{ caps: ['infer'], maxLoad: 0.95, minReputation: 0.5 }, undefined],
    [{ caps: ['render', 'webrtc'], maxPrice: 0.05 }, (id) => Number(id.slice(1)) % 3 !== 0],
    [{}, undefined],
    [undefined, (id) => id.endsWith('7')],
  ];
  for (const [eligibility, keep] of cases) {
    const found = await r.nearest(point, 15, 'edge', { ...(eligibility ? { eligibility } : {}), ...(keep ? { filter: (n) => keep(n.id) } : {}) });
    const passes = eligibility ? eligibilityFilter(eligibility) : () => true;
    const stats = async (id: string) => r.stats(id);
    const want: { id: string; km: number }[] = [];
    for (const n of nodes) {
      const live = n.lastSeen > ctx.clock.t - TTL_MS;
      if (live && passes(n, (await stats(n.id)) ?? FRESH_STATS) && (keep === undefined || keep(n.id))) want.push({ id: n.id, km: greatCircleKm(point, n) });
    }
    want.sort((a, b) => a.km - b.km);
    assert.equal(found.map((f) => f.node.id), want.slice(0, 15).map((w) => w.id), JSON.stringify(eligibility));
    for (const f of found) assert.ok(Math.abs(f.distanceKm - greatCircleKm(point, f.node)) < 1e-6);
  }
});

test.run();
