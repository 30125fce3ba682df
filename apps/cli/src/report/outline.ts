import { readFileSync } from 'node:fs';
import { feature } from 'topojson-client';
import type { Feature, FeatureCollection, Geometry } from 'geojson';
import type { Topology } from 'topojson-specification';

/** A view in degrees; west < east (views never cross the antimeridian). */
export interface Bbox {
  west: number;
  south: number;
  east: number;
  north: number;
}

/** Where the outline comes from: an npm package's TopoJSON, object and resolution. */
interface Atlas {
  file: string;
  object: string;
  label: string;
}

const US_COUNTIES: Atlas = { file: 'us-atlas/counties-10m.json', object: 'counties', label: 'US counties (us-atlas, 1:10m)' };
const US_STATES: Atlas = { file: 'us-atlas/states-10m.json', object: 'states', label: 'US states (us-atlas, 1:10m)' };
const WORLD_10M: Atlas = { file: 'world-atlas/countries-10m.json', object: 'countries', label: 'countries (world-atlas, 1:10m)' };
const WORLD_50M: Atlas = { file: 'world-atlas/countries-50m.json', object: 'countries', label: 'countries (world-atlas, 1:50m)' };
const WORLD_110M: Atlas = { file: 'world-atlas/countries-110m.json', object: 'countries', label: 'countries (world-atlas, 1:110m)' };

/** The contiguous US and its near waters: inside it us-atlas has finer boundaries than the world set. */
const CONTIGUOUS_US: Bbox = { west: -125.5, south: 24, east: -66, north: 49.5 };

function contains(outer: Bbox, inner: Bbox): boolean {
  return inner.west >= outer.west && inner.east <= outer.east && inner.south >= outer.south && inner.north <= outer.north;
}

function intersects(a: Bbox, b: Bbox): boolean {
  return a.west <= b.east && a.east >= b.west && a.south <= b.north && a.north >= b.south;
}

/** Finer outlines for smaller views: counties for a city, states for a region, countries beyond. */
function atlasFor(view: Bbox): Atlas {
  const span = Math.max(view.east - view.west, view.north - view.south);
  if (contains(CONTIGUOUS_US, view)) return span < 6 ? US_COUNTIES : US_STATES;
  if (span < 15) return WORLD_10M;
  return span < 90 ? WORLD_50M : WORLD_110M;
}

function geometryBbox(geometry: Geometry | null): Bbox | undefined {
  if (!geometry) return undefined;
  const box = { west: Infinity, south: Infinity, east: -Infinity, north: -Infinity };
  const visit = (c: unknown): void => {
    if (Array.isArray(c) && typeof c[0] === 'number') {
      const [lon, lat] = c as [number, number];
      if (lon < box.west) box.west = lon;
      if (lon > box.east) box.east = lon;
      if (lat < box.south) box.south = lat;
      if (lat > box.north) box.north = lat;
    } else if (Array.isArray(c)) for (const inner of c) visit(inner);
  };
  if (geometry.type === 'GeometryCollection') for (const g of geometry.geometries) visit((g as { coordinates?: unknown }).coordinates);
  else visit(geometry.coordinates);
  return Number.isFinite(box.west) ? box : undefined;
}

/** [west, south, east, north] of every arc of a topology, in degrees (delta-decoded when quantized, as topojson-client does). */
function arcBoxes(topology: Topology): Float64Array {
  const boxes = new Float64Array(topology.arcs.length * 4);
  const t = topology.transform;
  topology.arcs.forEach((arc, i) => {
    let west = Infinity;
    let south = Infinity;
    let east = -Infinity;
    let north = -Infinity;
    let x = 0;
    let y = 0;
    for (const point of arc) {
      let lon = point[0];
      let lat = point[1];
      if (t) {
        lon = (x += point[0]) * t.scale[0] + t.translate[0];
        lat = (y += point[1]) * t.scale[1] + t.translate[1];
      }
      if (lon < west) west = lon;
      if (lon > east) east = lon;
      if (lat < south) south = lat;
      if (lat > north) north = lat;
    }
    boxes.set([west, south, east, north], i * 4);
  });
  return boxes;
}

/** The box of a geometry object from its arcs' boxes; undefined for points or no geometry (then the features decide). */
function arcsBbox(geometry: { type: string | null; arcs?: unknown }, boxes: Float64Array): Bbox | undefined {
  if (geometry.arcs === undefined) return undefined;
  const box = { west: Infinity, south: Infinity, east: -Infinity, north: -Infinity };
  const visit = (arcs: unknown): void => {
    if (typeof arcs === 'number') {
      const at = (arcs < 0 ? ~arcs : arcs) * 4;
      box.west = Math.min(box.west, boxes[at]);
      box.south = Math.min(box.south, boxes[at + 1]);
      box.east = Math.max(box.east, boxes[at + 2]);
      box.north = Math.max(box.north, boxes[at + 3]);
    } else if (Array.isArray(arcs)) for (const inner of arcs) visit(inner);
  };
  visit(geometry.arcs);
  return Number.isFinite(box.west) ? box : undefined;
}

/** Share of the view's width and height added on each side of the clip box: its edges stay well off the map. */
const CLIP_MARGIN = 0.05;

