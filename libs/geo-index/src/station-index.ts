import RBush from 'rbush';
import { EARTH_RADIUS_KM } from './constants';
import { InvalidCatalogueError, InvalidQueryError } from './errors';
import { haversineKm } from './haversine';
import type { Neighbour, Station } from './types';

// Module-scope aliases: inside Jest's vm context every global lookup (`Math`) is ~50× slower.
const { sin, cos, sqrt, min, max } = Math;

/*
 * Design: exact great-circle nearest neighbours on an rbush R-tree.
 *
 * 1. rbush bulk-loads (OMT) the stations as points in the lon/lat plane; that gives the grouping
 *    (which stations share a leaf, which leaves share a parent). rbush's own search and rbush-knn
 *    rank by planar lon/lat distance, which is not great-circle order at high latitudes, across
 *    ±180° or near the poles, so neither is used for queries.
 * 2. The tree is copied into flat typed arrays (breadth-first, so a node's children are
 *    contiguous) and every node gets the 3-D axis-aligned box of its stations' unit vectors
 *    (x = cosφ·cosλ, y = cosφ·sinλ, z = sinφ). Station vectors sit in leaf order in one array.
 * 3. Chord length between unit vectors is a strictly increasing function of great-circle distance
 *    (chord = 2·sin(θ/2)), and the squared Euclidean distance from the query vector to a node's
 *    3-D box is a lower bound of the squared chord to every station inside it. The box distance is
 *    computed from the same floats as the station vectors and rounding is monotone, so the bound
 *    never exceeds the station's own computed chord². No trigonometry per node or per station,
 *    no special case for the antimeridian or the poles: they do not exist in 3-D.
 * 4. `nearest` is a depth-first branch and bound on a typed-array stack: a node's children in range
 *    are pushed with the nearest on top, so the first leaf reached is the greedy one and its
 *    distance prunes most of the rest when they are popped. (A best-first
 *    heap expands fewer nodes but paid a heap push per child before any distance was known; it
 *    measured ~1.5x slower on New York queries.) `kNearest` keeps the best-first heap, whose
 *    ordering makes the k-th distance shrink steadily. Either way the search stops at nodes whose
 *    bound exceeds the limit, and nothing is allocated per node.
 * 5. Exactness and ties. The answer is defined by `haversineKm` (what callers and the brute-force
 *    oracle see) and then the smallest id. Chord² and haversine agree on order except within
 *    rounding (~1e-15), so chord² only decides when two candidates differ by more than
 *    TIE_WINDOW (1e-9 chord ≈ 6 µm on the ground); inside that window both haversine distances
 *    are computed and compared as (km, id). The pruning limit is the best chord plus the window,
 *    and a node whose bound equals the limit stays open, so co-located stations (7,307 duplicated
 *    coordinates in the real data) are all seen and the smallest id wins every time.
 */

/** Chord length (unit sphere) within which two candidates count as a possible tie. */
const TIE_WINDOW = 1e-9;
const RAD = Math.PI / 180;
/** Default rbush node capacity; see {@link StationIndexOptions.nodeSize}. */
const NODE_SIZE = 16;

/** Tuning knobs of {@link StationIndex}; the defaults suit catalogues from 10 to 200k stations. */
export interface StationIndexOptions {
  /**
   * Maximum children per R-tree node (rbush `maxEntries`), default 16: larger builds faster and
   * scans more stations per leaf. See `nx run geo-index:bench`.
   */
  nodeSize?: number;
}

/**
 * The R-tree over station positions. Items are 1-based positions (rbush's `insert`, used for
 * small loads, silently skips a falsy item such as 0) into `lon1`/`lat1`, whose slot 0 is unused;
 * numbers rather than objects, so bulk load allocates no items. rbush calls these hooks unbound,
 * hence closures rather than methods.
 */
function buildTree(lon1: Float64Array, lat1: Float64Array, nodeSize: number): RBushNode {
  const tree = new RBush<number>(nodeSize);
  tree.toBBox = (item) => ({ minX: lon1[item], minY: lat1[item], maxX: lon1[item], maxY: lat1[item] });
  tree.compareMinX = (a, b) => lon1[a] - lon1[b];
  tree.compareMinY = (a, b) => lat1[a] - lat1[b];
  const items = new Array<number>(lon1.length - 1);
  for (let i = 0; i < items.length; i++) items[i] = i + 1;
  tree.load(items);
  return (tree as unknown as { data: RBushNode }).data;
}

