import RBush from 'rbush';
import { EARTH_RADIUS_KM } from './constants';
import { InvalidCatalogueError, InvalidQueryError } from './errors';
import * as haversine from './haversine';
import type { Neighbour, Station } from './types';

// Module-scope aliases: inside Jest's vm context a global lookup (`Math`) goes through the context object, far slower than a local.
const { sin, cos, sqrt, min, max } = Math;
// The same for imports used per query: a module compiled to CommonJS on its own (tsx, Jest) reads an
// import through export getters at every use.
const { haversineKm, haversineKmWithCos } = haversine;

/*
 * Design: exact great-circle nearest neighbours on an rbush R-tree.
 *
 * 1. rbush bulk-loads (OMT) the stations as points in the lon/lat plane; that gives the grouping
 *    (which stations share a leaf, which leaves share a parent). rbush's own search and rbush-knn
 *    rank by planar lon/lat distance, which is not great-circle order at high latitudes, across
 *    ±180° or near the poles, so neither is used for queries.
 * 2. The tree, read through rbush's public export (`toJSON()`), is copied into flat typed arrays
 *    (breadth-first, so a node's children are contiguous) and every node gets the 3-D
 *    axis-aligned box of its stations' unit vectors (x = cosφ·cosλ, y = cosφ·sinλ, z = sinφ).
 *    Station vectors sit in leaf order in one array.
 * 3. Chord length between unit vectors is a strictly increasing function of great-circle distance
 *    (chord = 2·sin(θ/2)), and the squared Euclidean distance from the query vector to a node's
 *    3-D box is a lower bound of the squared chord to every station inside it. The box distance is
 *    computed from the same floats as the station vectors and rounding is monotone, so the bound
 *    never exceeds the station's own computed chord². No trigonometry per node or per station,
 *    no special case for the antimeridian or the poles: they do not exist in 3-D.
 * 4. `nearest` is a depth-first branch and bound on a typed-array stack: a node's children in range
 *    are pushed with the nearest on top, so the first leaf reached is the greedy one and its
 *    distance prunes most of the rest when they are popped. (A best-first heap expands fewer
 *    nodes but pays a heap push per child before any distance is known.) `kNearest` keeps the
 *    best-first heap, whose ordering makes the k-th distance shrink steadily. Either way the
 *    search stops at nodes whose bound exceeds the limit, and nothing is allocated per node.
 * 5. `nearestBatch` shares the descent between neighbouring queries. It puts the queries in
 *    grid order over the batch's lon/lat box (a counting sort), then takes them in groups of
 *    GROUP_SIZE. The previous answer s0 bounds every query q of the group: its nearest station is
 *    no farther than s0, so a node whose box is farther than U = max over q of chord(q, s0) from
 *    the group's own 3-D box cannot hold any of the group's answers. One walk per group keeps
 *    the nodes within U, level by level, while a level holds at most FRONTIER_CAP of them; each
 *    query then runs the depth-first search of (4) from that frontier instead of the root, with
 *    the previous query's answer as its first candidate. Same bounds, same ties, fewer boxes.
 * 6. Exactness and ties. The answer is defined by `haversineKm` (what callers and the brute-force
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
const NODE_SIZE = 8;
/** Queries that share one walk from the root in `nearestBatch`. */
const GROUP_SIZE = 8;
/** Most nodes a shared walk hands to each query of its group. */
const FRONTIER_CAP = 16;
const ROOT_FRONTIER = new Int32Array(1);
/** A query record: unit vector x, y, z, latitude, longitude (degrees), cos(latitude), answer km or NaN. */
const QUERY_STRIDE = 7;

/** Tuning knobs of {@link StationIndex}; the defaults suit catalogues from 10 to 200k stations. */
export interface StationIndexOptions {
  /**
   * Maximum children per R-tree node (rbush `maxEntries`), default 8: larger builds faster and
   * scans more stations per leaf. See `nx run geo-index:bench -- --node-sizes`.
   */
  nodeSize?: number;
}

/**
 * Answers of {@link StationIndex.nearestBatch}, query by query: `index[i]` is the position of the
 * nearest station in the array given to the constructor, `distanceKm[i]` its haversine distance.
 */
export interface NearestBatch {
  index: Int32Array;
  distanceKm: Float64Array;
}

