/**
 * Bounded aggregates of a run's output, gathered in one streaming pass: whatever the number of
 * rides, memory holds one counter per matched station, one per distinct distance in metres, a
 * fixed-size sample of map points and one example per reject reason.
 */

/** Points drawn on the map at most; a deterministic sample beyond that. */
export const MAP_POINTS = 4_000;
/** Distinct reject reasons listed; the rest are counted together. */
export const MAX_REASONS = 30;

/** One sampled ride on the map. */
export interface MapPoint {
  longitude: number;
  latitude: number;
  /** Matched station id; '' when no station covers the ride (inventory runs). */
  station: string;
  /** Sampling key: the lowest keys are kept. */
  rank: number;
}

/** 32-bit FNV-1a of a string. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** murmur3's fmix32: every input bit moves about half the output bits. */
function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

let lastSource = '';
let lastSourceHash = fnv1a('');

/**
 * A ride's sampling rank from its identity (source key and ride_index): ranking rides by it
 * picks the same sample whatever order the CSV objects are read in. The source's hash is
 * cached, since consecutive rows share it.
 * @example
 * rideRank('raw/rides.json', 42) === rideRank('raw/rides.json', 42); // true
 */
export function rideRank(source: string, rideIndex: number): number {
  if (source !== lastSource) {
    lastSource = source;
    lastSourceHash = fnv1a(source);
  }
  return mix32(lastSourceHash ^ mix32((rideIndex >>> 0) ^ Math.floor(rideIndex / 2 ** 32)));
}

/** A kept point with the ride's identity, which orders rides of equal rank. */
interface Candidate extends MapPoint {
  source: string;
  rideIndex: number;
}

/** Whether `a` comes after `b` in the sample's order: rank, then source key, then ride_index. */
function after(a: Candidate, b: Candidate): boolean {
  if (a.rank !== b.rank) return a.rank > b.rank;
  if (a.source !== b.source) return a.source > b.source;
  return a.rideIndex > b.rideIndex;
}

/**
 * Keeps the `capacity` points first in the order (rank, source key, ride_index) in a binary
 * max-heap. The order is total over distinct rides, so the sample does not depend on the order
 * rides are offered in: the run's report offers each processed object as it is written.
 */
export class PointSample {
  private readonly heap: Candidate[] = [];
  seen = 0;

  constructor(readonly capacity = MAP_POINTS) {}

  /** Offers a ride; the point object is only built when the ride is kept. */
  add(rank: number, longitude: number, latitude: number, station: string, source = '', rideIndex = 0): void {
    this.seen++;
    const heap = this.heap;
    if (heap.length < this.capacity) {
      heap.push({ longitude, latitude, station, rank, source, rideIndex });
      this.up(heap.length - 1);
    } else if (this.capacity > 0 && (rank < heap[0].rank || (rank === heap[0].rank && after(heap[0], { longitude, latitude, station, rank, source, rideIndex })))) {
      heap[0] = { longitude, latitude, station, rank, source, rideIndex };
      this.down(0);
    }
  }

  /** The kept points, lowest rank first (a stable order: the page's bytes depend on it). */
  points(): MapPoint[] {
    return this.heap
      .map(({ longitude, latitude, station, rank }) => ({ longitude, latitude, station, rank }))
      .sort((a, b) => a.rank - b.rank || a.station.localeCompare(b.station) || a.longitude - b.longitude || a.latitude - b.latitude);
  }

  private up(i: number): void {
    const heap = this.heap;
    const moving = heap[i];
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!after(moving, heap[parent])) break;
      heap[i] = heap[parent];
      i = parent;
    }
    heap[i] = moving;
  }

  private down(i: number): void {
    const heap = this.heap;
    // The moving point is held aside and written once where it stops (the swaps, without their copies).
    const moving = heap[i];
    const length = heap.length;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let largest = i;
      let largestPoint = moving;
      if (left < length && after(heap[left], largestPoint)) {
        largest = left;
        largestPoint = heap[left];
      }
      if (right < length && after(heap[right], largestPoint)) largest = right;
      if (largest === i) break;
      heap[i] = heap[largest];
      i = largest;
    }
    heap[i] = moving;
  }
}

/**
 * The exact sum of doubles, rounded once at the end (Shewchuk's non-overlapping partials, the
 * algorithm of Python's math.fsum): the result does not depend on the order the values come in,
 * so a mean is the same whether rides are read from rides.csv or as each object is written.
 * @example
 * const sum = new ExactSum();
 * for (const x of [1e16, 1, -1e16]) sum.add(x);
 * sum.value(); // 1 (a running float sum gives 0)
 */