/** rbush's internal node shape (`tree.data`), which the package does not type. */
interface RBushNode {
  children: Array<RBushNode | number>;
  leaf: boolean;
}

/**
 * Exact great-circle nearest-station index over a catalogue, built once and queried per ride.
 * Distances are haversine km (R = 6371); at equal distance the smallest id (plain string order)
 * wins, always. See the design note at the top of `station-index.ts`.
 *
 * @example
 * ```ts
 * const index = new StationIndex(DEFAULT_STATIONS);
 * const { station, distanceKm } = index.nearest(40.7812, -73.9665);
 * // station.id === 'USW00094728', distanceKm ≈ 0.29
 * index.kNearest(40.7812, -73.9665, 3, 10).map((n) => n.station.id);
 * ```
 */
export class StationIndex {
  /** Number of stations indexed. */
  readonly size: number;

  /** Stations in leaf order; slot `s` has its unit vector at `xyz[3s..3s+2]`. */
  private readonly slots: Station[];
  private readonly xyz: Float64Array;
  /** Per node: 3-D box as minX, minY, minZ, maxX, maxY, maxZ. */
  private readonly box: Float64Array;
  /** Per node: first child node (internal) or first slot (leaf). */
  private readonly first: Int32Array;
  private readonly count: Int32Array;
  private readonly leaf: Uint8Array;
  /** Search stack (`nearest`) or heap (`kNearest`), reused by every query: each node enters at most once. */
  private readonly heapKey: Float64Array;
  private readonly heapNode: Int32Array;

  /**
   * Builds the index with rbush's bulk load. Throws {@link InvalidCatalogueError} for an empty
   * catalogue or a station with a missing id or non-finite or out-of-range coordinates. Ids are
   * expected to be unique (the catalogue loaders reject repeats); they are not re-checked here
   * because that would cost a fifth of the build time.
   *
   * @example
   * ```ts
   * const index = new StationIndex(await loadStations(fs.createReadStream('ghcnd-stations.txt')));
   * ```
   */
  constructor(stations: readonly Station[], options: StationIndexOptions = {}) {
    validateCatalogue(stations);
    const n = stations.length;
    const lon1 = new Float64Array(n + 1);
    const lat1 = new Float64Array(n + 1);
    const unit = new Float64Array(3 * n); // unit vectors in input order, moved to leaf order below
    for (let i = 0; i < n; i++) {
      const { latitude, longitude } = stations[i];
      lon1[i + 1] = longitude;
      lat1[i + 1] = latitude;
      const cosLat = cos(latitude * RAD);
      unit[3 * i] = cosLat * cos(longitude * RAD);
      unit[3 * i + 1] = cosLat * sin(longitude * RAD);
      unit[3 * i + 2] = sin(latitude * RAD);
    }
    const root = buildTree(lon1, lat1, options.nodeSize ?? NODE_SIZE);

    // Breadth-first flattening: children of one node get consecutive node ids.
    const nodes: RBushNode[] = [root];
    for (let i = 0; i < nodes.length; i++) {
      if (!nodes[i].leaf) for (const child of nodes[i].children) nodes.push(child as RBushNode);
    }
    const m = nodes.length;
    this.size = n;
    this.slots = new Array<Station>(n);
    this.xyz = new Float64Array(3 * n);
    this.box = new Float64Array(6 * m);
    this.first = new Int32Array(m);
    this.count = new Int32Array(m);
    this.leaf = new Uint8Array(m);
    this.heapKey = new Float64Array(m);
    this.heapNode = new Int32Array(m);

    const { slots, xyz, first, count, leaf } = this;
    let nextNode = 1;
    let nextSlot = 0;
    for (let i = 0; i < m; i++) {
      const children = nodes[i].children;
      count[i] = children.length;
      if (nodes[i].leaf) {
        leaf[i] = 1;
        first[i] = nextSlot;
        for (let c = 0; c < children.length; c++) {
          const item = (children[c] as number) - 1;
          slots[nextSlot] = stations[item];
          xyz[3 * nextSlot] = unit[3 * item];
          xyz[3 * nextSlot + 1] = unit[3 * item + 1];
          xyz[3 * nextSlot + 2] = unit[3 * item + 2];
          nextSlot++;
        }
      } else {
        first[i] = nextNode;
        nextNode += children.length;
      }
    }
    // Children have larger ids than their parent, so one backward pass fills every box.
    for (let i = m - 1; i >= 0; i--) this.fillBox(i);
  }

