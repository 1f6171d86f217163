/**
 * The replica's parse of a NEAREST reply (descriptorCache.ts nearestRows) on raw reply rows as the
 * search script writes them ("id v l f s b n r "), the descriptor rows as DESCRIBE returns them
 * (redisRecord.ts descriptorRow): order, filters, stale and re-registered rows, live records, and
 * malformed replies. The end-to-end answers over a real Redis are discovery-registry's.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { greatCircleKm } from '../discovery/geo.js';
import { DescriptorCache, nearestRows, numberIn } from '../discovery/registry/descriptorCache.js';
import type { NodeRecord } from '../discovery/registry/Registry.js';
import { descriptorRow, encodeDescriptor } from '../discovery/registry/redisRecord.js';
import { record } from './support/discoveryFixtures.js';

const test = suite('discovery redis rows');

const NOW = 1_764_567_890_123;
const OLDEST = NOW - 3000;
const POINT = { lat: 48.85, lon: 2.35 };

/** The descriptor rows of a few nodes (id → "v d"), as DESCRIBE reads them from the node hashes put() writes. */
function descriptorRows(nodes: { node: NodeRecord; v: string }[]): Map<string, string> {
  const hash = new Map<string, string>();
  for (const { node, v } of nodes) {
    const { load, freeCapacity, lastSeen, ...fixed } = node;
    hash.set(node.id, descriptorRow(v, encodeDescriptor(fixed)));
  }
  return hash;
}

/** A reply row as NEAREST writes it, stats "b n r" ('' when none learned). */
function row(id: string, v: string, load: number, free: number, seen: number, stats = '  '): Buffer {
  return Buffer.from(`${id} ${v} ${load} ${free} ${seen} ${stats} `);
}

function fetcher(hash: Map<string, string>, asked: string[][] = []) {
  return async (ids: string[]) => {
    asked.push(ids);
    return ids.map((id) => hash.get(id) ?? null);
  };
}

test('numberIn reads what Number reads, without a substring for plain decimals', () => {
  const texts = ['0', '-0', '1', '0.5', '.5', '5.', '0.37', '1764567890123', '123456789012345', '1234567890123456', '12345678901234567890', '0.1', '0.3', '0.30000000000000004', '2.5e-7', '1e300', '-1e300', 'inf', 'nan', '', '-', '.', '1.2.3', '+4', ' 7', '0x10', '99.999999999999'];
  const rand = (() => {
    let s = 7;
    return () => ((s = (s * 16807) % 2147483647) / 2147483647);
  })();
  for (let i = 0; i < 2000; i++) texts.push(String(rand()), String(Math.round(rand() * 100) / 100), String(rand() * 1e6), (rand() * 1000).toFixed(Math.floor(rand() * 12)));
  for (const text of texts) {
    const line = Buffer.from(`x ${text} y`, 'latin1');
    assert.ok(Object.is(numberIn(line, 2, 2 + text.length), Number(text)), `'${text}'`);
  }
});

test('rows become candidates nearest first (ties in reply order), k of them, stale and filtered rows left out', async () => {
  const near = record('near', 48.86, 2.35);
  const tieA = record('tieA', 48.9, 2.35);
  const tieB = record('tieB', 48.9, 2.35);
  const far = record('far', 50.85, 4.35);
  const stale = record('stale', 48.85, 2.351);
  const busy = record('busy', 48.851, 2.35);
  const nodes = [near, tieA, tieB, far, stale, busy].map((node) => ({ node, v: `v${node.id}` }));
  const cache = new DescriptorCache(100);
  const rows = ['3.5', '7', row('far', 'vfar', 0.1, 3, NOW), row('tieA', 'vtieA', 0.2, 3, NOW), row('stale', 'vstale', 0, 3, OLDEST), row('tieB', 'vtieB', 0, 3, NOW), row('busy', 'vbusy', 0.99, 3, NOW), row('near', 'vnear', 0.25, 2, NOW)];
  const asked: string[][] = [];
  const notBusy = (n: NodeRecord) => n.load < 0.9;
  const all = await nearestRows(rows, 2, cache, fetcher(descriptorRows(nodes), asked), POINT, OLDEST, notBusy, Infinity, 10);
  assert.equal(all.nearest.map((c) => c.node.id), ['near', 'tieA', 'tieB', 'far']);
  assert.is(all.passing, 4);
  assert.equal(asked.length, 1, 'the descriptors fetched in one round trip');
  const first = all.nearest[0]!;
  assert.is(first.node.load, 0.25);
  assert.is(first.node.freeCapacity, 2);
  assert.is(first.node.lastSeen, NOW);
  assert.is(first.node.url, near.url);
  assert.equal(first.node.caps, near.caps);
  for (const c of all.nearest) assert.is(c.distanceKm, greatCircleKm(POINT, c.node), 'geo.ts greatCircleKm, to the bit');
  assert.equal(first.stats, { baseLatencyMs: undefined, samples: 0, reputation: 1 });

  const two = await nearestRows(rows, 2, cache, fetcher(new Map(), asked), POINT, OLDEST, notBusy, 100, 2);
  assert.equal(two.nearest.map((c) => c.node.id), ['near', 'tieA'], 'the k nearest');
  assert.is(two.passing, 3, 'far is beyond maxDistanceKm');
  assert.equal(asked.length, 1, 'held: nothing fetched again');
});