export class ExactSum {
  // partials[0, count): non-overlapping, increasing magnitude; a typed array, since resizing a JS array per value cost more than the sum.
  private partials = new Float64Array(8);
  private count = 0;

  add(value: number): void {
    let partials = this.partials;
    let x = value;
    let kept = 0;
    for (let j = 0; j < this.count; j++) {
      let y = partials[j];
      if (Math.abs(x) < Math.abs(y)) {
        const t = x;
        x = y;
        y = t;
      }
      const hi = x + y;
      const lo = y - (hi - x);
      if (lo !== 0) partials[kept++] = lo;
      x = hi;
    }
    if (kept === partials.length) {
      partials = new Float64Array(partials.length * 2);
      partials.set(this.partials);
      this.partials = partials;
    }
    partials[kept++] = x;
    this.count = kept;
  }

  /** The sum, correctly rounded (ties to even). */
  value(): number {
    const p = this.partials;
    let n = this.count;
    if (n === 0) return 0;
    let hi = p[--n];
    let lo = 0;
    while (n > 0) {
      const x = hi;
      const y = p[--n];
      hi = x + y;
      lo = y - (hi - x);
      if (lo !== 0) break;
    }
    // Half-way between two doubles: the partials below decide the direction.
    if (n > 0 && ((lo < 0 && p[n - 1] < 0) || (lo > 0 && p[n - 1] > 0))) {
      const y = lo * 2;
      const x = hi + y;
      if (y === x - hi) hi = x;
    }
    return hi;
  }
}

/** Metre values counted in a plain array indexed by the value (below this; beyond, sorted arrays). */
export const DENSE_METRES = 1 << 21;

/**
 * Distances counted per whole metre. Quantiles are nearest-rank over those counts, so a quantile
 * is the exact nearest-rank quantile of every ride truncated to the metre; memory is 4 bytes per
 * metre up to the largest distance below {@link DENSE_METRES} (2,097 km: 8 MB at most; 4 MB for
 * the default sample's rides, up to 751 km from the NYC stations), plus one entry per distinct
 * metre value beyond (and a buffer of recent rides), not per ride.
 *
 * Below 2,097 km a ride is one increment of a Uint32Array indexed by its metre value (a count
 * that wraps past 2^32 is carried in a Map). Beyond (and negative values), distinct values are kept as two sorted typed
 * arrays (metres, counts) that a buffer of new values is folded into (sorted, then merged) once it
 * holds as many values as there are distinct ones: a Map updated per ride and sorted for the
 * quantiles, and then that fold for every ride, were most of the report's aggregation time.
 */
export class DistanceCounts {
  // dense[m] (+ 2^32 per wrap in wraps): rides of m metres, 0 <= m < dense.length (grown to the largest m seen, below DENSE_METRES).
  private dense = new Uint32Array(0);
  private readonly wraps = new Map<number, number>();
  // metres[0, distinct) and counts[0, distinct) hold the folded values outside the dense range; the
  // spare pair receives the next fold and the two pairs swap, so folding allocates only when the
  // capacity must grow.
  private metres = new Float64Array(0);
  private counts = new Float64Array(0);
  private spareMetres = new Float64Array(0);
  private spareCounts = new Float64Array(0);
  private distinct = 0;
  private pending = new Float64Array(1024);
  private waiting = 0;
  count = 0;
  private readonly sum = new ExactSum();
  maxKm = 0;
  private sortedCache?: { count: number; metres: Float64Array; counts: Float64Array };

  /** The sum of every distance added, exact until rounded once (see {@link ExactSum}). */
  get sumKm(): number {
    return this.sum.value();
  }

  /** `add` of each finite value of `values[0, count)` (NaN and ±Infinity skipped). */
  addAll(values: Float64Array, count: number): void {
    for (let i = 0; i < count; i++) {
      const km = values[i];
      if (km - km === 0) this.add(km);
    }
  }

  add(km: number): void {
    const metres = Math.floor(km * 1000 + 1e-9);
    const dense = this.dense;
    if (metres >= 0 && metres < dense.length) {
      if (++dense[metres] === 2 ** 32) this.wrapped(metres);
    } else this.addOutside(metres);
    this.count++;
    this.sum.add(km);
    if (km > this.maxKm) this.maxKm = km;
  }

