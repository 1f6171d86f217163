/**
 * Exact k-nearest-neighbour search on the sphere: points are unit vectors in an octree, and a
 * best-first search over (box, point) by chord distance returns them in great-circle order
 * (chord length is monotonic in arc length). Dense cities and empty oceans both cost O(log n + k)
 * per query instead of a scan, and inserts/removes are incremental (no rebuilds on churn).
 */
import { chordToKm, kmToChord, toUnitVector, type LatLon } from '../geo.js';

export interface IndexEntry<T> {
  readonly x: number;
  readonly y: number;
  readonly z: number;
  readonly value: T;
}

interface Cell<T> {
  cx: number;
  cy: number;
  cz: number;
  half: number;
  depth: number;
  /** Entries in this subtree; empty subtrees are skipped by the search. */
  count: number;
  items: IndexEntry<T>[] | null;
  children: Cell<T>[] | null;
}

export interface SphereIndexOptions {
  /** Entries a leaf holds before it splits. Default 24. */
  leafCapacity?: number;
  /** Deepest split; co-located points beyond it share one leaf. Default 20. */
  maxDepth?: number;
}

export interface NearestOptions<T> {
  filter?: (value: T) => boolean;
  /** Give up after examining this many entries (bounds a query whose filter rejects nearly all). */
  maxExamined?: number;
  /** Ignore entries farther than this great-circle distance. */
  maxDistanceKm?: number;
}

export interface Neighbour<T> {
  value: T;
  distanceKm: number;
}

function newCell<T>(cx: number, cy: number, cz: number, half: number, depth: number): Cell<T> {
  return { cx, cy, cz, half, depth, count: 0, items: [], children: null };
}

/** Squared distance from a point to an axis-aligned box (0 inside). */
function boxDistance2<T>(cell: Cell<T>, x: number, y: number, z: number): number {
  const dx = Math.max(0, Math.abs(x - cell.cx) - cell.half);
  const dy = Math.max(0, Math.abs(y - cell.cy) - cell.half);
  const dz = Math.max(0, Math.abs(z - cell.cz) - cell.half);
  return dx * dx + dy * dy + dz * dz;
}

function childIndex<T>(cell: Cell<T>, x: number, y: number, z: number): number {
  return (x >= cell.cx ? 1 : 0) | (y >= cell.cy ? 2 : 0) | (z >= cell.cz ? 4 : 0);
}

/**
 * A binary min-heap keyed by distance²; payload is a cell or an entry. It keeps its arrays'
 * capacity from query to query (`size` marks the end): emptied with `length = 0`, every query grew
 * them again from nothing, a few KB of garbage per query for the young generation.
 */
class MinHeap<P> {
  readonly keys: number[] = [];
  readonly vals: (P | undefined)[] = [];
  size = 0;
  /** Empties the heap; the payloads are dropped (no finished query pins a removed entry), the capacity kept. */
  clear(): void {
    const vals = this.vals;
    for (let i = 0; i < this.size; i++) vals[i] = undefined;
    this.size = 0;
  }
  push(key: number, val: P): void {
    const keys = this.keys;
    const vals = this.vals;
    let i = this.size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (keys[parent]! <= key) break;
      keys[i] = keys[parent]!;
      vals[i] = vals[parent];
      i = parent;
    }
    keys[i] = key;
    vals[i] = val;
  }
  /** Removes the minimum; read `keys[0]`/`vals[0]` first. */
  pop(): void {
    const keys = this.keys;
    const vals = this.vals;
    const n = --this.size;
    const lastKey = keys[n]!;
    const lastVal = vals[n];
    vals[n] = undefined;
    if (n === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && keys[r]! < keys[l]! ? r : l;
      if (keys[c]! >= lastKey) break;
      keys[i] = keys[c]!;
      vals[i] = vals[c];
      i = c;
    }
    keys[i] = lastKey;
    vals[i] = lastVal;
  }
}

export class SphereIndex<T> {
  readonly #leafCapacity: number;
  readonly #maxDepth: number;
  // slightly over 1 so points on the sphere's extremes fall strictly inside
  #root: Cell<T> = newCell<T>(0, 0, 0, 1.000001, 0);
  // reused by every query (nearest() is synchronous): a 1M-node index answers thousands of
  // queries a second, and a fresh heap per query is most of what the young-generation GC sees
  readonly #heap = new MinHeap<Cell<T> | IndexEntry<T>>();