/** A node of rbush's exported tree (`toJSON()`): leaves hold items, other nodes hold nodes. */
interface RBushNode {
  children: Array<RBushNode | number>;
  leaf: boolean;
}

/**
 * The R-tree over station positions, as rbush exports it. Items are 1-based positions (rbush's
 * `insert`, used for small loads, silently skips a falsy item such as 0) into `lon1`/`lat1`,
 * whose slot 0 is unused; numbers rather than objects, so bulk load allocates no items. rbush
 * calls these hooks unbound, hence closures rather than methods.
 */
function buildTree(lon1: Float64Array, lat1: Float64Array, nodeSize: number): RBushNode {
  const tree = new RBush<number>(nodeSize);
  tree.toBBox = (item) => ({ minX: lon1[item], minY: lat1[item], maxX: lon1[item], maxY: lat1[item] });
  tree.compareMinX = (a, b) => lon1[a] - lon1[b];
  tree.compareMinY = (a, b) => lat1[a] - lat1[b];
  const items = new Array<number>(lon1.length - 1);
  for (let i = 0; i < items.length; i++) items[i] = i + 1;
  tree.load(items);
  return tree.toJSON() as RBushNode;
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
  /** Per slot: position in the constructor's array, latitude and longitude in degrees, cos(latitude). */
  private readonly slotItem: Int32Array;
  private readonly slotLat: Float64Array;
  private readonly slotLon: Float64Array;
  private readonly slotCos: Float64Array;
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
  /** The query record of `nearest` (see QUERY_STRIDE). */
  private readonly single = new Float64Array(QUERY_STRIDE);
  /** `nearestBatch` scratch, grown on demand and reused. */
  private scratch?: BatchScratch;

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
    for (let i = 0; i < n; i++) {
      lon1[i + 1] = stations[i].longitude;
      lat1[i + 1] = stations[i].latitude;
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
    this.slotItem = new Int32Array(n);
    this.slotLat = new Float64Array(n);
    this.slotLon = new Float64Array(n);
    this.slotCos = new Float64Array(n);
    this.xyz = new Float64Array(3 * n);
    this.box = new Float64Array(6 * m);
    this.first = new Int32Array(m);
    this.count = new Int32Array(m);
    this.leaf = new Uint8Array(m);
    this.heapKey = new Float64Array(m);
    this.heapNode = new Int32Array(m);

    const { slots, slotItem, slotLat, slotLon, slotCos, xyz, first, count, leaf } = this;
    let nextNode = 1;
    let nextSlot = 0;
    for (let i = 0; i < m; i++) {
      const children = nodes[i].children;
      count[i] = children.length;
      if (nodes[i].leaf) {
        leaf[i] = 1;
        first[i] = nextSlot;
        for (let c = 0; c < children.length; c++) {
          const item = children[c] as number;
          const lat = lat1[item];
          const lon = lon1[item];
          const cosLat = cos(lat * RAD);
          slots[nextSlot] = stations[item - 1];
          slotItem[nextSlot] = item - 1;
          slotLat[nextSlot] = lat;
          slotLon[nextSlot] = lon;
          slotCos[nextSlot] = cosLat;
          xyz[3 * nextSlot] = cosLat * cos(lon * RAD);
          xyz[3 * nextSlot + 1] = cosLat * sin(lon * RAD);
          xyz[3 * nextSlot + 2] = sin(lat * RAD);
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
    const best = this.nearestSlot(lat, lon);
    return { station: this.slots[best], distanceKm: this.single[6] };
  }

  /**
   * {@link nearest}, the answer written into `out` (and returned) instead of a new object: for a
   * caller that asks once per ride and reads the answer before asking again.
   *
   * @example
   * ```ts
   * const match = { station: stations[0], distanceKm: 0 };
   * index.nearestInto(40.6413, -73.7781, match).station.id; // 'USW00094789'
   * ```
   */
  nearestInto(lat: number, lon: number, out: Neighbour): Neighbour {
    const best = this.nearestSlot(lat, lon);
    out.station = this.slots[best];
    out.distanceKm = this.single[6];
    return out;
  }

  /** The slot of the station nearest to (lat, lon); its distance in km is then in `single[6]`. */
  private nearestSlot(lat: number, lon: number): number {
    checkPosition(lat, lon);
    const cosLat = cos(lat * RAD);
    const query = this.single;
    query[0] = cosLat * cos(lon * RAD);
    query[1] = cosLat * sin(lon * RAD);
    query[2] = sin(lat * RAD);
    query[3] = lat;
    query[4] = lon;
    query[5] = cosLat;
    const best = this.search(query, 0, -1, ROOT_FRONTIER, 1);
    if (query[6] !== query[6]) query[6] = haversineKmWithCos(lat, lon, cosLat, this.slotLat[best], this.slotLon[best], this.slotCos[best]);
    return best;
  }

  /**
   * {@link nearest} for many positions at once, the same answers: typed arrays in, typed arrays
   * out, nothing allocated per query. `latitudes[i]`, `longitudes[i]` (degrees) give query i;
   * the answer's `index[i]` is the nearest station's position in the array given to the
   * constructor and `distanceKm[i]` its haversine distance. Pass `out` (arrays at least as long
   * as the batch) to reuse result arrays. Neighbouring queries share their walk down the tree
   * (see the design note), so a batch is several times faster than one `nearest` per position.
   * Throws {@link InvalidQueryError} naming the first bad position, before answering any.
   *
   * @example
   * ```ts
   * const { index, distanceKm } = stationIndex.nearestBatch(Float64Array.of(40.78, 40.64), Float64Array.of(-73.97, -73.78));
   * stations[index[1]].id; // 'USW00094789', distanceKm[1] ≈ 1.4
   * ```
   */
  nearestBatch(latitudes: ArrayLike<number>, longitudes: ArrayLike<number>, out?: NearestBatch): NearestBatch {
    const n = latitudes.length;
    if (longitudes.length !== n) throw new InvalidQueryError('longitudes.length', longitudes.length, `the length of latitudes (${n})`);
    const result = out ?? { index: new Int32Array(n), distanceKm: new Float64Array(n) };
    if (result.index.length < n) throw new InvalidQueryError('out.index.length', result.index.length, `at least ${n}`);
    if (result.distanceKm.length < n) throw new InvalidQueryError('out.distanceKm.length', result.distanceKm.length, `at least ${n}`);
    // Each pass over the batch is its own function ending with its loop: V8 compiles a long loop
    // while it runs (on-stack replacement), and code after it in the same function, not yet run,
    // would make that compiled code bail out to the interpreter on every later call.
    const scratch = this.batchScratch(n);
    const { bounds, q } = scratch;
    checkBatch(latitudes, longitudes, n, bounds);
    if (n === 0) return result;
    const order = gridOrder(latitudes, longitudes, n, bounds, scratch);
    queryRecords(latitudes, longitudes, order, n, q);
    this.answerGroups(order, n, scratch, result);
    return result;
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

  /** The search of `nearestBatch`, group by group in `order`; answers land at the queries' own positions. */
  private answerGroups(order: Int32Array, n: number, scratch: BatchScratch, { index, distanceKm }: NearestBatch): void {
    const { slotItem, slotLat, slotLon, slotCos } = this;
    const { q } = scratch;
    let previous = -1;
    for (let g0 = 0; g0 < n; g0 += GROUP_SIZE) {
      const g1 = min(n, g0 + GROUP_SIZE);
      const nf = this.groupFrontier(q, g0, g1, previous, scratch);
      for (let j = g0; j < g1; j++) {
        const i = order[j];
        previous = this.search(q, j, previous, scratch.frontier, nf);
        const at = QUERY_STRIDE * j;
        const km = q[at + 6];
        index[i] = slotItem[previous];
        distanceKm[i] = km === km ? km : haversineKmWithCos(q[at + 3], q[at + 4], q[at + 5], slotLat[previous], slotLon[previous], slotCos[previous]);
      }
    }
  }

  /**
   * Depth-first branch and bound from the `nf` nodes of `frontier` (every station that could win
   * lies below one of them), starting from slot `seed` as the first candidate when it is ≥ 0.
   * The query is record `j` of `queries`; returns the winning slot and leaves its haversine km in
   * the record if a tie made it compute it (else NaN). Numbers travel in typed arrays, not as
   * arguments, so a call allocates nothing.
   */
  private search(queries: Float64Array, j: number, seed: number, frontier: Int32Array, nf: number): number {
    const at = QUERY_STRIDE * j;
    const qx = queries[at];
    const qy = queries[at + 1];
    const qz = queries[at + 2];
    const lat = queries[at + 3];
    const lon = queries[at + 4];
    const cosLat = queries[at + 5];
    const { xyz, box, first, count, leaf, heapKey: stackKey, heapNode: stackNode, slots, slotLat, slotLon, slotCos } = this;
    let best = -1;
    let bestKm = NaN; // computed lazily, only when a possible tie needs it
    let limit = Infinity; // (best chord + window)²: anything farther cannot win or tie
    let clearlyBetter = Infinity; // (best chord − window)²: anything nearer wins outright
    if (seed >= 0) {
      const dx = xyz[3 * seed] - qx;
      const dy = xyz[3 * seed + 1] - qy;
      const dz = xyz[3 * seed + 2] - qz;
      const chord = sqrt(dx * dx + dy * dy + dz * dz);
      best = seed;
      limit = (chord + TIE_WINDOW) * (chord + TIE_WINDOW);
      clearlyBetter = chord > TIE_WINDOW ? (chord - TIE_WINDOW) * (chord - TIE_WINDOW) : -1;
    }
    let top = 0;
    for (let k = 0; k < nf; k++) {
      const c = frontier[k];
      const bound = boxDistance2(box, c, qx, qy, qz);
      if (bound > limit) continue;
      stackKey[top] = bound;
      stackNode[top] = c;
      top++;
    }
    nearestOnTop(stackKey, stackNode, 0, top);

    // Children go on the stack nearest-last, so the first leaf reached is the greedy one and its
    // distance prunes the rest early.
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
            // The seed seen again, or a possible tie: decide on the reported distance, then the id.
            if (s === best) continue;
            if (slotLat[s] === slotLat[best] && slotLon[s] === slotLon[best]) {
              // Same position, same distance: the id decides, and a known km stays right.
              if (slots[s].id < slots[best].id) best = s;
              continue;
            }
            if (bestKm !== bestKm) bestKm = haversineKmWithCos(lat, lon, cosLat, slotLat[best], slotLon[best], slotCos[best]);
            const km = haversineKmWithCos(lat, lon, cosLat, slotLat[s], slotLon[s], slotCos[s]);
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
        // sets the limit; the rest are re-checked against that limit when popped (cheaper than
        // sorting the siblings).
        const base = top;
        for (let c = start; c < end; c++) {
          const bound = boxDistance2(box, c, qx, qy, qz);
          if (bound > limit) continue;
          stackKey[top] = bound;
          stackNode[top] = c;
          top++;
        }
        nearestOnTop(stackKey, stackNode, base, top);
      }
    }
    queries[at + 6] = bestKm;
    return best;
  }

  /**
   * The shared walk of one `nearestBatch` group (sorted queries `g0..g1-1` in `q`): writes into
   * `scratch.frontier` the deepest level, of at most FRONTIER_CAP nodes, of the nodes whose box
   * is within reach of the group's 3-D box, and returns how many. Reach is U = the largest
   * chord² from a query of the group to slot `seed` (plus the tie window): the nearest station
   * of every query is at least that near. Without a seed (the first group) the frontier is the root.
   */
  private groupFrontier(q: Float64Array, g0: number, g1: number, seed: number, scratch: BatchScratch): number {
    let frontier = scratch.frontier;
    frontier[0] = 0;
    if (seed < 0) return 1;
    const { xyz, box, first, count, leaf } = this;
    const sx = xyz[3 * seed];
    const sy = xyz[3 * seed + 1];
    const sz = xyz[3 * seed + 2];
    let x0 = Infinity;
    let y0 = Infinity;
    let z0 = Infinity;
    let x1 = -Infinity;
    let y1 = -Infinity;
    let z1 = -Infinity;
    let reach = 0;
    for (let j = g0; j < g1; j++) {
      const qx = q[QUERY_STRIDE * j];
      const qy = q[QUERY_STRIDE * j + 1];
      const qz = q[QUERY_STRIDE * j + 2];
      x0 = min(x0, qx);
      y0 = min(y0, qy);
      z0 = min(z0, qz);
      x1 = max(x1, qx);
      y1 = max(y1, qy);
      z1 = max(z1, qz);
      const dx = sx - qx;
      const dy = sy - qy;
      const dz = sz - qz;
      reach = max(reach, dx * dx + dy * dy + dz * dz);
    }
    const chord = sqrt(reach) + TIE_WINDOW;
    reach = chord * chord;
    let nf = 1;
    let next = scratch.next;
    for (;;) {
      let nn = 0;
      let inner = false;
      for (let k = 0; k < nf; k++) {
        const node = frontier[k];
        if (leaf[node] === 1) {
          next[nn++] = node;
          continue;
        }
        inner = true;
        for (let c = first[node], end = c + count[node]; c < end; c++) {
          // Box-to-box distance: a lower bound of the chord from any query of the group to any station below c.
          const b = 6 * c;
          const dx = max(box[b] - x1, x0 - box[b + 3], 0);
          const dy = max(box[b + 1] - y1, y0 - box[b + 4], 0);
          const dz = max(box[b + 2] - z1, z0 - box[b + 5], 0);
          if (dx * dx + dy * dy + dz * dz <= reach) next[nn++] = c;
        }
      }
      if (!inner || nn > FRONTIER_CAP) break;
      const swap = frontier;
      frontier = next;
      next = swap;
      nf = nn;
    }
    // The loop may end with the kept level in either array; the caller reads scratch.frontier.
    if (frontier !== scratch.frontier) {
      scratch.next = scratch.frontier;
      scratch.frontier = frontier;
    }
    return nf;
  }

  private batchScratch(n: number): BatchScratch {
    const m = this.first.length;
    let scratch = this.scratch;
    if (!scratch || scratch.order.length < n) {
      scratch = {
        bounds: new Float64Array(4),
        q: new Float64Array(QUERY_STRIDE * n),
        order: new Int32Array(n),
        keys: new Int32Array(n),
        counts: scratch?.counts ?? new Int32Array(0),
        frontier: scratch?.frontier ?? new Int32Array(m),
        next: scratch?.next ?? new Int32Array(m),
      };
      this.scratch = scratch;
    }
    return scratch;
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

/** Reusable arrays of `nearestBatch`: sorted query vectors, sort buffers, group frontier. */
interface BatchScratch {
  /** minLat, maxLat, minLon, maxLon of the batch. */
  bounds: Float64Array;
  q: Float64Array;
  order: Int32Array;
  keys: Int32Array;
  counts: Int32Array;
  frontier: Int32Array;
  next: Int32Array;
}

/**
 * Query positions 0..n-1 in grid order: the batch's own lon/lat box is cut into about n/2 cells
 * (so a batch in one city gets fine cells there), rows taken alternately left to right and right
 * to left, so consecutive queries are neighbours; one counting-sort pass. The order only makes
 * neighbouring queries share work; any order gives the same answers. (A Hilbert curve groups a
 * little better but its keys cost more than the search they save.)
 */
function gridOrder(latitudes: ArrayLike<number>, longitudes: ArrayLike<number>, n: number, bounds: Float64Array, scratch: BatchScratch): Int32Array {
  const [minLat, maxLat, minLon, maxLon] = bounds;
  const side = Math.ceil(sqrt(n / 2));
  // Scaled so that the maximum lands in the last cell, never one past it.
  const scaleLat = maxLat > minLat ? (side * (1 - 1e-9)) / (maxLat - minLat) : 0;
  const scaleLon = maxLon > minLon ? (side * (1 - 1e-9)) / (maxLon - minLon) : 0;
  const cells = side * side;
  if (scratch.counts.length < cells + 1) scratch.counts = new Int32Array(cells + 1);
  const { counts, keys, order } = scratch;
  counts.fill(0, 0, cells + 1);
  cellKeys(latitudes, longitudes, n, minLat, minLon, scaleLat, scaleLon, side, keys, counts);
  prefixSums(counts, cells);
  placeInOrder(keys, counts, order, n);
  return order;
}

/** Grid cell of each query (rows alternate direction); counts[key + 1] counts the queries of a cell. */
function cellKeys(
  latitudes: ArrayLike<number>,
  longitudes: ArrayLike<number>,
  n: number,
  minLat: number,
  minLon: number,
  scaleLat: number,
  scaleLon: number,
  side: number,
  keys: Int32Array,
  counts: Int32Array,
): void {
  for (let i = 0; i < n; i++) {
    const row = Math.floor((latitudes[i] - minLat) * scaleLat);
    const column = Math.floor((longitudes[i] - minLon) * scaleLon);
    const key = row * side + ((row & 1) === 0 ? column : side - 1 - column);
    keys[i] = key;
    counts[key + 1]++;
  }
}

function prefixSums(counts: Int32Array, cells: number): void {
  for (let c = 1; c <= cells; c++) counts[c] += counts[c - 1];
}

function placeInOrder(keys: Int32Array, starts: Int32Array, order: Int32Array, n: number): void {
  for (let i = 0; i < n; i++) order[starts[keys[i]]++] = i;
}

/** Throws {@link InvalidQueryError} for the first bad position; writes the batch's lat/lon box into `bounds`. */
function checkBatch(latitudes: ArrayLike<number>, longitudes: ArrayLike<number>, n: number, bounds: Float64Array): void {
  let minLat = Infinity;
  let maxLat = -Infinity;
  let minLon = Infinity;
  let maxLon = -Infinity;
  for (let i = 0; i < n; i++) {
    const lat = latitudes[i];
    const lon = longitudes[i];
    if (!(typeof lat === 'number' && lat >= -90 && lat <= 90)) throw new InvalidQueryError(`latitudes[${i}]`, lat, 'degrees in [-90, 90]');
    if (!(typeof lon === 'number' && lon >= -180 && lon <= 180)) throw new InvalidQueryError(`longitudes[${i}]`, lon, 'degrees in [-180, 180]');
    minLat = min(minLat, lat);
    maxLat = max(maxLat, lat);
    minLon = min(minLon, lon);
    maxLon = max(maxLon, lon);
    // Stored inside the loop: see the note in nearestBatch on code after a long loop.
    bounds[0] = minLat;
    bounds[1] = maxLat;
    bounds[2] = minLon;
    bounds[3] = maxLon;
  }
}

/** The queries' records (see QUERY_STRIDE) in `order`, into `q`. */
function queryRecords(latitudes: ArrayLike<number>, longitudes: ArrayLike<number>, order: Int32Array, n: number, q: Float64Array): void {
  for (let j = 0; j < n; j++) {
    const i = order[j];
    const lat = latitudes[i] * RAD;
    const lon = longitudes[i] * RAD;
    const cosLat = cos(lat);
    q[QUERY_STRIDE * j] = cosLat * cos(lon);
    q[QUERY_STRIDE * j + 1] = cosLat * sin(lon);
    q[QUERY_STRIDE * j + 2] = sin(lat);
    q[QUERY_STRIDE * j + 3] = latitudes[i];
    q[QUERY_STRIDE * j + 4] = longitudes[i];
    q[QUERY_STRIDE * j + 5] = cosLat;
  }
}

/** Swaps the smallest key of stack entries base..top-1 to position top-1, so it is popped first. */
function nearestOnTop(stackKey: Float64Array, stackNode: Int32Array, base: number, top: number): void {
  let nearest = base;
  for (let i = base + 1; i < top; i++) if (stackKey[i] < stackKey[nearest]) nearest = i;
  const last = top - 1;
  if (nearest < last) {
    const key = stackKey[nearest];
    const node = stackNode[nearest];
    stackKey[nearest] = stackKey[last];
    stackNode[nearest] = stackNode[last];
    stackKey[last] = key;
    stackNode[last] = node;
  }
}

/** Squared distance from the query vector to node `c`'s 3-D box; 0 inside. */
function boxDistance2(box: Float64Array, c: number, qx: number, qy: number, qz: number): number {
  // max(lo − q, q − hi, 0) is the gap on each axis: branch-free, and the same float as the
  // branchy form (lo − q and q − hi cannot both be positive), so the bound keeps its guarantee.
  const b = 6 * c;
  const dx = max(box[b] - qx, qx - box[b + 3], 0);
  const dy = max(box[b + 1] - qy, qy - box[b + 4], 0);
  const dz = max(box[b + 2] - qz, qz - box[b + 5], 0);
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