  /** The count of `metres` went past 2^32 - 1 (the array holds 0 again). */
  private wrapped(metres: number): void {
    this.wraps.set(metres, (this.wraps.get(metres) ?? 0) + 1);
  }

  /** A metre value beyond the dense array: the array grows to hold it, or it goes to the sorted arrays. */
  private addOutside(metres: number): void {
    if (metres >= 0 && metres < DENSE_METRES) {
      let length = Math.max(1024, this.dense.length);
      while (length <= metres) length *= 2;
      const dense = new Uint32Array(Math.min(length, DENSE_METRES));
      dense.set(this.dense);
      this.dense = dense;
      dense[metres]++;
      return;
    }
    if (this.waiting === this.pending.length) this.fold();
    this.pending[this.waiting++] = metres;
  }

  /** Every distinct metre value with its count, in ascending order (kept until the next value is added). */
  private sorted(): { metres: Float64Array; counts: Float64Array } {
    if (this.sortedCache?.count === this.count) return this.sortedCache;
    if (this.waiting > 0) this.fold();
    const dense = this.dense;
    const wraps = this.wraps;
    const folded = this.metres;
    const foldedCounts = this.counts;
    const metres = new Float64Array(this.distinct + dense.length);
    const counts = new Float64Array(this.distinct + dense.length);
    // The folded values are all negative or at least DENSE_METRES: the negative ones, the dense ones, the rest.
    let i = 0;
    let n = 0;
    for (; i < this.distinct && folded[i] < 0; i++, n++) {
      metres[n] = folded[i];
      counts[n] = foldedCounts[i];
    }
    for (let m = 0; m < dense.length; m++) {
      const c = dense[m];
      if (c > 0 || (wraps.size > 0 && wraps.has(m))) {
        metres[n] = m;
        counts[n++] = wraps.size > 0 ? c + (wraps.get(m) ?? 0) * 2 ** 32 : c;
      }
    }
    for (; i < this.distinct; i++, n++) {
      metres[n] = folded[i];
      counts[n] = foldedCounts[i];
    }
    this.sortedCache = { count: this.count, metres: metres.subarray(0, n), counts: counts.subarray(0, n) };
    return this.sortedCache;
  }

  /** Merges the buffer into the sorted arrays; the buffer grows with them, so folds stay rare. */
  private fold(): void {
    const fresh = this.pending.subarray(0, this.waiting).sort();
    const old = this.metres;
    const oldCounts = this.counts;
    const oldLength = this.distinct;
    const need = oldLength + fresh.length;
    if (this.spareMetres.length < need) {
      const capacity = Math.max(need, 2 * this.spareMetres.length);
      this.spareMetres = new Float64Array(capacity);
      this.spareCounts = new Float64Array(capacity);
    }
    const metres = this.spareMetres;
    const counts = this.spareCounts;
    let i = 0;
    let j = 0;
    let n = 0;
    while (i < oldLength || j < fresh.length) {
      const m = j >= fresh.length || (i < oldLength && old[i] <= fresh[j]) ? old[i] : fresh[j];
      let c = 0;
      if (i < oldLength && old[i] === m) c += oldCounts[i++];
      while (j < fresh.length && fresh[j] === m) {
        c++;
        j++;
      }
      metres[n] = m;
      counts[n++] = c;
    }
    this.spareMetres = old;
    this.spareCounts = oldCounts;
    this.metres = metres;
    this.counts = counts;
    this.distinct = n;
    this.waiting = 0;
    if (this.pending.length < n) this.pending = new Float64Array(Math.max(n, this.pending.length * 2));
  }

  /** Nearest-rank quantiles (q in (0, 1]) in km, truncated to the metre; undefined when empty. */
  quantiles(qs: number[]): Array<number | undefined> {
    if (this.count === 0) return qs.map(() => undefined);
    const { metres, counts } = this.sorted();
    return qs.map((q) => {
      const rank = Math.max(1, Math.ceil(q * this.count));
      let seen = 0;
      for (let i = 0; i < metres.length; i++) {
        seen += counts[i];
        if (seen >= rank) return metres[i] / 1000;
      }
      return metres[metres.length - 1] / 1000;
    });
  }

  /**
   * `bins` equal bins over [0, upperKm) plus one overflow bin for distances ≥ upperKm.
   * @returns counts per bin, the last being the overflow.
   */
  histogram(upperKm: number, bins: number): number[] {
    const out = new Array<number>(bins + 1).fill(0);
    const width = upperKm / bins;
    const { metres, counts } = this.sorted();
    for (let i = 0; i < metres.length; i++) {
      const km = metres[i] / 1000;
      const bin = km >= upperKm ? bins : Math.min(bins - 1, Math.floor(km / width));
      out[bin] += counts[i];
    }
    return out;
  }
}

