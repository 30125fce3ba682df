import type { InventoryEntry } from './inventory';
import type { Station } from './types';

/** How far an inventory covers a catalogue, from {@link inventoryCoverage}. */
export interface InventoryCoverage {
  /** Stations in the catalogue. */
  catalogueStations: number;
  /** Distinct station ids in the inventory (any element). */
  inventoryStations: number;
  /** Inventory station ids that are not in the catalogue. */
  unknownStations: number;
  /** Catalogue stations listing every required element (in some year): the only ones a ride can get. */
  covered: number;
  /** Required elements no catalogue station reports in any year. */
  missingElements: string[];
}

/**
 * Checks an inventory against the catalogue it is meant for: how many catalogue stations report
 * every required element in at least one year (only they can ever be a ride's station), how many
 * inventory ids the catalogue does not know, and which required elements nobody reports.
 * `covered === 0` means an element-aware lookup answers no ride at all: a wrong file, ids of
 * another catalogue, or a typo in the elements.
 *
 * @example
 * ```ts
 * const coverage = inventoryCoverage(stations, parseInventory(text), ['TMIN', 'TMAX', 'PRCP']);
 * if (coverage.covered === 0) throw new Error('the inventory covers none of the stations');
 * ```
 */
export function inventoryCoverage(stations: readonly Station[], inventory: readonly InventoryEntry[], requiredElements: readonly string[]): InventoryCoverage {
  const required = [...new Set(requiredElements)];
  const catalogue = new Set(stations.map((s) => s.id));
  const reported = new Map<string, Set<string>>();
  for (const { id, element } of inventory) {
    let elements = reported.get(id);
    if (!elements) reported.set(id, (elements = new Set()));
    elements.add(element);
  }
  let unknownStations = 0;
  let covered = 0;
  const seen = new Set<string>();
  for (const [id, elements] of reported) {
    if (!catalogue.has(id)) {
      unknownStations++;
      continue;
    }
    for (const element of required) if (elements.has(element)) seen.add(element);
    if (required.every((element) => elements.has(element))) covered++;
  }
  return {
    catalogueStations: catalogue.size,
    inventoryStations: reported.size,
    unknownStations,
    covered,
    missingElements: required.filter((element) => !seen.has(element)),
  };
}
