import { readFileSync } from 'node:fs';
import { feature } from 'topojson-client';
import type { Feature, FeatureCollection, Geometry } from 'geojson';
import type { Topology } from 'topojson-specification';
import { outlineFor, type Bbox } from '../src/report/outline';

/** The whole atlas as GeoJSON, then the features whose coordinates touch the view: the plain way. */
function everyFeatureTouching(file: string, object: string, view: Bbox): Feature[] {
  const topology = JSON.parse(readFileSync(require.resolve(file), 'utf8')) as Topology;
  const all = feature(topology, topology.objects[object]) as FeatureCollection;
  const touching = (geometry: Geometry | null): boolean => {
    const points: number[][] = [];
    const visit = (c: unknown): void => {
      if (Array.isArray(c) && typeof c[0] === 'number') points.push(c as number[]);
      else if (Array.isArray(c)) c.forEach(visit);
    };
    if (geometry && geometry.type !== 'GeometryCollection') visit(geometry.coordinates);
    if (points.length === 0) return false;
    const lons = points.map((p) => p[0]);
    const lats = points.map((p) => p[1]);
    return Math.min(...lons) <= view.east && Math.max(...lons) >= view.west && Math.min(...lats) <= view.north && Math.max(...lats) >= view.south;
  };
  return all.features.flatMap((f, i) => (touching(f.geometry) ? [{ type: 'Feature' as const, geometry: f.geometry, properties: { name: `${object}-${f.id ?? i}` } }] : []));
}

describe('outlineFor: only the features under the view become GeoJSON', () => {
  it.each([
    ['a city (US counties)', { west: -74.3, south: 40.4, east: -73.6, north: 41 }, 'us-atlas/counties-10m.json', 'counties'],
    ['a region (US states)', { west: -80, south: 35, east: -70, north: 45 }, 'us-atlas/states-10m.json', 'states'],
    ['Europe (countries 1:50m)', { west: -10, south: 35, east: 30, north: 60 }, 'world-atlas/countries-50m.json', 'countries'],
    ['the world (countries 1:110m)', { west: -180, south: -60, east: 180, north: 85 }, 'world-atlas/countries-110m.json', 'countries'],
    ['the sea off New Zealand (countries 1:10m)', { west: 175, south: -50, east: 180, north: -44 }, 'world-atlas/countries-10m.json', 'countries'],
  ])('%s: the same features as converting the whole atlas and keeping those that touch it', (_, view, file, object) => {
    // Act
    const outline = outlineFor(view, { clip: false });

    // Assess
    const expected = everyFeatureTouching(file, object, view);
    expect(expected.length).toBeGreaterThan(0);
    expect(outline.geojson.features).toEqual(expected);
  });
});

/** Every ring of a Polygon or MultiPolygon, without its closing position. */
function ringsOf(geometry: Geometry): number[][][] {
  const polygons = geometry.type === 'Polygon' ? [geometry.coordinates] : geometry.type === 'MultiPolygon' ? geometry.coordinates : [];
  return polygons.flat().map((ring) => ring.slice(0, -1));
}

describe('outlineFor: features cut to the view and a margin', () => {
  it.each([
    ['a city (US counties)', { west: -74.3, south: 40.4, east: -73.6, north: 41 }],
    ['a region (countries 1:50m)', { west: -89.88, south: 33.24, east: -58.17, north: 48.26 }],
    ['Europe (countries 1:50m)', { west: -10, south: 35, east: 30, north: 60 }],
    ['the world (countries 1:110m)', { west: -180, south: -60, east: 180, north: 85 }],
  ])('%s: positions inside the box kept in order, none outside it, features far beyond the view dropped', (_, view) => {
    // Act
    const cut = outlineFor(view);
    const whole = outlineFor(view, { clip: false });

    // Assess
    const mx = (view.east - view.west) * 0.05;
    const my = (view.north - view.south) * 0.05;
    const box = { west: view.west - mx, south: view.south - my, east: view.east + mx, north: view.north + my };
    const inside = (p: number[]) => p[0] > box.west && p[0] < box.east && p[1] > box.south && p[1] < box.north;
    const wholeByName = new Map(whole.geojson.features.map((f) => [f.properties?.name as string, f]));
    const kept = cut.geojson.features.map((f) => f.properties?.name as string);
    expect(kept).toEqual(whole.geojson.features.map((f) => f.properties?.name as string).filter((name) => kept.includes(name)));
    for (const f of whole.geojson.features) {
      if (!kept.includes(f.properties?.name as string)) expect(ringsOf(f.geometry).flat().some(inside)).toBe(false);
    }
    const onOrInBox = (p: number[]) => p[0] >= box.west && p[0] <= box.east && p[1] >= box.south && p[1] <= box.north;
    for (const f of cut.geojson.features) {
      const cutRings = ringsOf(f.geometry);
      expect(cutRings.flat().filter((p) => !onOrInBox(p))).toEqual([]);
      const original = (wholeByName.get(f.properties?.name as string) as Feature).geometry;
      expect(cutRings.flat().filter(inside)).toEqual(ringsOf(original).flat().filter(inside));
    }
  });

  it('cuts the regional view of a 200,000-ride sample to a tenth of the positions', () => {
    const view = { west: -89.88, south: 33.24, east: -58.17, north: 48.26 };
    const count = (geojson: FeatureCollection) => geojson.features.reduce((n, f) => n + ringsOf(f.geometry).flat().length, 0);
    expect(count(outlineFor(view).geojson) * 10).toBeLessThan(count(outlineFor(view, { clip: false }).geojson));
  });
});