test('a held record is live: a later row writes its status; stats are kept while the row says the same', async () => {
  const node = record('n1', 48.86, 2.35);
  const cache = new DescriptorCache(100);
  const fetch = fetcher(descriptorRows([{ node, v: 'v1' }]));
  const a = (await nearestRows(['1', '1', row('n1', 'v1', 0.5, 4, NOW, '2.5 3 0.8')], 2, cache, fetch, POINT, OLDEST, undefined, Infinity, 5)).nearest[0]!;
  assert.equal(a.stats, { baseLatencyMs: 2.5, samples: 3, reputation: 0.8 });
  const b = (await nearestRows(['1', '1', row('n1', 'v1', 0.75, 1, NOW + 1000, '2.5 3 0.8')], 2, cache, fetch, POINT, OLDEST, undefined, Infinity, 5)).nearest[0]!;
  assert.is(b.node, a.node, 'the same record');
  assert.is(b.stats, a.stats, 'the same stats');
  assert.is(b.node.load, 0.75);
  assert.is(b.node.freeCapacity, 1);
  assert.is(b.node.lastSeen, NOW + 1000);
  const c = (await nearestRows(['1', '1', row('n1', 'v1', 0.1, 1, NOW + 500, ' 4 0.5')], 2, cache, fetch, POINT, OLDEST, undefined, Infinity, 5)).nearest[0]!;
  assert.equal(c.stats, { baseLatencyMs: undefined, samples: 4, reputation: 0.5 }, 'new stats');
  assert.is(c.node.lastSeen, NOW + 1000, 'an older row does not move the status back');
  assert.is(c.node.load, 0.75);
});

test('a row of an older registration, or of a node gone since the search, is left out; no cache holds nothing', async () => {
  const node = record('n1', 48.86, 2.35);
  const other = record('n2', 48.87, 2.35);
  for (const size of [100, 0]) {
    const cache = new DescriptorCache(size);
    const hash = descriptorRows([{ node, v: 'new' }]);
    const rows = ['1', '2', row('n1', 'old', 0, 1, NOW), row('n2', 'v2', 0, 1, NOW)];
    const found = await nearestRows(rows, 2, cache, fetcher(hash), POINT, OLDEST, undefined, Infinity, 5);
    assert.equal(found.nearest, []);
    hash.set('n2', descriptorRows([{ node: other, v: 'v2' }]).get('n2')!);
    const again = await nearestRows([...rows, row('n1', 'new', 0, 1, NOW)], 2, cache, fetcher(hash), POINT, OLDEST, undefined, Infinity, 5);
    assert.equal(again.nearest.map((c) => c.node.id), ['n1', 'n2'], `cache of ${size}`);
  }
});

test('ids that are not ASCII are found from their bytes; a full cache drops its oldest entry', async () => {
  const nodes = [record('nœud-1', 48.86, 2.35), record('n2', 48.87, 2.35), record('n3', 48.88, 2.35)];
  const cache = new DescriptorCache(2);
  const asked: string[][] = [];
  const fetch = fetcher(descriptorRows(nodes.map((node) => ({ node, v: 'v' }))), asked);
  const rows = ['1', '3', ...nodes.map((n) => row(n.id, 'v', 0, 1, NOW))];
  const first = await nearestRows(rows, 2, cache, fetch, POINT, OLDEST, undefined, Infinity, 5);
  assert.equal(first.nearest.map((c) => c.node.id), ['nœud-1', 'n2', 'n3']);
  assert.is(cache.size, 2);
  await nearestRows(rows.slice(0, 3), 2, cache, fetch, POINT, OLDEST, undefined, Infinity, 5);
  assert.equal(asked.at(-1), ['nœud-1'], 'the oldest entry went');
  await nearestRows(rows.slice(0, 3), 2, cache, fetch, POINT, OLDEST, undefined, Infinity, 5);
  assert.is(asked.length, 2, 'held again, by its bytes');
  cache.delete('nœud-1');
  assert.is(cache.size, 1);
});

test('a malformed reply is an UNAVAILABLE error, not a crash or a wrong answer', async () => {
  const cache = new DescriptorCache(10);
  const fetch = fetcher(new Map());
  for (const rows of [['1', '1', 42], ['1', '1', Buffer.from('n1 v1 0 1')], ['1', '1', 'n1 v1 0 1 2 3 4 5 '], ['1', '1', null]]) {
    try {
      await nearestRows(rows, 2, cache, fetch, POINT, OLDEST, undefined, Infinity, 5);
      assert.unreachable(`${JSON.stringify(rows)} accepted`);
    } catch (err) {
      assert.is((err as { code?: string }).code, 'UNAVAILABLE', String(err));
    }
  }
  try {
    await nearestRows(['1', '1', row('a', 'v', 0, 1, NOW)], 2, cache, async () => ['v'], POINT, OLDEST, undefined, Infinity, 5);
    assert.unreachable('a descriptor row without its line accepted');
  } catch (err) {
    assert.is((err as { code?: string }).code, 'UNAVAILABLE');
  }
  const short = async () => ['only one'];
  try {
    await nearestRows(['1', '2', row('a', 'v', 0, 1, NOW), row('b', 'v', 0, 1, NOW)], 2, cache, short, POINT, OLDEST, undefined, Infinity, 5);
    assert.unreachable('a short descriptor fetch accepted');
  } catch (err) {
    assert.is((err as { code?: string }).code, 'UNAVAILABLE');
  }
});

test.run();
