import { join } from 'node:path';
import { encodeMessage, generateRides, type FanoutMessage, type Ride, type SourceRef } from '@rydes/ride-model';
import { DEFAULT_STATIONS, type InventoryEntry } from '@rydes/geo-index';
import { bruteForceNearestIn, formatInventory, makeInventory, seededRandom } from '@rydes/geo-index/testing';
import { loadConfig } from '../src/config';
import { lambdaContext, sqsEvent } from './helpers/lambda';
import { BUCKET, readCsv, startStack, upload, type Stack, type TransformHandler } from './helpers/stack';

const MAIN = join(__dirname, '../src/main');
const REQUIRED = ['TMIN', 'TMAX', 'PRCP'];

describe('transform-fn with INVENTORY_URI (real s3rver)', () => {
  let stack: Stack;
  let stdout: jest.SpyInstance;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack.close());
  beforeEach(() => {
    stdout = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
  });
  afterEach(() => stdout.mockRestore());
  const handlerWith = (env: Record<string, string | undefined>) => stack.load<{ handler: TransformHandler }>(MAIN, env).handler;
  const emf = () => stdout.mock.calls.map((c) => String(c[0])).filter((l) => l.includes('"_aws"')).map((l) => JSON.parse(l));

  /** Rides of the generator (all in 2018), half moved to 2012 and a few to 1850, in one message. */
  async function messageOf(key: string): Promise<FanoutMessage> {
    const source: SourceRef = { bucket: BUCKET, key, etag: await upload(stack.s3, key, `[] ${key}`) };
    const rides: Ride[] = [...generateRides({ count: 120, seed: 4 })].map((ride, i) => ({
      ...ride,
      statustime: i % 10 === 9 ? `1850${ride.statustime.slice(4)}` : i % 2 ? `2012${ride.statustime.slice(4)}` : ride.statustime,
    }));
    return { v: 1, source, chunk: 0, firstIndex: 0, rides };
  }

  it('gives each ride the nearest station reporting TMIN, TMAX and PRCP in its year; none → empty cells, counted', async () => {
    // Prepare: the bundled stations, with a generated inventory where some stop before 2018
    const inventory: InventoryEntry[] = [
      ...makeInventory(DEFAULT_STATIONS, seededRandom(8), { temperatureShare: 0.6, closedShare: 0.5 }).filter((e) => e.id !== 'USW00094728'),
      // Central Park measures everything until 2015 only: 2018 rides near it must go elsewhere.
      ...REQUIRED.map((element) => ({ id: 'USW00094728', element, firstYear: 1869, lastYear: 2015 })),
    ];
    await upload(stack.s3, 'stations/ghcnd-inventory.txt', formatInventory(inventory, DEFAULT_STATIONS));
    const m = await messageOf('raw/inventory.json');
    const handler = handlerWith({ INVENTORY_URI: `s3://${BUCKET}/stations/ghcnd-inventory.txt` });
    // Act
    const response = await handler(sqsEvent([{ messageId: 'm', body: encodeMessage(m) }]), lambdaContext());
    // Assess
    expect(response.batchItemFailures).toEqual([]);
    const rows = await readCsv(stack.s3, `processed/inventory-${m.source.etag.replace(/"/g, '').slice(0, 8)}-000000.csv`);
    expect(rows).toHaveLength(m.rides.length);
    let empty = 0;
    rows.forEach((row, i) => {
      const ride = m.rides[i];
      const oracle = bruteForceNearestIn(DEFAULT_STATIONS, inventory, REQUIRED, Number(ride.statustime.slice(0, 4)), ride.latitude, ride.longitude);
      expect([row.groundstation, row.groundstation_distance_km]).toEqual(oracle ? [oracle.station.id, String(oracle.distanceKm)] : ['', '']);
      if (!oracle) empty++;
    });
    expect(empty).toBe(12); // the 1850 rides: no station reports then
    expect(rows.filter((r) => r.statustime.startsWith('2018')).every((r) => r.groundstation !== 'USW00094728')).toBe(true);
    expect(emf()).toEqual([expect.objectContaining({ RidesProcessed: 120, RidesWithoutStation: 12 })]);
  });

  it('fails the whole batch, naming the line and field, when the inventory does not parse', async () => {
    await upload(stack.s3, 'stations/bad-inventory.txt', 'USW00094728  40.7789  -73.9692 TMAX 1869 2024\nUSW00094728  40.7789  -73.9692 TMIN 1869 20x4\n');
    const handler = handlerWith({ INVENTORY_URI: `s3://${BUCKET}/stations/bad-inventory.txt` });
    const event = sqsEvent([{ messageId: 'm', body: encodeMessage(await messageOf('raw/bad-inventory.json')) }]);
    await expect(handler(event, lambdaContext())).rejects.toThrow(
      /station inventory s3:\/\/rides-transform-test\/stations\/bad-inventory\.txt is unusable: .*line 2 field LASTYEAR \(columns 42-45\): value "20x4"/,
    );
  });
});

describe('transform-fn config: INVENTORY_URI and REQUIRED_ELEMENTS', () => {
  const base = { OUTPUT_BUCKET: 'b' };
  it('reads both, trimming blanks', () => {
    expect(loadConfig({ ...base, INVENTORY_URI: ' s3://b/inv.txt ', REQUIRED_ELEMENTS: 'TMAX, PRCP' })).toEqual({ outputBucket: 'b', inventoryUri: 's3://b/inv.txt', requiredElements: ['TMAX', 'PRCP'] });
  });
  it('refuses REQUIRED_ELEMENTS without an inventory, and a malformed element', () => {
    expect(() => loadConfig({ ...base, REQUIRED_ELEMENTS: 'TMAX' })).toThrow('REQUIRED_ELEMENTS needs INVENTORY_URI');
    expect(() => loadConfig({ ...base, INVENTORY_URI: 's3://b/i', REQUIRED_ELEMENTS: 'TMAX,tmin' })).toThrow('"tmin" is not one');
    expect(() => loadConfig({ ...base, INVENTORY_URI: 's3://b/i', REQUIRED_ELEMENTS: 'TMAX,TMNI' })).toThrow('"TMNI" is not one');
  });
});
