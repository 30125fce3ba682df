import {
  DEFAULT_REQUIRED_ELEMENTS,
  DEFAULT_STATIONS,
  GeoIndexError,
  inventoryCoverage,
  parseInventory,
  parseStations,
  StationIndex,
  type Station,
} from '@rydes/geo-index';
import { readFile, stat } from 'node:fs/promises';
import { EXIT, InventoryFileError, StationsFileError } from '../errors';
import { describeFsError } from './inputs';

/** The station inputs of a run, as `rydes run` takes them. */
export interface StationInputs {
  /** --stations: a catalogue file; the bundled NYC stations when absent. */
  stationsFile?: string;
  /** --inventory: NOAA's ghcnd-inventory.txt or CSV `id,element,firstyear,lastyear`. */
  inventoryFile?: string;
  /** --elements (with an inventory); default TMIN, TMAX, PRCP. */
  requiredElements?: readonly string[];
}

/**
 * The station preflight of `rydes run`, before any server starts: the catalogue and the
 * inventory parsed and validated exactly as the transform will read them (same parsers, same
 * index checks), then the inventory checked against the catalogue. An inventory under which no
 * catalogue station reports every required element would leave every ride without a station:
 * an error. Partial coverage is normal (NOAA's precipitation-only volunteers) and gets a note on
 * `notes`. Returns the number of stations in --stations (undefined without it).
 * @throws StationsFileError / InventoryFileError: exit 66 when a file cannot be read, 65 when it
 * does not parse (the message names the file, the line and the field) or covers no station.
 * @example
 * await preflightStations({ stationsFile: 'ghcnd-stations.txt', inventoryFile: 'ghcnd-inventory.txt' }, process.stderr);
 */
export async function preflightStations(inputs: StationInputs, notes: NodeJS.WritableStream): Promise<number | undefined> {
  const stations = inputs.stationsFile ? await readCatalogue(inputs.stationsFile) : undefined;
  if (inputs.inventoryFile) {
    const catalogue = { stations: stations ?? DEFAULT_STATIONS, name: inputs.stationsFile ?? 'the bundled NYC stations' };
    checkInventory(inputs.inventoryFile, await readInventoryText(inputs.inventoryFile), catalogue, inputs.requiredElements ?? DEFAULT_REQUIRED_ELEMENTS, notes);
  }
  return stations?.length;
}

/**
 * Parses and validates a station catalogue exactly as the transform will (same parser, same
 * index checks). Returns the number of stations.
 * @throws StationsFileError: exit 66 when it cannot be read, 65 when it does not parse (the
 * message names the file, the line and the field).
 * @example
 * await checkStations('ghcnd-stations.txt'); // 111363
 */
export async function checkStations(path: string): Promise<number> {
  return (await readCatalogue(path)).length;
}

async function readCatalogue(path: string): Promise<readonly Station[]> {
  const text = await readInput(path, (reason, exitCode, hint) => new StationsFileError(path, reason, exitCode, hint), 'Pass an existing catalogue: GHCN ghcnd-stations.txt, CSV (id,latitude,longitude) or JSON.');
  try {
    const stations = parseStations(text, { source: path });
    if (stations.length === 0) throw new StationsFileError(path, 'holds no stations.', EXIT.DATA, 'Pass a catalogue with at least one station.');
    new StationIndex(stations);
    return stations;
  } catch (err) {
    if (err instanceof GeoIndexError) {
      throw new StationsFileError(path, err.message, EXIT.DATA, 'Fix that line of the catalogue (or leave out --stations for the bundled NYC stations).');
    }
    throw err;
  }
}

function readInventoryText(path: string): Promise<Buffer> {
  return readInput(path, (reason, exitCode, hint) => new InventoryFileError(path, reason, exitCode, hint), 'Pass an existing inventory: NOAA ghcnd-inventory.txt or CSV (id,element,firstyear,lastyear).');
}

function checkInventory(path: string, text: Buffer, catalogue: { stations: readonly Station[]; name: string }, required: readonly string[], notes: NodeJS.WritableStream): void {
  let inventory;
  try {
    // The transform keeps only the required elements too; every line is still checked.
    inventory = parseInventory(text, { source: path, elements: required });
  } catch (err) {
    if (err instanceof GeoIndexError) throw new InventoryFileError(path, err.message, EXIT.DATA, 'Fix that line of the inventory (or leave out --inventory: every station is then a candidate).');
    throw err;
  }
  const coverage = inventoryCoverage(catalogue.stations, inventory, required);
  const elements = required.join(', ');
  if (coverage.covered === 0) {
    const known = coverage.inventoryStations - coverage.unknownStations;
    const why =
      known > 0 && coverage.missingElements.length > 0
        ? `no station of ${catalogue.name} reports ${coverage.missingElements.join(', ')} in it`
        : `none of the ${count(coverage.catalogueStations)} stations of ${catalogue.name} reports all of ${elements} in it`;
    throw new InventoryFileError(
      path,
      `${why} (of the inventory's ${count(coverage.inventoryStations)} station(s) reporting any of them, ${count(known)} are in the catalogue): every ride would be left without a station.`,
      EXIT.DATA,
      'Pass the inventory of the same catalogue (the station ids must match), or other --elements.',
    );
  }
  if (coverage.covered < coverage.catalogueStations) {
    notes.write(
      `rydes: note: --inventory ${path}: ${count(coverage.covered)} of ${count(coverage.catalogueStations)} stations of ${catalogue.name} report ${elements}; ` +
        `only they can be a ride's station, in the years the inventory lists.\n`,
    );
  }
}

async function readInput(path: string, error: (reason: string, exitCode: number, hint: string) => Error, hint: string): Promise<Buffer> {
  const info = await stat(path).catch((err: NodeJS.ErrnoException) => {
    throw error(`${describeFsError(err)}.`, EXIT.NO_INPUT, hint);
  });
  if (!info.isFile()) throw error('not a regular file.', EXIT.NO_INPUT, 'Pass the file itself.');
  return readFile(path).catch((err: NodeJS.ErrnoException) => {
    throw error(`${describeFsError(err)}.`, EXIT.NO_INPUT, 'Make the file readable.');
  });
}

function count(n: number): string {
  return n.toLocaleString('en-US');
}