  /**
   * Same as `new StationIndex(stations)`.
   *
   * @example
   * ```ts
   * const index = StationIndex.build(parseStations(csvText, { format: 'csv' }));
   * ```
   */
  static build(stations: readonly Station[], options?: StationIndexOptions): StationIndex {
    return new StationIndex(stations, options);
  }

  /**
   * The station nearest to (lat, lon) in degrees by great-circle distance; the smallest id among
   * equally near ones. `station` is the object given to the constructor. Throws
   * {@link InvalidQueryError} for a non-finite or out-of-range position.
   *
   * @example
   * ```ts
   * index.nearest(40.6413, -73.7781); // { station: { id: 'USW00094789', … }, distanceKm: ≈1.4 }
   * ```
   */
  nearest(lat: number, lon: number): Neighbour {
    checkPosition(lat, lon);
    const { xyz, box, first, count, leaf, heapKey: stackKey, heapNode: stackNode, slots } = this;
    const cosLat = cos(lat * RAD);
    const qx = cosLat * cos(lon * RAD);
    const qy = cosLat * sin(lon * RAD);
    const qz = sin(lat * RAD);

    let best = -1;
    let bestKm = NaN; // computed lazily, only when a possible tie needs it
    let limit = Infinity; // (best chord + window)²: anything farther cannot win or tie
    let clearlyBetter = Infinity; // (best chord − window)²: anything nearer wins outright
    // Depth-first branch and bound: children go on the stack nearest-last, so the first leaf
    // reached is the greedy one and its distance prunes the rest early.
    let top = 1;
    stackKey[0] = 0;
    stackNode[0] = 0;

    while (top > 0) {
      top--;
      if (stackKey[top] > limit) continue;
      const node = stackNode[top];
      const start = first[node];
      const end = start + count[node];
      if (leaf[node] === 1) {
        for (let s = start; s < end; s++) {
          const dx = xyz[3 * s] - qx;
          const dy = xyz[3 * s + 1] - qy;
          const dz = xyz[3 * s + 2] - qz;
          const d2 = dx * dx + dy * dy + dz * dz;
          if (d2 > limit) continue;
          if (d2 >= clearlyBetter) {
            // Possible tie: decide on the reported distance, then the id.
            if (bestKm !== bestKm) bestKm = haversineKm(lat, lon, slots[best].latitude, slots[best].longitude);
            const km = haversineKm(lat, lon, slots[s].latitude, slots[s].longitude);
            if (km > bestKm || (km === bestKm && slots[s].id >= slots[best].id)) continue;
            best = s;
            bestKm = km;
          } else {
            best = s;
            bestKm = NaN;
          }
          const chord = sqrt(d2);
          limit = min(limit, (chord + TIE_WINDOW) * (chord + TIE_WINDOW));
          clearlyBetter = chord > TIE_WINDOW ? (chord - TIE_WINDOW) * (chord - TIE_WINDOW) : -1;
        }
      } else {
        // Push the children in range, then swap the nearest to the top: it is expanded first and
        // sets the limit; the rest are re-checked against that limit when popped (a full sort
        // of up to 16 siblings measured ~35% slower overall).
        const base = top;
        for (let c = start; c < end; c++) {
          const bound = boxDistance2(box, c, qx, qy, qz);
          if (bound > limit) continue;
          stackKey[top] = bound;
          stackNode[top] = c;
          top++;
        }
        let nearestChild = base;
        for (let i = base + 1; i < top; i++) if (stackKey[i] < stackKey[nearestChild]) nearestChild = i;
        const last = top - 1;
        if (nearestChild < last) {
          const key = stackKey[nearestChild];
          const child = stackNode[nearestChild];
          stackKey[nearestChild] = stackKey[last];
          stackNode[nearestChild] = stackNode[last];
          stackKey[last] = key;
          stackNode[last] = child;
        }
      }
    }
    const station = slots[best];
    if (bestKm !== bestKm) bestKm = haversineKm(lat, lon, station.latitude, station.longitude);
    return { station, distanceKm: bestKm };
  }