  constructor(options: SphereIndexOptions = {}) {
    this.#leafCapacity = options.leafCapacity ?? 24;
    this.#maxDepth = options.maxDepth ?? 20;
  }

  get size(): number {
    return this.#root.count;
  }

  insert(point: LatLon, value: T): IndexEntry<T> {
    const [x, y, z] = toUnitVector(point);
    const entry: IndexEntry<T> = { x, y, z, value };
    let cell = this.#root;
    for (;;) {
      cell.count++;
      if (cell.children === null) break;
      cell = cell.children[childIndex(cell, x, y, z)]!;
    }
    cell.items!.push(entry);
    if (cell.items!.length > this.#leafCapacity && cell.depth < this.#maxDepth) this.#split(cell);
    return entry;
  }

  /** Removes an entry returned by `insert`; false when it is not in the index. */
  remove(entry: IndexEntry<T>): boolean {
    const path: Cell<T>[] = [];
    let cell = this.#root;
    while (cell.children !== null) {
      path.push(cell);
      cell = cell.children[childIndex(cell, entry.x, entry.y, entry.z)]!;
    }
    const items = cell.items!;
    const at = items.indexOf(entry);
    if (at < 0) return false;
    items[at] = items[items.length - 1]!;
    items.pop();
    cell.count--;
    for (const ancestor of path) ancestor.count--;
    return true;
  }

  clear(): void {
    this.#root = newCell<T>(0, 0, 0, 1.000001, 0);
  }

  /** The k nearest entries passing `filter`, nearest first, with great-circle distance in km. */
  nearest(point: LatLon, k: number, options: NearestOptions<T> = {}): Neighbour<T>[] {
    const out: Neighbour<T>[] = [];
    this.visitNearest(point, k, options, (value, distanceKm) => void out.push({ value, distanceKm }));
    return out;
  }

  /**
   * `nearest` without its result array: `visit` gets each of the k nearest entries passing
   * `filter`, nearest first (the registry builds its answer directly, one object per node less
   * per query). Returns how many were visited.
   */
  visitNearest(point: LatLon, k: number, options: NearestOptions<T>, visit: (value: T, distanceKm: number) => void): number {
    if (k <= 0 || this.#root.count === 0) return 0;
    const [x, y, z] = toUnitVector(point);
    const filter = options.filter;
    const maxExamined = options.maxExamined ?? Infinity;
    const maxChord = options.maxDistanceKm === undefined ? Infinity : kmToChord(options.maxDistanceKm);
    const maxD2 = maxChord * maxChord;
    let examined = 0;
    let found = 0;
    const heap = this.#heap;
    heap.clear();
    heap.push(0, this.#root);
    while (heap.size > 0) {
      const key = heap.keys[0]!;
      const item = heap.vals[0]!;
      heap.pop();
      if ('value' in item) {
        visit(item.value, chordToKm(Math.sqrt(key)));
        if (++found >= k) break;
        continue;
      }
      if (item.children !== null) {
        for (const child of item.children) {
          if (child.count === 0) continue;
          const d2 = boxDistance2(child, x, y, z);
          if (d2 <= maxD2) heap.push(d2, child);
        }
        continue;
      }
      for (const entry of item.items!) {
        if (++examined > maxExamined) {
          heap.clear();
          return found;
        }
        if (filter !== undefined && !filter(entry.value)) continue;
        const dx = entry.x - x;
        const dy = entry.y - y;
        const dz = entry.z - z;
        const d2 = dx * dx + dy * dy + dz * dz;
        if (d2 <= maxD2) heap.push(d2, entry);
      }
    }
    heap.clear(); // drop references so finished queries do not pin entries
    return found;
  }

  #split(cell: Cell<T>): void {
    const h = cell.half / 2;
    const children: Cell<T>[] = [];
    for (let i = 0; i < 8; i++) {
      children.push(newCell<T>(cell.cx + (i & 1 ? h : -h), cell.cy + (i & 2 ? h : -h), cell.cz + (i & 4 ? h : -h), h, cell.depth + 1));
    }
    const items = cell.items!;
    cell.items = null;
    cell.children = children;
    for (const entry of items) {
      const child = children[childIndex(cell, entry.x, entry.y, entry.z)]!;
      child.items!.push(entry);
      child.count++;
    }
    for (const child of children) {
      if (child.items!.length > this.#leafCapacity && child.depth < this.#maxDepth) this.#split(child);
    }
  }
}