type Position = number[];

/**
 * Sutherland–Hodgman: the part of a ring inside an axis-aligned box, as a closed ring (fewer than
 * 4 positions: nothing left). Where the ring leaves the box the result runs along the box's edge.
 */
function clipRing(ring: Position[], box: Bbox): Position[] {
  let points = ring;
  const edges: Array<[(p: Position) => boolean, (a: Position, b: Position) => Position]> = [
    [(p) => p[0] >= box.west, (a, b) => [box.west, a[1] + ((b[1] - a[1]) * (box.west - a[0])) / (b[0] - a[0])]],
    [(p) => p[0] <= box.east, (a, b) => [box.east, a[1] + ((b[1] - a[1]) * (box.east - a[0])) / (b[0] - a[0])]],
    [(p) => p[1] >= box.south, (a, b) => [a[0] + ((b[0] - a[0]) * (box.south - a[1])) / (b[1] - a[1]), box.south]],
    [(p) => p[1] <= box.north, (a, b) => [a[0] + ((b[0] - a[0]) * (box.north - a[1])) / (b[1] - a[1]), box.north]],
  ];
  for (const [inside, cross] of edges) {
    const out: Position[] = [];
    for (let i = 0; i < points.length; i++) {
      const current = points[i];
      const previous = points[(i + points.length - 1) % points.length];
      const currentIn = inside(current);
      if (currentIn !== inside(previous)) out.push(cross(previous, current));
      if (currentIn) out.push(current);
    }
    points = out;
    if (points.length === 0) return [];
  }
  const [first, last] = [points[0], points[points.length - 1]];
  if (first[0] !== last[0] || first[1] !== last[1]) points.push(first);
  return points.length >= 4 ? points : [];
}

/** A polygon (outer ring, then holes) inside the box; undefined when its outer ring is outside. */
function clipPolygon(rings: Position[][], box: Bbox): Position[][] | undefined {
  const clipped = rings.map((ring) => clipRing(ring, box));
  return clipped[0].length > 0 ? clipped.filter((ring) => ring.length > 0) : undefined;
}

/**
 * The geometry cut to the box around the view: a country or county that reaches far beyond the
 * map keeps only what can be seen (and a margin), so ECharts projects and writes a tenth of the
 * positions for a regional view of the US. Inside the view nothing moves: the positions there
 * are the same, and the new ones lie on the box, off the map.
 */
function clipGeometry(geometry: Geometry, box: Bbox): Geometry | undefined {
  if (geometry.type === 'Polygon') {
    const rings = clipPolygon(geometry.coordinates, box);
    return rings && { type: 'Polygon', coordinates: rings };
  }
  if (geometry.type === 'MultiPolygon') {
    const polygons = geometry.coordinates.map((polygon) => clipPolygon(polygon, box)).filter((polygon): polygon is Position[][] => polygon !== undefined);
    return polygons.length > 0 ? { type: 'MultiPolygon', coordinates: polygons } : undefined;
  }
  return geometry;
}

/**
 * The land outline under a view: the features of the package's TopoJSON that touch the view
 * (only those, so a city map does not carry the whole country). Features get a stable `name`
 * (their id) so that ECharts draws each once. Which geometries touch the view is found from their
 * arcs' boxes, and only those become GeoJSON: turning all 3,000 US counties into GeoJSON to keep
 * the few around a city was most of the time of drawing its map. A feature reaching beyond the
 * view by more than a margin is cut to it (see clipGeometry): the map shows the same land.
 * Feature order and names stay those of the package, so a view gives the same bytes every time.
 * `clip: false` keeps every feature whole.
 * @example
 * outlineFor({ west: -74.3, south: 40.4, east: -73.6, north: 41 }).label; // 'US counties (us-atlas, 1:10m)'
 */
export function outlineFor(view: Bbox, options: { clip?: boolean } = {}): { label: string; geojson: FeatureCollection } {
  const atlas = atlasFor(view);
  const topology = JSON.parse(readFileSync(require.resolve(atlas.file), 'utf8')) as Topology;
  const object = topology.objects[atlas.object];
  const geometries = object.type === 'GeometryCollection' ? object.geometries : [object];
  const boxes = arcBoxes(topology);
  const marginX = (view.east - view.west) * CLIP_MARGIN;
  const marginY = (view.north - view.south) * CLIP_MARGIN;
  const clip = { west: view.west - marginX, south: view.south - marginY, east: view.east + marginX, north: view.north + marginY };
  const features: Feature[] = [];
  geometries.forEach((geometry, i) => {
    // Without arcs (points, nested collections) the feature's own box decides.
    const near = arcsBbox(geometry as { type: string | null; arcs?: unknown }, boxes);
    if (near && !intersects(near, view)) return;
    const f = feature(topology, geometry) as Feature;
    const box = geometryBbox(f.geometry);
    if (!box || !intersects(box, view)) return;
    const kept = options.clip === false || contains(clip, box) ? f.geometry : clipGeometry(f.geometry, clip);
    if (kept) features.push({ type: 'Feature', geometry: kept, properties: { name: `${atlas.object}-${f.id ?? i}` } });
  });
  return { label: atlas.label, geojson: { type: 'FeatureCollection', features } };
}