  /**
   * Up to `k` stations nearest to (lat, lon), sorted by distance then id, optionally only those
   * within `maxDistanceKm` (inclusive). `k` larger than the catalogue returns every station in
   * range; `k = 0` returns `[]`.
   *
   * @example
   * ```ts
   * index.kNearest(40.7812, -73.9665, 3);        // the three nearest, nearest first
   * index.kNearest(40.7812, -73.9665, 100, 5);   // every station within 5 km
   * ```
   */
  kNearest(lat: number, lon: number, k: number, maxDistanceKm = Infinity): Neighbour[] {
    checkPosition(lat, lon);
    if (!Number.isInteger(k) || k < 0) throw new InvalidQueryError('k', k, 'a whole number ≥ 0');
    if (!(maxDistanceKm >= 0)) throw new InvalidQueryError('maxDistanceKm', maxDistanceKm, 'a number of km ≥ 0');
    if (k === 0) return [];
    const { xyz, box, first, count, leaf, heapKey, heapNode, slots } = this;
    const cosLat = cos(lat * RAD);
    const qx = cosLat * cos(lon * RAD);
    const qy = cosLat * sin(lon * RAD);
    const qz = sin(lat * RAD);

    // Candidates: `kept` is a max-heap of the k smallest chord² seen; anything it evicts that is
    // still within the window of the k-th goes to `nearTies` and is re-checked at the end.
    const maxChord = maxDistanceKm >= Math.PI * EARTH_RADIUS_KM ? Infinity : 2 * sin(maxDistanceKm / (2 * EARTH_RADIUS_KM));
    let limit = (maxChord + TIE_WINDOW) * (maxChord + TIE_WINDOW);
    const keptD2: number[] = [];
    const keptSlot: number[] = [];
    const nearTies: Array<[number, number]> = [];
    let size = 1;
    heapKey[0] = 0;
    heapNode[0] = 0;

    while (size > 0) {
      if (heapKey[0] > limit) break;
      const node = heapNode[0];
      size = heapPop(heapKey, heapNode, size);
      const start = first[node];
      const end = start + count[node];
      if (leaf[node] === 1) {
        for (let s = start; s < end; s++) {
          const dx = xyz[3 * s] - qx;
          const dy = xyz[3 * s + 1] - qy;
          const dz = xyz[3 * s + 2] - qz;
          const d2 = dx * dx + dy * dy + dz * dz;
          if (d2 > limit) continue;
          if (keptD2.length < k) {
            maxHeapPush(keptD2, keptSlot, d2, s);
          } else if (d2 < keptD2[0]) {
            nearTies.push([keptD2[0], keptSlot[0]]);
            maxHeapReplaceTop(keptD2, keptSlot, d2, s);
          } else {
            nearTies.push([d2, s]);
          }
          if (keptD2.length === k) {
            const chord = sqrt(keptD2[0]) + TIE_WINDOW;
            limit = min(limit, chord * chord);
          }
        }
      } else {
        for (let c = start; c < end; c++) {
          const bound = boxDistance2(box, c, qx, qy, qz);
          if (bound <= limit) size = heapPush(heapKey, heapNode, size, bound, c);
        }
      }
    }

    const result: Neighbour[] = [];
    const consider = (d2: number, s: number) => {
      if (d2 > limit) return;
      const station = slots[s];
      const distanceKm = haversineKm(lat, lon, station.latitude, station.longitude);
      if (distanceKm <= maxDistanceKm) result.push({ station, distanceKm });
    };
    for (let i = 0; i < keptD2.length; i++) consider(keptD2[i], keptSlot[i]);
    for (const [d2, s] of nearTies) consider(d2, s);
    result.sort(compareNeighbours);
    if (result.length > k) result.length = k;
    return result;
  }

  private fillBox(node: number): void {
    const { box, xyz } = this;
    const b = 6 * node;
    box.fill(Infinity, b, b + 3);
    box.fill(-Infinity, b + 3, b + 6);
    const start = this.first[node];
    const end = start + this.count[node];
    const source = this.leaf[node] === 1 ? xyz : box;
    for (let c = start; c < end; c++) {
      const lo = this.leaf[node] === 1 ? 3 * c : 6 * c;
      const hi = this.leaf[node] === 1 ? 3 * c : 6 * c + 3;
      for (let axis = 0; axis < 3; axis++) {
        box[b + axis] = min(box[b + axis], source[lo + axis]);
        box[b + 3 + axis] = max(box[b + 3 + axis], source[hi + axis]);
      }
    }
  }
}

