import { GeoIndexError, parseStations, StationIndex } from '@rydes/geo-index';
import { readFile, stat } from 'node:fs/promises';
import { EXIT, StationsFileError } from '../errors';
import { describeFsError } from './inputs';

/**
 * Parses and validates a station catalogue exactly as the transform will (same parser, same
 * index checks), before any server starts: a broken catalogue costs a second, not a run whose
 * every message fails five times. Returns the number of stations.
 * @throws StationsFileError: exit 66 when it cannot be read, 65 when it does not parse (the
 * message names the file, the line and the field).
 */
export async function checkStations(path: string): Promise<number> {
  const info = await stat(path).catch((err: NodeJS.ErrnoException) => {
    throw new StationsFileError(path, `${describeFsError(err)}.`, EXIT.NO_INPUT, 'Pass an existing catalogue: GHCN ghcnd-stations.txt, CSV (id,latitude,longitude) or JSON.');
  });
  if (!info.isFile()) throw new StationsFileError(path, 'not a regular file.', EXIT.NO_INPUT, 'Pass the catalogue file itself.');
  const text = await readFile(path).catch((err: NodeJS.ErrnoException) => {
    throw new StationsFileError(path, `${describeFsError(err)}.`, EXIT.NO_INPUT, 'Make the file readable.');
  });
  try {
    const stations = parseStations(text, { source: path });
    if (stations.length === 0) throw new StationsFileError(path, 'holds no stations.', EXIT.DATA, 'Pass a catalogue with at least one station.');
    return new StationIndex(stations).size;
  } catch (err) {
    if (err instanceof GeoIndexError) {
      throw new StationsFileError(path, err.message, EXIT.DATA, 'Fix that line of the catalogue (or leave out --stations for the bundled NYC stations).');
    }
    throw err;
  }
}
