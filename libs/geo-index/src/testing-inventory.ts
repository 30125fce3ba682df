/*
 * Seeded GHCN-style inventories for specs, benches and worked examples: NOAA's real
 * ghcnd-inventory.txt cannot be downloaded here, so its shape is imitated. CoCoRaHS volunteers
 * (ids `US1…`) report PRCP/SNOW/SNWD only; about a third of the other stations measure
 * temperature, some of which closed years ago or stopped one element before the others.
 */
import type { InventoryEntry } from './inventory';
import type { Station } from './types';

const { floor } = Math;

/** Shape of {@link makeInventory}'s output. */
export interface InventoryShape {
  /** Latest year any station reports; default 2024. */
  lastYear?: number;
  /** Share of non-CoCoRaHS stations that measure temperature; default 0.35. */
  temperatureShare?: number;
  /** Share of stations that closed before `lastYear`; default 0.3. */
  closedShare?: number;
}

/**
 * A seeded inventory for `stations`: per station one entry per element with first and last year.
 * Temperature stations get TMAX/TMIN/PRCP(/SNOW); a tenth of them stop TMIN (or TMAX) years
 * before the other elements, and a share close altogether before `lastYear`.
 *
 * @example
 * ```ts
 * const inventory = makeInventory(stations, seededRandom(3));
 * fs.writeFileSync('ghcnd-inventory.txt', formatInventory(inventory, stations));
 * ```
 */
export function makeInventory(stations: readonly Station[], random: () => number, shape: InventoryShape = {}): InventoryEntry[] {
  const last = shape.lastYear ?? 2024;
  const temperatureShare = shape.temperatureShare ?? 0.35;
  const closedShare = shape.closedShare ?? 0.3;
  const out: InventoryEntry[] = [];
  for (const { id } of stations) {
    const volunteer = id.startsWith('US1');
    const first = volunteer ? 1998 + floor(random() * (last - 1998)) : 1890 + floor(random() * (last - 1890));
    const end = random() < closedShare ? first + floor(random() * (last - first + 1)) : last;
    const add = (element: string, from = first, to = end) => out.push({ id, element, firstYear: from, lastYear: to });
    if (volunteer || random() >= temperatureShare) {
      add('PRCP');
      if (random() < 0.7) add('SNOW');
      if (volunteer && random() < 0.5) add('SNWD');
      continue;
    }
    add('PRCP');
    const stopsEarly = random() < 0.1 && end > first;
    const early = stopsEarly ? first + floor(random() * (end - first)) : end;
    const [tmax, tmin] = random() < 0.5 ? [early, end] : [end, early];
    add('TMAX', first, tmax);
    add('TMIN', first, tmin);
    if (random() < 0.6) add('SNOW');
  }
  return out;
}

/**
 * NOAA's fixed-width `ghcnd-inventory.txt` text for `inventory` (coordinates taken from
 * `stations`; ID 1–11, LATITUDE 13–20, LONGITUDE 22–30, ELEMENT 32–35, FIRSTYEAR 37–40,
 * LASTYEAR 42–45).
 *
 * @example
 * ```ts
 * formatInventory([{ id: 'USW00094728', element: 'TMAX', firstYear: 1869, lastYear: 2024 }], DEFAULT_STATIONS);
 * // 'USW00094728  40.7789  -73.9692 TMAX 1869 2024\n'
 * ```
 */
export function formatInventory(inventory: readonly InventoryEntry[], stations: readonly Station[]): string {
  const where = new Map(stations.map((s) => [s.id, s]));
  const lines = inventory.map((e) => {
    const s = where.get(e.id);
    const lat = (s?.latitude ?? 0).toFixed(4).padStart(8);
    const lon = (s?.longitude ?? 0).toFixed(4).padStart(9);
    return `${e.id.padEnd(11)} ${lat} ${lon} ${e.element.padEnd(4)} ${e.firstYear} ${e.lastYear}`;
  });
  return lines.length ? `${lines.join('\n')}\n` : '';
}

/**
 * The same inventory as CSV `id,element,firstyear,lastyear` (for ids that do not fit NOAA's 11
 * columns).
 *
 * @example
 * ```ts
 * formatInventoryCsv([{ id: 'aggh', element: 'PRCP', firstYear: 1990, lastYear: 2024 }]); // 'id,element,firstyear,lastyear\naggh,PRCP,1990,2024\n'
 * ```
 */
export function formatInventoryCsv(inventory: readonly InventoryEntry[]): string {
  return `id,element,firstyear,lastyear\n${inventory.map((e) => `${e.id},${e.element},${e.firstYear},${e.lastYear}\n`).join('')}`;
}
