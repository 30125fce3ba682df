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

/**
 * The land outline under a view: the features of the package's TopoJSON that touch the view
 * (only those, so a city map does not carry the whole country). Features get a stable `name`
 * (their id) so that ECharts draws each once.
 * @example
 * outlineFor({ west: -74.3, south: 40.4, east: -73.6, north: 41 }).label; // 'US counties (us-atlas, 1:10m)'
 */
export function outlineFor(view: Bbox): { label: string; geojson: FeatureCollection } {
  const atlas = atlasFor(view);
  const topology = JSON.parse(readFileSync(require.resolve(atlas.file), 'utf8')) as Topology;
  const collection = feature(topology, topology.objects[atlas.object]) as FeatureCollection;
  const features: Feature[] = [];
  collection.features.forEach((f, i) => {
    const box = geometryBbox(f.geometry);
    if (box && intersects(box, view)) features.push({ type: 'Feature', geometry: f.geometry, properties: { name: `${atlas.object}-${f.id ?? i}` } });
  });
  return { label: atlas.label, geojson: { type: 'FeatureCollection', features } };
}