/** Reject reasons grouped by kind, the value taken out: `latitude: 95 is outside …` → `latitude: … is outside …`. */
export function reasonKind(reason: string): string {
  return reason
    .replace(/^([^:]{1,40}): (?!missing$|is empty|contains|expected )(.+?) (is .*)$/s, '$1: … $3')
    .replace(/^([^:]{1,40}): expected (.+?), got (string|number|boolean|bigint) .*$/s, '$1: expected $2, got $3 …');
}

/** One reason kind: its count and the first rejected ride that had it. */
export interface RejectReason {
  reason: string;
  count: number;
  example: { file: string; index: number; reason: string; record: string };
}

/** Counts reject reasons (a ride with two reasons counts once under each). */
export class RejectCounts {
  private readonly byKind = new Map<string, RejectReason>();
  rides = 0;
  /** Reasons beyond {@link MAX_REASONS} distinct kinds. */
  otherCount = 0;
  /** Lines that were not a reject record (a truncated file). */
  unreadable = 0;

  add(file: string, line: string): void {
    let parsed: { index?: unknown; reasons?: unknown; record?: unknown };
    try {
      parsed = JSON.parse(line) as typeof parsed;
    } catch {
      this.unreadable++;
      return;
    }
    this.rides++;
    const reasons = Array.isArray(parsed.reasons) ? parsed.reasons.map(String) : ['(no reason given)'];
    for (const reason of reasons) {
      const kind = reasonKind(reason);
      const known = this.byKind.get(kind);
      if (known) known.count++;
      else if (this.byKind.size < MAX_REASONS) {
        const record = JSON.stringify(parsed.record) ?? 'undefined';
        this.byKind.set(kind, {
          reason: kind,
          count: 1,
          example: { file, index: Number(parsed.index), reason, record: record.length > 400 ? `${record.slice(0, 397)}...` : record },
        });
      } else this.otherCount++;
    }
  }

  /** Most frequent first, ties by reason. */
  reasons(): RejectReason[] {
    return [...this.byKind.values()].sort((a, b) => b.count - a.count || (a.reason < b.reason ? -1 : a.reason > b.reason ? 1 : 0));
  }
}

/** Per-station ride counts and the bounding box of every ride. */
export class RideCounts {
  /** Rides per station id, in a box per station: one Map lookup per ride, not a lookup and a set. */
  private readonly byStation = new Map<string, { rides: number }>();
  rows = 0;
  unmatched = 0;
  bbox = { west: Infinity, south: Infinity, east: -Infinity, north: -Infinity };

  add(longitude: number, latitude: number, station: string): void {
    this.rows++;
    if (station === '') this.unmatched++;
    else {
      const counted = this.byStation.get(station);
      if (counted) counted.rides++;
      else this.byStation.set(station, { rides: 1 });
    }
    if (Number.isFinite(longitude) && Number.isFinite(latitude)) {
      const b = this.bbox;
      if (longitude < b.west) b.west = longitude;
      if (longitude > b.east) b.east = longitude;
      if (latitude < b.south) b.south = latitude;
      if (latitude > b.north) b.north = latitude;
    }
  }

  /** `add` of each row of a batch. */
  addRows(batch: { count: number; longitude: Float64Array; latitude: Float64Array; station: string[] }): void {
    const { count, longitude, latitude, station } = batch;
    const byStation = this.byStation;
    const b = this.bbox;
    this.rows += count;
    for (let i = 0; i < count; i++) {
      const id = station[i];
      if (id === '') this.unmatched++;
      else {
        const counted = byStation.get(id);
        if (counted) counted.rides++;
        else byStation.set(id, { rides: 1 });
      }
      const x = longitude[i];
      const y = latitude[i];
      if (x - x === 0 && y - y === 0) {
        if (x < b.west) b.west = x;
        if (x > b.east) b.east = x;
        if (y < b.south) b.south = y;
        if (y > b.north) b.north = y;
      }
    }
  }

  /** Stations by rides, most first, ties by id. */
  ranked(): Array<{ station: string; rides: number }> {
    return [...this.byStation.entries()]
      .map(([station, { rides }]) => ({ station, rides }))
      .sort((a, b) => b.rides - a.rides || (a.station < b.station ? -1 : a.station > b.station ? 1 : 0));
  }
}