/** Squared distance from the query vector to node `c`'s 3-D box; 0 inside. */
function boxDistance2(box: Float64Array, c: number, qx: number, qy: number, qz: number): number {
  const b = 6 * c;
  const dx = qx < box[b] ? box[b] - qx : qx > box[b + 3] ? qx - box[b + 3] : 0;
  const dy = qy < box[b + 1] ? box[b + 1] - qy : qy > box[b + 4] ? qy - box[b + 4] : 0;
  const dz = qz < box[b + 2] ? box[b + 2] - qz : qz > box[b + 5] ? qz - box[b + 5] : 0;
  return dx * dx + dy * dy + dz * dz;
}

/** Binary min-heap push over parallel typed arrays; returns the new size. */
function heapPush(key: Float64Array, value: Int32Array, size: number, k: number, v: number): number {
  let i = size;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (key[parent] <= k) break;
    key[i] = key[parent];
    value[i] = value[parent];
    i = parent;
  }
  key[i] = k;
  value[i] = v;
  return size + 1;
}

/** Removes the heap's minimum; returns the new size. */
function heapPop(key: Float64Array, value: Int32Array, size: number): number {
  const last = size - 1;
  const k = key[last];
  const v = value[last];
  let i = 0;
  const half = last >> 1;
  while (i < half) {
    let child = 2 * i + 1;
    if (child + 1 < last && key[child + 1] < key[child]) child++;
    if (key[child] >= k) break;
    key[i] = key[child];
    value[i] = value[child];
    i = child;
  }
  key[i] = k;
  value[i] = v;
  return last;
}

function maxHeapPush(key: number[], value: number[], k: number, v: number): void {
  let i = key.length;
  key.push(k);
  value.push(v);
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (key[parent] >= k) break;
    key[i] = key[parent];
    value[i] = value[parent];
    i = parent;
  }
  key[i] = k;
  value[i] = v;
}

function maxHeapReplaceTop(key: number[], value: number[], k: number, v: number): void {
  const n = key.length;
  let i = 0;
  for (;;) {
    let child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && key[child + 1] > key[child]) child++;
    if (key[child] <= k) break;
    key[i] = key[child];
    value[i] = value[child];
    i = child;
  }
  key[i] = k;
  value[i] = v;
}

function compareNeighbours(a: Neighbour, b: Neighbour): number {
  if (a.distanceKm !== b.distanceKm) return a.distanceKm - b.distanceKm;
  return a.station.id < b.station.id ? -1 : a.station.id > b.station.id ? 1 : 0;
}

function checkPosition(lat: number, lon: number): void {
  if (!(typeof lat === 'number' && lat >= -90 && lat <= 90)) {
    throw new InvalidQueryError('latitude', lat, 'degrees in [-90, 90]');
  }
  if (!(typeof lon === 'number' && lon >= -180 && lon <= 180)) {
    throw new InvalidQueryError('longitude', lon, 'degrees in [-180, 180]');
  }
}

function validateCatalogue(stations: readonly Station[]): void {
  if (stations.length === 0) {
    throw new InvalidCatalogueError('cannot build a StationIndex from an empty catalogue; give it at least one station (e.g. DEFAULT_STATIONS)');
  }
  for (let i = 0; i < stations.length; i++) {
    const { id, latitude, longitude } = stations[i];
    if (typeof id !== 'string' || id === '') {
      throw new InvalidCatalogueError(`station [${i}] has id ${JSON.stringify(id)}; every station needs a non-empty string id`);
    }
    if (!(typeof latitude === 'number' && latitude >= -90 && latitude <= 90)) {
      throw new InvalidCatalogueError(`station [${i}] ${id} has latitude ${latitude}; expected degrees in [-90, 90]`);
    }
    if (!(typeof longitude === 'number' && longitude >= -180 && longitude <= 180)) {
      throw new InvalidCatalogueError(`station [${i}] ${id} has longitude ${longitude}; expected degrees in [-180, 180]`);
    }
  }
}
